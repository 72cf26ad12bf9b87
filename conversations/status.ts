import { and, eq, lte } from "drizzle-orm";
import type { ConversationStatus } from "../db/schema/index.ts";
import { conversations } from "../db/schema/index.ts";
import { Invalid } from "../platform/errors.ts";
import type { Actor } from "./actor.ts";
import { recordChange } from "./append-item.ts";
import { contactOf, conversationView, getConversation, visibleConversation } from "./conversation.ts";
import { withEvents, type Core } from "./transaction.ts";

export async function setStatus(
  core: Core,
  actor: Actor,
  conversationId: string,
  status: ConversationStatus,
  snoozedUntil?: Date,
) {
  if (status === "snoozed" && !snoozedUntil) throw new Invalid("Snoozing needs snoozedUntil", "snoozedUntil");
  return withEvents(core, async (tx, events) => {
    const before = await visibleConversation(tx, actor, conversationId, true);
    if (before.status === status && status !== "snoozed") return getConversation(tx, actor, conversationId);
    const [after] = await tx
      .update(conversations)
      .set({
        status,
        snoozedUntil: status === "snoozed" ? snoozedUntil : null,
        resolvedAt: status === "resolved" ? new Date() : null,
        ...(status === "resolved" ? { waitingSince: null } : {}),
      })
      .where(eq(conversations.id, conversationId))
      .returning();
    await recordChange(tx, events, actor, before, after!, "status_changed", { from: before.status, to: status });
    return conversationView(after!, await contactOf(tx, after!.contactId));
  });
}

export async function setLabels(core: Core, actor: Actor, conversationId: string, labels: string[]) {
  return withEvents(core, async (tx, events) => {
    const before = await visibleConversation(tx, actor, conversationId, true);
    const [after] = await tx
      .update(conversations)
      .set({ labels: [...new Set(labels)] })
      .where(eq(conversations.id, conversationId))
      .returning();
    await recordChange(tx, events, actor, before, after!, "labels_changed", { labels: after!.labels });
    return conversationView(after!, await contactOf(tx, after!.contactId));
  });
}

/**
 * Reopens snoozed conversations whose time has come. Safe on many nodes at once: the UPDATE's row
 * locks let each conversation wake exactly once.
 */
export async function wakeSnoozed(core: Core, now = new Date()) {
  return withEvents(core, async (tx, events) => {
    const woken = await tx
      .update(conversations)
      .set({ status: "open", snoozedUntil: null })
      .where(and(eq(conversations.status, "snoozed"), lte(conversations.snoozedUntil, now)))
      .returning();
    for (const after of woken) {
      const before = { ...after, status: "snoozed" as const };
      await recordChange(tx, events, "system", before, after, "status_changed", {
        from: "snoozed",
        to: "open",
        reason: "snooze_ended",
      });
    }
    return woken.length;
  });
}
