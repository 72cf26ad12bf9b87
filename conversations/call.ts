import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { Executor, Tx } from "../db/connect.ts";
import {
  attachments, calls, contacts, conversations, FINAL_CALL_STATUSES, inboxes, timelineItems,
  type Call, type CallStatus, type Conversation, type IvrState,
} from "../db/schema/index.ts";
import { NotFound } from "../platform/errors.ts";
import type { Identity } from "./channel.ts";
import { normalizeIdentity, resolveContact } from "./contact.ts";
import { appendItems, contactOf, conversationView, OPEN_STATUSES, scopeOf, systemItem, type ConversationView, type ItemWrites, type NewItem } from "./conversation.ts";
import type { EventLog } from "./event.ts";
import { attachmentView, loadTimelineItem, timelineView, type TimelineView } from "./timeline.ts";
import { withEvents, type Core } from "./transaction.ts";

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
  Pick<Call, "status" | "agentId" | "agentLegId" | "customerLegId" | "consult" | "monitors" | "queueId" | "conferenceSid" | "ivr" | "recordingId" | "recordingSid" | "transcript" | "callbackNumber" | "enqueuedAt" | "answeredAt" | "endedAt">
> & { hold?: boolean };

/** What may still change once a call has ended: its recording (stored, or pruned) and transcript. */
const AFTER_THE_END: (keyof Call)[] = ["recordingId", "recordingSid", "transcript", "monitors", "consult"];

const seconds = (from: Date | null, to: Date | null) => (from && to ? Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000)) : 0);

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
  if (hold !== undefined && !change.status && (next.status === "connected" || next.status === "on_hold")) next.status = hold ? "on_hold" : "connected";
  return next;
}

export async function findCall(db: Executor, inboxId: string, externalId: string) {
  const [call] = await db.select().from(calls).where(and(eq(calls.inboxId, inboxId), eq(calls.externalId, externalId)));
  return call;
}

export async function callById(db: Executor, workspaceId: string, callId: string) {
  const [call] = await db.select().from(calls).where(and(eq(calls.workspaceId, workspaceId), eq(calls.id, callId)));
  if (!call) throw new NotFound("Call", "callId");
  return call;
}

/** Live calls of a workspace (not ended), newest first: the wallboard and the softphone read them. */
export async function liveCalls(db: Executor, workspaceId: string) {
  return db
    .select()
    .from(calls)
    .where(and(eq(calls.workspaceId, workspaceId), inArray(calls.status, ["ringing", "ivr", "queued", "callback", "connecting", "connected", "on_hold"])))
    .orderBy(desc(calls.startedAt));
}

export type StartedCall = { call: Call; item: TimelineView; conversation: ConversationView; duplicate: boolean; conversationCreated: boolean };

/** What the caller of `startCall` has already made sure of (the voice webhook, before it starts a call). */
export type StartChecks = {
  /** The inbox was read from the database as this workspace's: no need to look again. */
  inboxOfWorkspace?: boolean;
  /** No call with this external id existed a moment ago: a racing retry still fails on the item's unique key. */
  notYetStarted?: boolean;
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
  if (!checks.notYetStarted) {
    const existing = await findCall(core.db, input.inboxId, input.externalId);
    if (existing) return startedView(core.db, existing, false);
  }
  return withEvents(core, async (tx, events) => {
    const now = new Date();
    const { started, writes } = await startCallWithin(tx, workspaceId, input, checks, now);
    const views = await appendItems(tx, events, [writes], now);
    if (!views) throw new Error("call item already exists");
    if (within) await within(tx, events, started.call);
    return { ...started, item: views[0]![0]! };
  });
}

/**
 * `startCall`'s rows, in a caller's transaction, but for its timeline items and events: they come
 * back for the caller to write (`appendItems`) with others, as a batch of call starts does.
 */
export async function startCallWithin(tx: Tx, workspaceId: string, input: CallStart, checks: StartChecks, now: Date) {
  if (!checks.inboxOfWorkspace) {
    const [inbox] = await tx.select({ id: inboxes.id }).from(inboxes).where(and(eq(inboxes.id, input.inboxId), eq(inboxes.workspaceId, workspaceId)));
    if (!inbox) throw new NotFound("Inbox", "inboxId");
  }
  const lastMessageText = `📞 ${input.direction === "in" ? (input.from ?? "") : (input.to ?? "")}`.trim();
  let conversation: Conversation | undefined;
  let contact: { id: string; name: string | null };
  let created = false;
  if (input.conversationId) {
    [conversation] = await tx
      .select()
      .from(conversations)
      .where(and(eq(conversations.id, input.conversationId), eq(conversations.workspaceId, workspaceId)))
      .for("update");
    if (!conversation) throw new NotFound("Conversation", "conversationId");
    contact = await contactOf(tx, conversation.contactId);
  } else {
    const resolved = await resolveContact(tx, workspaceId, input.customer);
    if (resolved.created) {
      // Nobody else sees a contact before this transaction commits: it has no conversation to find or lock.
      contact = { id: resolved.contactId, name: normalizeIdentity(input.customer).displayName ?? null };
    } else {
      // Same lock order as message ingest (contact → conversation → counter): no deadlock between them.
      const [locked] = await tx.select({ id: contacts.id, name: contacts.name }).from(contacts).where(eq(contacts.id, resolved.contactId)).for("update");
      contact = locked!;
      [conversation] = await tx
        .select()
        .from(conversations)
        .where(and(eq(conversations.contactId, contact.id), inArray(conversations.status, OPEN_STATUSES)))
        .orderBy(desc(conversations.lastActivityAt))
        .limit(1)
        .for("update");
    }
    if (!conversation) {
      created = true;
      [conversation] = await tx
        .insert(conversations)
        .values({ workspaceId, contactId: contact.id, inboxId: input.inboxId, channel: "voice", lastActivityAt: now, lastMessageText })
        .returning();
    }
  }
  const c = conversation!;
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
  const reopened = !created && c.status !== "open";
  const updated: Conversation = created ? c : { ...c, status: "open", snoozedUntil: null, lastActivityAt: now, lastMessageText };
  const view = conversationView(updated, contact);
  // `call: true` tells the router not to queue it by entry rules: the IVR decides where a call waits.
  const lead = created
    ? [{ type: "conversation.created", payload: { conversation: view, scope: scopeOf(c), call: true } }]
    : reopened
      ? [{ type: "conversation.updated", payload: { conversation: view, changes: { status: "open", call: true }, scope: scopeOf(c) } }]
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
  await Promise.all([
    tx.insert(calls).values(draft),
    created
      ? undefined
      : tx.update(conversations).set({ status: "open", snoozedUntil: null, lastActivityAt: now, lastMessageText }).where(eq(conversations.id, c.id)),
  ]);
  const writes: ItemWrites = { conversation: c, items, lead };
  return { started: { call: draft, conversation: view, duplicate: false, conversationCreated: created }, writes };
}

