import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "bun:test";
import nodemailer from "nodemailer";
import { api } from "../../test/server.ts";

const root = join(import.meta.dir, "../..");

async function readUntil(stream: ReadableStream<Uint8Array>, pattern: RegExp, ms: number) {
  const reader = stream.getReader();
  let out = "";
  const deadline = Date.now() + ms;
  while (!pattern.test(out) && Date.now() < deadline) {
    const next = await Promise.race([
      reader.read(),
      Bun.sleep(deadline - Date.now()).then(() => ({ done: true, value: undefined })),
    ]);
    if (next.done || !next.value) break;
    out += new TextDecoder().decode(next.value);
  }
  reader.releaseLock();
  return out;
}

/**
 * A fresh start migrates and seeds a new database: seconds alone, over a minute on two cores shared
 * with other work. The test waits for the start-up line, never a fixed time, for up to this long.
 */
const START_MS = 180_000;

// The public contract: in demo mode SMTP-in listens on SMTP_IN_PORT (2525 by default; a free port
// here, so parallel runs never collide) and support@demo.test is the demo email inbox.
it(
  "turns mail to support@demo.test into a conversation, and threads a reply by In-Reply-To",
  async () => {
    const { DATABASE_URL: _ignored, ...inherited } = process.env;
    const proc = Bun.spawn(["bun", "run", "start"], {
      cwd: root,
      env: {
        ...inherited,
        DATA_DIR: mkdtempSync(join(tmpdir(), "switchboard-demo-email-")),
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "warn",
        SMTP_IN_PORT: "0",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const out = await readUntil(proc.stdout, /SMTP-in[^\n]*:\d+/, START_MS);
      if (!/running at/.test(out))
        throw new Error(`no start-up output: ${out} ${await new Response(proc.stderr).text()}`);
      const url = /running at (http:\/\/\S+)/.exec(out)![1]!.replace("localhost", "127.0.0.1");
      const port = Number(/SMTP-in[^\n]*:(\d+)/.exec(out)![1]);
      const transport = nodemailer.createTransport({ host: "127.0.0.1", port, secure: false, ignoreTLS: true });
      await transport.sendMail({
        from: "Lee Chen <lee@customer.test>",
        to: "support@demo.test",
        subject: "Where is my parcel?",
        text: "Ordered last week.",
        messageId: "<first@customer.test>",
      });
      const token = (await api(`${url}/api/v1/auth/login`, { body: { email: "admin@demo.test", password: "demo" } }))
        .body.token;
      const list = await api(`${url}/api/v1/conversations?channel=email`, { token });
      expect(list.body.items.length).toBe(1);
      const conversation = list.body.items[0];
      expect(conversation.contact.name).toBe("Lee Chen");
      expect(conversation.lastMessage.text).toBe("Ordered last week.");
      await transport.sendMail({
        from: "lee@customer.test",
        to: "support@demo.test",
        subject: "Re: Where is my parcel?",
        text: "Any news?",
        messageId: "<second@customer.test>",
        inReplyTo: "<first@customer.test>",
      });
      const again = await api(`${url}/api/v1/conversations?channel=email`, { token });
      expect(again.body.items.map((c: any) => c.id)).toEqual([conversation.id]);
      const timeline = await api(`${url}/api/v1/conversations/${conversation.id}/timeline`, { token });
      expect(timeline.body.items.filter((i: any) => i.type === "message").map((i: any) => i.text)).toEqual([
        "Ordered last week.",
        "Any news?",
      ]);
    } finally {
      proc.kill();
      await proc.exited;
    }
  },
  START_MS + 60_000,
);
