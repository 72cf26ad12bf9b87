import { and, eq } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { contacts } from "../db/schema/index.ts";
import { NotFound } from "../platform/errors.ts";

/**
 * Ends every web chat session of a contact: tokens issued before now are refused from here on (HTTP
 * and socket), and the widget starts a fresh anonymous session. For a shared computer, a leaked
 * token, or a visitor an agent no longer wants to hear from under that session.
 */
export async function revokeVisitorTokens(db: Executor, workspaceId: string, contactId: string, now = new Date()) {
  const [row] = await db
    .update(contacts)
    .set({ visitorTokensRevokedAt: now, updatedAt: now })
    .where(and(eq(contacts.id, contactId), eq(contacts.workspaceId, workspaceId)))
    .returning({ id: contacts.id });
  if (!row) throw new NotFound("Contact");
}
