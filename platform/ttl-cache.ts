/**
 * What a node keeps for a few seconds instead of reading it on every request: an inbox a webhook needs,
 * a call flow. Short-lived on purpose, so any node can answer any request and a change made through
 * another node shows within `ttlMs`. Bounded: past `maxEntries` it starts again empty (a flood of
 * distinct keys costs a re-read, never memory). `undefined` (nothing found) is never remembered, so
 * something created a moment ago answers at once.
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { at: number; value: V }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.now() - entry.at < this.ttlMs) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: K, value: V) {
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, { at: this.now(), value });
  }

  delete(key: K) {
    this.entries.delete(key);
  }

  /** The value kept for `key`, else `load()`'s (kept unless undefined; a throw is not kept either). */
  async getOr(key: K, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const kept = this.get(key);
    if (kept !== undefined) return kept;
    const value = await load();
    if (value !== undefined) this.set(key, value);
    return value;
  }
}
