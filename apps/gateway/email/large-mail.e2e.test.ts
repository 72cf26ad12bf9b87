import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { and, eq } from "drizzle-orm";
import nodemailer from "nodemailer";
import { ImapFlow } from "imapflow";
import {
  attachments,
  emailMailboxState,
  emailParticipants,
  emailQuarantine,
  timelineItems,
} from "../../../db/schema/index.ts";
import { startImap } from "../../../mailboxes/imap-import.ts";
import { startDovecot } from "../../../test/dovecot.ts";
import { badMails, largeMail, watchMemory } from "../../../test/large-mail.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { until } from "../../../test/poll.ts";

let server: TestServer;
let dovecot: Awaited<ReturnType<typeof startDovecot>>;
let token: string;
let inboxId: string;
const tag = crypto.randomUUID().slice(0, 8);
const support = `large-${tag}@acme.test`;

const imapUser = `imap-${tag}@example.test`;
/**
 * 50 MB through SMTP or IMAP takes seconds alone and minutes on two cores shared with other work: each
 * heavy test waits on conditions, never a fixed time, and has this much before it counts as failed.
 */
const HEAVY_MS = 300_000;
const imapPassword = "imap secret";

beforeAll(async () => {
  dovecot = await startDovecot([{ user: imapUser, password: imapPassword }]);
  server = await startTestServer({ email: { smtp: true } });
  token = await server.login(server.admin.email, server.admin.password);
  const created = await api(`${server.url}/api/v1/inboxes`, {
    token,
    body: { name: "Large mail", channel: "email", email: { address: support } },
  });
  expect(created.status).toBe(201);
  inboxId = created.body.id;
  // Addresses given through the admin API receive mail once proven (docs/security.md, routing keys).
  await server.proveRoutes(inboxId);
});

afterAll(async () => {
  await server.stop();
  await dovecot.stop();
});

const transport = () =>
  nodemailer.createTransport({
    host: "127.0.0.1",
    port: server.email!.smtpPort!,
    secure: false,
    ignoreTLS: true,
    socketTimeout: 60_000,
  });

/** The client runs in a process of its own: the memory watched here is the server's alone. */
async function sendFromOwnProcess(
  port: number,
  h: { from: string; to: string; subject: string; messageId: string },
  megabytes: number,
) {
  const proc = Bun.spawn(
    [
      "bun",
      `${import.meta.dir}/../../../test/send-mail.ts`,
      String(port),
      h.from,
      h.to,
      h.subject,
      h.messageId,
      String(megabytes),
    ],
    { stdout: "pipe", stderr: "inherit" },
  );
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  return JSON.parse(out.trim().split("\n").at(-1)!) as { response: string; responseCode?: number };
}

async function item(externalId: string, inbox = inboxId) {
  const [row] = await server.rt.core.db
    .select()
    .from(timelineItems)
    .where(and(eq(timelineItems.inboxId, inbox), eq(timelineItems.externalId, externalId)));
  return row;
}

/** What each of badMails() must have become in an inbox: stored readable, or held back with the reason. */
async function expectBadInputHandled(inbox: string, bomb: Buffer) {
  const db = server.rt.core.db;
  const items = await db.select().from(timelineItems).where(eq(timelineItems.inboxId, inbox));
  const bySubject = (subject: string) => items.find((i) => i.data.subject === subject);
  expect(bySubject(`Malformed ${tag}`)?.text).toContain("half a mail");
  expect(items.filter((i) => i.text === `no message id ${tag}`).map((i) => i.externalId)).toEqual([
    expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
  ]);
  expect(items.find((i) => i.externalId === `cs-${tag}@x.test`)?.text).toBe("plain words anyway");
  const many = bySubject(`Everyone ${tag}`)!;
  expect(many.data).toMatchObject({ recipientCount: 10_000 });
  expect((many.data.to as string[]).length).toBe(50);
  // Reply-all to 10,000 people is nobody's support case: participants stop at 50.
  expect(
    (await db.select().from(emailParticipants).where(eq(emailParticipants.conversationId, many.conversationId))).length,
  ).toBe(50);
  // The zip bomb is kept exactly as sent — 100 KB, never unpacked to its 100 MB.
  const bombItem = bySubject(`Bomb ${tag}`)!;
  const [zip] = await db.select().from(attachments).where(eq(attachments.timelineItemId, bombItem.id));
  expect(zip).toMatchObject({
    name: "archive.zip",
    contentType: "application/zip",
    size: bomb.length,
    sha256: new Bun.CryptoHasher("sha256").update(bomb).digest("hex"),
  });
  const held = await db.select().from(emailQuarantine).where(eq(emailQuarantine.inboxId, inbox));
  expect(held.map((h) => h.reason)).toContain("no valid sender address (From)");
}

