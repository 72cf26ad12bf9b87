import { and, desc, eq, inArray, isNull, lt, or } from "drizzle-orm";
import { z } from "zod";
import type { Executor } from "../db/connect.ts";
import {
  calls,
  contacts,
  conversations,
  inboxes,
  users,
  workspaces,
  type Call,
  type CallStatus,
} from "../db/schema/index.ts";
import { Conflict, Forbidden, Invalid, NotFound } from "../platform/errors.ts";
import { canSeeConversation, type Actor } from "../conversations/actor.ts";
import { changeCallWithin, isFinal, startCall } from "./call.ts";
import { appendSystemEvent, assignWithin, scopeOf } from "../conversations/conversation.ts";
import type { DomainEvent } from "../conversations/event.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";

/**
 * Chat → voice in the browser: a WebRTC audio call between the web chat widget and the agent's
 * inbox tab, in the chat's own conversation. The server never touches media; it keeps the call row
 * (calls/call.ts) and relays signalling (SDP, ICE candidates) between exactly two parties —
 * the conversation's visitor and the agent on the call — as ephemeral events on the bus, so they
 * reach the right socket on whichever node it is.
 *
 * Lifecycle: ringing (one side asked) → connecting (the other side took it; the agent's browser
 * makes the offer) → connected (a browser saw its peer connection up) → completed / no_answer /
 * abandoned / failed.
 */

/** Unanswered this long → no_answer. */
export const RING_TIMEOUT_MS = 30_000;
/** Answered but media never came up this long → failed. */
export const CONNECT_TIMEOUT_MS = 30_000;
/**
 * Chromium's SDP for one audio stream is about 1.3 KB (ICE candidates trickle separately). The bound
 * keeps a relayed signal inside one Postgres NOTIFY (conversations/bus.ts, ~7 KB), since ephemeral
 * events are not stored and could not travel to another node as a reference.
 */
const MAX_SDP = 6000;

/** The external id of a browser call: the id the calling browser chose, so a retried request starts one call. */
export const browserCallExternalId = (callId: string) => `webrtc:${callId}`;

export const CallSignal = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("offer"), sdp: z.string().min(1).max(MAX_SDP) }),
  z.object({ kind: z.literal("answer"), sdp: z.string().min(1).max(MAX_SDP) }),
  z.object({
    kind: z.literal("candidate"),
    candidate: z.object({
      // An empty candidate string is the browser's "end of candidates".
      candidate: z.string().max(1000),
      sdpMid: z.string().max(64).nullable().optional(),
      sdpMLineIndex: z.number().int().min(0).max(64).nullable().optional(),
      usernameFragment: z.string().max(256).nullable().optional(),
    }),
  }),
]);
export type CallSignal = z.infer<typeof CallSignal>;

export const MonitorMode = z.enum(["listen", "whisper", "barge"]);
export type MonitorMode = z.infer<typeof MonitorMode>;

export const HangUpReason = z.enum(["hangup", "failed"]);
export type HangUpReason = z.infer<typeof HangUpReason>;

/** Who is acting on a browser call: the chatting visitor (by their contact) or a signed-in agent. */
export type CallParty = { kind: "visitor"; workspaceId: string; contactId: string } | { kind: "agent"; actor: Actor };

const LIVE: CallStatus[] = ["ringing", "connecting", "connected", "on_hold"];

/** What either browser is told about a call. */
export type BrowserCallView = ReturnType<typeof browserCallView>;

export function browserCallView(call: Call, agentName: string | null) {
  return {
    id: call.id,
    conversationId: call.conversationId,
    direction: call.direction,
    status: call.status,
    agentId: call.agentId,
    agentName,
    startedAt: call.startedAt.toISOString(),
    answeredAt: call.answeredAt?.toISOString() ?? null,
    endedAt: call.endedAt?.toISOString() ?? null,
  };
}

async function agentName(db: Executor, agentId: string | null) {
  if (!agentId) return null;
  const [u] = await db.select({ name: users.name }).from(users).where(eq(users.id, agentId));
  return u?.name ?? null;
}

