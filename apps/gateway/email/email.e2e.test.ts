import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { dkimSign } from "mailauth";
import { dkimVerify } from "mailauth/lib/dkim/verify";
import nodemailer from "nodemailer";
import { sendSystemMessage } from "../../../conversations/conversation.ts";
import { withEvents } from "../../../conversations/transaction.ts";
import { outbox } from "../../../db/schema/index.ts";
import { eq } from "drizzle-orm";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { startSmtpIn } from "./smtp.ts";
import { startSmtpSink } from "../../../test/smtp-sink.ts";

let server: TestServer;
let sink: Awaited<ReturnType<typeof startSmtpSink>>;
let token: string;
let inboxId: string;
const tag = crypto.randomUUID().slice(0, 8);
const support = `support-${tag}@acme.test`;

beforeAll(async () => {
  server = await startTestServer({ email: { smtp: true } });
  sink = await startSmtpSink({ reject: /^gone@/ });
  token = await server.login(server.admin.email, server.admin.password);
  const created = await api(`${server.url}/api/v1/inboxes`, {
    token,
    body: {
      name: "Acme support",
      channel: "email",
      email: {
        address: support,
        smtp: { host: "127.0.0.1", port: sink.port, security: "none" },
        signature: "Acme Support",
        floodPerHour: 1000,
      },
    },
  });
  expect(created.status).toBe(201);
  inboxId = created.body.id;
  // Addresses given through the admin API receive mail once proven (docs/security.md, routing keys).
  await server.proveRoutes(inboxId);
});

afterAll(async () => {
  await server.stop();
  await sink.stop();
});

const transport = () =>
  nodemailer.createTransport({ host: "127.0.0.1", port: server.email!.smtpPort!, secure: false, ignoreTLS: true });

/** A customer's mail through SMTP-in; resolves once SMTP-in acknowledged it (after commit). */
async function mail(options: {
  from: string;
  subject: string;
  text: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string[];
  to?: string;
  cc?: string;
  headers?: Record<string, string>;
  attachments?: { filename: string; content: Buffer | string; contentType?: string }[];
}) {
  return transport().sendMail({ to: support, ...options });
}

async function timelineOf(conversationId: string) {
  return (await api(`${server.url}/api/v1/conversations/${conversationId}/timeline`, { token })).body.items as any[];
}

