import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { webhookDeliveries, webhooks, type Webhook, type WebhookDelivery } from "../db/schema/index.ts";
import type { BusMessage, EventBus } from "../conversations/bus.ts";
import type { DomainEvent } from "../conversations/event.ts";
import { randomToken, type Keyring } from "../platform/crypto.ts";
import { Invalid, NotFound } from "../platform/errors.ts";
import { log } from "../platform/log.ts";
import { checkOutboundUrl, OutboundRefused, type OutboundPolicy } from "../platform/outbound.ts";

/** The event types a webhook may subscribe to. */
export const webhookEventTypes = [
  "conversation.created",
  "conversation.updated",
  "conversation.resolved",
  "message.created",
  "contact.updated",
] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

export type WebhookView = { id: string; url: string; events: string[]; active: boolean; createdAt: string };

const view = (w: Webhook): WebhookView => ({
  id: w.id,
  url: w.url,
  events: w.events,
  active: w.active,
  createdAt: w.createdAt.toISOString(),
});

/**
 * Registers a webhook: the URL must pass the outbound policy now (it is checked again on every
 * delivery). The secret is returned this once and stored sealed.
 */
export async function createWebhook(
  db: Db,
  keyring: Keyring,
  policy: OutboundPolicy,
  input: { workspaceId: string; url: string; events: string[]; createdBy?: string | null },
): Promise<WebhookView & { secret: string }> {
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw new Invalid("url: not a valid URL", "url");
  }
  const loopback = policy.allowHosts.includes(url.hostname.toLowerCase());
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback))
    throw new Invalid("url: must be https", "url");
  try {
    await checkOutboundUrl(url, policy);
  } catch (err) {
    if (err instanceof OutboundRefused) throw new Invalid(`url: ${err.message}`, "url");
    throw err;
  }
  const events = [...new Set(input.events)];
  if (!events.length) throw new Invalid("events: choose at least one event", "events");
  for (const e of events)
    if (!(webhookEventTypes as readonly string[]).includes(e))
      throw new Invalid(`events: unknown event ${e} (one of ${webhookEventTypes.join(", ")})`, "events");
  const secret = `whsec_${randomToken(32)}`;
  const [row] = await db
    .insert(webhooks)
    .values({
      workspaceId: input.workspaceId,
      url: url.toString(),
      events,
      secret: keyring.seal(secret),
      createdBy: input.createdBy ?? null,
    })
    .returning();
  return { ...view(row!), secret };
}

export async function listWebhooks(db: Db, workspaceId: string): Promise<WebhookView[]> {
  const rows = await db
    .select()
    .from(webhooks)
    .where(eq(webhooks.workspaceId, workspaceId))
    .orderBy(webhooks.createdAt, webhooks.id);
  return rows.map(view);
}

export async function requireWebhook(db: Db, workspaceId: string, id: string): Promise<Webhook> {
  const [row] = await db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.workspaceId, workspaceId), eq(webhooks.id, id)));
  if (!row) throw new NotFound("Webhook", "id");
  return row;
}

/** Deletes a webhook and (by cascade) its deliveries. */
export async function deleteWebhook(db: Db, workspaceId: string, id: string) {
  const gone = await db
    .delete(webhooks)
    .where(and(eq(webhooks.workspaceId, workspaceId), eq(webhooks.id, id)))
    .returning({ id: webhooks.id });
  if (!gone.length) throw new NotFound("Webhook", "id");
}

export type DeliveryView = {
  id: string;
  type: string;
  status: WebhookDelivery["status"];
  attempts: number;
  responseStatus: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
  /** When the worker tries a pending delivery again; null once it is delivered or failed. */
  nextAttemptAt: string | null;
};

export const deliveryView = (d: WebhookDelivery): DeliveryView => ({
  id: d.id,
  type: d.type,
  status: d.status,
  attempts: d.attempts,
  responseStatus: d.responseStatus,
  lastError: d.lastError,
  createdAt: d.createdAt.toISOString(),
  deliveredAt: d.deliveredAt?.toISOString() ?? null,
  nextAttemptAt: d.status === "pending" ? d.nextAttemptAt.toISOString() : null,
});

/** A webhook's latest deliveries, newest first. */
export async function listDeliveries(db: Db, workspaceId: string, webhookId: string, limit = 100) {
  await requireWebhook(db, workspaceId, webhookId);
  const rows = await db
    .select()
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.webhookId, webhookId))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(limit);
  return rows.map(deliveryView);
}