/**
 * Tells the call's visitor where the call stands (their widget rings, connects or hangs up on it).
 * Ephemeral and public, addressed to the conversation's contact: the widget socket's filter lets
 * only that contact's sockets have it, and `onlyFor` keeps it from agents' sockets.
 */
async function tellVisitor(core: Core, call: Call) {
  const [c] = await core.db.select().from(conversations).where(eq(conversations.id, call.conversationId));
  if (!c) return;
  core.bus.publish([
    {
      workspaceId: call.workspaceId,
      seq: 0,
      type: "call.state",
      conversationId: c.id,
      public: true,
      ephemeral: true,
      payload: {
        call: browserCallView(call, await agentName(core.db, call.agentId)),
        onlyFor: { contactId: c.contactId },
        scope: scopeOf(c),
      },
    },
  ]);
}

/**
 * The browser call a party names, if that party is in it: a visitor only in calls of their own
 * conversations, an agent only in calls of conversations they can see (and, through the API path,
 * of the conversation named). Anything else is "not found", so ids of other people's calls tell
 * nothing.
 */
export async function callOfParty(db: Executor, party: CallParty, callId: string, conversationId?: string) {
  const workspaceId = party.kind === "visitor" ? party.workspaceId : party.actor.workspaceId;
  const [row] = await db
    .select({
      call: calls,
      contactId: conversations.contactId,
      assigneeId: conversations.assigneeId,
      teamId: conversations.teamId,
    })
    .from(calls)
    .innerJoin(conversations, eq(conversations.id, calls.conversationId))
    .where(and(eq(calls.workspaceId, workspaceId), eq(calls.id, callId), eq(calls.provider, "webrtc")));
  if (!row || (conversationId && row.call.conversationId !== conversationId)) throw new NotFound("Call", "callId");
  if (party.kind === "visitor" && row.contactId !== party.contactId) throw new NotFound("Call", "callId");
  if (party.kind === "agent" && !canSeeConversation(party.actor, row)) throw new NotFound("Call", "callId");
  return row.call;
}

/** Signalling and hang-up from the agent side are for the agent on the call only. */
function requireOnCall(party: CallParty, call: Call) {
  if (party.kind === "agent" && call.agentId !== party.actor.userId)
    throw new Forbidden("Only the agent on this call may do that");
}

/** The live browser call of a conversation, if any. */
async function liveCallOf(db: Executor, conversationId: string) {
  const [call] = await db
    .select()
    .from(calls)
    .where(and(eq(calls.conversationId, conversationId), eq(calls.provider, "webrtc"), inArray(calls.status, LIVE)));
  return call;
}

/**
 * The visitor asks for a call in their chat. It rings the conversation's agent, or, while nobody has
 * the chat, every agent who can see it (the first to answer takes it). A call continues a chat, so
 * the visitor must have written first.
 */
export async function requestCall(
  core: Core,
  visitor: { workspaceId: string; contactId: string; inboxId: string; visitorId: string },
  callId: string,
) {
  const [c] = await core.db
    .select()
    .from(conversations)
    .where(
      and(
        eq(conversations.workspaceId, visitor.workspaceId),
        eq(conversations.contactId, visitor.contactId),
        inArray(conversations.status, ["open", "pending", "snoozed"]),
      ),
    )
    .orderBy(desc(conversations.lastActivityAt))
    .limit(1);
  if (!c) throw new Conflict("Write a message first: a call continues a chat", "conversationId");
  const live = await liveCallOf(core.db, c.id);
  if (live && live.externalId !== browserCallExternalId(callId))
    throw new Conflict("A call is already in progress in this chat", "callId");
  const [contact] = await core.db
    .select({ name: contacts.name })
    .from(contacts)
    .where(eq(contacts.id, visitor.contactId));
  const started = await startCall(core, visitor.workspaceId, {
    provider: "webrtc",
    inboxId: visitor.inboxId,
    externalId: browserCallExternalId(callId),
    direction: "in",
    customer: { kind: "visitor", value: visitor.visitorId, displayName: contact?.name ?? undefined },
    conversationId: c.id,
    agentId: c.assigneeId,
    status: "ringing",
    // Browser calls have no numbers: the inbox names the caller instead.
    from: contact?.name ?? null,
  });
  if (!started.duplicate) await tellVisitor(core, started.call);
  return browserCallView(started.call, await agentName(core.db, started.call.agentId));
}

