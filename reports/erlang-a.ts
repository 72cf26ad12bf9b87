/**
 * Erlang A (M/M/N+M): Erlang C's queue where each waiting customer also hangs up after an exponential
 * patience. Used for staffing where the history shows how long customers wait before leaving; without
 * patience it tends to Erlang C. Pure arithmetic (docs/forecast.md).
 */

export type ErlangAInput = {
  arrivalsPerHour: number;
  ahtSeconds: number;
  /** Mean patience in seconds (finite, > 0). */
  patienceSeconds: number;
  agents: number;
  targetSeconds: number;
};

export type ErlangAResult = {
  /** Fraction of all arrivals answered within targetSeconds (an abandoned one is a miss). */
  serviceLevel: number;
  /** Fraction of arrivals who hang up before being answered. */
  abandonment: number;
};

/** Stationary probabilities of the number in the system, truncated where the tail is negligible. */
function stationary(lambda: number, mu: number, theta: number, agents: number): number[] {
  const a = lambda / mu;
  // Built relative to π_N = 1 so nothing overflows: downward by n/A, upward by λ/(Nμ + jθ).
  const below: number[] = [1];
  for (let n = agents; n > 0; n--) below.push((below.at(-1)! * n) / a);
  const p = below.reverse();
  for (let j = 1; j < 100_000; j++) {
    const next = (p.at(-1)! * lambda) / (agents * mu + j * theta);
    p.push(next);
    if (next < 1e-14 && j > 2) break;
  }
  const total = p.reduce((x, y) => x + y, 0);
  return p.map((x) => x / total);
}

export function erlangA(input: ErlangAInput): ErlangAResult {
  const { arrivalsPerHour, ahtSeconds, patienceSeconds, agents, targetSeconds } = input;
  const lambda = arrivalsPerHour / 3600;
  if (lambda === 0 || ahtSeconds === 0) return { serviceLevel: 1, abandonment: 0 };
  if (agents === 0) return { serviceLevel: 0, abandonment: 1 };
  const mu = 1 / ahtSeconds;
  const theta = 1 / patienceSeconds;
  const pi = stationary(lambda, mu, theta, agents);
  let waiting = 0;
  for (let n = agents; n < pi.length; n++) waiting += (n - agents) * pi[n]!;
  const abandonment = Math.min(1, (theta * waiting) / lambda);

  // An arrival finding j waiting ahead (state N + j) moves forward at Nμ + kθ with k ahead, is
  // answered at Nμ with none ahead, and leaves at θ meanwhile: integrate P(answered by t) over all j.
  let served = 0;
  for (let n = 0; n < Math.min(agents, pi.length); n++) served += pi[n]!;
  const ahead = pi.slice(agents);
  if (ahead.length && targetSeconds > 0) {
    const K = ahead.length;
    const maxRate = agents * mu + K * theta + theta;
    const steps = Math.max(20, Math.ceil((targetSeconds * maxRate) / 0.5));
    const h = targetSeconds / steps;
    const derivative = (p: Float64Array, out: Float64Array) => {
      for (let k = 0; k < K; k++) {
        const inflow = k + 1 < K ? (agents * mu + (k + 1) * theta) * p[k + 1]! : 0;
        out[k] = -(agents * mu + k * theta + theta) * p[k]! + inflow;
      }
    };
    let p = Float64Array.from(ahead);
    const k1 = new Float64Array(K);
    const k2 = new Float64Array(K);
    const k3 = new Float64Array(K);
    const k4 = new Float64Array(K);
    const tmp = new Float64Array(K);
    let answered = 0;
    for (let s = 0; s < steps; s++) {
      derivative(p, k1);
      for (let k = 0; k < K; k++) tmp[k] = p[k]! + (h / 2) * k1[k]!;
      derivative(tmp, k2);
      for (let k = 0; k < K; k++) tmp[k] = p[k]! + (h / 2) * k2[k]!;
      derivative(tmp, k3);
      for (let k = 0; k < K; k++) tmp[k] = p[k]! + h * k3[k]!;
      derivative(tmp, k4);
      const next = new Float64Array(K);
      for (let k = 0; k < K; k++) next[k] = p[k]! + (h / 6) * (k1[k]! + 2 * k2[k]! + 2 * k3[k]! + k4[k]!);
      // The answered flux Nμ·p0, integrated by the trapezoid rule over the step.
      answered += ((agents * mu * (p[0]! + next[0]!)) / 2) * h;
      p = next;
    }
    served += answered;
  }
  return { serviceLevel: Math.min(1, Math.max(0, served)), abandonment };
}

/** The fewest agents whose Erlang A service level meets the target; searched by bisection (it grows with N). */
export function agentsForErlangA(input: Omit<ErlangAInput, "agents"> & { targetServiceLevel: number }): number {
  if (input.arrivalsPerHour === 0 || input.ahtSeconds === 0) return 0;
  const meets = (n: number) => erlangA({ ...input, agents: n }).serviceLevel >= input.targetServiceLevel;
  let hi = Math.max(1, Math.ceil((input.arrivalsPerHour * input.ahtSeconds) / 3600));
  while (!meets(hi)) hi *= 2;
  let lo = 0;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (meets(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
