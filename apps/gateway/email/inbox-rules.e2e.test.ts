import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { sendSystemMessage } from "../../../conversations/reply.ts";
import { withEvents } from "../../../conversations/transaction.ts";
import { outbox } from "../../../db/schema/index.ts";
import { eq } from "drizzle-orm";
import { startEmailInbox, type EmailInbox } from "../../../test/email-inbox.ts";
import { api, type TestServer } from "../../../test/server.ts";

let inbox: EmailInbox;
let server: TestServer;
let token: string;
let inboxId: string;
let tag: string;
let mail: EmailInbox["mail"];
let timelineOf: EmailInbox["timelineOf"];
let conversationOfMessage: EmailInbox["conversationOfMessage"];

beforeAll(async () => {
  inbox = await startEmailInbox();
  ({ server, token, inboxId, tag, mail, timelineOf, conversationOfMessage } = inbox);
});

afterAll(() => inbox.stop());

describe("email inbox rules: reopening, auto-replies, spam", () => {
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
