import { describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { contactIdentities, conversations, outbox, timelineItems } from "../db/schema/index.ts";
import { createTeam } from "../routing/agent.ts";
import { testWorkspace } from "../test/workspace.ts";
import { mergeContacts } from "./contact-identity.ts";
import { contactProfile } from "./contact.ts";
import { assign } from "./assignment.ts";
import { ingestInbound } from "./ingest.ts";
import { reply } from "./reply.ts";
import { setStatus, wakeSnoozed } from "./status.ts";
import { transferToTeam } from "../routing/transfer.ts";
import { listConversations } from "./conversation-list.ts";
import { timelinePage } from "./timeline.ts";

const inbound = (inboxId: string, externalId: string, value: string, text = "hello") => ({
  channel: "webchat" as const,
  channelAccountId: inboxId,
  externalId,
  from: { kind: "visitor" as const, value, displayName: "Visitor" },
  text,
});

describe("ingest", () => {
  it("opens one conversation for a new contact and appends the message with a seq", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const r = await ingestInbound(w.core, w.workspaceId, inbound(inbox.id, "m1", "v1", "你好，我的订单"));
    expect(r.duplicate).toBe(false);
    expect(r.conversation.status).toBe("open");
    expect(r.conversation.lastMessage.text).toBe("你好，我的订单");
    expect(r.item).toMatchObject({ type: "message", direction: "in", channel: "webchat", text: "你好，我的订单" });
    expect(w.published.map((e) => e.type)).toEqual(["conversation.created", "item.created"]);
    expect(w.published[1]!.seq).toBe(r.item.seq);
  });

  it("stores a provider's retried delivery once", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const first = await ingestInbound(w.core, w.workspaceId, inbound(inbox.id, "same", "v1"));
    const again = await ingestInbound(w.core, w.workspaceId, inbound(inbox.id, "same", "v1"));
    const racing = await Promise.all(
      [1, 2, 3, 4, 5].map(() => ingestInbound(w.core, w.workspaceId, inbound(inbox.id, "race", "v1"))),
    );
    expect(again.duplicate).toBe(true);
    expect(again.item.id).toBe(first.item.id);
    expect(new Set(racing.map((r) => r.item.id)).size).toBe(1);
    const items = await w.core.db
      .select()
      .from(timelineItems)
      .where(eq(timelineItems.conversationId, first.conversation.id));
    expect(items).toHaveLength(2);
  });

  it("gives racing first messages from one new person one contact and one conversation", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const results = await Promise.all(
      [1, 2, 3, 4].map((n) => ingestInbound(w.core, w.workspaceId, inbound(inbox.id, `m${n}`, "newcomer"))),
    );
    expect(new Set(results.map((r) => r.contactId)).size).toBe(1);
    expect(new Set(results.map((r) => r.conversation.id)).size).toBe(1);
  });

  it("keeps one timeline when the same person writes through another channel", async () => {
    const w = await testWorkspace();
    const chat = await w.inbox("webchat");
    const mail = await w.inbox("email");
    const a = await ingestInbound(w.core, w.workspaceId, {
      ...inbound(chat.id, "c1", "x"),
      from: { kind: "email", value: "Li.Lei@Example.com" },
    });
    const b = await ingestInbound(w.core, w.workspaceId, {
      ...inbound(mail.id, "e1", "x"),
      channel: "email",
      from: { kind: "email", value: "li.lei@example.com" },
    });
    expect(b.conversation.id).toBe(a.conversation.id);
    expect(b.conversation.channel).toBe("email");
    const page = await timelinePage(w.core.db, a.conversation.id, { limit: 10 });
    expect(page.items.map((i) => i.channel)).toEqual(["webchat", "email"]);
  });

  it("rejects an inbox of another workspace and stores nothing", async () => {
    const w = await testWorkspace();
    const other = await testWorkspace();
    const foreign = await other.inbox();
    await ingestInbound(other.core, other.workspaceId, inbound(foreign.id, "x1", "v", "other workspace's secret"));
    // Naming the other workspace's inbox and message id neither stores nor reveals anything.
    await expect(ingestInbound(w.core, w.workspaceId, inbound(foreign.id, "x1", "v"))).rejects.toThrow(
      /Inbox not found/,
    );
    await expect(ingestInbound(w.core, w.workspaceId, inbound(foreign.id, "x2", "v"))).rejects.toThrow(
      /Inbox not found/,
    );
    const rows = await w.core.db.select().from(conversations).where(eq(conversations.workspaceId, w.workspaceId));
    expect(rows).toHaveLength(0);
  });

  it("reopens a resolved customer's thread as a new conversation", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const admin = await w.actor("admin");
    const first = await ingestInbound(w.core, w.workspaceId, inbound(inbox.id, "a", "v"));
    await setStatus(w.core, admin, first.conversation.id, "resolved");
    const second = await ingestInbound(w.core, w.workspaceId, inbound(inbox.id, "b", "v"));
    expect(second.conversation.id).not.toBe(first.conversation.id);
    const profile = await contactProfile(w.core.db, { workspaceId: w.workspaceId }, second.contactId);
    expect(profile.conversations).toHaveLength(2);
  });
});

