/**
 * Reads `what` until `ok` holds or `ms` pass, and returns the last reading either way, so the
 * test's own assertion on it says what was wrong (importers and listeners work asynchronously).
 */
export async function until<T>(what: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (ok(v) || Date.now() > deadline) return v;
    await Bun.sleep(100);
  }
}
