import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { createInbox } from "../../../conversations/inbox.ts";
import { createWorkspace } from "../../../conversations/workspace.ts";
import { emailQuarantine, timelineItems } from "../../../db/schema/index.ts";
import nodemailer from "nodemailer";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { startSmtpSink } from "../../../test/smtp-sink.ts";
import { until } from "../../../test/poll.ts";

let server: TestServer;
let sink: Awaited<ReturnType<typeof startSmtpSink>>;
let token: string;
const tag = crypto.randomUUID().slice(0, 8);
/** Two email inboxes in two workspaces: a relay may carry mail for both over one connection. */
const first = { address: `first-${tag}@one.test`, id: "" };
const second = { address: `second-${tag}@two.test`, id: "" };

beforeAll(async () => {
  server = await startTestServer({ email: { smtp: true } });
  sink = await startSmtpSink();
  token = await server.login(server.admin.email, server.admin.password);
  const db = server.rt.core.db;
  const smtp = { host: "127.0.0.1", port: sink.port, security: "none" };
  first.id = (
    await createInbox(db, server.rt.keyring, {
      workspaceId: server.workspaceId,
      channel: "email",
      name: "One",
      settings: { address: first.address, smtp },
    })
  ).id;
  const other = await createWorkspace(db, `Other ${tag}`);
  second.id = (
    await createInbox(db, server.rt.keyring, {
      workspaceId: other.id,
      channel: "email",
      name: "Two",
      settings: { address: second.address },
    })
  ).id;
});

afterAll(async () => {
  await server.stop();
  await sink.stop();
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

describe("replies after a contact merge", () => {
  it("go to the address the customer wrote from in that conversation, not another address of the merged contact", async () => {
    const transport = nodemailer.createTransport({
      host: "127.0.0.1",
      port: server.email!.smtpPort!,
      secure: false,
      ignoreTLS: true,
    });
    const work = `pat-work-${tag}@x.test`;
    const home = `pat-home-${tag}@y.test`;
    await transport.sendMail({
      from: work,
      to: first.address,
      subject: "Invoice",
      text: "from work",
      messageId: `<m1-${tag}@x.test>`,
    });
    await transport.sendMail({
      from: home,
      to: first.address,
      subject: "Delivery",
      text: "from home",
      messageId: `<m2-${tag}@y.test>`,
    });
    const items = await itemsOf(first.id);
    const [atWork, atHome] = [`m1-${tag}@x.test`, `m2-${tag}@y.test`].map(
      (id) => items.find((i) => i.externalId === id)!,
    );
    const contactOf = async (conversationId: string) =>
      (await api(`${server.url}/api/v1/conversations/${conversationId}`, { token })).body.contact.id as string;
    const keep = await contactOf(atWork!.conversationId);
    // The older contact is kept, so its own address is the first identity of the merged contact.
    const merged = await api(`${server.url}/api/v1/contacts/${keep}/merge`, {
      token,
      body: { mergeId: await contactOf(atHome!.conversationId) },
    });
    expect(merged.status).toBe(200);
    expect(merged.body.identities.map((i: { value: string }) => i.value).sort()).toEqual([home, work].sort());

    for (const [conversationId, address] of [
      [atHome!.conversationId, home],
      [atWork!.conversationId, work],
    ] as const) {
      const before = sink.received.length;
      expect(
        (
          await api(`${server.url}/api/v1/conversations/${conversationId}/messages`, {
            token,
            body: { text: "On it." },
          })
        ).status,
      ).toBe(201);
      await until(
        async () => sink.received.length,
        (n) => n > before,
      );
      expect(sink.received[before]!.envelope.to).toEqual([address]);
    }
  });
});

describe("mail the parser or the database would choke on", () => {
  it("stores a mail with NUL bytes without them, holds back one with too many MIME parts with its raw copy, answers 250 to both, and the next mail arrives", async () => {
    const sender = `odd-${tag}@x.test`;
    const parts = Array.from({ length: 1_200 }, (_, i) => `--p\r\nContent-Type: text/plain\r\n\r\npart ${i}\r\n`).join(
      "",
    );
    const manyParts =
      `From: ${sender}\r\nTo: ${first.address}\r\nSubject: Many parts ${tag}\r\nMessage-ID: <parts-${tag}@x.test>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="p"\r\n\r\n${parts}--p--\r\n.\r\n`;
    const replies = await smtpDialog(server.email!.smtpPort!, [
      "EHLO relay.test\r\n",
      `MAIL FROM:<${sender}>\r\n`,
      `RCPT TO:<${first.address}>\r\n`,
      "DATA\r\n",
      message(sender, first.address, "Nul\0 subject", `nul-${tag}@x.test`, "a NUL\0 in the body"),
      `MAIL FROM:<${sender}>\r\n`,
      `RCPT TO:<${first.address}>\r\n`,
      "DATA\r\n",
      manyParts,
      `MAIL FROM:<${sender}>\r\n`,
      `RCPT TO:<${first.address}>\r\n`,
      "DATA\r\n",
      message(sender, first.address, "Next", `next-${tag}@x.test`, "the mail after"),
      "QUIT\r\n",
    ]);
    // Every command is accepted; the three mails are each answered 250 once stored or held back.
    expect(replies.filter((r) => !r.startsWith("2") && !r.startsWith("354"))).toEqual([]);
    expect(replies.filter((r) => /^250 (Queued as|Accepted and held for review)/.test(r)).length).toBe(3);
    const items = await itemsOf(first.id);
    expect(items.find((i) => i.externalId === `nul-${tag}@x.test`)).toMatchObject({
      text: "a NUL in the body",
      data: { subject: "Nul subject" },
    });
    expect(items.some((i) => i.externalId === `next-${tag}@x.test`)).toBe(true);
    expect(items.some((i) => i.externalId === `parts-${tag}@x.test`)).toBe(false);

    const [held] = await server.rt.core.db
      .select()
      .from(emailQuarantine)
      .where(eq(emailQuarantine.messageId, `parts-${tag}@x.test`));
    expect(held).toMatchObject({
      inboxId: first.id,
      address: sender,
      subject: `Many parts ${tag}`,
      details: expect.objectContaining({ kind: "unreadable" }),
    });
    expect(held!.rawId).not.toBeNull();
    const spam = await api(`${server.url}/api/v1/inboxes/${first.id}/email/spam`, { token });
    expect(spam.body.items).toContainEqual(
      expect.objectContaining({ id: held!.id, kind: "unreadable", releasable: false }),
    );
  });
});
