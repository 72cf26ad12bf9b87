import { and, eq, inArray, sql } from "drizzle-orm";
import {
  contacts,
  conversations,
  inboxes,
  timelineItems,
  type Conversation,
  type TimelineItem,
} from "../db/schema/index.ts";
import { NotFound } from "../platform/errors.ts";
import { BatchQueue } from "./batch-queue.ts";
import type { NormalizedInbound as InboundInput } from "./channel.ts";
import { identityKey, resolveContacts } from "./contact.ts";
import { conversationView, scopeOf, summarize } from "./conversation.ts";
import { findDelivered, ingestInbound, openConversationsOf, validateInbound, type IngestResult } from "./ingest.ts";
import { takeSeqs, type DomainEvent } from "./event.ts";
import { timelineView } from "./timeline.ts";
import { withEvents, type Core } from "./transaction.ts";

/**
 * Where a channel with threads of its own puts a message instead of the contact's open conversation
 * (a Slack thread's conversation, a new one for a new thread), as `ingestInbound`'s `place` decides it
 * for one message.
 */
export type BatchPlacement = { conversationId: string } | { newConversation: true };
type Inbound = ReturnType<typeof validateInbound> & { placement?: BatchPlacement };

/**
 * Inbound messages of a workspace, ingested in batches (batch-queue.ts): every message costs the
 * same few statements whatever the batch size, and the workspace counter row — which serializes a
 * workspace's commits — is locked once per batch instead of once per message. A batch that fails
 * for any reason is retried message by message, so one bad message never fails its neighbours.
 */
export class InboundQueue {
  private readonly queue: BatchQueue<Inbound, IngestResult>;

  /** `parallel`: batches of one workspace in flight at once (see BatchQueue). */
  constructor(
    private readonly core: Core,
    parallel = 1,
  ) {
    this.queue = new BatchQueue(
      {
        name: "inbound",
        batch: (workspaceId, batch) => ingestBatch(core, workspaceId, batch),
        one: (workspaceId, inbound) => ingestOne(core, workspaceId, inbound),
      },
      parallel,
    );
  }

  /** Batches committed, and batches that had to be retried one by one (exported as metrics). */
  get stats() {
    const { batches, items, fallbacks } = this.queue.stats;
    return { batches, messages: items, fallbacks };
  }

  /** Ingests one message; resolves once it is committed (so the provider can be acked). */
  submit(workspaceId: string, input: InboundInput, placement?: BatchPlacement): Promise<IngestResult> {
    const inbound = { ...validateInbound(input), ...(placement ? { placement } : {}) };
    // Files need per-message ownership checks; they take the one-by-one path.
    if (inbound.attachments.length) return ingestOne(this.core, workspaceId, inbound);
    return this.queue.submit(workspaceId, inbound);
  }
}

/** One message alone (files, or a batch that failed), placed where its channel said. */
function ingestOne(core: Core, workspaceId: string, { placement, ...inbound }: Inbound) {
  return ingestInbound(core, workspaceId, inbound, placement ? { place: async () => placement } : {});
}

const key = (inboxId: string, externalId: string) => `${inboxId}\u0000${externalId}`;

type Stored = { item: TimelineItem; conversation: Conversation; contactName: string | null };

/**
 * The set-based twin of `ingestInbound`: the same rules (contact by identity, the contact's open
 * conversation or a new one, idempotent on inbox + external id, locks taken contact → conversation →
 * counter) for many messages in one transaction. Independent statements are issued together, so the
 * driver pipelines them: about five round trips per batch whatever its size.
 */
