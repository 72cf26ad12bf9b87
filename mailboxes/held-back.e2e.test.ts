import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import nodemailer from "nodemailer";
import { createWorkspace } from "../conversations/workspace.ts";
import { attachments, emailQuarantine, timelineItems } from "../db/schema/index.ts";
import { createAgent } from "../routing/agent.ts";
import { api, startTestServer, type TestServer } from "../test/server.ts";
import { pruneHeldBack } from "./held-back.ts";

let server: TestServer;
let token: string;
let inboxId: string;
const tag = crypto.randomUUID().slice(0, 8);
const support = `spam-view-${tag}@acme.test`;

beforeAll(async () => {
  server = await startTestServer({ email: { smtp: true } });
  token = await server.login(server.admin.email, server.admin.password);
  const created = await api(`${server.url}/api/v1/inboxes`, {
    token,
    body: { name: "Spam view", channel: "email", email: { address: support, floodPerHour: 2 } },
  });
  expect(created.status).toBe(201);
  inboxId = created.body.id;
  // Addresses given through the admin API receive mail once proven (docs/security.md, routing keys).
  await server.proveRoutes(inboxId);
});

afterAll(async () => {
  await server.stop();
});

const transport = () =>
  nodemailer.createTransport({ host: "127.0.0.1", port: server.email!.smtpPort!, secure: false, ignoreTLS: true });
const spamUrl = (path = "") => `${server.url}/api/v1/inboxes/${inboxId}/email/spam${path}`;

async function held() {
  const res = await api(spamUrl(), { token });
  expect(res.status).toBe(200);
  return res.body.items as {
    id: string;
    from: string;
    subject: string;
    reason: string;
    receivedAt: string;
    releasable: boolean;
  }[];
}

async function heldBySubject(subject: string) {
  const item = (await held()).find((i) => i.subject === subject);
  expect(item).toBeDefined();
  return item!;
}

async function timelineOf(conversationId: string) {
  return (await api(`${server.url}/api/v1/conversations/${conversationId}/timeline`, { token })).body.items as any[];
}

/** The stored file behind a held-back mail's raw copy, as it lies on disk. */
async function rawFileOf(id: string) {
  const [row] = await server.rt.core.db
    .select({ rawId: emailQuarantine.rawId })
    .from(emailQuarantine)
    .where(eq(emailQuarantine.id, id));
  if (!row?.rawId) return undefined;
  const [file] = await server.rt.core.db.select().from(attachments).where(eq(attachments.id, row.rawId));
  return file && join(server.rt.config.dataDir, "files", file.storageKey);
}

