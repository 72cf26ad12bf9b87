import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { createInbox } from "../conversations/inbox.ts";
import { createWorkspace } from "../conversations/workspace.ts";
import { timelineItems } from "../db/schema/index.ts";
import { startTestServer, type TestServer } from "../test/server.ts";

let server: TestServer;
const tag = crypto.randomUUID().slice(0, 8);
/** Two email inboxes in two workspaces: a relay may carry mail for both over one connection. */
const first = { address: `first-${tag}@one.test`, id: "" };
const second = { address: `second-${tag}@two.test`, id: "" };

beforeAll(async () => {
  server = await startTestServer({ email: { smtp: true } });
  const db = server.rt.core.db;
  first.id = (await createInbox(db, server.rt.keyring, { workspaceId: server.workspaceId, channel: "email", name: "One", settings: { address: first.address } })).id;
  const other = await createWorkspace(db, `Other ${tag}`);
  second.id = (await createInbox(db, server.rt.keyring, { workspaceId: other.id, channel: "email", name: "Two", settings: { address: second.address } })).id;
});

afterAll(async () => {
  await server.stop();
});

/**
 * A raw SMTP client: sends each line once the server has answered the one before, and returns every
 * reply. One TCP connection for the whole dialog, as a relay uses for several mails.
 */
async function smtpDialog(port: number, lines: string[]) {
  const replies: string[] = [];
  let buffered = "";
  let next = 0;
  await new Promise<void>((resolve, reject) => {
    void Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(sock, chunk) {
          buffered += new TextDecoder().decode(chunk);
          // A reply is complete at a line "NNN text" (not the "NNN-" continuation of a multi-line one).
          for (;;) {
            const end = buffered.search(/^\d{3} [^\r\n]*\r\n/m);
            if (end < 0) return;
            const stop = buffered.indexOf("\r\n", end) + 2;
            replies.push(buffered.slice(0, stop));
            buffered = buffered.slice(stop);
            if (next === lines.length) {
              sock.end();
              return resolve();
            }
            sock.write(lines[next++]!);
          }
        },
        error(_sock, err) {
          reject(err);
        },
      },
    }).catch(reject);
  });
  return replies;
}

function message(from: string, to: string, subject: string, messageId: string, body: string) {
  return `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${messageId}>\r\n\r\n${body}\r\n.\r\n`;
}

async function itemsOf(inboxId: string) {
  return server.rt.core.db.select().from(timelineItems).where(eq(timelineItems.inboxId, inboxId));
}

describe("SMTP-in transactions", () => {
  it("delivers each mail of one connection only to its own recipients, across workspaces and after RSET", async () => {
    const sender = `relay-${tag}@x.test`;
    const replies = await smtpDialog(server.email!.smtpPort!, [
      "EHLO relay.test\r\n",
      `MAIL FROM:<${sender}>\r\n`,
      `RCPT TO:<${first.address}>\r\n`,
      "DATA\r\n",
      message(sender, first.address, "For one", `t1-${tag}@x.test`, "mail for the first workspace"),
      `MAIL FROM:<${sender}>\r\n`,
      `RCPT TO:<${second.address}>\r\n`,
      "DATA\r\n",
      message(sender, second.address, "For two", `t2-${tag}@x.test`, "mail for the second workspace"),
      // A transaction abandoned with RSET leaves nothing behind for the next one either.
      `MAIL FROM:<${sender}>\r\n`,
      `RCPT TO:<${first.address}>\r\n`,
      "RSET\r\n",
      `MAIL FROM:<${sender}>\r\n`,
      `RCPT TO:<${second.address}>\r\n`,
      "DATA\r\n",
      message(sender, second.address, "Two again", `t3-${tag}@x.test`, "second mail for the second workspace"),
      "QUIT\r\n",
    ]);
    expect(replies.filter((r) => r.startsWith("250 ") && r.includes("Queued as")).length).toBe(3);
    const one = await itemsOf(first.id);
    const two = await itemsOf(second.id);
    expect(one.map((i) => i.externalId).sort()).toEqual([`t1-${tag}@x.test`]);
    expect(two.map((i) => i.externalId).sort()).toEqual([`t2-${tag}@x.test`, `t3-${tag}@x.test`]);
    expect(two.every((i) => i.workspaceId !== server.workspaceId)).toBe(true);
  });
});