describe("a literal 50 MB mail through SMTP-in", () => {
  it(
    "is stored with its 36 MB attachment intact, streamed (memory stays far below the mail's size), and the next mail still arrives",
    async () => {
      const mail = largeMail(
        { from: `big-${tag}@x.test`, to: support, subject: "Huge scan", messageId: `huge-${tag}@x.test` },
        50,
      );
      expect(mail.size).toBeGreaterThan(49 * 1024 * 1024);
      const memory = watchMemory();
      const started = Date.now();
      const info = await sendFromOwnProcess(
        server.email!.smtpPort!,
        { from: `big-${tag}@x.test`, to: support, subject: "Huge scan", messageId: `huge-${tag}@x.test` },
        50,
      );
      const grewMb = memory.stop();
      expect(info.response).toContain("Queued");
      const stored = (await item(`huge-${tag}@x.test`))!;
      expect(stored.text).toBe("The scan is attached.");
      const [file] = await server.rt.core.db
        .select()
        .from(attachments)
        .where(eq(attachments.timelineItemId, stored.id));
      expect(file).toMatchObject({
        name: "scan.pdf",
        contentType: "application/pdf",
        size: mail.attachmentBytes,
        sha256: mail.attachmentSha256,
      });
      // Held whole even once, the mail alone would add 50 MB to what streaming holds (~30 MB).
      console.log(`50 MB via SMTP-in: ${Date.now() - started} ms, memory +${grewMb} MB`);
      expect(grewMb).toBeLessThan(50);

      await transport().sendMail({
        from: `small-${tag}@x.test`,
        to: support,
        subject: "After the big one",
        text: "still here",
        messageId: `<after-${tag}@x.test>`,
      });
      expect((await item(`after-${tag}@x.test`))?.text).toBe("still here");
    },
    HEAVY_MS,
  );
});

describe("bad input through SMTP-in", () => {
  it(
    "stores or holds back malformed MIME, a missing Message-ID, an unknown charset, 10,000 recipients, a zip bomb and garbage, each answered, and the next mail still arrives",
    async () => {
      const { mails, bomb } = badMails(`bad-${tag}@x.test`, support, tag);
      for (const [what, raw] of Object.entries(mails)) {
        const info = await transport().sendMail({ envelope: { from: `bad-${tag}@x.test`, to: [support] }, raw });
        expect(`${what}: ${info.response}`).toMatch(/^\w+: 250 (Queued|Accepted and held for review)/);
      }
      await expectBadInputHandled(inboxId, bomb);
      await transport().sendMail({
        from: `ok-${tag}@x.test`,
        to: support,
        subject: "Fine",
        text: "after the bad ones",
        messageId: `<ok-${tag}@x.test>`,
      });
      expect((await item(`ok-${tag}@x.test`))?.text).toBe("after the bad ones");
    },
    HEAVY_MS,
  );
});

describe("a literal 50 MB mail and bad input through IMAP (Dovecot)", () => {
  it(
    "imports the 50 MB mail streamed, its attachment over the inbox's 20 MB limit listed as skipped with the reason, then the bad input and the mail after it: the mailbox never sticks",
    async () => {
      const client = new ImapFlow({
        host: "127.0.0.1",
        port: dovecot.port,
        secure: false,
        doSTARTTLS: false,
        auth: { user: imapUser, pass: imapPassword },
        logger: false,
      });
      await client.connect();
      const big = largeMail(
        { from: `big-${tag}@x.test`, to: imapUser, subject: "Huge over IMAP", messageId: `imap-huge-${tag}@x.test` },
        50,
      );
      const chunks: Buffer[] = [];
      for await (const c of big.stream()) chunks.push(c as Buffer);
      await client.append("INBOX", Buffer.concat(chunks));
      chunks.length = 0;
      const { mails, bomb } = badMails(`bad-${tag}@x.test`, imapUser, tag);
      for (const raw of Object.values(mails)) await client.append("INBOX", raw);
      await client.append(
        "INBOX",
        `From: ok-${tag}@x.test\r\nTo: ${imapUser}\r\nSubject: Fine\r\nMessage-ID: <imap-ok-${tag}@x.test>\r\n\r\nafter the bad ones\r\n`,
      );
      await client.logout();
      const total = 2 + Object.keys(mails).length;

      const created = await api(`${server.url}/api/v1/inboxes`, {
        token,
        body: {
          name: "IMAP large",
          channel: "email",
          email: {
            address: imapUser,
            maxAttachmentMb: 20,
            imap: { host: "127.0.0.1", port: dovecot.port, security: "none", user: imapUser, pollSeconds: 5 },
          },
          credentials: { imapPassword },
        },
      });
      expect(created.status).toBe(201);
      const imapInbox = created.body.id as string;
      const memory = watchMemory();
      const started = Date.now();
      const importer = startImap(server.rt, { rescanMs: 60_000 });
      try {
        const after = await until(
          () => item(`imap-ok-${tag}@x.test`, imapInbox),
          (r) => !!r,
          HEAVY_MS - 60_000,
        );
        const grewMb = memory.stop();
        console.log(`50 MB via IMAP and ${total - 2} bad mails: ${Date.now() - started} ms, memory +${grewMb} MB`);
        expect(after?.text).toBe("after the bad ones");
        // Progress is saved once per batch, just after the batch's mail is committed: it follows shortly.
        const state = await until(
          async () =>
            (
              await server.rt.core.db.select().from(emailMailboxState).where(eq(emailMailboxState.inboxId, imapInbox))
            )[0],
          (r) => r?.lastUid === total,
          60_000,
        );
        expect(state?.lastUid).toBe(total);
        const huge = (await item(`imap-huge-${tag}@x.test`, imapInbox))!;
        expect(huge.text).toBe("The scan is attached.");
        expect(huge.data.skippedAttachments).toEqual([{ name: "scan.pdf", reason: "File is larger than 20 MB" }]);
        expect(grewMb).toBeLessThan(50);
        await expectBadInputHandled(imapInbox, bomb);
      } finally {
        await importer.stop();
      }
    },
    HEAVY_MS,
  );
});