describe("agent work", () => {
  it("writes a reply and its outbox row in one transaction, and notes without one", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const agent = await w.actor("agent", "Ann");
    const r = await ingestInbound(w.core, w.workspaceId, inbound(inbox.id, "q", "v"));
    const out = await reply(w.core, agent, r.conversation.id, { text: "On it" });
    const note = await reply(w.core, agent, r.conversation.id, { text: "VIP, be quick", private: true });
    expect(out).toMatchObject({ type: "message", direction: "out", status: "pending", sender: { name: "Ann" } });
    expect(note).toMatchObject({ type: "note", private: true, direction: null, status: null });
    const rows = await w.core.db.select().from(outbox).where(eq(outbox.workspaceId, w.workspaceId));
    expect(rows.map((o) => o.timelineItemId)).toEqual([out.id]);
    const publicFlags = w.published.filter((e) => e.type === "item.created").map((e) => e.public);
    expect(publicFlags).toEqual([true, true, false]);
  });

  it("records status changes, assignment and transfer as timeline events", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const supervisor = await w.actor("supervisor", "Sue");
    const agent = await w.actor("agent", "Ann");
    const team = await createTeam(w.core.db, w.workspaceId, "Billing");
    const r = await ingestInbound(w.core, w.workspaceId, inbound(inbox.id, "q", "v"));
    await assign(w.core, supervisor, r.conversation.id, agent.userId);
    await setStatus(w.core, supervisor, r.conversation.id, "pending");
    const moved = await transferToTeam(w.core, supervisor, r.conversation.id, team.id, "billing question");
    expect(moved).toMatchObject({ teamId: team.id, assigneeId: null, status: "pending" });
    const page = await timelinePage(w.core.db, r.conversation.id, { limit: 10 });
    expect(page.items.filter((i) => i.type === "event").map((i) => i.eventType)).toEqual([
      "assigned",
      "status_changed",
      "transferred",
    ]);
    await expect(setStatus(w.core, supervisor, r.conversation.id, "snoozed")).rejects.toThrow(/snoozedUntil/);
  });

  it("lets an agent see unassigned and own work but not a colleague's", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const ann = await w.actor("agent", "Ann");
    const bob = await w.actor("agent", "Bob");
    const editor = await w.actor("knowledge_editor");
    const r = await ingestInbound(w.core, w.workspaceId, inbound(inbox.id, "q", "v"));
    expect((await listConversations(w.core.db, bob, { limit: 10 })).items).toHaveLength(1);
    await assign(w.core, ann, r.conversation.id, ann.userId);
    expect((await listConversations(w.core.db, bob, { limit: 10 })).items).toHaveLength(0);
    expect((await listConversations(w.core.db, ann, { limit: 10, assignee: "me" })).items).toHaveLength(1);
    expect((await listConversations(w.core.db, editor, { limit: 10 })).items).toHaveLength(0);
    await expect(reply(w.core, bob, r.conversation.id, { text: "mine now" })).rejects.toThrow(/not found/);
    await expect(assign(w.core, ann, r.conversation.id, bob.userId)).rejects.toThrow(/only to themselves/);
  });

  it("pages conversations by last activity with a stable cursor", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const admin = await w.actor("admin");
    for (let i = 0; i < 5; i++)
      await ingestInbound(w.core, w.workspaceId, inbound(inbox.id, `p${i}`, `person${i}`, `msg ${i}`));
    const first = await listConversations(w.core.db, admin, { limit: 2 });
    const second = await listConversations(w.core.db, admin, { limit: 2, cursor: first.nextCursor! });
    const third = await listConversations(w.core.db, admin, { limit: 2, cursor: second.nextCursor! });
    const texts = [...first.items, ...second.items, ...third.items].map((c) => c.lastMessage.text);
    expect(texts).toEqual(["msg 4", "msg 3", "msg 2", "msg 1", "msg 0"]);
    expect(third.nextCursor).toBeNull();
  });
});