/** The conversation holding the message with this Message-ID. */
async function conversationOfMessage(messageId: string) {
  const list = await api(
    `${server.url}/api/v1/conversations?inboxId=${inboxId}&status=open,pending,snoozed,resolved&limit=100`,
    { token },
  );
  for (const c of list.body.items as any[]) {
    const items = await timelineOf(c.id);
    if (items.some((i) => i.data?.messageId === messageId.replace(/[<>]/g, "").toLowerCase())) return c.id as string;
  }
  return undefined;
}

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

  it("sends an agent's reply through the outbox with threading headers, and the customer's answer threads back", async () => {
    const from = `ivy-${tag}@x.test`;
    await mail({
      from,
      subject: "Refund",
      text: "I want a refund",
      messageId: `<i1-${tag}@x.test>`,
      cc: `boss-${tag}@x.test`,
    });
    const id = (await conversationOfMessage(`i1-${tag}@x.test`))!;
    const before = sink.received.length;
    const sent = await api(`${server.url}/api/v1/conversations/${id}/messages`, {
      token,
      body: { text: "Refund approved." },
    });
    expect(sent.status).toBe(201);
    const out = await sink.waitFor(before + 1);
    expect(out.envelope.to).toEqual([from]);
    expect(out.mail.subject).toBe("Re: Refund");
    expect(out.mail.inReplyTo).toBe(`<i1-${tag}@x.test>`);
    expect(out.mail.from?.value[0]).toMatchObject({ address: support, name: "Admin (Acme support)" });
    expect(out.mail.text).toContain("Refund approved.");
    expect(out.mail.text).toContain("Acme Support");
    expect(out.mail.html).toContain("Refund approved.");
    const replyTo = out.mail.replyTo!.value[0]!.address!;
    expect(replyTo).toMatch(new RegExp(`^support-${tag}\\+c[0-9a-f]{42}@acme\\.test$`));
    // The timeline shows it delivered, with the mail's headers.
    for (let i = 0; i < 50; i++) {
      const last = (await timelineOf(id)).at(-1);
      if (last.status === "sent") break;
      await Bun.sleep(50);
    }
    const outItem = (await timelineOf(id)).at(-1);
    expect(outItem).toMatchObject({ direction: "out", status: "sent", data: { subject: "Re: Refund", to: [from] } });
    // The customer answers the agent's mail: In-Reply-To is our Message-ID.
    await mail({
      from,
      subject: "Re: Refund",
      text: "Thanks!",
      messageId: `<i2-${tag}@x.test>`,
      inReplyTo: out.mail.messageId,
    });
    expect(await conversationOfMessage(`i2-${tag}@x.test`)).toBe(id);
    // A client that drops every header still reaches the conversation through the Reply-To token.
    await transport().sendMail({
      from,
      to: replyTo,
      subject: "completely new subject",
      text: "one more",
      messageId: `<i3-${tag}@x.test>`,
    });
    expect(await conversationOfMessage(`i3-${tag}@x.test`)).toBe(id);
    // Reply-all copies the Cc'd participant.
    await api(`${server.url}/api/v1/conversations/${id}/messages`, {
      token,
      body: { text: "Copying your manager.", email: { replyAll: true } },
    });
    const all = await sink.waitFor(before + 2);
    expect(all.envelope.to.sort()).toEqual([`boss-${tag}@x.test`, from].sort());
    expect(all.mail.references).toContain(`<i1-${tag}@x.test>`);
  });

  it("makes Cc'd people contacts of their own, linked as participants, never merged with anyone, and still copied on reply-all", async () => {
    // Dave already wrote to support: he is a contact, and stays the one contact he is.
    await mail({
      from: `Dave Old <dave-${tag}@x.test>`,
      subject: "Earlier",
      text: "earlier",
      messageId: `<dv1-${tag}@x.test>`,
    });
    const daveConversation = (await conversationOfMessage(`dv1-${tag}@x.test`))!;
    const daveId = (await api(`${server.url}/api/v1/conversations/${daveConversation}`, { token })).body.contact.id;

    const from = `nia-${tag}@x.test`;
    await mail({
      from,
      to: `${support}, Bo Other <bo-${tag}@x.test>`,
      cc: `"Carol Chen" <carol-${tag}@x.test>, dave-${tag}@x.test, Nia Again <${from}>`,
      subject: "Team order",
      text: "For all of us",
      messageId: `<n1-${tag}@x.test>`,
    });
    const id = (await conversationOfMessage(`n1-${tag}@x.test`))!;
    const conversation = (await api(`${server.url}/api/v1/conversations/${id}`, { token })).body;
    const people = (await api(`${server.url}/api/v1/conversations/${id}/participants`, { token })).body.items as {
      contactId: string;
      name: string | null;
      address: string;
    }[];
    expect(people.map((p) => p.address).sort()).toEqual([
      `bo-${tag}@x.test`,
      `carol-${tag}@x.test`,
      `dave-${tag}@x.test`,
    ]);
    const carol = people.find((p) => p.address === `carol-${tag}@x.test`)!;
    expect(carol.name).toBe("Carol Chen");
    expect(people.find((p) => p.address === `dave-${tag}@x.test`)!.contactId).toBe(daveId);
    expect(new Set(people.map((p) => p.contactId)).size).toBe(3);
    expect(people.map((p) => p.contactId)).not.toContain(conversation.contact.id);
    // Each is a contact of this workspace with exactly their own address; the sender's contact has only hers.
    const carolProfile = (await api(`${server.url}/api/v1/contacts/${carol.contactId}`, { token })).body;
    expect(carolProfile.identities.map((i: any) => i.value)).toEqual([`carol-${tag}@x.test`]);
    const daveProfile = (await api(`${server.url}/api/v1/contacts/${daveId}`, { token })).body;
    expect(daveProfile).toMatchObject({
      name: "Dave Old",
      identities: [{ kind: "email", value: `dave-${tag}@x.test` }],
    });
    const niaProfile = (await api(`${server.url}/api/v1/contacts/${conversation.contact.id}`, { token })).body;
    expect(niaProfile.identities.map((i: any) => i.value)).toEqual([from]);

    // Carol answers with reply-all: a participant's mail joins the thread; she is still her own contact.
    await mail({
      from: `carol-${tag}@x.test`,
      cc: from,
      subject: "Re: Team order",
      text: "Count me in",
      messageId: `<n2-${tag}@x.test>`,
      inReplyTo: `<n1-${tag}@x.test>`,
    });
    expect(await conversationOfMessage(`n2-${tag}@x.test`)).toBe(id);
    expect((await api(`${server.url}/api/v1/conversations/${id}`, { token })).body.contact.id).toBe(
      conversation.contact.id,
    );

    const before = sink.received.length;
    await api(`${server.url}/api/v1/conversations/${id}/messages`, {
      token,
      body: { text: "Noted for all.", email: { replyAll: true } },
    });
    const sent = await sink.waitFor(before + 1);
    expect(sent.envelope.to.sort()).toEqual(
      [`bo-${tag}@x.test`, `carol-${tag}@x.test`, `dave-${tag}@x.test`, from].sort(),
    );

    // A malformed conversation id is named in the error.
    const bad = await api(`${server.url}/api/v1/conversations/not-an-id/participants`, { token });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("id");
  });

  it("signs outbound mail with the inbox's DKIM key so that a real verifier passes it, and fails it once altered", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const domain = `dkim-${tag}.test`;
    const address = `help@${domain}`;
    const created = await api(`${server.url}/api/v1/inboxes`, {
      token,
      body: {
        name: "Signed mail",
        channel: "email",
        email: { address, smtp: { host: "127.0.0.1", port: sink.port, security: "none" } },
        credentials: {
          dkim: {
            domainName: domain,
            keySelector: "sb2026",
            privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
          },
        },
      },
    });
    expect(created.status).toBe(201);
    await server.proveRoutes(created.body.id);
    // DNS as the verifier sees it: the selector's TXT record holds the public key, nothing else exists.
    const txt = `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`;
    const lookups: string[] = [];
    const resolver = async (name: string, type: string) => {
      lookups.push(`${type} ${name}`);
      if (type === "TXT" && name === `sb2026._domainkey.${domain}`) return [[txt]];
      throw Object.assign(new Error(`no ${type} record for ${name}`), { code: "ENOTFOUND" });
    };

    const from = `sig-${tag}@x.test`;
    await transport().sendMail({
      from,
      to: address,
      subject: "Signed?",
      text: "Please answer",
      messageId: `<sig1-${tag}@x.test>`,
    });
    const list = await api(`${server.url}/api/v1/conversations?inboxId=${created.body.id}&limit=10`, { token });
    const id = (list.body.items as any[])[0].id;
    const before = sink.received.length;
    await api(`${server.url}/api/v1/conversations/${id}/messages`, {
      token,
      body: { text: "Signed answer, 签名的回复." },
    });
    const sent = await sink.waitFor(before + 1);
    expect(sent.raw.toString()).toContain("DKIM-Signature:");

    const verified = await dkimVerify(sent.raw, { resolver: resolver as never });
    expect(lookups).toContain(`TXT sb2026._domainkey.${domain}`);
    expect(verified.results.length).toBe(1);
    expect(verified.results[0]!.status.result).toBe("pass");
    expect(verified.results[0]!.signingDomain).toBe(domain);

    // The verifier is no rubber stamp: a changed byte in the body or a signed header fails it.
    const body = await dkimVerify(Buffer.from(sent.raw.toString().replace("Signed answer", "Signed answeR")), {
      resolver: resolver as never,
    });
    expect(body.results[0]!.status).toMatchObject({ result: "neutral", comment: "body hash did not verify" });
    const header = await dkimVerify(
      Buffer.from(sent.raw.toString().replace("Subject: Re: Signed?", "Subject: Re: Signed!")),
      { resolver: resolver as never },
    );
    expect(header.results[0]!.status.result).toBe("fail");
  });

  it("reopens a resolved conversation on a reply, and opens a new one after the reopen window", async () => {
    const from = `jon-${tag}@x.test`;
    await mail({ from, subject: "Warranty", text: "broken", messageId: `<j1-${tag}@x.test>` });
    const id = (await conversationOfMessage(`j1-${tag}@x.test`))!;
    expect(
      (
        await api(`${server.url}/api/v1/conversations/${id}/status`, {
          method: "POST",
          token,
          body: { status: "resolved" },
        })
      ).status,
    ).toBe(200);
    await mail({
      from,
      subject: "Re: Warranty",
      text: "still broken",
      messageId: `<j2-${tag}@x.test>`,
      inReplyTo: `<j1-${tag}@x.test>`,
    });
    expect(await conversationOfMessage(`j2-${tag}@x.test`)).toBe(id);
    expect((await api(`${server.url}/api/v1/conversations/${id}`, { token })).body.status).toBe("open");
    // The inbox now reopens nothing: any reply to a resolved conversation starts a new one.
    const settings = (await api(`${server.url}/api/v1/inboxes/${inboxId}/email`, { token })).body.email;
    expect(
      (
        await api(`${server.url}/api/v1/inboxes/${inboxId}/email`, {
          method: "PUT",
          token,
          body: { email: { ...settings, reopenWithinDays: 0 } },
        })
      ).status,
    ).toBe(200);
    await api(`${server.url}/api/v1/conversations/${id}/status`, {
      method: "POST",
      token,
      body: { status: "resolved" },
    });
    await Bun.sleep(20);
    await mail({
      from,
      subject: "Re: Warranty",
      text: "again",
      messageId: `<j3-${tag}@x.test>`,
      inReplyTo: `<j2-${tag}@x.test>`,
    });
    const third = await conversationOfMessage(`j3-${tag}@x.test`);
    expect(third).toBeDefined();
    expect(third).not.toBe(id);
    await api(`${server.url}/api/v1/inboxes/${inboxId}/email`, { method: "PUT", token, body: { email: settings } });
  });

  it("marks a reply failed with the reason when the recipient's server refuses it, and when a bounce comes back", async () => {
    await mail({ from: `gone@${tag}.test`, subject: "Bye", text: "x", messageId: `<g1-${tag}@x.test>` });
    const id = (await conversationOfMessage(`g1-${tag}@x.test`))!;
    await api(`${server.url}/api/v1/conversations/${id}/messages`, { token, body: { text: "Hello?" } });
    let failed: any;
    for (let i = 0; i < 100 && !failed; i++) {
      failed = (await timelineOf(id)).find((x) => x.direction === "out" && x.status === "failed");
      await Bun.sleep(50);
    }
    expect(failed.error).toContain("user unknown");

    // Accepted by the sink, then bounced back as a DSN.
    const from = `kim-${tag}@x.test`;
    await mail({ from, subject: "Bounce me", text: "x", messageId: `<k1-${tag}@x.test>` });
    const kid = (await conversationOfMessage(`k1-${tag}@x.test`))!;
    const before = sink.received.length;
    await api(`${server.url}/api/v1/conversations/${kid}/messages`, { token, body: { text: "Answer" } });
    const sent = await sink.waitFor(before + 1);
    for (let i = 0; i < 50 && (await timelineOf(kid)).at(-1).status !== "sent"; i++) await Bun.sleep(50);
    const dsn = [
      `From: MAILER-DAEMON@mx.${tag}.test`,
      `To: ${support}`,
      "Subject: Undelivered Mail Returned to Sender",
      `Message-ID: <dsn-${tag}@mx.test>`,
      'Content-Type: multipart/report; report-type=delivery-status; boundary="d"',
      "",
      "--d",
      "Content-Type: text/plain",
      "",
      "Could not deliver.",
      "--d",
      "Content-Type: message/delivery-status",
      "",
      "Reporting-MTA: dns; mx.test",
      "",
      `Final-Recipient: rfc822; ${from}`,
      "Action: failed",
      "Status: 5.2.2",
      "Diagnostic-Code: smtp; 552 mailbox full",
      "--d",
      "Content-Type: text/rfc822-headers",
      "",
      `Message-ID: ${sent.mail.messageId}`,
      "Subject: Re: Bounce me",
      "--d--",
      "",
    ].join("\r\n");
    // A bounce fails a delivery only if its sender's domain vouches for it: signed by the reporting
    // server's domain, whose key this listener's DNS knows.
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const key = {
      signingDomain: `mx.${tag}.test`,
      selector: "s1",
      privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    };
    const txt = `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`;
    const resolver = async (name: string, type: string) => {
      if (type === "TXT" && name === `s1._domainkey.mx.${tag}.test`) return [[txt]];
      throw Object.assign(new Error(`no ${type} record for ${name}`), { code: "ENOTFOUND" });
    };
    const verifying = await startSmtpIn(server.rt, { port: 0, host: "127.0.0.1", resolver });
    try {
      const { signatures } = await dkimSign(dsn, { ...key, signatureData: [key] });
      await nodemailer
        .createTransport({ host: "127.0.0.1", port: verifying.port, secure: false, ignoreTLS: true })
        .sendMail({ envelope: { from: "", to: [support] }, raw: signatures + dsn });
    } finally {
      await verifying.stop();
    }
    const bounced = (await timelineOf(kid)).at(-1);
    expect(bounced).toMatchObject({ direction: "out", status: "failed" });
    expect(bounced.error).toContain("mailbox full");
    // The bounce itself is no new conversation.
    expect(await conversationOfMessage(`dsn-${tag}@mx.test`)).toBeUndefined();
  });

  it("never answers an auto-reply automatically (mail-loop protection)", async () => {
    await mail({
      from: `ooo-${tag}@x.test`,
      subject: "Out of office",
      text: "I am away",
      messageId: `<o1-${tag}@x.test>`,
      headers: { "Auto-Submitted": "auto-replied" },
    });
    const id = (await conversationOfMessage(`o1-${tag}@x.test`))!;
    const [item] = await timelineOf(id);
    expect(item.data.automated).toContain("Auto-Submitted");
    const sent = await withEvents(server.rt.core, (tx, events) =>
      sendSystemMessage(tx, events, id, "We are busy, we will answer soon."),
    );
    expect(sent).toBeUndefined();
    const rows = await server.rt.core.db.select().from(outbox).where(eq(outbox.inboxId, inboxId));
    const items = await timelineOf(id);
    expect(items.filter((i) => i.direction === "out")).toEqual([]);
    expect(rows.every((r) => r.timelineItemId !== undefined)).toBe(true);

    // An out-of-office answer to a resolved conversation joins it but does not reopen it.
    const from = `pat-${tag}@x.test`;
    await mail({ from, subject: "Question", text: "?", messageId: `<p1-${tag}@x.test>` });
    const pid = (await conversationOfMessage(`p1-${tag}@x.test`))!;
    await api(`${server.url}/api/v1/conversations/${pid}/status`, {
      method: "POST",
      token,
      body: { status: "resolved" },
    });
    await mail({
      from,
      subject: "Automatic reply: Question",
      text: "Away until Monday",
      messageId: `<p2-${tag}@x.test>`,
      inReplyTo: `<p1-${tag}@x.test>`,
      headers: { "Auto-Submitted": "auto-replied" },
    });
    expect(await conversationOfMessage(`p2-${tag}@x.test`)).toBe(pid);
    expect((await api(`${server.url}/api/v1/conversations/${pid}`, { token })).body.status).toBe("resolved");
  });

  it("keeps spam and a flooding sender out of the inbox, listed in the spam view", async () => {
    await mail({
      from: `spam-${tag}@x.test`,
      subject: "WIN",
      text: "cheap",
      messageId: `<s1-${tag}@x.test>`,
      headers: { "X-Spam-Flag": "YES" },
    });
    expect(await conversationOfMessage(`s1-${tag}@x.test`)).toBeUndefined();
    const settings = (await api(`${server.url}/api/v1/inboxes/${inboxId}/email`, { token })).body.email;
    await api(`${server.url}/api/v1/inboxes/${inboxId}/email`, {
      method: "PUT",
      token,
      body: { email: { ...settings, floodPerHour: 3 } },
    });
    for (let i = 0; i < 5; i++)
      await mail({ from: `flood-${tag}@x.test`, subject: `n${i}`, text: "x", messageId: `<fl${i}-${tag}@x.test>` });
    await api(`${server.url}/api/v1/inboxes/${inboxId}/email`, { method: "PUT", token, body: { email: settings } });
    const spam = await api(`${server.url}/api/v1/inboxes/${inboxId}/email/spam`, { token });
    const reasons = (spam.body.items as any[]).filter((i) => i.from.includes(tag)).map((i) => `${i.from}: ${i.reason}`);
    expect(reasons).toContain(`spam-${tag}@x.test: flagged as spam`);
    expect(reasons.filter((r) => r.startsWith(`flood-${tag}`)).length).toBe(2);
    expect(await conversationOfMessage(`fl4-${tag}@x.test`)).toBeUndefined();
  });
});