/**
 * An agent invites the chatting visitor to a call ("invite to call"). The agent takes the
 * conversation if nobody has it. Only web chat conversations have a browser on the other end.
 */
export async function inviteToCall(core: Core, actor: Actor, conversationId: string, callId: string) {
  const [row] = await core.db
    .select({ c: conversations, channel: inboxes.channel, contactName: contacts.name })
    .from(conversations)
    .innerJoin(inboxes, eq(inboxes.id, conversations.inboxId))
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(and(eq(conversations.workspaceId, actor.workspaceId), eq(conversations.id, conversationId)));
  if (!row || !canSeeConversation(actor, row.c)) throw new NotFound("Conversation");
  if (row.channel !== "webchat") throw new Conflict("Browser calls are for web chat conversations", "id");
  if (row.c.status === "resolved") throw new Conflict("The conversation is resolved", "id");
  const live = await liveCallOf(core.db, conversationId);
  if (live && live.externalId !== browserCallExternalId(callId))
    throw new Conflict("A call is already in progress in this chat", "callId");
  const started = await startCall(core, actor.workspaceId, {
    provider: "webrtc",
    inboxId: row.c.inboxId,
    externalId: browserCallExternalId(callId),
    direction: "out",
    // The conversation is given, so the identity only names the customer on the call item.
    customer: { kind: "visitor", value: row.c.contactId, displayName: row.contactName ?? undefined },
    conversationId,
    agentId: actor.userId,
    status: "ringing",
    to: row.contactName ?? null,
  });
  let assigned = false;
  if (!started.duplicate && row.c.assigneeId === null) {
    await withEvents(core, (tx, events) => assignWithin(tx, events, actor, conversationId, actor.userId));
    assigned = true;
  }
  if (!started.duplicate) await tellVisitor(core, started.call);
  return { call: browserCallView(started.call, actor.name), assigned };
}

/**
 * An agent answers a visitor's call. The first of several ringing agents wins (the row is locked);
 * the others get 409. An unassigned conversation becomes theirs in the same transaction.
 */
export async function answerCall(core: Core, actor: Actor, conversationId: string, callId: string) {
  const found = await callOfParty(core.db, { kind: "agent", actor }, callId, conversationId);
  const { after, assigned } = await withEvents(core, async (tx, events) => {
    const changed = await changeCallWithin(tx, events, found.id, (call) => {
      if (call.direction !== "in" || call.status !== "ringing")
        throw new Conflict("This call is not ringing", "callId");
      if (call.agentId && call.agentId !== actor.userId)
        throw new Conflict("This call rings for another agent", "callId");
      return { status: "connecting", agentId: actor.userId };
    });
    const [c] = await tx
      .select({ assigneeId: conversations.assigneeId })
      .from(conversations)
      .where(eq(conversations.id, conversationId));
    const take = c?.assigneeId !== actor.userId;
    if (take) await assignWithin(tx, events, actor, conversationId, actor.userId);
    return { after: changed.after, assigned: take };
  });
  await tellVisitor(core, after);
  return { call: browserCallView(after, actor.name), assigned };
}

/** The visitor takes the agent's invitation. */
export async function acceptCall(core: Core, visitor: CallParty & { kind: "visitor" }, callId: string) {
  const found = await callOfParty(core.db, visitor, callId);
  const { after } = await withEvents(core, (tx, events) =>
    changeCallWithin(tx, events, found.id, (call) => {
      if (call.direction !== "out" || call.status !== "ringing")
        throw new Conflict("This call is not ringing", "callId");
      return { status: "connecting" };
    }),
  );
  await tellVisitor(core, after);
  return browserCallView(after, await agentName(core.db, after.agentId));
}