export async function ingestBatch(core: Core, workspaceId: string, batch: Inbound[]): Promise<IngestResult[]> {
  const firstOf = new Map<string, number>();
  batch.forEach(
    (m, i) =>
      firstOf.has(key(m.channelAccountId, m.externalId)) || firstOf.set(key(m.channelAccountId, m.externalId), i),
  );
  const now = new Date();

  const stored = await withEvents(core, async (tx, eventLog) => {
    const inboxIds = [...new Set(batch.map((m) => m.channelAccountId))];
    const [known, delivered, contactOf] = await Promise.all([
      tx
        .select({ id: inboxes.id })
        .from(inboxes)
        .where(and(eq(inboxes.workspaceId, workspaceId), inArray(inboxes.id, inboxIds))),
      tx
        .select({ inboxId: timelineItems.inboxId, externalId: timelineItems.externalId })
        .from(timelineItems)
        .where(
          sql`(${timelineItems.inboxId}, ${timelineItems.externalId}) IN (VALUES ${sql.join(
            [...firstOf.keys()].map((k) => {
              const [inbox, ext] = k.split("\u0000");
              return sql`(${inbox}::uuid, ${ext})`;
            }),
            sql`, `,
          )})`,
        ),
      resolveContacts(
        tx,
        workspaceId,
        batch.map((m) => m.from),
      ).then((r) => r.contactOf),
    ]);
    if (known.length !== inboxIds.length) throw new NotFound("Inbox", "channelAccountId");
    const already = new Set(delivered.map((r) => key(r.inboxId!, r.externalId!)));
    const fresh = [...firstOf.entries()].filter(([k]) => !already.has(k)).map(([, i]) => i);
    const result = new Map<number, Stored>();
    if (!fresh.length) return result;
    const contactIdOf = (i: number) => contactOf.get(identityKey(batch[i]!.from))!;

    // Messages without a placement go to their contact's open conversation (opened for the first one).
    const firstFor = new Map<string, Inbound>();
    const placed = fresh.filter((i) => batch[i]!.placement);
    for (const i of fresh)
      if (!batch[i]!.placement && !firstFor.has(contactIdOf(i))) firstFor.set(contactIdOf(i), batch[i]!);
    const { nameOf, conversationOf, created, placedById } = await openConversationsOf(
      tx,
      workspaceId,
      [...firstFor.keys()],
      (contactId) => ({
        inboxId: firstFor.get(contactId)!.channelAccountId,
        channel: firstFor.get(contactId)!.channel,
      }),
      new Set(),
      {
        contactIds: placed.map(contactIdOf),
        conversationIds: placed.flatMap((i) => {
          const p = batch[i]!.placement!;
          return "conversationId" in p ? [p.conversationId] : [];
        }),
      },
    );
    // A placement naming a conversation that is not this workspace's opens a new one, as ingestInbound does.
    const startsNew = placed.filter((i) => {
      const p = batch[i]!.placement!;
      return "newConversation" in p || !placedById.has(p.conversationId);
    });
    const openedFor = new Map<number, Conversation>();
    if (startsNew.length) {
      const rows = await tx
        .insert(conversations)
        .values(
          startsNew.map((i) => ({
            workspaceId,
            contactId: contactIdOf(i),
            inboxId: batch[i]!.channelAccountId,
            channel: batch[i]!.channel,
          })),
        )
        .returning();
      rows.forEach((c, n) => {
        openedFor.set(startsNew[n]!, c);
        created.add(c.id);
      });
    }
    // A thread's conversation may belong to someone other than this writer (another member of a shared
    // channel): their name, for the events and answers (read, not locked: it only labels them).
    const unnamed = [...placedById.values()].map((c) => c.contactId).filter((id) => !nameOf.has(id));
    if (unnamed.length)
      for (const c of await tx
        .select({ id: contacts.id, name: contacts.name })
        .from(contacts)
        .where(inArray(contacts.id, [...new Set(unnamed)])))
        nameOf.set(c.id, c.name);
    const conversationFor = (i: number): Conversation => {
      const p = batch[i]!.placement;
      if (!p) return conversationOf.get(contactIdOf(i))!;
      return openedFor.get(i) ?? placedById.get((p as { conversationId: string }).conversationId)!;
    };

    // Number the events: per message, its conversation's creation or reopening first, then the item.
    type Planned = { type: string; conversation: Conversation; index?: number };
    const plan: Planned[] = [];
    const announced = new Set<string>();
    for (const i of fresh) {
      const conversation = conversationFor(i);
      if (!announced.has(conversation.id)) {
        announced.add(conversation.id);
        if (created.has(conversation.id)) plan.push({ type: "conversation.created", conversation });
        else if (conversation.status !== "open") plan.push({ type: "conversation.updated", conversation });
      }
      plan.push({ type: "item.created", conversation, index: i });
    }
    const first = await takeSeqs(tx, workspaceId, plan.length);

    // The rows are built here (ids and times included) so items, events and the conversations'
    // last message can be written in one pipelined round trip.
    const itemOf = new Map<number, TimelineItem>();
    plan.forEach((p, n) => {
      if (p.index === undefined) return;
      const m = batch[p.index]!;
      const contactId = contactIdOf(p.index);
      itemOf.set(p.index, {
        id: crypto.randomUUID(),
        workspaceId,
        seq: first + n,
        conversationId: p.conversation.id,
        type: "message",
        direction: "in",
        channel: m.channel,
        inboxId: m.channelAccountId,
        externalId: m.externalId,
        senderType: "contact",
        senderId: contactId,
        text: m.text ?? null,
        html: m.html ?? null,
        eventType: null,
        data: {
          senderName: nameOf.get(contactId) ?? m.from.displayName ?? null,
          ...(m.threadKey ? { threadKey: m.threadKey } : {}),
          ...m.data,
        },
        deliveryStatus: null,
        deliveryError: null,
        createdAt: m.sentAt ?? now,
      });
    });
    // The conversation's last message is the batch's last message for it; the customer waits from
    // the first one, unless they were already waiting (as ingestInbound decides).
    const after = new Map<string, Conversation>();
    for (const i of fresh) {
      const m = batch[i]!;
      const before = conversationFor(i);
      const waitingSince = (after.get(before.id) ?? before).waitingSince ?? itemOf.get(i)!.createdAt;
      after.set(before.id, {
        ...before,
        status: "open",
        snoozedUntil: null,
        inboxId: m.channelAccountId,
        channel: m.channel,
        lastMessageText: summarize(m.text ?? null, 0),
        lastActivityAt: now,
        waitingSince,
      });
    }
    const events = plan.map((p, n): DomainEvent => {
      const seq = first + n;
      const scope = scopeOf(p.conversation);
      const base = { workspaceId, seq, conversationId: p.conversation.id, type: p.type };
      if (p.index !== undefined)
        return { ...base, public: true, payload: { item: timelineView(itemOf.get(p.index)!), scope } };
      const contact = { id: p.conversation.contactId, name: nameOf.get(p.conversation.contactId) ?? null };
      if (p.type === "conversation.created")
        return { ...base, public: false, payload: { conversation: conversationView(p.conversation, contact), scope } };
      return {
        ...base,
        public: false,
        payload: {
          conversation: conversationView(after.get(p.conversation.id)!, contact),
          changes: { status: "open" },
          scope,
        },
      };
    });

    const [inserted] = await Promise.all([
      tx
        .insert(timelineItems)
        .values([...itemOf.values()])
        .onConflictDoNothing()
        .returning({ id: timelineItems.id }),
      eventLog.record(events),
      tx.execute(sql`
        UPDATE ${conversations} AS c SET status = 'open', snoozed_until = NULL, inbox_id = v.inbox_id,
          channel = v.channel::channel, last_message_text = v.text, last_activity_at = ${now.toISOString()}::timestamptz,
          waiting_since = COALESCE(c.waiting_since, v.waiting_since)
        FROM (VALUES ${sql.join(
          [...after.values()].map(
            (c) =>
              sql`(${c.id}::uuid, ${c.inboxId}::uuid, ${c.channel}, ${c.lastMessageText}, ${c.waitingSince!.toISOString()}::timestamptz)`,
          ),
          sql`, `,
        )}) AS v(id, inbox_id, channel, text, waiting_since)
        WHERE c.id = v.id`),
    ]);
    // Another node stored one of these meanwhile: let the one-by-one path sort out who was first.
    if (inserted.length !== itemOf.size) throw new Error("concurrent duplicate delivery");

    for (const [i, item] of itemOf)
      result.set(i, {
        item,
        conversation: after.get(item.conversationId)!,
        contactName: nameOf.get(after.get(item.conversationId)!.contactId) ?? null,
      });
    return result;
  });

  return Promise.all(
    batch.map(async (m, i) => {
      const done = stored.get(i);
      if (done) {
        return {
          duplicate: false,
          conversation: conversationView(done.conversation, {
            id: done.conversation.contactId,
            name: done.contactName,
          }),
          item: timelineView(done.item),
          // The writer, as ingestInbound answers (in a thread it need not be the conversation's contact).
          contactId: done.item.senderId!,
        };
      }
      // Stored before this batch, or earlier in it: answered like any provider retry.
      return (await findDelivered(core.db, workspaceId, m.channelAccountId, m.externalId))!;
    }),
  );
}
