import { describe, expect, it } from "bun:test";
import { and, eq, inArray } from "drizzle-orm";
import { indexPlan } from "../test/plan.ts";
import { ingestBatch } from "../conversations/inbound-queue.ts";
import { validateInbound } from "../conversations/ingest.ts";
import { setStatus } from "../conversations/status.ts";
import { agentStates, contacts, conversations, outbox, skills, workItems } from "../db/schema/index.ts";
import { positionsQuery, queuePosition } from "./estimate.ts";
import { loadTotals, totalsOf } from "./live.ts";
import { timelinePage } from "../conversations/timeline.ts";
import { testWorkspace } from "../test/workspace.ts";
import { createQueue, replaceEntryRules } from "./queue.ts";
import { endWrapUps, setPresence, startWrapUp, WRAP_UP_SECONDS } from "./presence.ts";
import { routeWorkspace } from "./offer.ts";
import { applyOverflow, DEFAULT_ROUTING, enqueueConversation, finishWork, freeIfIdle } from "./work.ts";

/** A small deterministic generator, so a failing interleaving can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
}

/** A customer's web chat message, stored: the conversation routing then works on. */
async function customerSays(
  w: Awaited<ReturnType<typeof testWorkspace>>,
  inboxId: string,
  externalId: string,
  visitor: string,
  text = "hi",
) {
  const [stored] = await ingestBatch(w.core, w.workspaceId, [
    validateInbound({
      channel: "webchat",
      channelAccountId: inboxId,
      externalId,
      from: { kind: "visitor", value: visitor },
      text,
    }),
  ]);
  return stored!;
}

/** A workspace whose chats all go to one queue, and one agent in the given presence. */
async function oneQueue(queueInput: Parameters<typeof createQueue>[2], presence: "available" | "busy") {
  const w = await testWorkspace();
  const inbox = await w.inbox();
  const agent = await w.actor("agent");
  await w.core.db.insert(agentStates).values({ userId: agent.userId, workspaceId: w.workspaceId, presence });
  const queue = await createQueue(w.core.db, w.workspaceId, queueInput);
  await replaceEntryRules(w.core.db, w.workspaceId, [{ queueId: queue.id }]);
  return { w, inbox, agent, queue };
}

describe("routers running at once", () => {
  it("never offer one conversation twice nor an agent more than its capacity (4 routers, six seeded random interleavings)", async () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const random = prng(seed);
      const w = await testWorkspace();
      const inbox = await w.inbox();
      const queue = await createQueue(w.core.db, w.workspaceId, { name: "All" });
      await replaceEntryRules(w.core.db, w.workspaceId, [{ queueId: queue.id }]);
      const agents = await Promise.all(Array.from({ length: 12 }, (_, i) => w.actor("agent", `A${i}`)));
      await w.core.db.insert(agentStates).values(
        agents.map((a) => ({
          userId: a.userId,
          workspaceId: w.workspaceId,
          presence: "available" as const,
          capacity: { voice: 1, chat: 1 + Math.floor(random() * 3), email: 5, messaging: 4 },
        })),
      );
      const stored = await ingestBatch(
        w.core,
        w.workspaceId,
        Array.from({ length: 60 }, (_, n) =>
          validateInbound({
            channel: "webchat",
            channelAccountId: inbox.id,
            externalId: `m${n}`,
            from: { kind: "visitor", value: `c${n}` },
            text: "hi",
          }),
        ),
      );
      for (const r of stored) await enqueueConversation(w.core, r.conversation.id);

      // Four routers, each starting passes at random moments until nobody can take more.
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let pass = 0; pass < 15; pass++) {
            await Bun.sleep(Math.floor(random() * 5));
            await routeWorkspace(w.core, w.workspaceId);
          }
        }),
      );

      const live = await w.core.db
        .select()
        .from(workItems)
        .where(
          and(eq(workItems.workspaceId, w.workspaceId), inArray(workItems.state, ["waiting", "reserved", "assigned"])),
        );
      expect(live).toHaveLength(60);
      expect(new Set(live.map((i) => i.conversationId)).size).toBe(60);
      const capacity = new Map(
        (await w.core.db.select().from(agentStates).where(eq(agentStates.workspaceId, w.workspaceId))).map((s) => [
          s.userId,
          s.capacity.chat,
        ]),
      );
      const held = new Map<string, number>();
      for (const i of live) if (i.agentId) held.set(i.agentId, (held.get(i.agentId) ?? 0) + 1);
      for (const [agentId, n] of held) expect(n).toBeLessThanOrEqual(capacity.get(agentId)!);
      // Everyone who had room got work: as many offers as seats.
      const seats = [...capacity.values()].reduce((a, b) => a + b, 0);
      expect(live.filter((i) => i.state === "reserved")).toHaveLength(Math.min(60, seats));
    }
  }, 180_000); // a correctness test: slow machines only make it slower
});