/** A browser saw its peer connection come up: the talk time starts (once, whichever side says it first). */
export async function markConnected(core: Core, party: CallParty, callId: string, conversationId?: string) {
  const found = await callOfParty(core.db, party, callId, conversationId);
  requireOnCall(party, found);
  if (found.status === "connected") return browserCallView(found, await agentName(core.db, found.agentId));
  const { after } = await withEvents(core, (tx, events) =>
    changeCallWithin(tx, events, found.id, (call) => {
      if (call.status === "connected") return null;
      if (call.status !== "connecting") throw new Conflict("The call is not connecting", "callId");
      return { status: "connected", answeredAt: new Date() };
    }),
  );
  if (after.status !== found.status) await tellVisitor(core, after);
  return browserCallView(after, await agentName(core.db, after.agentId));
}

/**
 * Relays one signal to the other browser. Agents make offers and visitors answer them (one
 * negotiation, always in that direction, so two offers never cross); both trickle ICE candidates.
 */
export async function relaySignal(
  core: Core,
  party: CallParty,
  callId: string,
  signal: CallSignal,
  conversationId?: string,
) {
  const call = await callOfParty(core.db, party, callId, conversationId);
  requireOnCall(party, call);
  if (call.status !== "connecting" && call.status !== "connected")
    throw new Conflict("The call is not in progress", "callId");
  if (signal.kind === "offer" && party.kind !== "agent")
    throw new Invalid("Only the agent's browser makes the offer", "kind");
  if (signal.kind === "answer" && party.kind !== "visitor")
    throw new Invalid("Only the visitor's browser answers", "kind");
  const [c] = await core.db.select().from(conversations).where(eq(conversations.id, call.conversationId));
  const toVisitor = party.kind === "agent";
  const event: DomainEvent = {
    workspaceId: call.workspaceId,
    seq: 0,
    type: "call.signal",
    conversationId: call.conversationId,
    public: toVisitor,
    ephemeral: true,
    payload: {
      callId: call.id,
      signal,
      onlyFor: toVisitor ? { contactId: c!.contactId } : { userId: call.agentId },
      scope: scopeOf(c!),
    },
  };
  core.bus.publish([event]);
}

/** How a call ends when `by` hangs up, from where it stood. */
export function endStatus(
  call: Pick<Call, "status" | "direction">,
  by: "visitor" | "agent",
  reason: HangUpReason,
): CallStatus {
  if (reason === "failed") return "failed";
  if (call.status === "ringing") {
    const caller = call.direction === "in" ? "visitor" : "agent";
    // The caller giving up on an inbound call is an abandoned call; anything else unanswered is no answer.
    return by === caller && call.direction === "in" ? "abandoned" : "no_answer";
  }
  return "completed";
}

/** Either side hangs up (or declines while it rings): the call ends for both. */
export async function hangUp(
  core: Core,
  party: CallParty,
  callId: string,
  reason: HangUpReason = "hangup",
  conversationId?: string,
) {
  const found = await callOfParty(core.db, party, callId, conversationId);
  requireOnCall(party, found);
  const { before, after } = await withEvents(core, (tx, events) =>
    changeCallWithin(tx, events, found.id, (call) =>
      isFinal(call.status) ? null : { status: endStatus(call, party.kind, reason) },
    ),
  );
  if (after.status !== before.status) await tellVisitor(core, after);
  return browserCallView(after, await agentName(core.db, after.agentId));
}

/**
 * Housekeeping, on every node (row locks and sticky final statuses make that safe): calls that rang
 * unanswered for RING_TIMEOUT_MS become no_answer; answered calls whose media never came up within
 * CONNECT_TIMEOUT_MS become failed.
 */
export async function expireCalls(core: Core, now = new Date()) {
  const stale = await core.db
    .select({ id: calls.id })
    .from(calls)
    .where(
      and(
        // Per workspace, so the (workspace_id, status) index finds the few live calls among all calls ever made.
        inArray(calls.workspaceId, core.db.select({ id: workspaces.id }).from(workspaces)),
        inArray(calls.status, ["ringing", "connecting"]),
        eq(calls.provider, "webrtc"),
        or(
          and(eq(calls.status, "ringing"), lt(calls.startedAt, new Date(now.getTime() - RING_TIMEOUT_MS))),
          and(eq(calls.status, "connecting"), lt(calls.updatedAt, new Date(now.getTime() - CONNECT_TIMEOUT_MS))),
        ),
      ),
    );
  const ended: Call[] = [];
  for (const { id } of stale) {
    const { before, after } = await withEvents(core, (tx, events) =>
      changeCallWithin(
        tx,
        events,
        id,
        (call) =>
          call.status === "ringing"
            ? { status: "no_answer" }
            : call.status === "connecting"
              ? { status: "failed" }
              : null,
        now,
      ),
    );
    if (after.status !== before.status) {
      ended.push(after);
      await tellVisitor(core, after);
    }
  }
  return ended;
}

