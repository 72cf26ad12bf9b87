import { describe, expect, it } from "bun:test";
import { and, asc, eq } from "drizzle-orm";
import { conversations, events, timelineItems } from "../db/schema/index.ts";
import { testWorkspace } from "../test/workspace.ts";
import { assign } from "./assignment.ts";
import { ingestInbound } from "./ingest.ts";
import { reply } from "./reply.ts";
import { setStatus } from "./status.ts";
import { ingestBatch, InboundQueue } from "./inbound-queue.ts";
import { validateInbound } from "./ingest.ts";

const message = (inboxId: string, externalId: string, from: string, text = externalId) =>
  validateInbound({
    channel: "webchat",
    channelAccountId: inboxId,
    externalId,
    from: { kind: "visitor", value: from, displayName: from },
    text,
  });

describe("batched ingest", () => {
  it("stores a batch like one-by-one ingest: contacts, conversations, items and events in seq order", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const results = await ingestBatch(w.core, w.workspaceId, [
      message(inbox.id, "a1", "alice"),
      message(inbox.id, "b1", "bob"),
      message(inbox.id, "a2", "alice"),
    ]);
    expect(results.map((r) => r.duplicate)).toEqual([false, false, false]);
    expect(results[0]!.conversation.id).toBe(results[2]!.conversation.id);
    expect(results[0]!.conversation.id).not.toBe(results[1]!.conversation.id);
    expect(results[2]!.conversation.lastMessage.text).toBe("a2");
    expect(results.map((r) => r.item.text)).toEqual(["a1", "b1", "a2"]);
    const log = await w.core.db
      .select()
      .from(events)
      .where(eq(events.workspaceId, w.workspaceId))
      .orderBy(asc(events.seq));
    expect(log.map((e) => e.type)).toEqual([
      "conversation.created",
      "item.created",
      "conversation.created",
      "item.created",
      "item.created",
    ]);
    expect(log.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(w.published.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    const [stored] = await w.core.db
      .select()
      .from(conversations)
      .where(eq(conversations.id, results[0]!.conversation.id));
    expect(stored!.lastMessageText).toBe("a2");
  });

  it("answers duplicates inside a batch and of earlier deliveries with the stored message", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const earlier = await ingestInbound(w.core, w.workspaceId, message(inbox.id, "old", "carol"));
    const results = await ingestBatch(w.core, w.workspaceId, [
      message(inbox.id, "new", "carol"),
      message(inbox.id, "old", "carol"),
      message(inbox.id, "new", "carol"),
    ]);
    expect(results.map((r) => r.duplicate)).toEqual([false, true, true]);
    expect(results[1]!.item.id).toBe(earlier.item.id);
    expect(results[2]!.item.id).toBe(results[0]!.item.id);
    const items = await w.core.db
      .select()
      .from(timelineItems)
      .where(eq(timelineItems.conversationId, earlier.conversation.id));
    expect(items).toHaveLength(2);
  });

  it("reopens a snoozed conversation and says so", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const agent = await w.actor("agent");
    const first = await ingestInbound(w.core, w.workspaceId, message(inbox.id, "1", "dave"));
    await setStatus(w.core, agent, first.conversation.id, "snoozed", new Date(Date.now() + 3_600_000));
    const [again] = await ingestBatch(w.core, w.workspaceId, [message(inbox.id, "2", "dave")]);
    expect(again!.conversation).toMatchObject({ id: first.conversation.id, status: "open", snoozedUntil: null });
    expect(w.published.slice(-2).map((e) => [e.type, e.payload.changes])).toEqual([
      ["conversation.updated", { status: "open" }],
      ["item.created", undefined],
    ]);
  });

  it("sets waitingSince from the first message of a waiting customer, like one-by-one ingest", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const agent = await w.actor("agent");
    const at = (iso: string, m: ReturnType<typeof message>) => ({ ...m, sentAt: new Date(iso) });
    const [first, second] = await ingestBatch(w.core, w.workspaceId, [
      at("2030-01-01T10:00:00Z", message(inbox.id, "e1", "erin")),
      at("2030-01-01T10:01:00Z", message(inbox.id, "e2", "erin")),
    ]);
    expect(first!.conversation.waitingSince).toBe("2030-01-01T10:00:00.000Z");
    expect(second!.conversation.waitingSince).toBe("2030-01-01T10:00:00.000Z");
    const stored = async () =>
      (
        await w.core.db.select().from(conversations).where(eq(conversations.id, first!.conversation.id))
      )[0]!.waitingSince?.toISOString();
    expect(await stored()).toBe("2030-01-01T10:00:00.000Z");
    // Still waiting: a later batch keeps the older time.
    await ingestBatch(w.core, w.workspaceId, [at("2030-01-01T10:02:00Z", message(inbox.id, "e3", "erin"))]);
    expect(await stored()).toBe("2030-01-01T10:00:00.000Z");
    await reply(w.core, agent, first!.conversation.id, { text: "Hello Erin" });
    expect(await stored()).toBeUndefined();
    await ingestBatch(w.core, w.workspaceId, [at("2030-01-01T10:30:00Z", message(inbox.id, "e4", "erin"))]);
    expect(await stored()).toBe("2030-01-01T10:30:00.000Z");
  });

  for (const parallel of [1, 2])
    it(`takes many concurrent messages in few transactions without losing or doubling any (${parallel} in flight)`, async () => {
      const w = await testWorkspace();
      const inbox = await w.inbox();
      const queue = new InboundQueue(w.core, parallel);
      const sends = Array.from({ length: 120 }, (_, n) =>
        queue.submit(w.workspaceId, message(inbox.id, `m${n}`, `person${n % 12}`)),
      );
      // A provider retry racing the original lands in the same queue and is stored once.
      sends.push(queue.submit(w.workspaceId, message(inbox.id, "m5", "person5")));
      const results = await Promise.all(sends);
      expect(results.filter((r) => !r.duplicate)).toHaveLength(120);
      expect(queue.stats.fallbacks).toBe(0);
      expect(queue.stats.batches).toBeLessThan(20);
      const rows = await w.core.db.select().from(conversations).where(eq(conversations.workspaceId, w.workspaceId));
      expect(rows).toHaveLength(12);
      const log = await w.core.db
        .select({ seq: events.seq })
        .from(events)
        .where(and(eq(events.workspaceId, w.workspaceId), eq(events.type, "item.created")));
      expect(log).toHaveLength(120);
      const seqs = w.published.map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    });

  it("fails only the bad message of a batch", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const other = await testWorkspace();
    const foreign = await other.inbox();
    const queue = new InboundQueue(w.core);
    // Submitted in one turn of the event loop, the three share one batch.
    const [, good, bad] = await Promise.allSettled([
      queue.submit(w.workspaceId, message(inbox.id, "first", "erin")),
      queue.submit(w.workspaceId, message(inbox.id, "ok", "erin")),
      queue.submit(w.workspaceId, message(foreign.id, "x", "erin")),
    ]);
    expect(queue.stats.fallbacks).toBe(1);
    expect(good.status).toBe("fulfilled");
    expect(bad.status).toBe("rejected");
    expect(String((bad as PromiseRejectedResult).reason)).toContain("Inbox not found");
    expect(() => queue.submit(w.workspaceId, { ...message(inbox.id, "t", "erin"), text: "x".repeat(10_001) })).toThrow(
      /10000/,
    );
  });
});

