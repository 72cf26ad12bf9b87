import { Invalid } from "../platform/errors.ts";

/**
 * Erlang C: the steady state of one queue with Poisson arrivals, exponential handle times, N agents
 * and callers who never hang up (M/M/N). The staffing planner's standard model, and the simulator's
 * yardstick.
 */

/** The waits a service level is quoted at: "80% answered within 20 s". */
export const SERVICE_LEVEL_SECONDS = [10, 15, 20, 30, 60] as const;
export type ServiceLevelKey = `${(typeof SERVICE_LEVEL_SECONDS)[number]}`;
/** Fraction answered within each of the standard waits (seconds as keys, as JSON carries them). */
export type ServiceLevels = Record<ServiceLevelKey, number>;

export type ErlangCInput = {
  arrivalsPerHour: number;
  ahtSeconds: number;
  agents: number;
  /** Also report the service level at this wait (another key in `service_level`). */
  targetSeconds?: number;
};

export type ErlangCResult = {
  trafficErlangs: number;
  /** Probability that an arrival finds every agent busy and waits. */
  pw: number;
  /**
   * Mean wait over all arrivals (those answered at once count as 0). `null` when agents ≤ traffic:
   * the queue then grows without bound and there is no finite average (null, not Infinity, so it
   * survives JSON).
   */
  asa_s: number | null;
  service_level: ServiceLevels & Record<string, number>;
  /** Busy time per agent: traffic / agents, capped at 1 when the queue is unstable. */
  occupancy: number;
};

function assertNonNegative(value: number, field: string) {
  if (!Number.isFinite(value) || value < 0) throw new Invalid(`${field} must be a finite number ≥ 0`, field);
}

function assertAgents(agents: number) {
  if (!Number.isInteger(agents) || agents < 0) throw new Invalid("agents must be a whole number ≥ 0", "agents");
}

/**
 * Erlang B by the recursion B(n) = A·B(n−1) / (n + A·B(n−1)), B(0) = 1: every step stays in [0, 1],
 * where A^N / N! would overflow a double past N ≈ 170.
 */
export function erlangB(trafficErlangs: number, agents: number): number {
  let b = 1;
  for (let n = 1; n <= agents; n++) b = (trafficErlangs * b) / (n + trafficErlangs * b);
  return b;
}

/** C from B for the same A and N > A: C = N·B / (N − A·(1 − B)). */
function erlangCFromB(a: number, n: number, b: number): number {
  return (n * b) / (n - a * (1 - b));
}

/** P(wait ≤ t) = 1 − C·e^(−(N−A)·t/AHT) for N > A. */
function serviceLevelAt(pw: number, a: number, n: number, ahtSeconds: number, t: number): number {
  return 1 - pw * Math.exp((-(n - a) * t) / ahtSeconds);
}

export function erlangC(input: ErlangCInput): ErlangCResult {
  const { arrivalsPerHour, ahtSeconds, agents, targetSeconds } = input;
  assertNonNegative(arrivalsPerHour, "arrivalsPerHour");
  assertNonNegative(ahtSeconds, "ahtSeconds");
  assertAgents(agents);
  if (targetSeconds !== undefined) assertNonNegative(targetSeconds, "targetSeconds");
  const a = (arrivalsPerHour * ahtSeconds) / 3600;
  const waits = targetSeconds === undefined ? SERVICE_LEVEL_SECONDS : [...SERVICE_LEVEL_SECONDS, targetSeconds];

  // Nothing arrives (or nothing takes any time): nobody waits.
  if (a === 0) {
    return { trafficErlangs: 0, pw: 0, asa_s: 0, service_level: levels(waits, () => 1), occupancy: 0 };
  }
  if (agents <= a) {
    return { trafficErlangs: a, pw: 1, asa_s: null, service_level: levels(waits, () => 0), occupancy: 1 };
  }
  const pw = erlangCFromB(a, agents, erlangB(a, agents));
  return {
    trafficErlangs: a,
    pw,
    asa_s: (pw * ahtSeconds) / (agents - a),
    service_level: levels(waits, (t) => serviceLevelAt(pw, a, agents, ahtSeconds, t)),
    occupancy: a / agents,
  };
}

function levels(waits: readonly number[], at: (seconds: number) => number): ServiceLevels & Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of waits) out[String(t)] = at(t);
  return out as ServiceLevels & Record<string, number>;
}

export type StaffingInput = {
  arrivalsPerHour: number;
  ahtSeconds: number;
  /** Fraction to answer within `targetSeconds`, e.g. 0.8; below 1, which no finite staff reaches. */
  targetServiceLevel: number;
  targetSeconds: number;
};

/** The fewest agents whose Erlang C service level meets the target (0 when no traffic arrives). */
export function agentsFor(input: StaffingInput): number {
  const { arrivalsPerHour, ahtSeconds, targetServiceLevel, targetSeconds } = input;
  assertNonNegative(arrivalsPerHour, "arrivalsPerHour");
  assertNonNegative(ahtSeconds, "ahtSeconds");
  assertNonNegative(targetSeconds, "targetSeconds");
  if (!(targetServiceLevel >= 0 && targetServiceLevel < 1)) {
    throw new Invalid("targetServiceLevel must be a fraction from 0 up to (not including) 1", "targetServiceLevel");
  }
  const a = (arrivalsPerHour * ahtSeconds) / 3600;
  if (a === 0) return 0;
  // Walk N upwards carrying Erlang B along, instead of recomputing it from 1 for each N.
  let b = 1;
  for (let n = 1; ; n++) {
    b = (a * b) / (n + a * b);
    if (n <= a) continue;
    if (serviceLevelAt(erlangCFromB(a, n, b), a, n, ahtSeconds, targetSeconds) >= targetServiceLevel) return n;
  }
}
