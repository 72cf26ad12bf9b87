import { eq } from "drizzle-orm";
import { z } from "zod";
import { conversations } from "../db/schema/index.ts";
import { Conflict, Invalid } from "../platform/errors.ts";
import { scopeOf } from "../conversations/conversation.ts";
import type { DomainEvent } from "../conversations/event.ts";
import type { Core } from "../conversations/transaction.ts";
import { callOfParty, requireOnCall, type CallParty } from "./browser-call.ts";

/**
 * Chromium's SDP for one audio stream is about 1.3 KB (ICE candidates trickle separately). The bound
 * keeps a relayed signal inside one Postgres NOTIFY (conversations/bus.ts, ~7 KB), since ephemeral
 * events are not stored and could not travel to another node as a reference.
 */
const MAX_SDP = 6000;

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
