/**
 * The replay's pending events, earliest first; at one instant completions go before shift changes,
 * shift changes before overflow steps and arrivals (an agent freed at 10:00 is there for the 10:00
 * caller), then the order they were pushed in, so a replay is deterministic.
 */

export const COMPLETION = 0;
export const SHIFT = 1;
export const OVERFLOW = 2;
export const ARRIVAL = 3;

export type ReplayEvent = { at: number; kind: number; seq: number; ref: number; extra: number };

export class EventQueue {
  private readonly heap: ReplayEvent[] = [];
  private seq = 0;

  get size() {
    return this.heap.length;
  }

  private before(a: ReplayEvent, b: ReplayEvent) {
    return a.at < b.at || (a.at === b.at && (a.kind < b.kind || (a.kind === b.kind && a.seq < b.seq)));
  }

  push(at: number, kind: number, ref: number, extra = 0) {
    const h = this.heap;
    h.push({ at, kind, seq: this.seq++, ref, extra });
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): ReplayEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && this.before(h[r]!, h[l]!) ? r : l;
        if (!this.before(h[c]!, h[i]!)) break;
        [h[c], h[i]] = [h[i]!, h[c]!];
        i = c;
      }
    }
    return top;
  }
}
