import { describe, expect, it } from "bun:test";
import { and, eq, inArray } from "drizzle-orm";
import { ingestInbound } from "../conversations/ingest.ts";
import { agentStates, conversations, timelineItems, workItems } from "../db/schema/index.ts";
import { until } from "../test/poll.ts";
import { testWorkspace } from "../test/workspace.ts";
import { createQueue, replaceEntryRules } from "./queue.ts";
import { Router } from "./router.ts";
import { expireOffers, routeWorkspace } from "./offer.ts";
import { DEFAULT_ROUTING, enqueueConversation } from "./work.ts";

/**
 * Each case bypasses the bus (the event is never delivered, or the row is written directly) and
 * runs the router's sweep: the reconciliation must repair what the event would have done. The sweep
 * reads the whole database, like a node's router; other tests' leftovers may be repaired too.
 */
const LIVE = ["waiting", "reserved", "assigned"] as const;

async function routedWorkspace() {
  const w = await testWorkspace();
  const inbox = await w.inbox();
  const queue = await createQueue(w.core.db, w.workspaceId, { name: "All" });
  await replaceEntryRules(w.core.db, w.workspaceId, [{ queueId: queue.id }]);
  const agent = await w.actor("agent", "Ann");
  await w.core.db
    .insert(agentStates)
    .values({ userId: agent.userId, workspaceId: w.workspaceId, presence: "available" });
  // Never started: nothing reacts to events; only the sweep runs, with no grace period.
  const sweepAtOnce = { everyMs: 0, graceMs: 0, recheckMs: 60_000 };
  const router = new Router(w.core, w.core.bus, undefined, DEFAULT_ROUTING, 1000, 2000, sweepAtOnce);
  const chat = (visitor: string) =>
    ingestInbound(w.core, w.workspaceId, {
      channel: "webchat",
      channelAccountId: inbox.id,
      externalId: visitor,
      from: { kind: "visitor", value: visitor },
      text: "hi",
    });
  const liveOf = (conversationId: string) =>
    w.core.db
      .select()
      .from(workItems)
      .where(and(eq(workItems.conversationId, conversationId), inArray(workItems.state, [...LIVE])));
  return { w, queue, agent, router, chat, liveOf };
}

describe("the router's reconciliation", () => {
  it("queues an open conversation whose event no router received", async () => {
    const { w, queue, router, chat, liveOf } = await routedWorkspace();
    const { conversation } = await chat("v-missed");
    expect(await liveOf(conversation.id)).toEqual([]);
    // Oldest first in the sweep, whatever other tests left behind.
    await w.core.db
      .update(conversations)
      .set({ lastActivityAt: new Date("2001-01-01") })
      .where(eq(conversations.id, conversation.id));
    const live = await until(
      async () => (await router.reconcileNow(), liveOf(conversation.id)),
      (l) => l.length === 1,
    );
    // Queued, and perhaps already offered to the available agent by the pass the enqueue starts.
    expect(live).toMatchObject([{ queueId: queue.id }]);
    expect(["waiting", "reserved"]).toContain(live[0]!.state);
    const events = await w.core.db
      .select()
      .from(timelineItems)
      .where(eq(timelineItems.conversationId, conversation.id));
    expect(events.map((e) => e.eventType)).toContain("queued");
  });

  it("finishes the work of a conversation resolved behind the router's back and frees its agent", async () => {
    const { w, agent, router, chat, liveOf } = await routedWorkspace();
    const { conversation } = await chat("v-resolved");
    await enqueueConversation(w.core, conversation.id);
    await routeWorkspace(w.core, w.workspaceId, { ...DEFAULT_ROUTING, autoAccept: ["chat"] });
    await w.core.db.update(agentStates).set({ presence: "busy" }).where(eq(agentStates.userId, agent.userId));
    expect(await liveOf(conversation.id)).toMatchObject([{ state: "assigned", agentId: agent.userId }]);
    // Resolved with no event: the work item would hold Ann's capacity for ever.
    await w.core.db.update(conversations).set({ status: "resolved" }).where(eq(conversations.id, conversation.id));
    const live = await until(
      async () => (await router.reconcileNow(), liveOf(conversation.id)),
      (l) => l.length === 0,
    );
    expect(live).toEqual([]);
    const [state] = await w.core.db.select().from(agentStates).where(eq(agentStates.userId, agent.userId));
    expect(state!.presence).toBe("available");
  });

  it("withdraws at once the offer of an agent who signed out, and leaves them offline", async () => {
    const { w, agent, chat, liveOf } = await routedWorkspace();
    const { conversation } = await chat("v-offer");
    await enqueueConversation(w.core, conversation.id);
    await routeWorkspace(w.core, w.workspaceId);
    expect(await liveOf(conversation.id)).toMatchObject([{ state: "reserved", agentId: agent.userId }]);
    // Gone without the event (a node lost the connection and set the row): the offer has 20 s left.
    await w.core.db.update(agentStates).set({ presence: "offline" }).where(eq(agentStates.userId, agent.userId));
    expect(await expireOffers(w.core)).toContain(w.workspaceId);
    expect(await liveOf(conversation.id)).toMatchObject([{ state: "waiting", agentId: null }]);
    const [missed] = await w.core.db
      .select()
      .from(timelineItems)
      .where(and(eq(timelineItems.conversationId, conversation.id), eq(timelineItems.eventType, "offer_missed")));
    expect(missed!.data).toMatchObject({ agentId: agent.userId, reason: "withdrawn" });
    const [state] = await w.core.db.select().from(agentStates).where(eq(agentStates.userId, agent.userId));
    expect(state!.presence).toBe("offline");
  });
});
