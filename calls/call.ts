import { and, desc, eq, inArray, sql, type SQLWrapper } from "drizzle-orm";
import type { Executor, Tx } from "../db/connect.ts";
import { preparedQuery } from "../db/prepared-query.ts";
import { insertRecords } from "../db/records.ts";
import {
  attachments,
  calls,
  contacts,
  conversations,
  FINAL_CALL_STATUSES,
  inboxes,
  timelineItems,
  type Call,
  type CallStatus,
  type Conversation,
  type IvrState,
  type TimelineItem,
} from "../db/schema/index.ts";
import { NotFound } from "../platform/errors.ts";
import type { Identity } from "../conversations/channel.ts";
import { identityKey, normalizeIdentity, resolveContacts } from "../conversations/contact.ts";
import {
  appendItems,
  contactOf,
  conversationView,
  openConversationsOf,
  scopeOf,
  systemItem,
  type ConversationView,
  type ItemWrites,
  type NewItem,
} from "../conversations/conversation.ts";
import type { EventLog } from "../conversations/event.ts";
import { attachmentView, loadTimelineItem, timelineView, type TimelineView } from "../conversations/timeline.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";

/**
 * Calls are timeline items of the customer's one conversation, like messages: a phone call, a
 * browser call escalated from chat, a callback. The `calls` row keeps the working state (provider
 * legs, timings); every change is mirrored into the item's data so the inbox shows it live.
 */
export type CallStart = {
  provider: "twilio" | "webrtc";
  inboxId: string;
  /** The provider's call id (Twilio CallSid); for browser calls one we make. */
  externalId: string;
  direction: "in" | "out";
  /** Who the customer is: the caller's number, or the chatting visitor. */
  customer: Identity;
  from?: string | null;
  to?: string | null;
  /** The call continues this conversation (chat → voice, click-to-call) instead of the contact's open one. */
  conversationId?: string;
  agentId?: string | null;
  status: CallStatus;
  ivr?: IvrState | null;
  /** Chosen by the caller when the answer to Twilio (its URLs) is made before the row exists. */
  id?: string;
  queueId?: string | null;
  enqueuedAt?: Date | null;
  callbackNumber?: string | null;
  /** Timeline events of the call's first moments (the IVR's first turn), written with its item. */
  events?: { eventType: string; data: Record<string, unknown> }[];
};

export type CallChange = Partial<
  Pick<
    Call,
    | "status"
    | "agentId"
    | "agentLegId"
    | "customerLegId"
    | "consult"
    | "monitors"
    | "queueId"
    | "conferenceSid"
    | "ivr"
    | "recordingId"
    | "recordingSid"
    | "transcript"
    | "callbackNumber"
    | "enqueuedAt"
    | "answeredAt"
    | "endedAt"
  >
> & { hold?: boolean };

/** What may still change once a call has ended: its recording (stored, or pruned) and transcript. */
const AFTER_THE_END: (keyof Call)[] = ["recordingId", "recordingSid", "transcript", "monitors", "consult"];

const seconds = (from: Date | null, to: Date | null) =>
  from && to ? Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000)) : 0;

/** What the inbox shows of a call (the call item's data): status, parties, timings, recording. */
export function callData(call: Call, now = new Date()) {
  const end = call.endedAt ?? now;
  return {
    callId: call.id,
    provider: call.provider,
    status: call.status,
    from: call.fromAddress,
    to: call.toAddress,
    agentId: call.agentId,
    queueId: call.queueId,
    waitS: call.enqueuedAt ? seconds(call.enqueuedAt, call.answeredAt ?? call.endedAt ?? now) : 0,
    durationS: seconds(call.answeredAt, call.answeredAt ? end : null),
    holdS: call.holdSeconds + (call.holdStartedAt ? seconds(call.holdStartedAt, end) : 0),
    recordingUrl: call.recordingId ? `/files/${call.recordingId}` : null,
    transcript: call.transcript,
    ivrPath: call.ivr?.path ?? [],
    callbackNumber: call.callbackNumber,
    startedAt: call.startedAt.toISOString(),
    answeredAt: call.answeredAt?.toISOString() ?? null,
    endedAt: call.endedAt?.toISOString() ?? null,
  };
}

export const isFinal = (status: CallStatus) => FINAL_CALL_STATUSES.includes(status);

/**
 * The row after a change, as pure data. A final status sticks (a late or retried "ringing" after
 * "completed" changes nothing), first times are kept (a retried "answered" keeps the first answer),
 * and hold time accumulates across holds.
 */
