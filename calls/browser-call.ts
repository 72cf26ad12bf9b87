import { and, desc, eq, inArray, isNull, or } from "drizzle-orm";
import { z } from "zod";
import type { Executor } from "../db/connect.ts";
import { calls, contacts, conversations, inboxes, users, type Call, type CallStatus } from "../db/schema/index.ts";
import { Conflict, Forbidden, NotFound } from "../platform/errors.ts";
import { canSeeConversation, type Actor } from "../conversations/actor.ts";
import { changeCallWithin, isFinal } from "./call.ts";
import { startCall } from "./call-start.ts";
import { assignWithin } from "../conversations/assignment.ts";
import { scopeOf } from "../conversations/conversation.ts";
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
 * abandoned / failed. Signalling is relayed by browser-call-signal.ts, supervisors join through
 * browser-call-monitor.ts, and timeouts and departed browsers are browser-call-watch.ts's.
 */

/** The external id of a browser call: the id the calling browser chose, so a retried request starts one call. */
export const browserCallExternalId = (callId: string) => `webrtc:${callId}`;

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
export async function tellVisitor(core: Core, call: Call) {
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
export function requireOnCall(party: CallParty, call: Call) {
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