describe("batched ingest with placements (a channel's own threads)", () => {
  it("opens a conversation per new thread and puts a reply in its thread's conversation, whoever writes it", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const queue = new InboundQueue(w.core);
    const fresh = { newConversation: true } as const;
    // One writer starting two threads in one batch: two conversations, not the writer's one.
    const [t1, t2] = await Promise.all([
      queue.submit(w.workspaceId, message(inbox.id, "t1", "uma"), fresh),
      queue.submit(w.workspaceId, message(inbox.id, "t2", "uma"), fresh),
    ]);
    expect(t1!.conversation.id).not.toBe(t2!.conversation.id);
    expect(queue.stats.batches).toBeGreaterThanOrEqual(1);
    // Replies by another member, batched with an unplaced message of that member and a placement
    // naming another workspace's conversation (which opens a new one, as one-by-one ingest does).
    const other = await testWorkspace();
    const otherInbox = await other.inbox();
    const foreign = await ingestInbound(other.core, other.workspaceId, message(otherInbox.id, "f", "zed"));
    const fallbacksBefore = queue.stats.fallbacks;
    const [r1, plain, r2, stray] = await Promise.all([
      queue.submit(w.workspaceId, message(inbox.id, "r1", "vic"), { conversationId: t1!.conversation.id }),
      queue.submit(w.workspaceId, message(inbox.id, "p1", "vic")),
      queue.submit(w.workspaceId, message(inbox.id, "r2", "vic"), { conversationId: t2!.conversation.id }),
      queue.submit(w.workspaceId, message(inbox.id, "s1", "vic"), { conversationId: foreign.conversation.id }),
    ]);
    expect(queue.stats.fallbacks).toBe(fallbacksBefore);
    expect(r1!.conversation.id).toBe(t1!.conversation.id);
    expect(r2!.conversation.id).toBe(t2!.conversation.id);
    // The thread stays the first writer's conversation, named after them.
    expect(r1!.conversation.contact).toMatchObject({ id: t1!.contactId, name: "uma" });
    expect(r1!.item.sender).toMatchObject({ id: r1!.contactId });
    expect(plain!.conversation.id).not.toBe(t1!.conversation.id);
    expect(plain!.conversation.id).not.toBe(t2!.conversation.id);
    expect(stray!.conversation.id).not.toBe(foreign.conversation.id);
    expect(stray!.conversation.contact.id).toBe(r1!.contactId);
    const [foreignAfter] = await other.core.db
      .select({ lastMessageText: conversations.lastMessageText })
      .from(conversations)
      .where(eq(conversations.id, foreign.conversation.id));
    expect(foreignAfter!.lastMessageText).toBe("f");
  });

  it("keeps the placement when a failed batch is retried message by message, and for messages with files", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const other = await testWorkspace();
    const foreignInbox = await other.inbox();
    const queue = new InboundQueue(w.core);
    const root = await queue.submit(w.workspaceId, message(inbox.id, "root", "wes"), { newConversation: true });
    const [reply, , bad] = await Promise.allSettled([
      queue.submit(w.workspaceId, message(inbox.id, "reply", "xia"), { conversationId: root.conversation.id }),
      queue.submit(w.workspaceId, message(inbox.id, "other", "xia")),
      queue.submit(w.workspaceId, message(foreignInbox.id, "bad", "xia")),
    ]);
    expect(queue.stats.fallbacks).toBe(1);
    expect(bad.status).toBe("rejected");
    expect(reply.status).toBe("fulfilled");
    expect((reply as PromiseFulfilledResult<{ conversation: { id: string } }>).value.conversation.id).toBe(
      root.conversation.id,
    );
  });
});

