import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { Executor, Tx } from "../db/connect.ts";
import { preparedQuery } from "../db/prepared-query.ts";
import {
  attachments,
  calls,
  conversations,
  FINAL_CALL_STATUSES,
  timelineItems,
  type Call,
  type CallStatus,
  type IvrState,
  type TimelineItem,
} from "../db/schema/index.ts";
import { NotFound } from "../platform/errors.ts";
import type { Identity } from "../conversations/channel.ts";
import { scopeOf } from "../conversations/conversation.ts";
import type { EventLog } from "../conversations/event.ts";
import { attachmentView, timelineView, type TimelineView } from "../conversations/timeline.ts";
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