describe("overflow", () => {
  it("widens skills, replies to the customer and moves the work as its wait passes each step, once each", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    await w.core.db.insert(skills).values({ workspaceId: w.workspaceId, name: "rare" });
    const backup = await createQueue(w.core.db, w.workspaceId, { name: "Backup" });
    const main = await createQueue(w.core.db, w.workspaceId, {
      name: "Main",
      requiredSkills: [{ skill: "rare", minLevel: 5 }],
      overflow: [
        { afterSeconds: 30, action: "widen_skills", skills: [] },
        { afterSeconds: 60, action: "auto_reply", message: "我们正忙，稍后回复您 / We are busy and will answer soon" },
        { afterSeconds: 90, action: "move_queue", queueId: backup.id },
      ],
    });
    await replaceEntryRules(w.core.db, w.workspaceId, [{ queueId: main.id }]);
    const stored = await customerSays(w, inbox.id, "o1", "o", "hello");
    const t0 = new Date();
    await enqueueConversation(w.core, stored.conversation.id, undefined, t0);
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    const item = async () =>
      (await w.core.db.select().from(workItems).where(eq(workItems.conversationId, stored.conversation.id)))[0]!;

    await applyOverflow(w.core, at(10));
    expect((await item()).requiredSkills).toEqual([{ skill: "rare", minLevel: 5 }]);
    await applyOverflow(w.core, at(31));
    expect(await item()).toMatchObject({ requiredSkills: [], overflowStep: 1 });
    await applyOverflow(w.core, at(61));
    await applyOverflow(w.core, at(62));
    const page = await timelinePage(w.core.db, stored.conversation.id, { limit: 20 });
    const replies = page.items.filter((i) => i.type === "message" && i.direction === "out");
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ sender: { type: "system" }, status: "pending" });
    expect(await w.core.db.select().from(outbox).where(eq(outbox.timelineItemId, replies[0]!.id))).toHaveLength(1);
    await applyOverflow(w.core, at(91));
    expect(await item()).toMatchObject({ queueId: backup.id, overflowStep: 0 });
    const events = (await timelinePage(w.core.db, stored.conversation.id, { limit: 20 })).items.filter(
      (i) => i.eventType === "overflow",
    );
    expect(events.map((e) => e.data.action)).toEqual(["widen_skills", "auto_reply", "move_queue"]);
  });
});

describe("business hours", () => {
  it("offers a closed queue's work to nobody until it opens", async () => {
    // Open Mondays 09:00–18:00 in Shanghai only.
    const { w, inbox } = await oneQueue(
      {
        name: "Office hours",
        businessHours: { timeZone: "Asia/Shanghai", weekly: { mon: [["09:00", "18:00"]] }, holidays: [] },
      },
      "available",
    );
    const stored = await customerSays(w, inbox.id, "h1", "h");
    await enqueueConversation(w.core, stored.conversation.id);
    // Sunday 2026-11-22 11:00 in Shanghai: closed.
    expect(await routeWorkspace(w.core, w.workspaceId, undefined, new Date("2026-11-22T03:00:00Z"))).toEqual([]);
    // Monday 10:00 in Shanghai: open, offered.
    expect(await routeWorkspace(w.core, w.workspaceId, undefined, new Date("2026-11-23T02:00:00Z"))).toHaveLength(1);
  });
});

