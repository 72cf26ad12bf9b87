/** The server's Prometheus metrics, read once: counters by name, and sums over matching series. */
export async function scrapeMetrics(url: string) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return {
    /** The unlabelled series `name` (an integer count); 0 when absent. */
    counter: (name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? 0),
    /** The sum of every line's first capture group, for a global (`g`) pattern. */
    sum: (pattern: RegExp) => [...text.matchAll(pattern)].reduce((n, m) => n + Number(m[1]), 0),
  };
}
