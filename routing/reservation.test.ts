import { describe, expect, it } from "bun:test";
import { DEFAULT_CAPACITY, type Agent } from "./acd.ts";
import {
  accept,
  afterMissedOffer,
  expire,
  OFFER_TIMEOUT_MS,
  reject,
  ReservationError,
  reserve,
} from "./reservation.ts";

const NOW = 1_700_000_000_000;
const offer = () => reserve("item-1", "alice", NOW, OFFER_TIMEOUT_MS.voice, "res-1");

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ReservationError) return err.code;
    throw err;
  }
  return undefined;
}

describe("reservations", () => {
  it("starts pending and gives a caller or chat visitor's agent 20 seconds", () => {
    expect(OFFER_TIMEOUT_MS.voice).toBe(20_000);
    expect(OFFER_TIMEOUT_MS.chat).toBe(20_000);
    expect(offer()).toEqual({
      id: "res-1",
      itemId: "item-1",
      agentId: "alice",
      createdAt: NOW,
      expiresAt: NOW + 20_000,
      state: "pending",
    });
  });

  it("is accepted by its agent before the deadline, without changing the original", () => {
    const r = offer();
    expect(accept(r, "alice", NOW + 19_999).state).toBe("accepted");
    expect(r.state).toBe("pending");
  });

  it("cannot be accepted at or after the deadline, even before the sweep marks it", () => {
    expect(codeOf(() => accept(offer(), "alice", NOW + 20_000))).toBe("expired");
    expect(codeOf(() => accept(expire(offer(), NOW + 20_000), "alice", NOW + 20_000))).toBe("expired");
  });

  it("cannot be accepted or rejected by another agent", () => {
    expect(codeOf(() => accept(offer(), "bob", NOW))).toBe("not_yours");
    expect(codeOf(() => reject(offer(), "bob", NOW))).toBe("not_yours");
  });

  it("cannot be answered twice", () => {
    const accepted = accept(offer(), "alice", NOW);
    expect(codeOf(() => accept(accepted, "alice", NOW))).toBe("not_pending");
    expect(codeOf(() => reject(accepted, "alice", NOW))).toBe("not_pending");
    const rejected = reject(offer(), "alice", NOW);
    expect(rejected.state).toBe("rejected");
    expect(codeOf(() => accept(rejected, "alice", NOW))).toBe("not_pending");
  });

  it("cannot be rejected once expired", () => {
    expect(codeOf(() => reject(offer(), "alice", NOW + 20_000))).toBe("expired");
  });

  it("expires when due and is left alone before then or once answered", () => {
    const r = offer();
    expect(expire(r, NOW + 19_999)).toBe(r);
    expect(expire(r, NOW + 20_000).state).toBe("expired");
    const accepted = accept(r, "alice", NOW);
    expect(expire(accepted, NOW + 60_000)).toBe(accepted);
  });

  it("maps to HTTP 409 with its code", () => {
    try {
      accept(offer(), "bob", NOW);
      throw new Error("accepted someone else's offer");
    } catch (err) {
      expect(err).toBeInstanceOf(ReservationError);
      expect((err as ReservationError).status).toBe(409);
    }
  });

  it("sets an agent who missed an offer away, changing nothing else", () => {
    const agent: Agent = {
      id: "alice",
      presence: "available",
      skills: { billing: 3 },
      capacity: { ...DEFAULT_CAPACITY },
      load: { voice: 0, chat: 1, email: 0, messaging: 0 },
      idleSince: NOW,
    };
    expect(afterMissedOffer(agent)).toEqual({ ...agent, presence: "away" });
    expect(agent.presence).toBe("available");
  });
});