describe("new outbound email", () => {
  it("starts a conversation with a contact by email, assigned to the agent, and the answer threads into it", async () => {
    const from = `liz-${tag}@x.test`;
    await mail({ from, subject: "Old topic", text: "x", messageId: `<l1-${tag}@x.test>` });
    const old = (await conversationOfMessage(`l1-${tag}@x.test`))!;
    const contactId = (await api(`${server.url}/api/v1/conversations/${old}`, { token })).body.contact.id;
    const before = sink.received.length;
    const started = await api(`${server.url}/api/v1/conversations/email`, {
      token,
      body: { contactId, inboxId, subject: "Your replacement part", text: "It ships today." },
    });
    expect(started.status).toBe(201);
    expect(started.body.conversation).toMatchObject({ assigneeId: server.admin.id, channel: "email" });
    expect(started.body.conversation.id).not.toBe(old);
    const sent = await sink.waitFor(before + 1);
    expect(sent.envelope.to).toEqual([from]);
    expect(sent.mail.subject).toBe("Your replacement part");
    expect(sent.mail.inReplyTo).toBeUndefined();
    await mail({
      from,
      subject: "Re: Your replacement part",
      text: "Great",
      messageId: `<l2-${tag}@x.test>`,
      inReplyTo: sent.mail.messageId,
    });
    expect(await conversationOfMessage(`l2-${tag}@x.test`)).toBe(started.body.conversation.id);
    const bad = await api(`${server.url}/api/v1/conversations/email`, {
      token,
      body: { contactId, inboxId: server.inbox.id, subject: "x", text: "y" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("inboxId");
  });
});

describe("email inbox administration", () => {
  it("validates settings naming the field, and never returns credentials", async () => {
    const bad = await api(`${server.url}/api/v1/inboxes`, {
      token,
      body: { name: "x", channel: "email", email: { address: "not an address" } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("email.address");
    const plain = await api(`${server.url}/api/v1/inboxes`, {
      token,
      body: {
        name: "x",
        channel: "email",
        email: {
          address: `p-${tag}@acme.test`,
          imap: { host: "imap.example.com", port: 143, security: "none", user: "u" },
        },
      },
    });
    expect(plain.status).toBe(400);
    expect(plain.body.error.field).toBe("email.imap.security");
    const ok = await api(`${server.url}/api/v1/inboxes`, {
      token,
      body: {
        name: "Sales",
        channel: "email",
        email: { address: `sales-${tag}@acme.test`, imap: { host: "imap.example.com", user: "u" } },
        credentials: { imapPassword: "hunter2" },
      },
    });
    expect(ok.status).toBe(201);
    const got = await api(`${server.url}/api/v1/inboxes/${ok.body.id}/email`, { token });
    expect(got.body.credentials).toEqual({ imapPassword: true, smtpPassword: false, dkim: false });
    expect(JSON.stringify(got.body)).not.toContain("hunter2");
    const agent = await server.signInAs("agent");
    expect((await api(`${server.url}/api/v1/inboxes/${ok.body.id}/email`, { token: agent })).status).toBe(403);
  });
});