describe("wrap-up", () => {
  it("holds an agent out of routing after a call until the wrap-up time is over", async () => {
    const w = await testWorkspace();
    const agent = await w.actor("agent");
    await setPresence(w.core, w.workspaceId, agent.userId, { presence: "available" });
    const t0 = new Date();
    await startWrapUp(w.core, w.workspaceId, agent.userId, WRAP_UP_SECONDS.voice, t0);
    const [held] = await w.core.db.select().from(agentStates).where(eq(agentStates.userId, agent.userId));
    expect(held).toMatchObject({ presence: "wrap_up" });
    expect(held!.wrapUpUntil!.getTime()).toBe(t0.getTime() + 30_000);
    // Housekeeping ends every workspace's wrap-ups: other tests' agents may share this database.
    expect(await endWrapUps(w.core, new Date(t0.getTime() + 10_000))).not.toContain(w.workspaceId);
    const [still] = await w.core.db.select().from(agentStates).where(eq(agentStates.userId, agent.userId));
    expect(still).toMatchObject({ presence: "wrap_up" });
    expect(await endWrapUps(w.core, new Date(t0.getTime() + 31_000))).toContain(w.workspaceId);
    const [after] = await w.core.db.select().from(agentStates).where(eq(agentStates.userId, agent.userId));
    expect(after).toMatchObject({ presence: "available", wrapUpUntil: null });
  });
});

describe("busy and available", () => {
  it("makes a busy agent available once the last work in hand has ended", async () => {
    const { w, inbox, agent } = await oneQueue({ name: "Q" }, "busy");
    const stored = await customerSays(w, inbox.id, "b1", "b");
    const item = await enqueueConversation(w.core, stored.conversation.id);
    await w.core.db
      .update(workItems)
      .set({ state: "assigned", agentId: agent.userId })
      .where(eq(workItems.id, item!.id));
    const presence = async () =>
      (await w.core.db.select().from(agentStates).where(eq(agentStates.userId, agent.userId)))[0]!.presence;
    await freeIfIdle(w.core, w.workspaceId, agent.userId);
    expect(await presence()).toBe("busy");
    await finishWork(w.core, stored.conversation.id);
    await freeIfIdle(w.core, w.workspaceId, agent.userId);
    expect(await presence()).toBe("available");
  });
});

describe("auto-accept", () => {
  it("assigns at once, without an offer, on channels set to auto-accept", async () => {
    const { w, inbox, agent } = await oneQueue({ name: "Q" }, "available");
    const stored = await customerSays(w, inbox.id, "a1", "a");
    await enqueueConversation(w.core, stored.conversation.id);
    expect(await routeWorkspace(w.core, w.workspaceId, { ...DEFAULT_ROUTING, autoAccept: ["chat"] })).toHaveLength(1);
    const [item] = await w.core.db.select().from(workItems).where(eq(workItems.conversationId, stored.conversation.id));
    expect(item).toMatchObject({ state: "assigned", agentId: agent.userId });
    expect(item!.answeredAt).not.toBeNull();
    const [c] = await w.core.db.select().from(conversations).where(eq(conversations.id, stored.conversation.id));
    expect(c!.assigneeId).toBe(agent.userId);
  });
});

describe("queue channels and abandonment", () => {
  it("puts work only in a queue that serves its channel, and counts work closed unanswered as abandoned", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const mail = await createQueue(w.core.db, w.workspaceId, { name: "Mail", channels: ["email"] });
    const chat = await createQueue(w.core.db, w.workspaceId, { name: "Chat", channels: ["webchat"] });
    await replaceEntryRules(w.core.db, w.workspaceId, [{ queueId: mail.id }, { queueId: chat.id }]);
    const stored = await customerSays(w, inbox.id, "c1", "c");
    const item = await enqueueConversation(w.core, stored.conversation.id);
    expect(item!.queueId).toBe(chat.id);
    const ended = await finishWork(w.core, stored.conversation.id);
    expect(ended).toMatchObject({ state: "abandoned", agentId: null });
  });
});