/**
 * A side's browser went away (its socket closed and did not come back): its live calls end — talk
 * that had started completes, anything before that fails or goes unanswered.
 */
export async function endCallsOf(core: Core, party: CallParty) {
  const live = await liveCallsOf(core.db, party);
  const ended: Call[] = [];
  for (const call of live) {
    // A ringing inbound call waits for any agent; one agent closing a tab does not end it.
    if (party.kind === "agent" && call.status === "ringing" && call.direction === "in") continue;
    const { before, after } = await withEvents(core, (tx, events) =>
      changeCallWithin(tx, events, call.id, (c) => {
        if (isFinal(c.status)) return null;
        if (c.status === "connected" || c.status === "on_hold") return { status: "completed" };
        return { status: c.status === "ringing" ? endStatus(c, party.kind, "hangup") : "failed" };
      }),
    );
    if (after.status !== before.status) {
      ended.push(after);
      await tellVisitor(core, after);
    }
  }
  return ended;
}

/**
 * Live browser calls a party is in, or (agents) may answer: a visitor's calls in their
 * conversations; an agent's own calls plus unclaimed ringing ones in conversations they can see.
 */
export async function liveCallsOf(db: Executor, party: CallParty) {
  if (party.kind === "visitor") {
    const rows = await db
      .select({ call: calls })
      .from(calls)
      .innerJoin(conversations, eq(conversations.id, calls.conversationId))
      .where(
        and(
          eq(calls.workspaceId, party.workspaceId),
          eq(conversations.contactId, party.contactId),
          eq(calls.provider, "webrtc"),
          inArray(calls.status, LIVE),
        ),
      );
    return rows.map((r) => r.call);
  }
  const { actor } = party;
  const rows = await db
    .select({ call: calls, assigneeId: conversations.assigneeId, teamId: conversations.teamId })
    .from(calls)
    .innerJoin(conversations, eq(conversations.id, calls.conversationId))
    .where(
      and(
        eq(calls.workspaceId, actor.workspaceId),
        eq(calls.provider, "webrtc"),
        inArray(calls.status, LIVE),
        or(eq(calls.agentId, actor.userId), and(isNull(calls.agentId), eq(calls.status, "ringing"))),
      ),
    );
  return rows.filter((r) => r.call.agentId === actor.userId || canSeeConversation(actor, r)).map((r) => r.call);
}

/** Live calls as views, for a browser that (re)connects and must know what rings or runs. */
export async function liveCallViews(db: Executor, party: CallParty) {
  const live = await liveCallsOf(db, party);
  return Promise.all(live.map(async (c) => browserCallView(c, await agentName(db, c.agentId))));
}

// ── Supervisors on browser calls ──────────────────────────────────────────────────────────────
//
// A supervisor listens, whispers or barges from the wallboard over a second peer connection, with
// the agent's browser: the agent's tab sends the supervisor what it hears and says (the visitor's
// audio mixed with its microphone), plays what the supervisor says (whisper), and for a barge also
// mixes the supervisor into what it sends the visitor. The visitor's browser is never involved, so
// a whisper cannot reach them. The supervisor's browser makes that connection's offer.

/** Where the monitors of a call are kept (`calls.monitors`): a browser link has no Twilio leg. */
const BROWSER_LEG = "webrtc";

