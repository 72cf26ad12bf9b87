import { and, eq, isNull } from "drizzle-orm";
import type { BusMessage, EventBus } from "../conversations/bus.ts";
import type { TimelineView } from "../conversations/timeline.ts";
import type { Db } from "../db/connect.ts";
import { slaClocks } from "../db/schema/index.ts";
import { log } from "../platform/log.ts";
import { hasPolicies } from "./policy.ts";
import { isAgentReply, reconcileConversation } from "./conversation-clocks.ts";
import { reconcileTicket, ticketsAnswered, type TicketEventPayload } from "./ticket-clocks.ts";

/**
 * Whether a conversation's event can touch a clock: its workspace has a policy, or the conversation
 * still runs a clock (its policy was deleted since). Without either, a message costs no transaction.
 */
async function clocksMatter(db: Db, workspaceId: string, conversationId: string) {
  if (await hasPolicies(db, workspaceId)) return true;
  const [live] = await db
    .select({ id: slaClocks.id })
    .from(slaClocks)
    .where(and(eq(slaClocks.conversationId, conversationId), isNull(slaClocks.stoppedAt)))
    .limit(1);
  return !!live;
}

/**
 * Starts, stops, pauses and re-plans SLA clocks as conversations and tickets change. Every node hears
 * every event (maybe twice): the work reads the subject's state and writes through unique indexes,
 * so it is the same whichever node runs it and however often. On one node, a subject's events are
 * handled one after another, in the order heard.
 */
export function listenForSlaEvents(db: Db, bus: EventBus) {
  const chains = new Map<string, Promise<void>>();
  const running = new Set<Promise<void>>();
  const queue = (key: string, work: () => Promise<void>) => {
    const next = (chains.get(key) ?? Promise.resolve())
      .then(work)
      .catch((err: unknown) => log.error("sla: could not update clocks", { err, key }));
    chains.set(key, next);
    running.add(next);
    void next.finally(() => {
      running.delete(next);
      if (chains.get(key) === next) chains.delete(key);
    });
  };
  const unsubscribe = bus.subscribe((m: BusMessage) => {
    if (!("type" in m) || m.ephemeral) return;
    const { workspaceId, conversationId, payload } = m;
    if (m.type === "ticket.created" || m.type === "ticket.updated") {
      const event = payload as unknown as TicketEventPayload;
      if (event.ticketId) queue(event.ticketId, () => reconcileTicket(db, workspaceId, event));
      return;
    }
    if (!conversationId) return;
    if (m.type === "conversation.created" || m.type === "conversation.updated")
      queue(conversationId, async () => {
        if (await clocksMatter(db, workspaceId, conversationId))
          await reconcileConversation(db, workspaceId, conversationId);
      });
    else if (m.type === "item.created") {
      // Messages start and meet response clocks; an event item (a transfer to a queue) may change
      // the policy or the calendar.
      const item = payload.item as TimelineView | undefined;
      queue(conversationId, async () => {
        if (!(await clocksMatter(db, workspaceId, conversationId))) return;
        await reconcileConversation(db, workspaceId, conversationId, item?.type === "message" ? item : undefined);
        // The reply answers the conversation's tickets too.
        if (item && isAgentReply(item))
          await ticketsAnswered(db, workspaceId, conversationId, new Date(item.createdAt));
      });
    }
  });
  return async () => {
    unsubscribe();
    await Promise.allSettled([...running]);
  };
}