export function applyCallChange(call: Call, change: CallChange, now = new Date()): Call {
  if (isFinal(call.status)) {
    // Only what arrives after the end may still land: the recording and its transcript.
    const late = Object.fromEntries(Object.entries(change).filter(([k]) => AFTER_THE_END.includes(k as keyof Call)));
    return { ...call, ...late };
  }
  const { hold, ...rest } = change;
  const next: Call = { ...call, ...rest, updatedAt: now };
  next.enqueuedAt = call.enqueuedAt ?? change.enqueuedAt ?? null;
  next.answeredAt = call.answeredAt ?? change.answeredAt ?? null;
  if (change.status && isFinal(change.status)) next.endedAt = call.endedAt ?? change.endedAt ?? now;
  const holding = hold ?? (change.status ? change.status === "on_hold" : !!call.holdStartedAt);
  if (holding && !call.holdStartedAt) next.holdStartedAt = now;
  if ((!holding || next.endedAt) && call.holdStartedAt) {
    next.holdSeconds = call.holdSeconds + seconds(call.holdStartedAt, next.endedAt ?? now);
    next.holdStartedAt = null;
  }
  if (hold !== undefined && !change.status && (next.status === "connected" || next.status === "on_hold"))
    next.status = hold ? "on_hold" : "connected";
  return next;
}

// Every webhook of a call reads it first: built once (prepared-query.ts).
const byExternalId = preparedQuery("call_by_external_id", (db) =>
  db
    .select()
    .from(calls)
    .where(and(eq(calls.inboxId, sql.placeholder("inboxId")), eq(calls.externalId, sql.placeholder("externalId")))),
);
const ofInbox = preparedQuery("call_of_inbox", (db) =>
  db
    .select()
    .from(calls)
    .where(and(eq(calls.inboxId, sql.placeholder("inboxId")), eq(calls.id, sql.placeholder("callId")))),
);
const ofWorkspace = preparedQuery("call_of_workspace", (db) =>
  db
    .select()
    .from(calls)
    .where(and(eq(calls.workspaceId, sql.placeholder("workspaceId")), eq(calls.id, sql.placeholder("callId")))),
);

/** The call Twilio knows by `externalId` (its CallSid) on a line. */
export async function findCall(db: Executor, inboxId: string, externalId: string): Promise<Call | undefined> {
  return (await byExternalId(db, { inboxId, externalId }))[0];
}

/** A line's call by our id (a webhook's link names both). */
export async function callOfInbox(db: Executor, inboxId: string, callId: string): Promise<Call | undefined> {
  return (await ofInbox(db, { inboxId, callId }))[0];
}

export async function callById(db: Executor, workspaceId: string, callId: string) {
  const [call] = await ofWorkspace(db, { workspaceId, callId });
  if (!call) throw new NotFound("Call", "callId");
  return call;
}

/** Live calls of a workspace (not ended), newest first: the wallboard and the softphone read them. */
export async function liveCalls(db: Executor, workspaceId: string) {
  return db
    .select()
    .from(calls)
    .where(
      and(
        eq(calls.workspaceId, workspaceId),
        inArray(calls.status, ["ringing", "ivr", "queued", "callback", "connecting", "connected", "on_hold"]),
      ),
    )
    .orderBy(desc(calls.startedAt));
}

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

/**
 * Changes a call inside a caller's transaction: locks the row, applies the change, mirrors it into
 * the call item and tells the inbox (`item.updated`). Returns the call before and after.
 */
export async function changeCallWithin(
  tx: Tx,
  events: EventLog,
  callId: string,
  change: CallChange | ((call: Call) => CallChange | null),
  now = new Date(),
) {
  const [before] = await tx.select().from(calls).where(eq(calls.id, callId)).for("update");
  if (!before) throw new NotFound("Call", "callId");
  const wanted = typeof change === "function" ? change(before) : change;
  if (!wanted) return { before, after: before };
  const after = applyCallChange(before, wanted, now);
  const [saved] = await tx.update(calls).set(after).where(eq(calls.id, callId)).returning();
  const [items, [c]] = await Promise.all([
    mirrorIntoItems(tx, [saved!], now),
    tx
      .select({
        contactId: conversations.contactId,
        assigneeId: conversations.assigneeId,
        teamId: conversations.teamId,
      })
      .from(conversations)
      .where(eq(conversations.id, saved!.conversationId)),
  ]);
  const item = items.get(saved!.id);
  if (item)
    await events.append(saved!.workspaceId, {
      type: "item.updated",
      conversationId: saved!.conversationId,
      payload: { item, scope: scopeOf(c!) },
    });
  return { before, after: saved! };
}

