import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync } from "node:fs";
import { eq } from "drizzle-orm";
import { unzipSync, strFromU8 } from "fflate";
import { attachments, calls, conversations, erasures, knowledgeEvents } from "../../db/schema/index.ts";
import { residentIdCheck } from "../../platform/pii.ts";
import { sweepErasures } from "../../privacy/erasure.ts";
import { sweepRetention } from "../../privacy/retention.ts";
import { until } from "../../test/poll.ts";
import { api, openSocket, startTestServer, uploadAttachment, wsUrl, type TestServer } from "../../test/server.ts";

const ID = "11010519491231002" + residentIdCheck("11010519491231002"); // 11010519491231002X
const MASKED_ID = "110105********002X";
const CARD = "4111 1111 1111 1111";
const MASKED_CARD = "4111 11** **** 1111";
const PHONE = "13812345678";

let s: TestServer;
let admin: string;
let agent: string;
let supervisor: string;

beforeAll(async () => {
  s = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  agent = await s.login(s.agent.email, s.agent.password);
  supervisor = await s.signInAs("supervisor", "Sue");
});
afterAll(() => s.stop());

/** A visitor writing `text` on the web chat: their conversation and contact. */
async function visitorSays(text: string) {
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  const token = session.body.visitorToken as string;
  const sent = await api(`${s.url}/widget/v1/messages`, { token, body: { text } });
  expect(sent.status).toBe(201);
  const conversationId = sent.body.conversationId as string;
  const conversation = await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: admin });
  return { conversationId, contactId: conversation.body.contact.id as string };
}

const timelineTexts = async (conversationId: string, token: string) =>
  (await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token })).body.items
    .filter((i: any) => i.type === "message")
    .map((i: any) => i.text as string);

