import { TooManyRequests } from "./errors.ts";

/**
 * Token buckets keyed by visitor or IP, for the public widget API. Per node: a flood spread over N
 * nodes gets N times the rate, which is still bounded; shared state is not worth a round trip here.
 */
export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly capacity: number,
    private readonly refillPerSecond: number,
  ) {}

  /** Takes one token; returns 0 when allowed, else the seconds until one is available. */
  take(key: string, now = Date.now()): number {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size > 50_000) this.sweep(now);
      this.buckets.set(key, (b = { tokens: this.capacity, at: now }));
    }
    b.tokens = Math.min(this.capacity, b.tokens + ((now - b.at) / 1000) * this.refillPerSecond);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.refillPerSecond));
  }

  /** Like `take`, without taking: 0 when a token is there, else the seconds until one is. */
  wait(key: string, now = Date.now()): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    const tokens = Math.min(this.capacity, b.tokens + ((now - b.at) / 1000) * this.refillPerSecond);
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.refillPerSecond));
  }

  /** Forgets full buckets so memory stays bounded under many distinct keys. */
  private sweep(now: number) {
    for (const [k, b] of this.buckets)
      if (b.tokens + ((now - b.at) / 1000) * this.refillPerSecond >= this.capacity) this.buckets.delete(k);
  }
}

/**
 * At most `permits` tasks at once, at most `maxWaiting` queued behind them; a task that would queue
 * beyond that, or wait longer than `maxWaitMs`, is refused at once with `TooManyRequests` instead of
 * piling up (password hashing: each verification holds a core for most of a second).
 */
export class Semaphore {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly permits: number,
    private readonly maxWaiting: number,
    private readonly maxWaitMs = 5_000,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.permits) await this.admission();
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      // The permit passes straight to the next waiter, so `running` stays counted.
      if (next) next();
      else this.running--;
    }
  }

  private admission() {
    if (this.queue.length >= this.maxWaiting) return Promise.reject(busy());
    return new Promise<void>((resolve, reject) => {
      const admit = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.queue.splice(this.queue.indexOf(admit), 1);
        reject(busy());
      }, this.maxWaitMs);
      this.queue.push(admit);
    });
  }
}

const busy = () => new TooManyRequests(1, "The server is busy; retry in a second");
