import type { Db, Tx } from "../db/connect.ts";
import type { EventBus } from "./bus.ts";
import { EventLog } from "./event.ts";

/** What domain operations need: the database and the bus their events go out on after commit. */
export type Core = { db: Db; bus: EventBus };

/**
 * Runs `work` in one transaction with an event log; publishes the logged events only after the
 * transaction commits, so nobody is ever told about a row that then rolled back.
 */
export async function withEvents<T>(core: Core, work: (tx: Tx, log: EventLog) => Promise<T>): Promise<T> {
  let log!: EventLog;
  const result = await core.db.transaction(async (tx) => {
    log = new EventLog(tx);
    const result = await work(tx, log);
    await log.flush();
    return result;
  });
  if (log.emitted.length) core.bus.publish(log.emitted);
  return result;
}
