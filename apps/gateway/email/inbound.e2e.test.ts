import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import nodemailer from "nodemailer";
import { startSmtpIn } from "./smtp.ts";
import { startEmailInbox, type EmailInbox } from "../../../test/email-inbox.ts";
import { api, type TestServer } from "../../../test/server.ts";

let inbox: EmailInbox;
let server: TestServer;
let token: string;
let inboxId: string;
let tag: string;
let support: string;
let transport: EmailInbox["transport"];
let mail: EmailInbox["mail"];
let timelineOf: EmailInbox["timelineOf"];
let conversationOfMessage: EmailInbox["conversationOfMessage"];

beforeAll(async () => {
  inbox = await startEmailInbox();
  ({ server, token, inboxId, tag, support, transport, mail, timelineOf, conversationOfMessage } = inbox);
});

afterAll(() => inbox.stop());

describe("email over SMTP-in", () => {
  it("turns a customer's mail into a conversation with subject, from/to/cc and the quote split off", async () => {
    await mail({
      from: '"Ann Lee" <ann-' + tag + "@x.test>",
      cc: `carol-${tag}@x.test`,
      subject: "Order 42 is late",
      text: "Where is my order?\n\nOn Mon, 2 Mar 2026, Shop <shop@x.test> wrote:\n> Your order shipped.",
      messageId: `<ann-1-${tag}@x.test>`,
    });
    const id = await conversationOfMessage(`ann-1-${tag}@x.test`);
    expect(id).toBeDefined();
    const [item] = await timelineOf(id!);
    expect(item).toMatchObject({
      channel: "email",
      direction: "in",
      text: "Where is my order?",
      data: {
        subject: "Order 42 is late",
        from: `Ann Lee <ann-${tag}@x.test>`,
        to: [support],
        cc: [`carol-${tag}@x.test`],
        quotedText: expect.stringContaining("Your order shipped"),
      },
    });
  });

  it("threads Gmail, Outlook, Apple Mail and Foxmail style replies, a changed In-Reply-To and References-only replies", async () => {
    const from = `bob-${tag}@x.test`;
    await mail({ from, subject: "Invoice question", text: "Hi", messageId: `<b0-${tag}@gmail.test>` });
    const first = (await conversationOfMessage(`b0-${tag}@gmail.test`))!;
    // Gmail: In-Reply-To and References.
    await mail({
      from,
      subject: "Re: Invoice question",
      text: "more",
      messageId: `<b1-${tag}@gmail.test>`,
      inReplyTo: `<b0-${tag}@gmail.test>`,
      references: [`<b0-${tag}@gmail.test>`],
    });
    // Outlook: "RE:" and a References chain.
    await mail({
      from,
      subject: "RE: Invoice question",
      text: "more",
      messageId: `<b2-${tag}@outlook.test>`,
      inReplyTo: `<b1-${tag}@gmail.test>`,
      references: [`<b0-${tag}@gmail.test>`, `<b1-${tag}@gmail.test>`],
    });
    // A client that rewrote In-Reply-To to an id we never saw, with References still right.
    await mail({
      from,
      subject: "Re: Invoice question",
      text: "more",
      messageId: `<b3-${tag}@apple.test>`,
      inReplyTo: `<unknown-${tag}@nowhere.test>`,
      references: [`<b0-${tag}@gmail.test>`],
    });
    // Only References, no In-Reply-To.
    await mail({
      from,
      subject: "Invoice question",
      text: "more",
      messageId: `<b4-${tag}@x.test>`,
      references: [`<b2-${tag}@outlook.test>`],
    });
    // Foxmail: a Chinese prefix and no threading headers at all: the subject, same contact.
    await mail({ from, subject: "回复：Invoice question", text: "收到", messageId: `<b5-${tag}@foxmail.test>` });
    const items = await timelineOf(first);
    expect(items.filter((i) => i.type === "message").map((i) => i.data.messageId)).toEqual(
      [0, 1, 2, 3, 4, 5].map((n) => `b${n}-${tag}@${["gmail", "gmail", "outlook", "apple", "x", "foxmail"][n]}.test`),
    );
  });

  it("never merges two contacts writing with the same subject, nor a stranger's reply to someone else's thread", async () => {
    await mail({ from: `dan-${tag}@x.test`, subject: "Password reset", text: "help", messageId: `<d1-${tag}@x.test>` });
    await mail({
      from: `eve-${tag}@x.test`,
      subject: "Re: Password reset",
      text: "me too",
      messageId: `<e1-${tag}@x.test>`,
      inReplyTo: `<d1-${tag}@x.test>`,
    });
    const dan = await conversationOfMessage(`d1-${tag}@x.test`);
    const eve = await conversationOfMessage(`e1-${tag}@x.test`);
    expect(dan).toBeDefined();
    expect(eve).toBeDefined();
    expect(eve).not.toBe(dan);
  });

  it("stores a redelivered mail once (idempotent on Message-ID) and a mail without Message-ID once per content", async () => {
    for (let i = 0; i < 2; i++)
      await mail({ from: `fay-${tag}@x.test`, subject: "Twice", text: "same", messageId: `<f1-${tag}@x.test>` });
    const id = (await conversationOfMessage(`f1-${tag}@x.test`))!;
    expect((await timelineOf(id)).filter((i) => i.type === "message").length).toBe(1);
    const raw = `From: gus-${tag}@x.test\r\nTo: ${support}\r\nSubject: no id\r\n\r\nbody without id\r\n`;
    for (let i = 0; i < 2; i++)
      await transport().sendMail({ envelope: { from: `gus-${tag}@x.test`, to: [support] }, raw });
    const list = await api(`${server.url}/api/v1/conversations?inboxId=${inboxId}&limit=100`, { token });
    const gus = (list.body.items as any[]).filter((c) => c.lastMessage.text === "body without id");
    expect(gus.length).toBe(1);
    expect((await timelineOf(gus[0].id)).filter((i) => i.type === "message").length).toBe(1);
  });

  it("refuses unknown recipients at RCPT and mail over the size limit, with the reason", async () => {
    const err = await transport()
      .sendMail({ from: `x-${tag}@x.test`, to: `nobody-${tag}@acme.test`, subject: "x", text: "x" })
      .catch((e: { responseCode?: number; response?: string }) => e);
    expect(err).toMatchObject({ responseCode: 550 });
    expect(String((err as { response?: string }).response)).toContain("no inbox here has this address");
    // A client announcing a size over the limit is refused before it sends the data.
    const replies: string[] = [];
    const conn = await new Promise<string[]>((resolve) => {
      const s = Bun.connect({
        hostname: "127.0.0.1",
        port: server.email!.smtpPort!,
        socket: {
          data(sock, chunk) {
            replies.push(new TextDecoder().decode(chunk));
            const n = replies.length;
            if (n === 1) sock.write("EHLO test\r\n");
            else if (n === 2) sock.write(`MAIL FROM:<big-${tag}@x.test> SIZE=${200 * 1024 * 1024}\r\n`);
            else {
              sock.end();
              resolve(replies);
            }
          },
        },
      });
      void s;
    });
    expect(conn.join("")).toContain("SIZE");
    expect(conn.at(-1)).toMatch(/^552 /);
  });

  it("refuses a mail that grows past the size limit while it is sent, and stores nothing of it", async () => {
    const small = await startSmtpIn(server.rt, { port: 0, host: "127.0.0.1", maxBytes: 1024 * 1024 });
    try {
      const t = nodemailer.createTransport({ host: "127.0.0.1", port: small.port, secure: false, ignoreTLS: true });
      const err = await t
        .sendMail({
          from: `big-${tag}@x.test`,
          to: support,
          subject: "Too big",
          text: "x",
          messageId: `<big-${tag}@x.test>`,
          attachments: [{ filename: "a.pdf", content: Buffer.alloc(2 * 1024 * 1024, 1) }],
        })
        .catch((e: { responseCode?: number; response?: string }) => e);
      expect(err).toMatchObject({ responseCode: 552 });
      expect(String((err as { response?: string }).response)).toContain("larger than 1 MB");
      expect(await conversationOfMessage(`big-${tag}@x.test`)).toBeUndefined();
    } finally {
      await small.stop();
    }
  });

  it("stores a 26 MB attachment, streamed to disk, with the message", async () => {
    const big = Buffer.alloc(26 * 1024 * 1024, 7);
    await mail({
      from: `hal-${tag}@x.test`,
      subject: "Logs",
      text: "attached",
      messageId: `<h1-${tag}@x.test>`,
      attachments: [{ filename: "logs.zip", content: big, contentType: "application/zip" }],
    });
    const id = (await conversationOfMessage(`h1-${tag}@x.test`))!;
    const [item] = await timelineOf(id);
    expect(item.attachments).toMatchObject([{ name: "logs.zip", contentType: "application/zip", size: big.length }]);
    const file = await fetch(`${server.url}${item.attachments[0].url}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect((await file.arrayBuffer()).byteLength).toBe(big.length);
  }, 60_000);
});
