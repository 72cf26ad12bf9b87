import { describe, expect, it } from "bun:test";
import { and, inArray } from "drizzle-orm";
import { ingestInbound, validateInbound } from "../conversations/ingest.ts";
import { ingestBatch } from "../conversations/inbound-queue.ts";
import { agentStates, conversations, workItems } from "../db/schema/index.ts";
import { testWorkspace } from "../test/workspace.ts";
import { createQueue, replaceEntryRules } from "./queue.ts";
import { expireOffers, routeWorkspace } from "./offer.ts";
import { applyOverflow, DEFAULT_ROUTING, enqueueConversation } from "./work.ts";

/**
 * ARCHITECTURE.md invariant 4: every transaction takes its locks contact → conversation → work item →
 * counter. Message ingest holds a conversation and then wants the workspace counter; a routing
 * transaction that took the counter (an event) before a conversation deadlocks against it on
 * PostgreSQL ("deadlock detected"). These run routing passes while customers write into the same
 * conversations. On PGlite (one connection) they check that all work is routed.
 */
type Workspace = Awaited<ReturnType<typeof testWorkspace>>;

const ROUNDS = 3;
const CHATS = 12;
const CAPACITY = { voice: 1, chat: ROUNDS, email: 1, messaging: 1 };

async function chats(w: Workspace, inboxId: string, round: number) {
  const stored = await ingestBatch(
    w.core,
    w.workspaceId,
    Array.from({ length: CHATS }, (_, n) =>
      validateInbound({
        channel: "webchat",
        channelAccountId: inboxId,
        externalId: `r${round}-m${n}`,
        from: { kind: "visitor", value: `r${round}-v${n}` },
        text: "hi",
      }),
    ),
  );
  for (const s of stored) await enqueueConversation(w.core, s.conversation.id);
  return stored.map((s) => s.conversation.id);
}

/** Each customer writes again, all at once: each message locks its conversation, then the counter. */
function customersWriteAgain(w: Workspace, inboxId: string, round: number, tag: string) {
  return Array.from({ length: CHATS }, (_, n) =>
    ingestInbound(w.core, w.workspaceId, {
      channel: "webchat",
      channelAccountId: inboxId,
      externalId: `r${round}-${tag}${n}`,
      from: { kind: "visitor", value: `r${round}-v${n}` },
      text: "still there?",
    }),
  );
}

/** What went wrong, with the database's own words ("deadlock detected") rather than drizzle's wrapper. */
function failuresOf(outcomes: PromiseSettledResult<unknown>[]) {
  return outcomes.flatMap((o) => (o.status === "rejected" ? [String((o.reason as Error).cause ?? o.reason)] : []));
}

async function liveItems(w: Workspace, ids: string[]) {
  return w.core.db
    .select()
    .from(workItems)
    .where(and(inArray(workItems.conversationId, ids), inArray(workItems.state, ["waiting", "reserved", "assigned"])));
}

describe("one lock order (routing against message ingest)", () => {
  it("auto-accepts every chat while its customers keep writing, with no deadlock", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const queue = await createQueue(w.core.db, w.workspaceId, { name: "All" });
    await replaceEntryRules(w.core.db, w.workspaceId, [{ queueId: queue.id }]);
    const agents = await Promise.all(Array.from({ length: CHATS }, (_, i) => w.actor("agent", `A${i}`)));
    await w.core.db.insert(agentStates).values(
      agents.map((a) => ({
        userId: a.userId,
        workspaceId: w.workspaceId,
        presence: "available" as const,
        capacity: CAPACITY,
      })),
    );
    const settings = { ...DEFAULT_ROUTING, autoAccept: ["chat" as const] };
    const all: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const ids = await chats(w, inbox.id, round);
      all.push(...ids);
      const outcomes = await Promise.allSettled([
        routeWorkspace(w.core, w.workspaceId, settings),
        ...customersWriteAgain(w, inbox.id, round, "a"),
        routeWorkspace(w.core, w.workspaceId, settings),
        ...customersWriteAgain(w, inbox.id, round, "b"),
      ]);
      expect(failuresOf(outcomes)).toEqual([]);
      // Work skipped because a message held its conversation is taken by the next pass.
      while ((await routeWorkspace(w.core, w.workspaceId, settings)).length);
    }
    const live = await liveItems(w, all);
    expect(live).toHaveLength(ROUNDS * CHATS);
    expect(live.every((i) => i.state === "assigned" && i.agentId)).toBe(true);
    const assigned = await w.core.db
      .select({ assigneeId: conversations.assigneeId })
      .from(conversations)
      .where(inArray(conversations.id, all));
    expect(assigned.every((c) => c.assigneeId)).toBe(true);
  }, 120_000);

  it("applies two overflow steps and expires offers while customers keep writing, with no deadlock", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox();
    const spare = await createQueue(w.core.db, w.workspaceId, { name: "Spare" });
    const queue = await createQueue(w.core.db, w.workspaceId, {
      name: "First",
      overflow: [
        { afterSeconds: 5, action: "widen_skills", skills: [] },
        { afterSeconds: 6, action: "move_queue", queueId: spare.id },
      ],
    });
    await replaceEntryRules(w.core.db, w.workspaceId, [{ queueId: queue.id }]);
    const all: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const ids = await chats(w, inbox.id, round);
      all.push(...ids);
      const later = new Date(Date.now() + 60_000);
      const outcomes = await Promise.allSettled([
        applyOverflow(w.core, later),
        ...customersWriteAgain(w, inbox.id, round, "a"),
      ]);
      expect(failuresOf(outcomes)).toEqual([]);
      while ((await applyOverflow(w.core, later)).length);
    }
    const live = await liveItems(w, all);
    expect(live).toHaveLength(ROUNDS * CHATS);
    expect(live.every((i) => i.queueId === spare.id && i.state === "waiting")).toBe(true);

    // Offers that ran out go back to the queue the same way.
    const agents = await Promise.all(Array.from({ length: CHATS }, (_, i) => w.actor("agent", `B${i}`)));
    for (const a of agents) {
      await w.core.db
        .insert(agentStates)
        .values({ userId: a.userId, workspaceId: w.workspaceId, presence: "available", capacity: CAPACITY });
    }
    while ((await routeWorkspace(w.core, w.workspaceId)).length);
    expect((await liveItems(w, all)).every((i) => i.state === "reserved")).toBe(true);
    const writes = Array.from({ length: ROUNDS }, (_, round) => customersWriteAgain(w, inbox.id, round, "x")).flat();
    const expired = await Promise.allSettled([expireOffers(w.core, new Date(Date.now() + 3_600_000)), ...writes]);
    expect(failuresOf(expired)).toEqual([]);
    while ((await expireOffers(w.core, new Date(Date.now() + 3_600_000))).length);
    expect((await liveItems(w, all)).every((i) => i.state === "waiting" && !i.agentId)).toBe(true);
    const states = await w.core.db
      .select()
      .from(agentStates)
      .where(
        inArray(
          agentStates.userId,
          agents.map((a) => a.userId),
        ),
      );
    expect(states.map((s) => s.presence)).toEqual(agents.map(() => "away"));
  }, 120_000);
});
