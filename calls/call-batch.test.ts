import { describe, expect, it } from "bun:test";
import { asc, eq } from "drizzle-orm";
import { calls, conversations, events, timelineItems, workItems, type IvrState } from "../db/schema/index.ts";
import { createQueue } from "../routing/queue.ts";
import { testWorkspace } from "../test/workspace.ts";
import { CallBatch } from "./call-batch.ts";
import type { CallStart } from "./call.ts";
import { ingestInbound } from "../conversations/ingest.ts";
import { setStatus } from "../conversations/status.ts";

const menu: IvrState = {
  node: "menu",
  step: 1,
  reply: "<Response/>",
  attempts: 0,
  attributes: {},
  priority: 0,
  skills: [],
  language: "en",
  path: [],
};

const incoming = (inboxId: string, sid: string, from: string): CallStart => ({
  provider: "twilio",
  inboxId,
  externalId: sid,
  direction: "in",
  customer: { kind: "phone", value: from },
  from,
  to: "+15005550006",
  status: "ivr",
  ivr: menu,
  events: [{ eventType: "ivr", data: { steps: [{ node: "hours", input: "open" }] } }],
});

describe("batched call starts", () => {
  it("starts many concurrent calls in few transactions: one call each, one conversation per caller, events in seq order", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox("voice");
    const batch = new CallBatch(w.core);
    const callers = ["+8613800000001", "+8613800000002", "+8613800000001", "+8613800000003"];
    const started = await Promise.all(
      callers.map((from, n) => batch.start(w.workspaceId, incoming(inbox.id, `CA${n}`, from))),
    );
    expect(batch.stats.batches).toBeLessThan(callers.length);
    expect(started[0]!.conversation.id).toBe(started[2]!.conversation.id);
    expect(new Set(started.map((s) => s.conversation.id)).size).toBe(3);
    expect(started.filter((s) => s.conversationCreated)).toHaveLength(3);
    const rows = await w.core.db.select().from(calls).where(eq(calls.workspaceId, w.workspaceId));
    expect(rows.map((r) => r.externalId).sort()).toEqual(["CA0", "CA1", "CA2", "CA3"]);
    // Each call's item, and its IVR event after it, in the caller's conversation.
    const items = await w.core.db
      .select()
      .from(timelineItems)
      .where(eq(timelineItems.conversationId, started[0]!.conversation.id))
      .orderBy(asc(timelineItems.seq));
    expect(items.map((i) => i.type)).toEqual(["call", "event", "call", "event"]);
    const log = await w.core.db
      .select()
      .from(events)
      .where(eq(events.workspaceId, w.workspaceId))
      .orderBy(asc(events.seq));
    expect(log.map((e) => e.seq)).toEqual(log.map((_, n) => n + 1));
    expect(log.filter((e) => e.type === "conversation.created")).toHaveLength(3);
    expect(w.published.map((e) => e.seq)).toEqual(log.map((e) => e.seq));
    // The router must not queue a caller by entry rules: the IVR decides.
    expect(w.published.filter((e) => e.type === "conversation.created").every((e) => e.payload.call === true)).toBe(
      true,
    );
  });

  it("continues a known caller's open conversation, and opens a new one for a caller whose conversation was resolved", async () => {
    const w = await testWorkspace();
    const voice = await w.inbox("voice");
    const chat = await w.inbox("webchat");
    const actor = await w.actor();
    // A caller who chatted before (their phone number is their identity), and one whose conversation was resolved.
    const chatting = await ingestInbound(w.core, w.workspaceId, {
      channel: "webchat",
      channelAccountId: chat.id,
      externalId: "m1",
      from: { kind: "phone", value: "+8613900000001" },
      text: "hi",
    });
    const done = await ingestInbound(w.core, w.workspaceId, {
      channel: "webchat",
      channelAccountId: chat.id,
      externalId: "m2",
      from: { kind: "phone", value: "+8613900000002" },
      text: "bye",
    });
    await setStatus(w.core, actor, done.conversation.id, "resolved");
    const batch = new CallBatch(w.core);
    const [known, returning] = await Promise.all([
      batch.start(w.workspaceId, incoming(voice.id, "CAk", "+8613900000001")),
      batch.start(w.workspaceId, incoming(voice.id, "CAr", "+8613900000002")),
    ]);
    expect(known.conversation.id).toBe(chatting.conversation.id);
    expect(known.conversationCreated).toBe(false);
    expect(returning.conversation.id).not.toBe(done.conversation.id);
    expect(returning.conversation.contact.id).toBe(done.contactId);
    const [row] = await w.core.db.select().from(conversations).where(eq(conversations.id, chatting.conversation.id));
    expect(row!.lastMessageText).toBe("📞 +8613900000001");
  });

  it("fails only the call whose start is refused, and starts the others of its batch", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox("voice");
    const batch = new CallBatch(w.core);
    await batch.start(w.workspaceId, incoming(inbox.id, "CAdup", "+8613700000001"));
    // The same CallSid again (a retry racing past the webhook's check) beside two new calls.
    const results = await Promise.allSettled([
      batch.start(w.workspaceId, incoming(inbox.id, "CAnew1", "+8613700000002")),
      batch.start(w.workspaceId, incoming(inbox.id, "CAdup", "+8613700000001")),
      batch.start(w.workspaceId, incoming(inbox.id, "CAnew2", "+8613700000003")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const rows = await w.core.db.select().from(calls).where(eq(calls.workspaceId, w.workspaceId));
    expect(rows.map((r) => r.externalId).sort()).toEqual(["CAdup", "CAnew1", "CAnew2"]);
  });
});

describe("batched IVR turns", () => {
  it("queues callers who answered at once in the order they answered, each with their position, and applies a retried turn once", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox("voice");
    const queue = await createQueue(w.core.db, w.workspaceId, { name: "Phones", channels: ["voice"] });
    const batch = new CallBatch(w.core);
    const started = await Promise.all(
      ["+8613600000001", "+8613600000002", "+8613600000003"].map((from, n) =>
        batch.start(w.workspaceId, incoming(inbox.id, `CAq${n}`, from)),
      ),
    );
    const t0 = Date.now();
    const turn = (n: number) => ({
      call: started[n]!.call,
      step: 1,
      change: {
        ivr: { ...menu, node: null, step: 2, path: [{ node: "menu", input: "0" }] },
        status: "queued" as const,
        callbackNumber: null,
      },
      enqueue: { queueId: queue.id },
      events: [{ eventType: "ivr", data: { steps: [{ node: "menu", input: "0" }] } }],
      at: new Date(t0 + n),
    });
    // Submitted together, the third caller first; a retry of the second's turn beside it.
    const [third, first, second, retry] = await Promise.all([
      batch.turn(w.workspaceId, turn(2)),
      batch.turn(w.workspaceId, turn(0)),
      batch.turn(w.workspaceId, turn(1)),
      batch.turn(w.workspaceId, turn(1)),
    ]);
    expect([first, second, third].map((t) => t?.eta?.position)).toEqual([1, 2, 3]);
    expect(retry).toBeUndefined();
    expect(third!.call.status).toBe("queued");
    expect(third!.call.enqueuedAt?.getTime()).toBe(t0 + 2);
    const waiting = await w.core.db.select().from(workItems).where(eq(workItems.queueId, queue.id));
    expect(waiting).toHaveLength(3);
    // Each call item shows its new state; each conversation has the turn's events once.
    const items = await w.core.db
      .select()
      .from(timelineItems)
      .where(eq(timelineItems.conversationId, started[1]!.conversation.id))
      .orderBy(asc(timelineItems.seq));
    expect(items.find((i) => i.type === "call")!.data).toMatchObject({ status: "queued", queueId: queue.id });
    expect(items.filter((i) => i.type === "event").map((i) => i.eventType)).toEqual(["ivr", "ivr", "queued"]);
    expect(items.find((i) => i.eventType === "queued")!.data).toMatchObject({ position: 2, queueName: "Phones" });
    expect(w.published.filter((e) => e.type === "item.updated")).toHaveLength(3);
  });

  it("queues a call and starts another in the same conversation in one batch, keeping both changes to the conversation", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox("voice");
    const queue = await createQueue(w.core.db, w.workspaceId, { name: "Phones", channels: ["voice"] });
    const batch = new CallBatch(w.core);
    const first = await batch.start(w.workspaceId, incoming(inbox.id, "CAone", "+8613500000001"));
    const before = (
      await w.core.db.select().from(conversations).where(eq(conversations.id, first.conversation.id))
    )[0]!;
    await Bun.sleep(5);
    // The caller calls again from another line while the first call's key press is saved.
    const [queued, second] = await Promise.all([
      batch.turn(w.workspaceId, {
        call: first.call,
        step: 1,
        change: {
          ivr: { ...menu, node: null, step: 2, path: [{ node: "menu", input: "0" }] },
          status: "queued",
          callbackNumber: null,
        },
        enqueue: { queueId: queue.id },
        events: [],
        at: new Date(),
      }),
      batch.start(w.workspaceId, incoming(inbox.id, "CAtwo", "+8613500000001")),
    ]);
    expect(second.conversation.id).toBe(first.conversation.id);
    expect(queued?.eta?.position).toBe(1);
    const [row] = await w.core.db.select().from(conversations).where(eq(conversations.id, first.conversation.id));
    // The queue's change (the turn) and the new call's (its activity) both stand.
    expect(row!.queueId).toBe(queue.id);
    expect(row!.lastActivityAt.getTime()).toBeGreaterThan(before.lastActivityAt.getTime());
  });
});
