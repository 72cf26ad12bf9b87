import { and, eq, inArray, sql, type SQLWrapper } from "drizzle-orm";
import type { Executor, Tx } from "../db/connect.ts";
import { insertRecords } from "../db/records.ts";
import { calls, contacts, conversations, inboxes, type Call, type Conversation } from "../db/schema/index.ts";
import { NotFound } from "../platform/errors.ts";
import { appendItems, systemItem, type ItemWrites, type NewItem } from "../conversations/append-item.ts";
import { identityKey, normalizeIdentity, resolveContacts } from "../conversations/contact.ts";
import { contactOf, conversationView, scopeOf, type ConversationView } from "../conversations/conversation.ts";
import type { EventLog } from "../conversations/event.ts";
import { openConversationsOf } from "../conversations/ingest.ts";
import { loadTimelineItem, type TimelineView } from "../conversations/timeline.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { callData, findCall, type CallStart } from "./call.ts";

export type StartedCall = {
  call: Call;
  item: TimelineView;
  conversation: ConversationView;
  duplicate: boolean;
  conversationCreated: boolean;
};

/** What the caller of `startCall` has already made sure of (the voice webhook, before it starts a call). */
export type StartChecks = {
  /** The inbox was read from the database as this workspace's: no need to look again. */
  inboxOfWorkspace?: boolean;
  /**
   * Take the call as new without looking for one with its external id: the caller has looked, or
   * lets a retry of a started call fail on the unique keys and looks then.
   */
  skipLookup?: boolean;
};

/**
 * A new call, in one transaction: the customer's contact (by number, or the chat's contact), their
 * open conversation (or a new one), the call item (with `events`, the first moments' timeline
 * events) and the call row. Idempotent on the provider's call id: Twilio retries its first webhook,
 * and the retry finds the call already there.
 */
export async function startCall(
  core: Core,
  workspaceId: string,
  input: CallStart,
  /** More writes of the same transaction (the IVR's first turn: its queue entry). */
  within?: (tx: Tx, events: EventLog, call: Call) => Promise<void>,
  checks: StartChecks = {},
): Promise<StartedCall> {
  if (!checks.skipLookup) {
    const existing = await findCall(core.db, input.inboxId, input.externalId);
    if (existing) return startedView(core.db, existing, false);
  }
  return withEvents(core, async (tx, events) => {
    const now = new Date();
    const { begun, pending } = await startCallsWithin(tx, workspaceId, [input], checks, now);
    const { started, writes } = begun[0]!;
    const views = await appendItems(tx, events, [writes], now, pending);
    if (!views) throw new Error("call item already exists");
    if (within) await within(tx, events, started.call);
    return { ...started, item: views[0]![0]! };
  });
}

/**
 * `startCall`'s rows for one or many calls (a batch of webhooks), in a caller's transaction, but for
 * their timeline items and events: those come back for the caller to write (`appendItems`) with
 * others. Set-based, so a batch costs the same few statements as one call; locks are taken contact
 * → conversation (sorted), as message ingest takes them. The last writes (the calls' insert) come
 * back unsent, as `pending`: the caller must send them, with its own next ones.
 */
