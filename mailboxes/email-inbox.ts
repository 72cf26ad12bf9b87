import { and, asc, eq } from "drizzle-orm";
import { emailSettingsOf, splitPlusAddress, type EmailSettings } from "../channels/email/index.ts";
import type { AttachmentStore } from "../conversations/attachment.ts";
import { confirmEmailRoute, provenRoute, VERIFY_TAG } from "../conversations/inbox-route.ts";
import type { Core } from "../conversations/transaction.ts";
import type { Executor } from "../db/connect.ts";
import { inboxes, type Inbox } from "../db/schema/index.ts";
import type { Keyring } from "../platform/crypto.ts";

/**
 * What the mail pipeline needs of the node it runs on: the database and bus, the keyring (reply
 * tokens, sealed raw copies, IMAP passwords) and the file store that keeps attachments and raw mail.
 */
export type MailDeps = {
  core: Core;
  keyring: Keyring;
  files: Pick<
    AttachmentStore,
    "saveStream" | "claim" | "discard" | "remove" | "createSealed" | "openSealedStream" | "localPath"
  >;
};

export type EmailInbox = Pick<Inbox, "id" | "workspaceId" | "name"> & { settings: EmailSettings };

/** The email inboxes of every workspace, with valid settings. */
export async function emailInboxes(db: Executor): Promise<(EmailInbox & { credentials: string | null })[]> {
  const rows = await db
    .select({
      id: inboxes.id,
      workspaceId: inboxes.workspaceId,
      name: inboxes.name,
      settings: inboxes.settings,
      credentials: inboxes.credentials,
    })
    .from(inboxes)
    .where(eq(inboxes.channel, "email"))
    .orderBy(asc(inboxes.createdAt));
  return rows.flatMap((r) => {
    const settings = emailSettingsOf(r.settings);
    return settings ? [{ ...r, settings }] : [];
  });
}

/**
 * The inbox a recipient address delivers to (its address, an alias, or either with a +tag), through
 * the one table of routing keys: only a proven claim receives mail. The verification mail itself
 * (`address+verify-<code>`) proves an unproven claim on arrival, and is then delivered like any mail.
 */
export async function inboxForAddress(db: Executor, address: string): Promise<EmailInbox | undefined> {
  const { base, tag } = splitPlusAddress(address);
  let route = await provenRoute(db, "email", base);
  if (!route && tag?.startsWith(VERIFY_TAG) && (await confirmEmailRoute(db, base, tag.slice(VERIFY_TAG.length))))
    route = await provenRoute(db, "email", base);
  if (!route) return undefined;
  const [row] = await db
    .select({ id: inboxes.id, workspaceId: inboxes.workspaceId, name: inboxes.name, settings: inboxes.settings })
    .from(inboxes)
    .where(and(eq(inboxes.id, route.inboxId), eq(inboxes.channel, "email")));
  const settings = row && emailSettingsOf(row.settings);
  return row && settings ? { ...row, settings } : undefined;
}