/** Sends a delivery again from the start (attempts and backoff anew), whatever its state. */
export async function resendDelivery(db: Db, workspaceId: string, webhookId: string, deliveryId: string) {
  await requireWebhook(db, workspaceId, webhookId);
  const [row] = await db
    .update(webhookDeliveries)
    .set({ status: "pending", attempts: 0, nextAttemptAt: sql`now()`, lockedUntil: null, leaseId: null })
    .where(and(eq(webhookDeliveries.webhookId, webhookId), eq(webhookDeliveries.id, deliveryId)))
    .returning();
  if (!row) throw new NotFound("Delivery", "deliveryId");
  return deliveryView(row);
}

/** Deletes delivered and failed deliveries created before `olderThan` (housekeeping); pending ones stay. */
export async function pruneDeliveries(db: Db, olderThan: Date) {
  await db
    .delete(webhookDeliveries)
    .where(and(inArray(webhookDeliveries.status, ["delivered", "failed"]), lt(webhookDeliveries.createdAt, olderThan)));
}

/** A domain event as the webhook events it stands for: `{type, eventId, data}` each. */
export function webhookEventsOf(e: DomainEvent): { type: WebhookEventType; eventId: string; data: unknown }[] {
  if (e.ephemeral) return [];
  const { scope: _scope, previousScope: _previous, ...payload } = e.payload;
  const id = String(e.seq);
  switch (e.type) {
    case "conversation.created":
      return [{ type: "conversation.created", eventId: id, data: { conversation: payload.conversation } }];
    case "conversation.updated": {
      const data = { conversation: payload.conversation, changes: payload.changes ?? {} };
      const out: { type: WebhookEventType; eventId: string; data: unknown }[] = [
        { type: "conversation.updated", eventId: id, data },
      ];
      // A status change records {from, to}; other writers name the new status.
      const changes = (payload.changes ?? {}) as { to?: unknown; status?: unknown };
      if (changes.to === "resolved" || changes.status === "resolved")
        out.push({ type: "conversation.resolved", eventId: `${id}.resolved`, data });
      return out;
    }
    case "item.created": {
      const item = payload.item as { type?: string } | undefined;
      if (item?.type !== "message") return [];
      return [{ type: "message.created", eventId: id, data: { conversationId: e.conversationId, item } }];
    }
    case "contact.updated":
      return [{ type: "contact.updated", eventId: id, data: { contact: payload.contact } }];
    default:
      return [];
  }
}

/**
 * Turns the bus's committed events into delivery rows for the webhooks of the event's own workspace
 * that chose its type. Events that arrive together are written together (one look-up of webhooks and
 * one insert per batch). Every node hears every event (PostgreSQL's NOTIFY), and the unique (webhook,
 * event) key keeps one row whichever node writes first; an event too large for NOTIFY reaches the
 * other nodes only as a reference, but its own node always has it whole. The returned stop writes what
 * is still waiting.
 */
export function listenForWebhookEvents(db: Db, bus: EventBus, onWritten: () => void): () => Promise<void> {
  let pending: DomainEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let writing: Promise<void> = Promise.resolve();
  const flush = async () => {
    timer = undefined;
    const batch = pending;
    pending = [];
    if (!batch.length) return;
    const workspaceIds = [...new Set(batch.map((e) => e.workspaceId))];
    const hooks = await db
      .select({ id: webhooks.id, workspaceId: webhooks.workspaceId, events: webhooks.events })
      .from(webhooks)
      .where(and(inArray(webhooks.workspaceId, workspaceIds), eq(webhooks.active, true)));
    if (!hooks.length) return;
    const rows: (typeof webhookDeliveries.$inferInsert)[] = [];
    for (const e of batch)
      for (const w of webhookEventsOf(e))
        for (const h of hooks)
          if (h.workspaceId === e.workspaceId && h.events.includes(w.type))
            rows.push({
              workspaceId: e.workspaceId,
              webhookId: h.id,
              eventId: w.eventId,
              type: w.type,
              payload: w.data as Record<string, unknown>,
            });
    if (!rows.length) return;
    await db.insert(webhookDeliveries).values(rows).onConflictDoNothing();
    onWritten();
  };
  const unsubscribe = bus.subscribe((m: BusMessage) => {
    if (!("type" in m) || m.ephemeral) return;
    if (!webhookEventsOf(m).length) return;
    pending.push(m);
    if (timer) return;
    timer = setTimeout(() => {
      writing = flush().catch((err: unknown) => log.error("webhooks: could not write deliveries", { err }));
    }, 0);
  });
  // Stopping writes what was heard but not yet written, so a node that shuts down loses no event.
  return async () => {
    unsubscribe();
    clearTimeout(timer);
    await writing;
    await flush().catch((err: unknown) => log.error("webhooks: could not write deliveries", { err }));
  };
}