export async function startCallsWithin(
  tx: Tx,
  workspaceId: string,
  inputs: CallStart[],
  checks: StartChecks,
  now: Date,
) {
  if (!checks.inboxOfWorkspace) {
    const inboxIds = [...new Set(inputs.map((i) => i.inboxId))];
    const known = await tx
      .select({ id: inboxes.id })
      .from(inboxes)
      .where(and(eq(inboxes.workspaceId, workspaceId), inArray(inboxes.id, inboxIds)));
    if (known.length !== inboxIds.length) throw new NotFound("Inbox", "inboxId");
  }
  // Calls that continue a conversation they name (chat → voice, click-to-call); the others go to
  // their customer's open conversation, or a new one.
  const named = [...new Set(inputs.flatMap((i) => (i.conversationId ? [i.conversationId] : [])))].sort();
  const byCustomer = inputs.filter((i) => !i.conversationId);
  const { contactOf, created: newContacts } = byCustomer.length
    ? await resolveContacts(
        tx,
        workspaceId,
        byCustomer.map((i) => i.customer),
      )
    : { contactOf: new Map<string, string>(), created: new Set<string>() };
  const summary = (i: CallStart) => `📞 ${i.direction === "in" ? (i.from ?? "") : (i.to ?? "")}`.trim();
  const firstFor = new Map<string, CallStart>();
  for (const i of byCustomer) {
    const contactId = contactOf.get(identityKey(i.customer))!;
    if (!firstFor.has(contactId)) firstFor.set(contactId, i);
  }
  // A contact made here needs no lock and has no conversation: nobody else sees it before commit.
  const [{ nameOf, conversationOf: conversationOfContact, created }, namedRows] = await Promise.all([
    openConversationsOf(
      tx,
      workspaceId,
      [...firstFor.keys()],
      (contactId) => ({
        inboxId: firstFor.get(contactId)!.inboxId,
        channel: "voice" as const,
        lastActivityAt: now,
        lastMessageText: summary(firstFor.get(contactId)!),
      }),
      newContacts,
    ),
    named.length
      ? tx
          .select()
          .from(conversations)
          .where(and(inArray(conversations.id, named), eq(conversations.workspaceId, workspaceId)))
          .orderBy(conversations.id)
          .for("update")
      : [],
  ]);
  if (namedRows.length !== named.length) throw new NotFound("Conversation", "conversationId");
  for (const [contactId, i] of firstFor)
    if (!nameOf.has(contactId)) nameOf.set(contactId, normalizeIdentity(i.customer).displayName ?? null);
  const namedContacts = namedRows.map((c) => c.contactId).filter((id) => !nameOf.has(id));
  if (namedContacts.length)
    for (const c of await tx
      .select({ id: contacts.id, name: contacts.name })
      .from(contacts)
      .where(inArray(contacts.id, namedContacts)))
      nameOf.set(c.id, c.name);
  const namedById = new Map(namedRows.map((c) => [c.id, c]));

  const seen = new Set<string>();
  const lastText = new Map<string, string>();
  const begun = inputs.map((input) => {
    const c = input.conversationId
      ? namedById.get(input.conversationId)!
      : conversationOfContact.get(contactOf.get(identityKey(input.customer))!)!;
    const first = !seen.has(c.id);
    seen.add(c.id);
    const isNew = created.has(c.id);
    if (!isNew) lastText.set(c.id, summary(input));
    const draft: Call = {
      id: input.id ?? crypto.randomUUID(),
      workspaceId,
      conversationId: c.id,
      inboxId: input.inboxId,
      timelineItemId: crypto.randomUUID(),
      provider: input.provider,
      externalId: input.externalId,
      direction: input.direction,
      fromAddress: input.from ?? null,
      toAddress: input.to ?? null,
      status: input.status,
      agentId: input.agentId ?? null,
      agentLegId: null,
      customerLegId: null,
      consult: null,
      monitors: [],
      queueId: input.queueId ?? null,
      conferenceSid: null,
      ivr: input.ivr ?? null,
      startedAt: now,
      enqueuedAt: input.enqueuedAt ?? null,
      answeredAt: null,
      endedAt: null,
      holdStartedAt: null,
      holdSeconds: 0,
      recordingId: null,
      recordingSid: null,
      transcript: null,
      callbackNumber: input.callbackNumber ?? null,
      updatedAt: now,
    };
    const updated: Conversation = isNew
      ? c
      : { ...c, status: "open", snoozedUntil: null, lastActivityAt: now, lastMessageText: summary(input) };
    const view = conversationView(updated, { id: c.contactId, name: nameOf.get(c.contactId) ?? null });
    // `call: true` tells the router not to queue it by entry rules: the IVR decides where a call waits.
    const lead = !first
      ? []
      : isNew
        ? [{ type: "conversation.created", payload: { conversation: view, scope: scopeOf(c), call: true } }]
        : c.status !== "open"
          ? [
              {
                type: "conversation.updated",
                payload: { conversation: view, changes: { status: "open", call: true }, scope: scopeOf(c) },
              },
            ]
          : [];
    const items: NewItem[] = [
      {
        id: draft.timelineItemId,
        type: "call",
        direction: input.direction,
        channel: "voice",
        inboxId: input.inboxId,
        externalId: input.externalId,
        senderType: input.direction === "in" ? "contact" : "agent",
        senderId: input.direction === "in" ? c.contactId : (input.agentId ?? null),
        data: { ...callData(draft, now), senderName: input.customer.displayName ?? null },
      },
      ...(input.events ?? []).map((e) => systemItem(e.eventType, { callId: draft.id, ...e.data })),
    ];
    const writes: ItemWrites = { conversation: c, items, lead };
    return {
      started: { call: draft, conversation: view, duplicate: false, conversationCreated: isNew && first },
      writes,
    };
  });
  // Not sent here: the caller sends them with its own next writes, as one statement.
  const pending: SQLWrapper[] = [
    insertRecords(
      calls,
      begun.map((b) => b.started.call),
    ),
  ];
  if (lastText.size) {
    pending.push(
      tx.execute(sql`
        UPDATE ${conversations} AS c SET status = 'open', snoozed_until = NULL, last_activity_at = ${now.toISOString()}::timestamptz, last_message_text = v.text
        FROM (VALUES ${sql.join(
          [...lastText].map(([id, text]) => sql`(${id}::uuid, ${text})`),
          sql`, `,
        )}) AS v(id, text)
        WHERE c.id = v.id`),
    );
  }
  return { begun, pending };
}

async function startedView(db: Executor, call: Call, created: boolean): Promise<StartedCall> {
  const item = (await loadTimelineItem(db, call.timelineItemId))!;
  const [c] = await db.select().from(conversations).where(eq(conversations.id, call.conversationId));
  return {
    call,
    item,
    conversation: conversationView(c!, await contactOf(db, c!.contactId)),
    duplicate: true,
    conversationCreated: created,
  };
}
