import { sql } from "drizzle-orm";
import { rowsOf, type Db, type Tx } from "./connect.ts";

/**
 * Two ways for several nodes on one database to do a piece of work one at a time.
 *
 * - `exclusively`: a short critical section (refresh a provider's access token, pull a sync cursor
 *   forward). A transaction-scoped advisory lock: the next caller waits, then sees what the first one
 *   wrote. Nothing to clean up: the lock ends with the transaction, also when a node dies.
 * - `Lease`: long-running work held by one node (a Wechaty bot, an IMAP import). A row with an expiry
 *   the holder renews; another node takes it over once the holder stops renewing. An advisory lock
 *   would need a connection held open per lease.
 *
 * On PGlite there is one process and one connection, so both simply succeed.
 */

/** A 64-bit advisory lock key from a name, so callers name their locks instead of numbering them. */
const lockKey = (name: string) => sql`hashtextextended(${name}, 0)`;

/** Runs `work` in a transaction holding the advisory lock `name`; callers of the same name take turns. */
export async function exclusively<T>(db: Db, name: string, work: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${lockKey(name)})`);
    return work(tx);
  });
}

export type LeaseOptions = {
  /** Who holds it: unique per node and process (e.g. `${hostname}:${pid}:${random}`). */
  holder: string;
  /** How long a lease lasts without renewal; a dead holder's work restarts elsewhere after this. */
  ttlMs: number;
  /** The workspace whose work the lease guards, if any. */
  workspaceId?: string | null;
};

/** A named lease in the `leases` table (see above). */
export class Lease {
  constructor(
    private readonly db: Db,
    readonly name: string,
    private readonly options: LeaseOptions,
  ) {}

  /**
   * Takes the lease if it is free, expired or already ours (then it is renewed); true when held.
   * One statement, so two nodes racing for a free lease cannot both win.
   */
  async acquire(): Promise<boolean> {
    const { holder, ttlMs, workspaceId } = this.options;
    const rows = rowsOf<{ holder: string }>(
      await this.db.execute(sql`
        INSERT INTO leases (name, workspace_id, holder, expires_at)
        VALUES (${this.name}, ${workspaceId ?? null}, ${holder}, now() + (${ttlMs} * interval '1 millisecond'))
        ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
          workspace_id = excluded.workspace_id
        WHERE leases.holder = excluded.holder OR leases.expires_at < now()
        RETURNING holder`),
    );
    return rows.length === 1;
  }

  /** Gives the lease up at once (a clean stop), so another node need not wait for it to expire. */
  async release(): Promise<void> {
    await this.db.execute(sql`DELETE FROM leases WHERE name = ${this.name} AND holder = ${this.options.holder}`);
  }
}