/** Tells the agent on the call about a supervisor joining, changing mode, or leaving (`mode: null`). */
function tellAgent(core: Core, call: Call, supervisor: { userId: string; name: string }, mode: MonitorMode | null) {
  if (!call.agentId) return;
  core.bus.publish([
    {
      workspaceId: call.workspaceId,
      seq: 0,
      type: "call.monitor",
      conversationId: call.conversationId,
      public: false,
      ephemeral: true,
      payload: {
        callId: call.id,
        supervisorId: supervisor.userId,
        supervisorName: supervisor.name,
        mode,
        onlyFor: { userId: call.agentId },
      },
    },
  ]);
}

async function monitoredCall(db: Executor, workspaceId: string, callId: string) {
  const [call] = await db
    .select()
    .from(calls)
    .where(and(eq(calls.workspaceId, workspaceId), eq(calls.id, callId), eq(calls.provider, "webrtc")));
  if (!call) throw new NotFound("Call", "callId");
  return call;
}

/** A supervisor starts listening, whispering or barging on a talking browser call, or changes mode. */
export async function monitorBrowserCall(core: Core, supervisor: Actor, callId: string, mode: MonitorMode) {
  const found = await monitoredCall(core.db, supervisor.workspaceId, callId);
  const { after, joined } = await withEvents(core, async (tx, events) => {
    let joined = false;
    const { after } = await changeCallWithin(tx, events, found.id, (c) => {
      if (c.status !== "connected" && c.status !== "on_hold") throw new Conflict("The call is not connected", "callId");
      if (c.agentId === supervisor.userId) throw new Conflict("This is your own call", "callId");
      joined = !c.monitors.some((m) => m.userId === supervisor.userId);
      const others = c.monitors.filter((m) => m.userId !== supervisor.userId);
      return { monitors: [...others, { userId: supervisor.userId, legId: BROWSER_LEG, mode }] };
    });
    if (joined)
      await appendSystemEvent(tx, events, after.conversationId, "call_monitored", {
        callId: after.id,
        supervisorId: supervisor.userId,
        mode,
      });
    return { after, joined };
  });
  tellAgent(core, after, { userId: supervisor.userId, name: supervisor.name }, mode);
  return { call: after, joined };
}

/** The supervisor leaves a browser call they were monitoring. */
export async function stopMonitoringBrowserCall(core: Core, supervisor: Actor, callId: string) {
  const found = await monitoredCall(core.db, supervisor.workspaceId, callId);
  const { before, after } = await withEvents(core, (tx, events) =>
    changeCallWithin(tx, events, found.id, (c) =>
      c.monitors.some((m) => m.userId === supervisor.userId)
        ? { monitors: c.monitors.filter((m) => m.userId !== supervisor.userId) }
        : null,
    ),
  );
  if (after !== before) tellAgent(core, after, { userId: supervisor.userId, name: supervisor.name }, null);
  return after;
}

/**
 * Relays the monitoring connection's signalling: a supervisor monitoring the call to its agent, and
 * the agent on the call to a supervisor who monitors it (`supervisorId`). Nobody else has a part.
 */
export async function relayMonitorSignal(
  core: Core,
  actor: Actor,
  callId: string,
  signal: CallSignal,
  supervisorId?: string,
) {
  const call = await monitoredCall(core.db, actor.workspaceId, callId);
  if (isFinal(call.status) || !call.agentId) throw new Conflict("The call is not in progress", "callId");
  const isAgent = call.agentId === actor.userId;
  const supervisor = isAgent ? supervisorId : actor.userId;
  if (!supervisor || !call.monitors.some((m) => m.userId === supervisor))
    throw new Forbidden("Only the agent on the call and a supervisor monitoring it take part");
  if (signal.kind === "offer" && isAgent) throw new Invalid("The supervisor's browser makes the offer", "kind");
  if (signal.kind === "answer" && !isAgent) throw new Invalid("The agent's browser answers", "kind");
  core.bus.publish([
    {
      workspaceId: call.workspaceId,
      seq: 0,
      type: "call.monitor.signal",
      conversationId: call.conversationId,
      public: false,
      ephemeral: true,
      payload: {
        callId: call.id,
        supervisorId: supervisor,
        signal,
        onlyFor: { userId: isAgent ? supervisor : call.agentId },
      },
    },
  ]);
}