/**
 * The call items' data is each call's view plus the caller's name kept from when it was created;
 * one statement for all, since every webhook of a call comes through here. Returns the items as the
 * inbox shows them, by call id.
 */
async function mirrorIntoItems(tx: Tx, changed: Call[], now: Date) {
  if (!changed.length) return new Map<string, TimelineView>();
  return mirroredViews(tx, changed, await mirrorQuery(tx, changed, now));
}

/** `mirrorIntoItems`' statement, not yet sent (a batch sends it with others); `mirroredViews` reads its result. */
export function mirrorQuery(tx: Tx, changed: Call[], now: Date) {
  return tx
    .update(timelineItems)
    .set({
      data: sql`v.data || jsonb_strip_nulls(jsonb_build_object('senderName', ${timelineItems.data}->'senderName'))`,
    })
    .from(
      sql`(VALUES ${sql.join(
        changed.map((c) => sql`(${c.timelineItemId}::uuid, ${JSON.stringify(callData(c, now))}::jsonb)`),
        sql`, `,
      )}) AS v(id, data)`,
    )
    .where(sql`${timelineItems.id} = v.id`)
    .returning() as unknown as PromiseLike<TimelineItem[]>;
}

/** The call items `mirrorQuery` updated, as the inbox shows them (with a recording's file), by call id. */
export async function mirroredViews(tx: Tx, changed: Call[], items: TimelineItem[]) {
  const views = new Map<string, TimelineView>();
  const recorded = changed.filter((c) => c.recordingId).map((c) => c.timelineItemId);
  const files = recorded.length
    ? await tx.select().from(attachments).where(inArray(attachments.timelineItemId, recorded))
    : [];
  const itemOf = new Map(items.map((i) => [i.id, i]));
  for (const c of changed) {
    const item = itemOf.get(c.timelineItemId);
    if (item)
      views.set(c.id, timelineView(item, files.filter((f) => f.timelineItemId === item.id).map(attachmentView)));
  }
  return views;
}

/** What an IVR turn changes on its call. */
export type IvrAdvance = {
  ivr: IvrState;
  status: CallStatus;
  callbackNumber: string | null;
  queueId?: string;
  enqueuedAt?: Date;
};

/**
 * Saves the IVR's next step of calls (a batch's turns), each only if its call still stands at
 * `step` of its IVR: one conditional update for all, so of two deliveries of the same gather
 * (Twilio retries) one applies and the other finds it done. The statement comes back unsent (a batch
 * sends it with its locks and reads); its result is the calls that moved, without those that had
 * moved on. The caller mirrors them into their items (`mirrorQuery`). One advance per call: of a
 * retry beside its original in one batch, the caller tries the first only.
 */
export function advanceIvrsQuery(
  tx: Tx,
  advances: { callId: string; step: number; change: IvrAdvance }[],
  now = new Date(),
) {
  const values = sql.join(
    advances.map(
      ({ callId, step, change }) =>
        sql`(${callId}::uuid, ${step}::int, ${JSON.stringify(change.ivr)}::jsonb, ${change.status}::text, ${change.callbackNumber}::text, ${change.queueId ?? null}::uuid, ${change.enqueuedAt?.toISOString() ?? null}::timestamptz, ${isFinal(change.status)}::boolean)`,
    ),
    sql`, `,
  );
  return (
    tx
      .update(calls)
      .set({
        ivr: sql`v.ivr`,
        status: sql`v.status`,
        callbackNumber: sql`coalesce(v.callback_number, ${calls.callbackNumber})`,
        queueId: sql`coalesce(v.queue_id, ${calls.queueId})`,
        enqueuedAt: sql`coalesce(${calls.enqueuedAt}, v.enqueued_at)`,
        endedAt: sql`CASE WHEN v.final THEN ${now.toISOString()}::timestamptz ELSE ${calls.endedAt} END`,
        updatedAt: now,
      })
      .from(sql`(VALUES ${values}) AS v(id, step, ivr, status, callback_number, queue_id, enqueued_at, final)`)
      .where(sql`${calls.id} = v.id AND ${calls.status} = 'ivr' AND (${calls.ivr}->>'step')::int = v.step`)
      // drizzle cannot type a raw FROM; the rows are the table's own.
      .returning() as unknown as PromiseLike<Call[]>
  );
}

export function changeCall(
  core: Core,
  callId: string,
  change: CallChange | ((call: Call) => CallChange | null),
  now = new Date(),
) {
  return withEvents(core, (tx, events) => changeCallWithin(tx, events, callId, change, now));
}
