/**
 * Which (reader, article) pairs were counted as a view within the window, so reloading a page, or a
 * script requesting it in a loop, counts once per window. Per node and in memory: a reader spread
 * over N nodes counts at most N times per window, which still bounds a flood.
 */
export class RecentViews {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries = 100_000,
  ) {}

  /** True when this reader's view of this article counts (the first in the window), and remembers it. */
  first(reader: string, articleId: string, now = Date.now()): boolean {
    const key = `${reader}\n${articleId}`;
    const until = this.until.get(key);
    if (until !== undefined && until > now) return false;
    if (this.until.size >= this.maxEntries) this.sweep(now);
    this.until.set(key, now + this.windowMs);
    return true;
  }

  private sweep(now: number) {
    for (const [k, until] of this.until) if (until <= now) this.until.delete(k);
    // Still full of live entries (a flood of distinct readers): forgetting them counts a few views twice.
    if (this.until.size >= this.maxEntries) this.until.clear();
  }
}
