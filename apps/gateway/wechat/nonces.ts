/** How old (or how far ahead) a push's timestamp may be; nonces are remembered as long. */
export const WINDOW_SECONDS = 300;

/**
 * Nonces of accepted pushes, per inbox, until their timestamp leaves the window. The plaintext
 * signature covers only token, timestamp and nonce, so without this a captured push could be replayed
 * with any body inside the window. Per node and in memory: behind several nodes a replay can still
 * reach another node once; a shared store comes with the scale work.
 */
export class SeenNonces {
  private readonly seen = new Map<string, number>();

  /** False when the nonce was already used inside the window. */
  claim(inboxId: string, nonce: string, now: number): boolean {
    if (this.seen.size > 10_000) this.sweep(now);
    const key = `${inboxId}\u0000${nonce}`;
    const until = this.seen.get(key);
    if (until !== undefined && until > now) return false;
    this.seen.set(key, now + 2 * WINDOW_SECONDS * 1000);
    return true;
  }

  /** A push that failed before it was stored may be retried by WeChat with the same nonce. */
  release(inboxId: string, nonce: string) {
    this.seen.delete(`${inboxId}\u0000${nonce}`);
  }

  private sweep(now: number) {
    for (const [key, until] of this.seen) if (until <= now) this.seen.delete(key);
  }
}
