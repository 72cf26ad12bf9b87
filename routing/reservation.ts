import { DomainError } from "../platform/errors.ts";
import type { Agent, ChannelClass } from "./acd.ts";

/**
 * An offer of one work item to one agent, who must accept it before `expiresAt`; otherwise the item
 * is routed again and the agent set away. Pure transitions: each returns a new reservation.
 */
export type Reservation = {
  id: string;
  itemId: string;
  agentId: string;
  createdAt: number;
  expiresAt: number;
  state: "pending" | "accepted" | "rejected" | "expired";
};

/**
 * How long an offer waits for the agent. A caller or chat visitor is waiting live; for email and
 * messaging nobody is on the line, so a missed offer costs less and agents get longer.
 */
export const OFFER_TIMEOUT_MS: Readonly<Record<ChannelClass, number>> = {
  voice: 20_000,
  chat: 20_000,
  email: 60_000,
  messaging: 60_000,
};

export type ReservationErrorCode = "expired" | "not_yours" | "not_pending";

/** 409 when it reaches HTTP: the offer changed under the agent (timed out, went elsewhere, answered). */
export class ReservationError extends DomainError {
  declare readonly code: ReservationErrorCode;

  constructor(code: ReservationErrorCode, message: string) {
    super(409, code, message);
  }
}

export function reserve(itemId: string, agentId: string, now: number, timeoutMs: number, id: string): Reservation {
  return { id, itemId, agentId, createdAt: now, expiresAt: now + timeoutMs, state: "pending" };
}

/**
 * Checked in this order: someone else's offer says nothing about its state to them; an offer past
 * its deadline is expired even if no sweep has marked it yet.
 */
function assertAnswerable(r: Reservation, agentId: string, now: number) {
  if (r.agentId !== agentId)
    throw new ReservationError("not_yours", `Reservation ${r.id} was offered to another agent`);
  if (r.state === "expired" || (r.state === "pending" && now >= r.expiresAt)) {
    throw new ReservationError("expired", `Reservation ${r.id} expired`);
  }
  if (r.state !== "pending") throw new ReservationError("not_pending", `Reservation ${r.id} is already ${r.state}`);
}

export function accept(r: Reservation, agentId: string, now: number): Reservation {
  assertAnswerable(r, agentId, now);
  return { ...r, state: "accepted" };
}

export function reject(r: Reservation, agentId: string, now: number): Reservation {
  assertAnswerable(r, agentId, now);
  return { ...r, state: "rejected" };
}

/** The sweep: a pending offer past its deadline becomes expired; anything else comes back unchanged. */
export function expire(r: Reservation, now: number): Reservation {
  return r.state === "pending" && now >= r.expiresAt ? { ...r, state: "expired" } : r;
}

/** An agent who let an offer lapse or turned it down is probably not at the desk: stop offering. */
export function afterMissedOffer<A extends Pick<Agent, "presence">>(agent: A): A {
  return { ...agent, presence: "away" };
}