describe("language rules", () => {
  it("read the contact's language, else the language the customer's app reported with the message", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const chinese = await createQueue(w.core.db, w.workspaceId, { name: "中文" });
    const other = await createQueue(w.core.db, w.workspaceId, { name: "Other" });
    await replaceEntryRules(w.core.db, w.workspaceId, [
      { queueId: chinese.id, conditions: { languages: ["zh"] } },
      { queueId: other.id },
    ]);
    const says = async (visitor: string, data?: Record<string, unknown>) => {
      const [stored] = await ingestBatch(w.core, w.workspaceId, [
        validateInbound({
          channel: "webchat",
          channelAccountId: inbox.id,
          externalId: visitor,
          from: { kind: "visitor", value: visitor },
          text: "你好",
          ...(data ? { data } : {}),
        }),
      ]);
      return stored!;
    };
    // Telegram's language_code for a Simplified Chinese app.
    const reported = await says("tg-zh", { languageCode: "zh-Hans" });
    expect((await enqueueConversation(w.core, reported.conversation.id))!.queueId).toBe(chinese.id);
    const unknown = await says("nobody");
    expect((await enqueueConversation(w.core, unknown.conversation.id))!.queueId).toBe(other.id);
    // What an agent recorded on the contact wins over what the app said.
    const described = await says("tg-en", { languageCode: "zh-hans" });
    await w.core.db
      .update(contacts)
      .set({ attributes: { language: "en" } })
      .where(eq(contacts.id, described.contactId));
    expect((await enqueueConversation(w.core, described.conversation.id))!.queueId).toBe(other.id);
  });
});

describe("offer timeout per queue", () => {
  it("gives agents the queue's own time to accept, or the channel's default", async () => {
    const { w, inbox } = await oneQueue({ name: "Patient", offerTimeoutSeconds: 45 }, "available");
    const stored = await customerSays(w, inbox.id, "t1", "t");
    await enqueueConversation(w.core, stored.conversation.id);
    const now = new Date();
    await routeWorkspace(w.core, w.workspaceId, undefined, now);
    const [item] = await w.core.db.select().from(workItems).where(eq(workItems.conversationId, stored.conversation.id));
    expect(item!.reservationExpiresAt!.getTime() - now.getTime()).toBe(45_000);
  });
});

describe("sticky agent", () => {
  it("remembers who last served a contact when the contact comes back, for the sticky window", async () => {
    const { w, inbox, agent } = await oneQueue({ name: "Q" }, "available");
    const supervisor = await w.actor("supervisor");
    const first = await customerSays(w, inbox.id, "s1", "regular");
    await enqueueConversation(w.core, first.conversation.id);
    await routeWorkspace(w.core, w.workspaceId, { ...DEFAULT_ROUTING, autoAccept: ["chat"] });
    await setStatus(w.core, supervisor, first.conversation.id, "resolved");
    await finishWork(w.core, first.conversation.id);
    const again = await customerSays(w, inbox.id, "s2", "regular");
    const t0 = new Date();
    const item = await enqueueConversation(w.core, again.conversation.id, DEFAULT_ROUTING, t0);
    expect(item).toMatchObject({ stickyAgentId: agent.userId });
    expect(item!.stickyUntil!.getTime()).toBe(t0.getTime() + DEFAULT_ROUTING.stickyMs);
  });
});

