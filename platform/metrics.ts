import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Prometheus metrics in the text exposition format, kept by hand: a few counters, gauges and one
 * histogram are all `GET /metrics` needs, and no client library is required for that.
 */
type Labels = Record<string, string>;

function key(labels: Labels) {
  return Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
    .join(",");
}

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly kind: "counter" | "gauge" | "histogram",
  ) {}
  abstract lines(): string[] | Promise<string[]>;
  header() {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.kind}`];
  }
}

export class Counter extends Metric {
  private values = new Map<string, number>();
  constructor(name: string, help: string) {
    super(name, help, "counter");
  }
  inc(labels: Labels = {}, by = 1) {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  lines() {
    return [...this.values].map(([k, v]) => `${this.name}${k ? `{${k}}` : ""} ${v}`);
  }
}

/** A value read when scraped: a gauge (connections open, outbox backlog) or a counter kept elsewhere. */
export class Gauge extends Metric {
  constructor(
    name: string,
    help: string,
    private readonly read: () => number | Promise<number>,
    kind: "gauge" | "counter" = "gauge",
  ) {
    super(name, help, kind);
  }
  async lines() {
    return [`${this.name} ${await this.read()}`];
  }
}

export class Histogram extends Metric {
  private series = new Map<string, { buckets: number[]; sum: number; count: number }>();
  constructor(
    name: string,
    help: string,
    private readonly bounds: number[],
  ) {
    super(name, help, "histogram");
  }
  observe(labels: Labels, value: number) {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { buckets: this.bounds.map(() => 0), sum: 0, count: 0 }));
    this.bounds.forEach((b, i) => {
      if (value <= b) s!.buckets[i]!++;
    });
    s.sum += value;
    s.count++;
  }
  lines() {
    const out: string[] = [];
    for (const [k, s] of this.series) {
      const sep = k ? `${k},` : "";
      this.bounds.forEach((b, i) => out.push(`${this.name}_bucket{${sep}le="${b}"} ${s.buckets[i]}`));
      out.push(`${this.name}_bucket{${sep}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${k ? `{${k}}` : ""} ${s.sum}`);
      out.push(`${this.name}_count${k ? `{${k}}` : ""} ${s.count}`);
    }
    return out;
  }
}

export class Registry {
  private metrics: Metric[] = [];
  register<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }
  async render() {
    const parts: string[] = [];
    for (const m of this.metrics) parts.push(...m.header(), ...(await m.lines()));
    return parts.join("\n") + "\n";
  }
}

const LAG_SAMPLE_MS = 100;

/**
 * How late the event loop runs a timer due every 100 ms: the time a request arriving then would
 * wait before its handler starts. Long synchronous work (a large PGlite statement, a garbage
 * collection) shows here and in no request's own duration.
 */
export function watchEventLoopLag(histogram: Histogram) {
  let due = performance.now() + LAG_SAMPLE_MS;
  const timer = setInterval(() => {
    const now = performance.now();
    histogram.observe({}, Math.max(0, now - due) / 1000);
    due = now + LAG_SAMPLE_MS;
  }, LAG_SAMPLE_MS);
  timer.unref?.();
  return () => clearInterval(timer);
}

/**
 * Who may read `GET /metrics` (it names routes, queue sizes and traffic): with METRICS_TOKEN set only
 * `Authorization: Bearer <METRICS_TOKEN>`, from anywhere; without one only a client on this machine.
 */
export function mayReadMetrics(
  metricsToken: string | undefined,
  authorization: string | undefined,
  fromLoopback: boolean,
) {
  if (!metricsToken) return fromLoopback;
  const given = authorization?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim() ?? "";
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(metricsToken).digest();
  return timingSafeEqual(a, b);
}
