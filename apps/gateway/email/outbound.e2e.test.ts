import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { dkimSign } from "mailauth";
import { dkimVerify } from "mailauth/lib/dkim/verify";
import nodemailer from "nodemailer";
import { startSmtpIn } from "./smtp.ts";
import { startEmailInbox, type EmailInbox } from "../../../test/email-inbox.ts";
import { api, type TestServer } from "../../../test/server.ts";

let inbox: EmailInbox;
let server: TestServer;
let sink: EmailInbox["sink"];
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
  ({ server, sink, token, inboxId, tag, support, transport, mail, timelineOf, conversationOfMessage } = inbox);
});

afterAll(() => inbox.stop());

describe("email replies through the outbox", () => {
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
