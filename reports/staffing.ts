import { agentsFor } from "../routing/erlang.ts";
import { agentsForErlangA } from "./erlang-a.ts";

/**
 * Agents needed per interval from a forecast (docs/forecast.md): Erlang C for the queue's service
 * level, or Erlang A where the queue's history shows how patient its customers are, then grossed up
 * for shrinkage (breaks, meetings, training: the share of paid time nobody answers).
 */

export type StaffingTarget = {
  /** Fraction to answer within `targetSeconds`, below 1. */
  serviceLevel: number;
  targetSeconds: number;
  /** Mean seconds a waiting customer stays before hanging up; null: unknown, Erlang C is used. */
  patienceSeconds: number | null;
  /** 0 ≤ shrinkage < 1: agents needed / (1 − shrinkage) are scheduled. */
  shrinkage: number;
};

/** Agents to schedule for `arrivals` expected in `intervalSeconds` with this mean handle time. */
export function agentsNeeded(arrivals: number, ahtSeconds: number | null, intervalSeconds: number, t: StaffingTarget) {
  if (!(arrivals > 0) || !ahtSeconds) return 0;
  const arrivalsPerHour = (arrivals * 3600) / intervalSeconds;
  const common = { arrivalsPerHour, ahtSeconds, targetSeconds: t.targetSeconds, targetServiceLevel: t.serviceLevel };
  const agents =
    t.patienceSeconds && t.patienceSeconds > 0
      ? agentsForErlangA({ ...common, patienceSeconds: t.patienceSeconds })
      : agentsFor(common);
  return Math.ceil(agents / (1 - t.shrinkage) - 1e-9);
}

/**
 * Mean patience from waits that ended either way: customers who hung up show their patience, those
 * answered only that it was longer than their wait. For exponential patience the estimate is total
 * time waited (both kinds) / number who hung up. Null below `minAbandoned` hang-ups: too few to tell.
 */
export function meanPatience(totalWaitS: number, abandoned: number, minAbandoned = 10): number | null {
  if (abandoned < minAbandoned || !(totalWaitS > 0)) return null;
  return totalWaitS / abandoned;
}