async function startedView(db: Executor, call: Call, created: boolean): Promise<StartedCall> {
  const item = (await loadTimelineItem(db, call.timelineItemId))!;
  const [c] = await db.select().from(conversations).where(eq(conversations.id, call.conversationId));
  return { call, item, conversation: conversationView(c!, await contactOf(db, c!.contactId)), duplicate: true, conversationCreated: created };
}

/**
 * Changes a call inside a caller's transaction: locks the row, applies the change, mirrors it into
 * the call item and tells the inbox (`item.updated`). Returns the call before and after.
 */
export async function changeCallWithin(tx: Tx, events: EventLog, callId: string, change: CallChange | ((call: Call) => CallChange | null), now = new Date()) {
  const [before] = await tx.select().from(calls).where(eq(calls.id, callId)).for("update");
  if (!before) throw new NotFound("Call", "callId");
  const wanted = typeof change === "function" ? change(before) : change;
  if (!wanted) return { before, after: before };
  const after = applyCallChange(before, wanted, now);
  const [saved] = await tx.update(calls).set(after).where(eq(calls.id, callId)).returning();
  const [item, [c]] = await Promise.all([
    mirrorIntoItem(tx, saved!, now),
    tx.select({ contactId: conversations.contactId, assigneeId: conversations.assigneeId, teamId: conversations.teamId }).from(conversations).where(eq(conversations.id, saved!.conversationId)),
  ]);
  if (item) await events.append(saved!.workspaceId, { type: "item.updated", conversationId: saved!.conversationId, payload: { item, scope: scopeOf(c!) } });
  return { before, after: saved! };
}

/**
 * The call item's data is the call's view plus the caller's name kept from when it was created; one
 * statement, since every webhook of a call comes through here. Returns the item as the inbox shows it.
 */
async function mirrorIntoItem(tx: Tx, call: Call, now: Date) {
  const [item] = await tx
    .update(timelineItems)
    .set({ data: sql`${JSON.stringify(callData(call, now))}::jsonb || jsonb_strip_nulls(jsonb_build_object('senderName', ${timelineItems.data}->'senderName'))` })
    .where(eq(timelineItems.id, call.timelineItemId))
    .returning();
  if (!item) return undefined;
  const files = call.recordingId ? await tx.select().from(attachments).where(eq(attachments.timelineItemId, item.id)) : [];
  return timelineView(item, files.map(attachmentView));
}

/** What an IVR turn changes on its call. */
export type IvrAdvance = { ivr: IvrState; status: CallStatus; callbackNumber: string | null; queueId?: string; enqueuedAt?: Date };

/**
 * Saves the IVR's next step of a call, only if the call still stands at `step` of its IVR: one
 * conditional update, so of two deliveries of the same gather (Twilio retries) one applies and the
 * other finds it done. The call item's mirror is updated too; its `item.updated` event comes back
 * for the caller to log with the turn's other events. Undefined when the call had moved on.
 */
export async function advanceIvrWithin(tx: Tx, callId: string, step: number, change: IvrAdvance, now = new Date()) {
  const final = isFinal(change.status);
  const [call] = await tx
    .update(calls)
    .set({
      ivr: change.ivr,
      status: change.status,
      callbackNumber: sql`coalesce(${change.callbackNumber}, ${calls.callbackNumber})`,
      ...(change.queueId ? { queueId: change.queueId } : {}),
      ...(change.enqueuedAt ? { enqueuedAt: sql`coalesce(${calls.enqueuedAt}, ${change.enqueuedAt.toISOString()}::timestamptz)` } : {}),
      ...(final ? { endedAt: now } : {}),
      updatedAt: now,
    })
    .where(and(eq(calls.id, callId), eq(calls.status, "ivr"), sql`(${calls.ivr}->>'step')::int = ${step}`))
    .returning();
  if (!call) return undefined;
  return { call, item: await mirrorIntoItem(tx, call, now) };
}

export function changeCall(core: Core, callId: string, change: CallChange | ((call: Call) => CallChange | null), now = new Date()) {
  return withEvents(core, (tx, events) => changeCallWithin(tx, events, callId, change, now));
}
