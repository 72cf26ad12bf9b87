import { eq, sql } from "drizzle-orm";
import type { Database, Executor } from "../db/connect.ts";
import { exclusively } from "../db/lease.ts";
import { inboxStates } from "../db/schema/index.ts";
import type { Keyring } from "../platform/crypto.ts";
import { log } from "../platform/log.ts";

/** An inbox's provider access token and when it stops being usable (ms since the epoch). */
export type StoredAccessToken = { token: string; expiresAt: number };

/** The store's shape, as channels/wechat/token.ts's SharedTokenStore expects it. */
export type AccessTokenStore = {
  read(inboxId: string): Promise<StoredAccessToken | null>;
  update(
    inboxId: string,
    refresh: (stored: StoredAccessToken | null) => Promise<StoredAccessToken>,
  ): Promise<StoredAccessToken>;
};

/** PGlite's callers of one database in this process, per lock name (see below). */
const localTurns = new WeakMap<object, Map<string, Promise<unknown>>>();

/**
 * Runs `work` after every earlier caller of `name` on this database in this process. On PGlite there
 * is one process and one connection: an advisory lock held in a transaction across an HTTP request
 * would stall every other query of the node (webhooks included) for as long as the provider takes.
 */
function inTurn<T>(db: object, name: string, work: () => Promise<T>): Promise<T> {
  let turns = localTurns.get(db);
  if (!turns) localTurns.set(db, (turns = new Map()));
  const before = turns.get(name) ?? Promise.resolve();
  const mine = before.then(work, work);
  const settled = mine.then(
    () => {},
    () => {},
  );
  turns.set(name, settled);
  void settled.then(() => {
    if (turns.get(name) === settled) turns.delete(name);
  });
  return mine;
}

/**
 * Access tokens of inboxes shared by the nodes in `inbox_states`, sealed with the keyring like inbox
 * credentials. A refresh runs under the advisory lock `wechat-token:<inboxId>` (db/lease.ts) and
 * re-reads the row once it holds it, so nodes that find the token expired together make one fetch: the
 * first fetches and stores, the others find its token.
 */
export function createAccessTokenStore(database: Pick<Database, "db" | "driver">, keyring: Keyring): AccessTokenStore {
  const { db } = database;

  async function readWith(executor: Executor, inboxId: string): Promise<StoredAccessToken | null> {
    const [row] = await executor
      .select({ token: inboxStates.accessToken, expiresAt: inboxStates.accessTokenExpiresAt })
      .from(inboxStates)
      .where(eq(inboxStates.inboxId, inboxId));
    if (!row?.token || !row.expiresAt) return null;
    try {
      return { token: keyring.open(row.token), expiresAt: row.expiresAt.getTime() };
    } catch (err) {
      // Sealed under a key this node no longer has (rotated away): a fresh token replaces it.
      log.warn("stored access token unreadable; fetching a new one", { inboxId, err });
      return null;
    }
  }

  async function write(executor: Executor, inboxId: string, token: StoredAccessToken) {
    const sealed = keyring.seal(token.token);
    const expiresAt = new Date(token.expiresAt);
    await executor.execute(sql`
      INSERT INTO inbox_states (inbox_id, workspace_id, access_token, access_token_expires_at, updated_at)
      SELECT id, workspace_id, ${sealed}, ${expiresAt.toISOString()}::timestamptz, now() FROM inboxes WHERE id = ${inboxId}
      ON CONFLICT (inbox_id) DO UPDATE SET access_token = excluded.access_token,
        access_token_expires_at = excluded.access_token_expires_at, updated_at = now()`);
  }

  async function refreshWith(
    executor: Executor,
    inboxId: string,
    refresh: (stored: StoredAccessToken | null) => Promise<StoredAccessToken>,
  ) {
    const stored = await readWith(executor, inboxId);
    const next = await refresh(stored);
    if (next.token !== stored?.token || next.expiresAt !== stored?.expiresAt) await write(executor, inboxId, next);
    return next;
  }

  return {
    read: (inboxId) => readWith(db, inboxId),
    update(inboxId, refresh) {
      const name = `wechat-token:${inboxId}`;
      if (database.driver === "postgres") return exclusively(db, name, (tx) => refreshWith(tx, inboxId, refresh));
      return inTurn(db, name, () => refreshWith(db, inboxId, refresh));
    },
  };
}