describe("batched ingest beside agent work", () => {
  it("runs inbound batches and agent changes on the same conversations at once without deadlock", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const agent = await w.actor("supervisor");
    const queue = new InboundQueue(w.core, 2);
    const people = Array.from({ length: 6 }, (_, i) => `p${i}`);
    const first = await Promise.all(people.map((p) => queue.submit(w.workspaceId, message(inbox.id, `${p}-0`, p))));
    const work: Promise<unknown>[] = [];
    for (let round = 1; round <= 8; round++) {
      for (const [i, p] of people.entries()) {
        work.push(queue.submit(w.workspaceId, message(inbox.id, `${p}-${round}`, p)));
        const conversationId = first[i]!.conversation.id;
        work.push(
          round % 2
            ? setStatus(w.core, agent, conversationId, "pending")
            : assign(w.core, agent, conversationId, round % 4 ? agent.userId : null),
        );
      }
    }
    const settled = await Promise.allSettled(work);
    expect(
      settled.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason)),
    ).toEqual([]);
    const messages = await w.core.db
      .select({ id: timelineItems.id })
      .from(timelineItems)
      .where(and(eq(timelineItems.workspaceId, w.workspaceId), eq(timelineItems.type, "message")));
    expect(messages).toHaveLength(6 + 48);
    const log = await w.core.db
      .select({ seq: events.seq })
      .from(events)
      .where(eq(events.workspaceId, w.workspaceId))
      .orderBy(asc(events.seq));
    expect(log.map((e) => e.seq)).toEqual(Array.from({ length: log.length }, (_, i) => i + 1));
  });
});