describe("masking for roles without pii", () => {
  it("an agent sees ID and card numbers masked in the timeline, list preview and socket; a supervisor sees them whole", async () => {
    const socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${agent}`);
    const text = `我的身份证${ID}，卡号${CARD}，电话${PHONE}`;
    const { conversationId } = await visitorSays(text);

    const masked = `我的身份证${MASKED_ID}，卡号${MASKED_CARD}，电话${PHONE}`;
    expect(await timelineTexts(conversationId, agent)).toEqual([masked]);
    expect(await timelineTexts(conversationId, supervisor)).toEqual([text]);

    const list = await api(`${s.url}/api/v1/conversations?status=open`, { token: agent });
    const preview = list.body.items.find((i: any) => i.id === conversationId);
    expect(preview.lastMessage.text).toBe(masked);
    const whole = await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: supervisor });
    expect(whole.body.lastMessage.text).toBe(text);

    const frame = await socket.waitFor((f) => f.type === "item.created" && f.conversationId === conversationId);
    expect(JSON.stringify(frame)).toContain(MASKED_ID);
    expect(JSON.stringify(frame)).not.toContain(ID);
    socket.close();
  });

  it("reveal: refused without pii; with it the text comes back whole and the audit log says who saw it", async () => {
    const { conversationId } = await visitorSays(`ID ${ID}`);
    const items = (await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token: supervisor })).body
      .items;
    const itemId = items.find((i: any) => i.type === "message").id;
    const url = `${s.url}/api/v1/conversations/${conversationId}/items/${itemId}/reveal`;
    expect((await api(url, { method: "POST", token: agent })).status).toBe(403);
    const revealed = await api(url, { method: "POST", token: supervisor });
    expect(revealed.status).toBe(200);
    expect(revealed.body.text).toBe(`ID ${ID}`);
    const audit = await api(`${s.url}/api/v1/audit?action=pii.reveal`, { token: admin });
    expect(audit.body.items[0]).toMatchObject({
      action: "pii.reveal",
      subjectType: "timeline_item",
      subjectId: itemId,
      actor: { name: "Sue" },
      detail: { conversationId, kinds: ["id"] },
    });
    expect((await api(`${s.url}/api/v1/audit`, { token: supervisor })).status).toBe(403);
  });
});

describe("audit log", () => {
  it("records an admin's settings change without its body, lists it by action and period, and exports CSV", async () => {
    const before = new Date(Date.now() - 1000).toISOString();
    const team = await api(`${s.url}/api/v1/teams`, { token: admin, body: { name: "=cmd|' /C calc'!A0" } });
    expect(team.status).toBe(201);
    const page = await api(`${s.url}/api/v1/audit?action=teams.manage&from=${encodeURIComponent(before)}`, {
      token: admin,
    });
    expect(page.status).toBe(200);
    expect(page.body.items).toHaveLength(1);
    expect(page.body.items[0]).toMatchObject({
      action: "teams.manage",
      actor: { id: s.admin.id, name: "Admin" },
      detail: { method: "POST", route: "POST /teams", status: 201 },
    });
    expect(JSON.stringify(page.body.items[0])).not.toContain("calc");

    const csv = await fetch(`${s.url}/api/v1/audit?format=csv&action=teams.manage`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(csv.headers.get("content-type")).toStartWith("text/csv");
    const lines = (await csv.text()).trim().split("\n");
    expect(lines[0]).toBe("at,actor_id,actor_name,action,subject_type,subject_id,detail,ip");
    expect(lines.slice(1).some((l) => l.includes('"teams.manage"'))).toBe(true);
    const exported = await api(`${s.url}/api/v1/audit?action=audit.export`, { token: admin });
    expect(exported.body.items[0]).toMatchObject({
      actor: { id: s.admin.id },
      detail: { route: "GET /audit", params: { format: "csv", action: "teams.manage" } },
    });

    const reversed = await api(`${s.url}/api/v1/audit?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z`, {
      token: admin,
    });
    expect(reversed.status).toBe(400);
    expect(reversed.body.error.field).toBe("to");
  });

  it("pages newest first with a cursor that never repeats a row", async () => {
    for (const name of ["a", "b", "c"])
      await api(`${s.url}/api/v1/teams`, { token: admin, body: { name: `T${name}` } });
    const first = await api(`${s.url}/api/v1/audit?action=teams.manage&limit=2`, { token: admin });
    const second = await api(`${s.url}/api/v1/audit?action=teams.manage&limit=2&cursor=${first.body.nextCursor}`, {
      token: admin,
    });
    const ids = [...first.body.items, ...second.body.items].map((i: any) => i.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(4);
    const bad = await api(`${s.url}/api/v1/audit?cursor=nonsense`, { token: admin });
    expect(bad.body.error.field).toBe("cursor");
  });
});

describe("data subject requests", () => {
  it("exports the contact as a zip: contact, conversation with its timeline, and the files", async () => {
    const { conversationId, contactId } = await visitorSays("please export my data");
    const bytes = new TextEncoder().encode("invoice body");
    const fileId = await uploadAttachment(s.url, admin, { bytes, type: "text/plain", name: "invoice.txt" });
    const reply = await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, {
      token: admin,
      body: { text: "here it is", attachments: [fileId] },
    });
    expect(reply.status).toBe(201);
    // A call recording: sealed on disk, plain in the zip.
    const sealed = await s.rt.files.createSealed(s.workspaceId, s.rt.keyring);
    await sealed.write(new TextEncoder().encode("RIFF fake audio"));
    const recordingId = await sealed.keep(s.rt.core.db, { name: "recording.wav", contentType: "audio/wav" });
    await s.rt.core.db.insert(calls).values({
      workspaceId: s.workspaceId,
      conversationId,
      inboxId: s.inbox.id,
      timelineItemId: crypto.randomUUID(),
      provider: "twilio",
      externalId: `CA${recordingId}`,
      direction: "in",
      status: "completed",
      recordingId,
    });
    expect((await api(`${s.url}/api/v1/contacts/${contactId}/export`, { token: supervisor })).status).toBe(403);
    const res = await fetch(`${s.url}/api/v1/contacts/${contactId}/export`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/zip");
    const zip = unzipSync(new Uint8Array(await res.arrayBuffer()));
    expect(JSON.parse(strFromU8(zip["contact.json"]!)).contact.id).toBe(contactId);
    const conversation = JSON.parse(strFromU8(zip[`conversations/${conversationId}.json`]!));
    expect(conversation.conversation.id).toBe(conversationId);
    expect(conversation.timeline.map((i: any) => i.text)).toContain("please export my data");
    expect(conversation.timeline.map((i: any) => i.text)).toContain("here it is");
    expect(strFromU8(zip[`files/${fileId}-invoice.txt`]!)).toBe("invoice body");
    expect(strFromU8(zip[`files/${recordingId}-recording.wav`]!)).toBe("RIFF fake audio");
    expect(conversation.calls.map((c: any) => c.recordingId)).toEqual([recordingId]);
    expect(JSON.parse(strFromU8(zip["tickets.json"]!))).toEqual([]);
    const audit = await api(`${s.url}/api/v1/audit?action=contact.export`, { token: admin });
    expect(audit.body.items[0]).toMatchObject({ subjectType: "contact", subjectId: contactId });
  });

  it("erases a contact: 409 while a call is live, then 202 and nothing of it is found", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const { conversationId, contactId } = await visitorSays(`erase word ${tag}`);
    const renamed = await api(`${s.url}/api/v1/contacts/${contactId}`, {
      method: "PATCH",
      token: admin,
      body: { name: `Erasable ${tag}` },
    });
    expect(renamed.status).toBe(200);
    const fileId = await uploadAttachment(s.url, admin, {
      bytes: new Uint8Array([1, 2, 3]),
      type: "text/plain",
      name: "a.txt",
    });
    await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, {
      token: admin,
      body: { text: "file", attachments: [fileId] },
    });
    const [file] = await s.rt.core.db.select().from(attachments).where(eq(attachments.id, fileId));
    const onDisk = s.rt.files.localPath(file!.storageKey);
    expect(existsSync(onDisk)).toBe(true);

    const without = await api(`${s.url}/api/v1/contacts/${contactId}`, { method: "DELETE", token: admin });
    expect(without.status).toBe(400);
    expect(without.body.error.field).toBe("erase");

    const [call] = await s.rt.core.db
      .insert(calls)
      .values({
        workspaceId: s.workspaceId,
        conversationId,
        inboxId: s.inbox.id,
        timelineItemId: crypto.randomUUID(),
        provider: "twilio",
        externalId: `CA${tag}`,
        direction: "in",
        status: "connected",
      })
      .returning();
    // The knowledge gaps keep a customer's question by conversation, with no foreign key to it.
    await s.rt.core.db
      .insert(knowledgeEvents)
      .values({ workspaceId: s.workspaceId, kind: "handover", query: `refund ${tag}`, conversationId });
    const erase = `${s.url}/api/v1/contacts/${contactId}?erase=true`;
    const busy = await api(erase, { method: "DELETE", token: admin });
    expect(busy.status).toBe(409);
    expect(busy.body.error.field).toBe("calls");
    await s.rt.core.db.update(calls).set({ status: "completed" }).where(eq(calls.id, call!.id));

    const started = await api(erase, { method: "DELETE", token: admin });
    expect(started.status).toBe(202);
    expect(started.body.erasureId).toBeString();
    const gone = await until(
      () => api(`${s.url}/api/v1/contacts/${contactId}`, { token: admin }),
      (r) => r.status === 404,
      30_000,
    );
    expect(gone.status).toBe(404);
    expect((await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: admin })).status).toBe(404);
    expect((await api(`${s.url}/api/v1/contacts?q=${tag}`, { token: admin })).body.items).toEqual([]);
    expect((await api(`${s.url}/api/v1/conversations?q=${tag}`, { token: admin })).body.items).toEqual([]);
    expect((await api(`${s.url}/files/${fileId}`, { token: admin })).status).toBe(404);
    expect(existsSync(onDisk)).toBe(false);
    expect(
      await s.rt.core.db.select().from(knowledgeEvents).where(eq(knowledgeEvents.conversationId, conversationId)),
    ).toEqual([]);
    const audit = await api(`${s.url}/api/v1/audit?action=contact.erase`, { token: admin });
    expect(audit.body.items[0]).toMatchObject({ subjectId: contactId, detail: { erasureId: started.body.erasureId } });
    expect(JSON.stringify(audit.body.items[0])).not.toContain(tag);
  });

  it("the sweep finishes an erasure a crash left pending", async () => {
    const { conversationId, contactId } = await visitorSays("left pending");
    await s.rt.core.db.insert(erasures).values({
      workspaceId: s.workspaceId,
      contactId,
      requestedAt: new Date(Date.now() - 120_000),
    });
    // The server's own sweep may get there first: either way the erasure is finished.
    await sweepErasures(s.rt.core.db, s.rt.files);
    expect((await api(`${s.url}/api/v1/contacts/${contactId}`, { token: admin })).status).toBe(404);
    expect((await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: admin })).status).toBe(404);
    const [row] = await s.rt.core.db.select().from(erasures).where(eq(erasures.contactId, contactId));
    expect(row).toMatchObject({ status: "done", counts: { conversations: 1, contacts: 1 } });
  });
});

describe("retention", () => {
  it("deletes conversations resolved longer ago than the workspace keeps them, and keeps the rest", async () => {
    const bad = await api(`${s.url}/api/v1/workspace/retention`, { method: "PUT", token: admin, body: { days: 0 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("days");
    const set = await api(`${s.url}/api/v1/workspace/retention`, { method: "PUT", token: admin, body: { days: 30 } });
    expect(set.body).toEqual({ days: 30 });
    expect((await api(`${s.url}/api/v1/workspace/retention`, { token: admin })).body).toEqual({ days: 30 });

    const old = await visitorSays("old question");
    const recent = await visitorSays("recent question");
    for (const c of [old, recent])
      await api(`${s.url}/api/v1/conversations/${c.conversationId}/status`, {
        token: admin,
        body: { status: "resolved" },
      });
    await s.rt.core.db
      .update(conversations)
      .set({ resolvedAt: new Date(Date.now() - 31 * 86_400_000) })
      .where(eq(conversations.id, old.conversationId));

    await sweepRetention(s.rt.core.db, s.rt.files);
    expect((await api(`${s.url}/api/v1/conversations/${old.conversationId}`, { token: admin })).status).toBe(404);
    expect((await api(`${s.url}/api/v1/conversations/${recent.conversationId}`, { token: admin })).status).toBe(200);
    const audit = await api(`${s.url}/api/v1/audit?action=retention.delete`, { token: admin });
    expect(audit.body.items[0]).toMatchObject({ actor: null, detail: { days: 30 } });
    await api(`${s.url}/api/v1/workspace/retention`, { method: "PUT", token: admin, body: { days: null } });
  });
});