describe("contact merge", () => {
  it("moves identities and conversations onto the kept contact", async () => {
    const w = await testWorkspace();
    const chat = await w.inbox("webchat");
    const phone = await w.inbox("sms");
    const a = await ingestInbound(w.core, w.workspaceId, {
      ...inbound(chat.id, "1", "x"),
      from: { kind: "email", value: "wang@example.cn", displayName: "王伟" },
    });
    const b = await ingestInbound(w.core, w.workspaceId, {
      ...inbound(phone.id, "2", "x"),
      channel: "sms",
      from: { kind: "phone", value: "+86 138 0000 0000" },
    });
    expect(a.contactId).not.toBe(b.contactId);
    const merged = await mergeContacts(w.core, w.workspaceId, a.contactId, b.contactId);
    expect(merged.identities.map((i) => i.kind).sort()).toEqual(["email", "phone"]);
    expect(merged.conversations).toHaveLength(2);
    expect(merged.name).toBe("王伟");
    // The next text from that phone number lands on the kept contact.
    const c = await ingestInbound(w.core, w.workspaceId, {
      ...inbound(phone.id, "3", "x"),
      channel: "sms",
      from: { kind: "phone", value: "+8613800000000" },
    });
    expect(c.contactId).toBe(a.contactId);
    const ids = await w.core.db.select().from(contactIdentities).where(eq(contactIdentities.contactId, b.contactId));
    expect(ids).toHaveLength(0);
  });
});

describe("snooze", () => {
  it("wakes a snoozed conversation when its time comes, once", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const agent = await w.actor("agent");
    const r = await ingestInbound(w.core, w.workspaceId, inbound(inbox.id, "s", "v"));
    const until = new Date(Date.now() + 60_000);
    const snoozed = await setStatus(w.core, agent, r.conversation.id, "snoozed", until);
    expect(snoozed).toMatchObject({ status: "snoozed", snoozedUntil: until.toISOString() });
    expect(await wakeSnoozed(w.core, new Date(Date.now() + 30_000))).toBe(0);
    expect(await wakeSnoozed(w.core, new Date(Date.now() + 61_000))).toBeGreaterThanOrEqual(1);
    const [row] = await w.core.db.select().from(conversations).where(eq(conversations.id, r.conversation.id));
    expect(row).toMatchObject({ status: "open", snoozedUntil: null });
    const page = await timelinePage(w.core.db, r.conversation.id, { limit: 10 });
    expect(page.items.at(-1)).toMatchObject({
      type: "event",
      eventType: "status_changed",
      sender: { type: "system" },
      data: { to: "open", reason: "snooze_ended" },
    });
  });

  it("reopens a snoozed conversation when the customer writes", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const agent = await w.actor("agent");
    const r = await ingestInbound(w.core, w.workspaceId, inbound(inbox.id, "s1", "v"));
    await setStatus(w.core, agent, r.conversation.id, "snoozed", new Date(Date.now() + 3_600_000));
    const again = await ingestInbound(w.core, w.workspaceId, inbound(inbox.id, "s2", "v"));
    expect(again.conversation).toMatchObject({ id: r.conversation.id, status: "open", snoozedUntil: null });
  });
});

describe("waiting customer", () => {
  const waitingSinceOf = async (w: Awaited<ReturnType<typeof testWorkspace>>, id: string) =>
    (await w.core.db.select().from(conversations).where(eq(conversations.id, id)))[0]!.waitingSince?.toISOString() ??
    null;

  it("waits from the first unanswered message; a note does not answer, a public reply does", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const agent = await w.actor("agent");
    const first = await ingestInbound(w.core, w.workspaceId, {
      ...inbound(inbox.id, "w1", "v"),
      sentAt: new Date("2030-01-01T10:00:00Z"),
    });
    expect(first.conversation.waitingSince).toBe("2030-01-01T10:00:00.000Z");
    const second = await ingestInbound(w.core, w.workspaceId, {
      ...inbound(inbox.id, "w2", "v"),
      sentAt: new Date("2030-01-01T10:05:00Z"),
    });
    expect(second.conversation.waitingSince).toBe("2030-01-01T10:00:00.000Z");
    await reply(w.core, agent, first.conversation.id, { text: "customer sounds upset", private: true });
    expect(await waitingSinceOf(w, first.conversation.id)).toBe("2030-01-01T10:00:00.000Z");
    await reply(w.core, agent, first.conversation.id, { text: "Sorry for the wait" });
    expect(await waitingSinceOf(w, first.conversation.id)).toBeNull();
    const third = await ingestInbound(w.core, w.workspaceId, {
      ...inbound(inbox.id, "w3", "v"),
      sentAt: new Date("2030-01-01T11:00:00Z"),
    });
    expect(third.conversation.waitingSince).toBe("2030-01-01T11:00:00.000Z");
  });

  it("stops waiting when the conversation is resolved, and not when it is set pending", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const agent = await w.actor("agent");
    const r = await ingestInbound(w.core, w.workspaceId, inbound(inbox.id, "r1", "v"));
    expect(r.conversation.waitingSince).not.toBeNull();
    expect((await setStatus(w.core, agent, r.conversation.id, "pending")).waitingSince).toBe(
      r.conversation.waitingSince,
    );
    expect((await setStatus(w.core, agent, r.conversation.id, "resolved")).waitingSince).toBeNull();
  });
});
