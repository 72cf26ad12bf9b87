/**
 * The two ways the webhook benchmarks drive the server: an open loop at a fixed rate (each request
 * leaves at its time whether or not earlier ones were answered) and a closed loop (each sender sends
 * its next request as soon as the last is answered). Both give the answer times of the requests that
 * succeeded; a failure goes to `fail` and is not a latency.
 */
export async function openLoop<R>(
  requests: R[],
  perSecond: number,
  send: (r: R) => Promise<number>,
  fail: (err: unknown) => void,
) {
  const latencies: number[] = [];
  const inFlight: Promise<void>[] = [];
  const started = performance.now();
  for (const [n, r] of requests.entries()) {
    const wait = started + (n * 1000) / perSecond - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    inFlight.push(send(r).then((ms) => void latencies.push(ms), fail));
  }
  await Promise.all(inFlight);
  return latencies;
}

/** `senders` at once for `seconds` (or until `requests` run out); `taken` is how many were sent. */
export async function closedLoop<R>(
  requests: R[],
  senders: number,
  seconds: number,
  send: (r: R) => Promise<number>,
  fail: (err: unknown) => void,
) {
  const latencies: number[] = [];
  let taken = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (performance.now() < deadline && taken < requests.length) {
        const r = requests[taken++]!;
        await send(r).then((ms) => void latencies.push(ms), fail);
      }
    }),
  );
  return { latencies, taken, seconds: (performance.now() - started) / 1000 };
}
