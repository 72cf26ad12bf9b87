import { lt, sql } from "drizzle-orm";
import { rowsOf, type Db } from "../../../db/connect.ts";
import { webhookNonces } from "../../../db/schema/index.ts";

/** How old (or how far ahead) a push's timestamp may be; nonces are remembered as long. */
export const WINDOW_SECONDS = 300;

/**
 * Nonces of accepted pushes, per inbox, until their timestamp leaves the window. The plaintext
 * signature covers only token, timestamp and nonce, so without this a captured push could be replayed
 * with any body inside the window. Kept in `webhook_nonces`, so a replay is refused whichever node it
 * reaches; housekeeping deletes the expired rows (`pruneWebhookNonces`).
 */
export class SeenNonces {
  constructor(private readonly db: Db) {}

  /**
   * False when the nonce was already used inside the window. One statement: of two nodes claiming the
   * same nonce at once, one inserts and the other finds the row. A row left from an earlier window
   * (not yet pruned) is taken over.
   */
  async claim(inboxId: string, nonce: string, now: number): Promise<boolean> {
    // Twice the window: a timestamp may be up to one window ahead of the clock as well as behind it.
    const until = new Date(now + 2 * WINDOW_SECONDS * 1000).toISOString();
    const rows = rowsOf<{ nonce: string }>(
      await this.db.execute(sql`
        INSERT INTO webhook_nonces (inbox_id, workspace_id, nonce, expires_at)
        SELECT id, workspace_id, ${nonce}, ${until}::timestamptz FROM inboxes WHERE id = ${inboxId}
        ON CONFLICT (inbox_id, nonce) DO UPDATE SET expires_at = excluded.expires_at
        WHERE webhook_nonces.expires_at <= ${new Date(now).toISOString()}::timestamptz
        RETURNING nonce`),
    );
    return rows.length === 1;
  }

  /** A push that failed before it was stored may be retried by WeChat with the same nonce. */
  async release(inboxId: string, nonce: string): Promise<void> {
    await this.db.execute(sql`DELETE FROM webhook_nonces WHERE inbox_id = ${inboxId} AND nonce = ${nonce}`);
  }
}

/** Deletes nonces whose window has passed (housekeeping, every node: the delete is idempotent). */
export async function pruneWebhookNonces(db: Db, now: Date) {
  await db.delete(webhookNonces).where(lt(webhookNonces.expiresAt, now));
}
