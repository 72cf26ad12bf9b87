import { afterEach, describe, expect, it } from "bun:test";
import { and, desc, eq, inArray } from "drizzle-orm";
import { ingestInbound } from "../conversations/ingest.ts";
import { setStatus } from "../conversations/status.ts";
import { agentStates, conversations, workItems } from "../db/schema/index.ts";
import { until } from "../test/poll.ts";
import { testWorkspace } from "../test/workspace.ts";
import { changeAccount, createTeam } from "./agent.ts";
import { setPresence } from "./presence.ts";
import { createQueue, replaceEntryRules } from "./queue.ts";
import { Router } from "./router.ts";
import { routeWorkspace } from "./offer.ts";
import { transferToTeam } from "./transfer.ts";
import { DEFAULT_ROUTING, enqueueConversation, liveWorkOf } from "./work.ts";

const AUTO = { ...DEFAULT_ROUTING, autoAccept: ["chat" as const] };
const LIVE = ["waiting", "reserved", "assigned"] as const;

async function routedWorkspace() {
  const w = await testWorkspace();
  const inbox = await w.inbox();
  const admin = await w.actor("admin", "Admin");
  const queue = await createQueue(w.core.db, w.workspaceId, { name: "All" });
  await replaceEntryRules(w.core.db, w.workspaceId, [{ queueId: queue.id }]);
  const agent = async (name: string, presence: "available" | "busy" | "offline") => {
    const a = await w.actor("agent", name);
    await w.core.db.insert(agentStates).values({ userId: a.userId, workspaceId: w.workspaceId, presence });
    return a;
  };
  return { w, inbox, admin, queue, agent };
}

let router: Router | undefined;
afterEach(async () => {
  await router?.stop();
  router = undefined;
});

describe("transfer to a team", () => {
  it("ends the conversation's queue entry and frees the agent who had it", async () => {
    const { w, inbox, admin, agent } = await routedWorkspace();
    const ann = await agent("Ann", "busy");
    const team = await createTeam(w.core.db, w.workspaceId, "Billing");
    const r = await ingestInbound(w.core, w.workspaceId, {
      channel: "webchat",
      channelAccountId: inbox.id,
      externalId: "t1",
      from: { kind: "visitor", value: "v-team" },
      text: "hi",
    });
    await enqueueConversation(w.core, r.conversation.id);
    expect(await routeWorkspace(w.core, w.workspaceId, AUTO)).toHaveLength(1);
    expect(await liveWorkOf(w.core.db, [ann.userId])).toHaveLength(1);

    const moved = await transferToTeam(w.core, admin, r.conversation.id, team.id, "billing question");
    expect(moved).toMatchObject({ teamId: team.id, assigneeId: null });
    // Ann's chat slot is hers again, and she is no longer shown busy with work she lost.
    expect(await liveWorkOf(w.core.db, [ann.userId])).toEqual([]);
    const live = await w.core.db
      .select()
      .from(workItems)
      .where(and(eq(workItems.conversationId, r.conversation.id), inArray(workItems.state, [...LIVE])));
    expect(live).toEqual([]);
    const [state] = await w.core.db.select().from(agentStates).where(eq(agentStates.userId, ann.userId));
    expect(state!.presence).toBe("available");
  });
});

describe("a reopened conversation", () => {
  it("is routed again when its assignee is disabled or signed out (sticky), and stays with one at work", async () => {
    const { w, inbox, admin, agent } = await routedWorkspace();
    const ann = await agent("Ann", "available");
    router = new Router(w.core, w.core.bus, undefined, AUTO);
    router.start();
    const write = (n: number, conversationId?: string) =>
      ingestInbound(
        w.core,
        w.workspaceId,
        {
          channel: "webchat",
          channelAccountId: inbox.id,
          externalId: `m${n}`,
          from: { kind: "visitor", value: "v-reopen" },
          text: `message ${n}`,
        },
        // As email threading places a reply to an old thread: into that conversation, even resolved.
        conversationId ? { place: async () => ({ conversationId }) } : {},
      );
    const assigneeOf = async (id: string) =>
      (await w.core.db.select().from(conversations).where(eq(conversations.id, id)))[0]!.assigneeId;
    const first = await write(1);
    const id = first.conversation.id;
    expect(
      await until(
        () => assigneeOf(id),
        (a) => a === ann.userId,
      ),
    ).toBe(ann.userId);
    await setStatus(w.core, admin, id, "resolved");
    await until(
      () => liveWorkOf(w.core.db, [ann.userId]),
      (l) => l.length === 0,
    );

    // Ann leaves the company; the customer writes again into the resolved thread.
    const bob = await agent("Bob", "available");
    await changeAccount(w.core, w.workspaceId, admin.userId, ann.userId, { disabled: true });
    await write(2, id);
    expect(
      await until(
        () => assigneeOf(id),
        (a) => a === bob.userId,
      ),
    ).toBe(bob.userId);
    await setStatus(w.core, admin, id, "resolved");

    // Bob signed out: routed again, Bob remembered as the sticky agent, Cat takes it.
    const cat = await agent("Cat", "offline");
    await setPresence(w.core, w.workspaceId, bob.userId, { presence: "offline" });
    await setPresence(w.core, w.workspaceId, cat.userId, { presence: "available" });
    await write(3, id);
    expect(
      await until(
        () => assigneeOf(id),
        (a) => a === cat.userId,
      ),
    ).toBe(cat.userId);
    const [latest] = await w.core.db
      .select()
      .from(workItems)
      .where(eq(workItems.conversationId, id))
      .orderBy(desc(workItems.enqueuedAt))
      .limit(1);
    expect(latest!.stickyAgentId).toBe(bob.userId);
    await setStatus(w.core, admin, id, "resolved");
    await until(
      () => liveWorkOf(w.core.db, [cat.userId]),
      (l) => l.length === 0,
    );

    // Cat is still at work: the thread stays hers, not queued again.
    await router.stop();
    router = undefined;
    await write(4, id);
    expect(await enqueueConversation(w.core, id, AUTO, new Date(), true)).toBeUndefined();
    expect(await assigneeOf(id)).toBe(cat.userId);
  }, 60_000);
});
