/** Nearest-rank percentile (p in 0–100) of ascending samples; NaN when there are none. */
function ranked(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function percentile(samples: readonly number[], p: number): number {
  return ranked(
    [...samples].sort((a, b) => a - b),
    p,
  );
}

/** The latency summary the benchmarks report, in the samples' unit (sorted once). */
export function summarize(samples: readonly number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { count: sorted.length, p50: ranked(sorted, 50), p99: ranked(sorted, 99), max: ranked(sorted, 100) };
}