describe("place in line", () => {
  it("counts who is ahead the way the ACD orders the queue: a new VIP before older normal work", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const queue = await createQueue(w.core.db, w.workspaceId, {
      name: "Q",
      priorityRules: [{ attribute: "vip", equals: true, priority: 10 }],
    });
    await replaceEntryRules(w.core.db, w.workspaceId, [{ queueId: queue.id }]);
    const t0 = Date.now();
    const old = await customerSays(w, inbox.id, "p1", "old");
    await enqueueConversation(w.core, old.conversation.id, DEFAULT_ROUTING, new Date(t0 - 5 * 60_000));
    const newer = await customerSays(w, inbox.id, "p2", "newer");
    await enqueueConversation(w.core, newer.conversation.id, DEFAULT_ROUTING, new Date(t0 - 60_000));
    const vip = await customerSays(w, inbox.id, "p3", "vip");
    await w.core.db
      .update(contacts)
      .set({ attributes: { vip: true } })
      .where(eq(contacts.id, vip.contactId));
    await enqueueConversation(w.core, vip.conversation.id, DEFAULT_ROUTING, new Date(t0));
    const place = async (id: string) => (await queuePosition(w.core.db, id))!.position;
    // VIP: 10 points, waited 0 min; old: 0 points, 5 min; newer: 0 points, 1 min.
    expect([
      await place(vip.conversation.id),
      await place(old.conversation.id),
      await place(newer.conversation.id),
    ]).toEqual([1, 2, 3]);
  });

  it("estimates from the queue's latest 50 handled items, read through an index whatever the history", async () => {
    const { w, inbox, queue } = await oneQueue({ name: "Q" }, "available");
    const caller = await customerSays(w, inbox.id, "h1", "caller");
    const mine = (await enqueueConversation(w.core, caller.conversation.id))!;
    const ago = (s: number) => new Date(Date.now() - s * 1000);
    const handled = (n: number, from: number, handleS: number) =>
      Array.from({ length: n }, (_, i) => ({
        workspaceId: w.workspaceId,
        conversationId: caller.conversation.id,
        queueId: queue.id,
        channel: "webchat",
        state: "done" as const,
        enqueuedAt: ago(from + i + handleS + 30),
        answeredAt: ago(from + i + handleS),
        endedAt: ago(from + i),
      }));
    // Last week's 10-minute chats, then this morning's 50 one-minute chats: only the latest 50 count.
    await w.core.db.insert(workItems).values([...handled(60, 7 * 86_400, 600), ...handled(50, 3_600, 60)]);
    // One agent with room for three chats: first in line waits a third of a one-minute chat.
    expect(await queuePosition(w.core.db, caller.conversation.id)).toEqual({ position: 1, estimatedWaitS: 20 });

    // Every caller's announcement asks this: without an index it reads all finished work, ever.
    expect(await indexPlan(w.core.db, positionsQuery(w.core.db, [mine])!.getSQL())).toContain("work_items_handled_idx");
  });
});

describe("live figures in SQL", () => {
  it("sums in the database exactly what the definition sums over the rows", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const queue = await createQueue(w.core.db, w.workspaceId, { name: "Q", serviceLevelSeconds: 20 });
    const now = new Date();
    const at = (s: number) => new Date(now.getTime() - 100_000 + s * 1000);
    const shapes = [
      { state: "done" as const, enqueuedAt: at(0), answeredAt: at(10), endedAt: at(70), estimatedWaitSeconds: 20 },
      { state: "assigned" as const, enqueuedAt: at(5), answeredAt: at(35), endedAt: null, estimatedWaitSeconds: 25 },
      {
        state: "abandoned" as const,
        enqueuedAt: at(20),
        answeredAt: null,
        endedAt: at(50),
        estimatedWaitSeconds: null,
      },
      { state: "waiting" as const, enqueuedAt: at(40), answeredAt: null, endedAt: null, estimatedWaitSeconds: null },
      { state: "reserved" as const, enqueuedAt: at(95), answeredAt: null, endedAt: null, estimatedWaitSeconds: 3 },
    ];
    for (const [n, shape] of shapes.entries()) {
      const c = await customerSays(w, inbox.id, `f${n}`, `f${n}`);
      await w.core.db.insert(workItems).values({
        workspaceId: w.workspaceId,
        conversationId: c.conversation.id,
        queueId: queue.id,
        channel: "webchat",
        ...shape,
      });
    }
    const totals = await loadTotals(w.core.db, w.workspaceId, new Date(now.getTime() - 3_600_000), now);
    const expected = totalsOf(shapes, 20, now);
    const got = totals.get(queue.id)!;
    for (const [k, v] of Object.entries(expected)) expect(got[k as keyof typeof got]).toBeCloseTo(v, 3);
  });
});