describe("the spam view", () => {
  it("releases a spam-flagged reply into the conversation it answers, keeps its copy sealed meanwhile, and stores it once however often it is released", async () => {
    const from = `ann-${tag}@x.test`;
    const first = await transport().sendMail({
      from,
      to: support,
      subject: "Order 7",
      text: "Where is order 7?",
      messageId: `<o7-${tag}@x.test>`,
    });
    expect(first.response).toContain("Queued");
    const list = await api(`${server.url}/api/v1/conversations?inboxId=${inboxId}&limit=50`, { token });
    const conversationId = (list.body.items as any[]).find((c) => c.lastMessage.text === "Where is order 7?").id;

    const answer = await transport().sendMail({
      from,
      to: support,
      subject: "Re: Order 7",
      text: "It arrived, thanks! Quarantined words here.",
      messageId: `<o7b-${tag}@x.test>`,
      inReplyTo: `<o7-${tag}@x.test>`,
      headers: { "X-Spam-Flag": "YES" },
    });
    expect(answer.response).toContain("held for review");
    const item = await heldBySubject("Re: Order 7");
    expect(item).toMatchObject({ from, reason: "flagged as spam", releasable: true });
    expect(Date.parse(item.receivedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect((await timelineOf(conversationId)).length).toBe(1);

    // The copy at rest is sealed: neither the body nor the subject can be read from the file.
    const path = (await rawFileOf(item.id))!;
    expect(path.endsWith(".sealed")).toBe(true);
    const onDisk = readFileSync(path).toString("latin1");
    expect(onDisk).not.toContain("Quarantined words");
    expect(onDisk).not.toContain("Order 7");

    // Through the file route the copy is for admins and supervisors only, like the spam view.
    const [{ rawId }] = (await server.rt.core.db
      .select({ rawId: emailQuarantine.rawId })
      .from(emailQuarantine)
      .where(eq(emailQuarantine.id, item.id))) as [{ rawId: string }];
    const agentToken = await server.login(server.agent.email, server.agent.password);
    expect(
      (await fetch(`${server.url}/files/${rawId}`, { headers: { authorization: `Bearer ${agentToken}` } })).status,
    ).toBe(404);
    const asAdmin = await fetch(`${server.url}/files/${rawId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(asAdmin.status).toBe(200);
    expect(await asAdmin.text()).toContain("Quarantined words");

    const released = await api(spamUrl(`/${item.id}/release`), { method: "POST", token });
    expect(released.status).toBe(200);
    expect(released.body).toMatchObject({ status: "released", conversationId });
    const items = await timelineOf(conversationId);
    expect(items.map((i) => i.text)).toEqual(["Where is order 7?", "It arrived, thanks! Quarantined words here."]);
    expect(items[1]).toMatchObject({
      id: released.body.itemId,
      channel: "email",
      data: { subject: "Re: Order 7", messageId: `o7b-${tag}@x.test` },
    });
    // Gone from the list and from disk; a second release answers with the same message.
    expect((await held()).some((i) => i.id === item.id)).toBe(false);
    expect(existsSync(path)).toBe(false);
    const again = await api(spamUrl(`/${item.id}/release`), { method: "POST", token });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(released.body);
    expect((await timelineOf(conversationId)).length).toBe(2);
  });

  it("releases two clicks at once into one message", async () => {
    await transport().sendMail({
      from: `bo-${tag}@x.test`,
      to: support,
      subject: "Twin release",
      text: "once only",
      messageId: `<tw-${tag}@x.test>`,
      headers: { "X-Spam-Flag": "YES" },
    });
    const item = await heldBySubject("Twin release");
    const [a, b] = await Promise.all([
      api(spamUrl(`/${item.id}/release`), { method: "POST", token }),
      api(spamUrl(`/${item.id}/release`), { method: "POST", token }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.itemId).toBe(b.body.itemId);
    expect((await timelineOf(a.body.conversationId)).filter((i) => i.text === "once only").length).toBe(1);
  });

  it("releases a flooding sender's mail though the sender is still over the limit, and a large mail with its attachment", async () => {
    const from = `flo-${tag}@x.test`;
    const subjects = ["Flood", "Re: Flood", "RE: Flood"];
    for (let i = 0; i < 3; i++)
      await transport().sendMail({
        from,
        to: support,
        subject: subjects[i],
        text: `flood ${i}`,
        messageId: `<fl${i}-${tag}@x.test>`,
      });
    const item = await heldBySubject("RE: Flood");
    expect(item.reason).toContain("over the limit of 2 mails an hour");
    const released = await api(spamUrl(`/${item.id}/release`), { method: "POST", token });
    expect(released.status).toBe(200);
    // Threaded by its subject with the sender's earlier mail, as it would have been on arrival.
    expect((await timelineOf(released.body.conversationId)).map((i) => i.text)).toEqual([
      "flood 0",
      "flood 1",
      "flood 2",
    ]);

    // Past the in-memory copy's size the raw mail is written to disk as it streams in.
    const pdf = Buffer.alloc(3 * 1024 * 1024, 5);
    await transport().sendMail({
      from: `big-${tag}@x.test`,
      to: support,
      subject: "Big spam",
      text: "see file",
      messageId: `<bs-${tag}@x.test>`,
      headers: { "X-Spam-Flag": "YES" },
      attachments: [{ filename: "scan.pdf", content: pdf, contentType: "application/pdf" }],
    });
    const big = await heldBySubject("Big spam");
    const file = await server.rt.core.db
      .select()
      .from(attachments)
      .where(eq(attachments.workspaceId, server.workspaceId));
    expect(file.filter((f) => f.contentType === "application/pdf").length).toBe(0);
    const out = await api(spamUrl(`/${big.id}/release`), { method: "POST", token });
    expect(out.status).toBe(200);
    const [msg] = await timelineOf(out.body.conversationId);
    expect(msg.attachments).toMatchObject([{ name: "scan.pdf", contentType: "application/pdf", size: pdf.length }]);
  }, 30_000);

  it("deletes a held-back mail with its copy, and says why a mail without a sender cannot be released", async () => {
    await transport().sendMail({
      from: `del-${tag}@x.test`,
      to: support,
      subject: "Delete me",
      text: "x",
      headers: { "X-Spam-Flag": "YES" },
    });
    const item = await heldBySubject("Delete me");
    const path = (await rawFileOf(item.id))!;
    expect(existsSync(path)).toBe(true);
    expect((await api(spamUrl(`/${item.id}`), { method: "DELETE", token })).status).toBe(200);
    expect(existsSync(path)).toBe(false);
    expect((await held()).some((i) => i.id === item.id)).toBe(false);
    const twice = await api(spamUrl(`/${item.id}`), { method: "DELETE", token });
    expect(twice.status).toBe(404);
    expect(twice.body.error.field).toBe("itemId");

    const raw = `To: ${support}\r\nSubject: Nobody sent this ${tag}\r\nMessage-ID: <ns-${tag}@x.test>\r\n\r\nno From header\r\n`;
    await transport().sendMail({ envelope: { from: `x-${tag}@x.test`, to: [support] }, raw });
    const orphan = await heldBySubject(`Nobody sent this ${tag}`);
    expect(orphan).toMatchObject({ reason: "no valid sender address (From)", releasable: false });
    const refused = await api(spamUrl(`/${orphan.id}/release`), { method: "POST", token });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({
      field: "itemId",
      message: expect.stringContaining("delete it instead"),
    });
  });

  it("refuses to release a copy that was altered on disk, storing nothing of it", async () => {
    await transport().sendMail({
      from: `tam-${tag}@x.test`,
      to: support,
      subject: "Tampered",
      text: "original words",
      messageId: `<tam-${tag}@x.test>`,
      headers: { "X-Spam-Flag": "YES" },
    });
    const item = await heldBySubject("Tampered");
    const path = (await rawFileOf(item.id))!;
    const bytes = readFileSync(path);
    bytes[bytes.length - 10]! ^= 1;
    writeFileSync(path, bytes);
    const refused = await api(spamUrl(`/${item.id}/release`), { method: "POST", token });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ field: "itemId", message: expect.stringContaining("cannot be read") });
    const [stored] = await server.rt.core.db
      .select()
      .from(timelineItems)
      .where(eq(timelineItems.externalId, `tam-${tag}@x.test`));
    expect(stored).toBeUndefined();
    expect((await held()).some((i) => i.id === item.id)).toBe(true);
  });

  it("validates ids naming the field, and keeps agents and other workspaces out", async () => {
    await transport().sendMail({
      from: `eve-${tag}@x.test`,
      to: support,
      subject: "Guarded",
      text: "x",
      headers: { "X-Spam-Flag": "YES" },
    });
    const item = await heldBySubject("Guarded");
    const bad = await api(spamUrl("/not-a-uuid/release"), { method: "POST", token });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("itemId");
    const missing = await api(spamUrl(`/${crypto.randomUUID()}/release`), { method: "POST", token });
    expect(missing.status).toBe(404);
    expect(missing.body.error.field).toBe("itemId");
    const chat = await api(`${server.url}/api/v1/inboxes/${server.inbox.id}/email/spam`, { token });
    expect(chat.status).toBe(400);
    expect(chat.body.error.field).toBe("id");

    const agent = await server.signInAs("agent");
    expect((await api(spamUrl(), { token: agent })).status).toBe(403);
    expect((await api(spamUrl(`/${item.id}/release`), { method: "POST", token: agent })).status).toBe(403);
    expect((await api(spamUrl(`/${item.id}`), { method: "DELETE", token: agent })).status).toBe(403);
    const supervisor = await server.signInAs("supervisor");
    expect((await api(spamUrl(), { token: supervisor })).body.items.some((i: any) => i.id === item.id)).toBe(true);

    // An admin of another workspace sees no such inbox, and cannot touch the mail.
    const other = await createWorkspace(server.rt.core.db, `Other ${tag}`);
    const stranger = await createAgent(server.rt.core.db, {
      workspaceId: other.id,
      email: `stranger-${tag}@example.test`,
      name: "Stranger",
      role: "admin",
      password: server.admin.password,
    });
    const strangerToken = await server.login(stranger.email, server.admin.password);
    expect((await api(spamUrl(), { token: strangerToken })).status).toBe(404);
    expect((await api(spamUrl(`/${item.id}/release`), { method: "POST", token: strangerToken })).status).toBe(404);
    expect((await api(spamUrl(`/${item.id}`), { method: "DELETE", token: strangerToken })).status).toBe(404);
    const [still] = await server.rt.core.db
      .select()
      .from(emailQuarantine)
      .where(and(eq(emailQuarantine.id, item.id), eq(emailQuarantine.workspaceId, server.workspaceId)));
    expect(still?.releasedAt).toBeNull();
  });

  it("deletes held-back mail nobody dealt with after 30 days, with its sealed copy", async () => {
    await transport().sendMail({
      from: `old-${tag}@x.test`,
      to: support,
      subject: "Forgotten",
      text: "nobody looked",
      messageId: `<fg-${tag}@x.test>`,
      headers: { "X-Spam-Flag": "YES" },
    });
    const item = await heldBySubject("Forgotten");
    const path = (await rawFileOf(item.id))!;
    expect(existsSync(path)).toBe(true);
    expect(await pruneHeldBack(server.rt, new Date(Date.now() + 29 * 86_400_000))).toBe(0);
    expect(await pruneHeldBack(server.rt, new Date(Date.now() + 31 * 86_400_000))).toBeGreaterThanOrEqual(1);
    expect((await held()).some((i) => i.id === item.id)).toBe(false);
    expect(existsSync(path)).toBe(false);
  });
});
