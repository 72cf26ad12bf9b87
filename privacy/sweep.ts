import type { Db } from "../db/connect.ts";
import { PollLoop } from "../platform/poll-loop.ts";
import { sweepErasures } from "./erasure.ts";
import { RETENTION_BATCH, sweepRetention } from "./retention.ts";
import type { FileStore } from "./remove-conversations.ts";

/**
 * Each node's privacy sweep (ERASURE_SWEEP_MS): erasures a crash or failure left unfinished, then
 * conversations past their workspace's retention period. A pass that deleted a full batch runs again at
 * once: there may be more.
 */
export function privacySweep(deps: { db: Db; files: FileStore }, pollMs: number) {
  return new PollLoop(
    "privacy-sweep",
    async () => (await sweepErasures(deps.db, deps.files)) + (await sweepRetention(deps.db, deps.files)),
    { batch: RETENTION_BATCH, pollMs, idleUntilStarted: true },
  );
}
