import { and, desc, eq, isNull, lt } from "drizzle-orm";
import { emailSettingsOf } from "../channels/email/index.ts";
import type { SenderAuth } from "../channels/email/verify.ts";
import { attachments, emailQuarantine, inboxes, timelineItems } from "../db/schema/index.ts";
import { Conflict, Invalid, NotFound } from "../platform/errors.ts";
import { log } from "../platform/log.ts";
import type { EmailInbox, MailDeps } from "./email-inbox.ts";
import { receiveEmail } from "./intake.ts";
import type { HoldKind } from "./quarantine.ts";

/**
 * The spam view: mail an inbox held back (spam, flood, no sender, reports on mail it never sent),
 * released into the inbox ("not spam") or deleted. Every call is scoped to the caller's workspace.
 */

async function emailInbox(deps: MailDeps, workspaceId: string, inboxId: string): Promise<EmailInbox> {
  const [row] = await deps.core.db
    .select({
      id: inboxes.id,
      workspaceId: inboxes.workspaceId,
      name: inboxes.name,
      channel: inboxes.channel,
      settings: inboxes.settings,
    })
    .from(inboxes)
    .where(and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.id, inboxId)));
  if (!row) throw new NotFound("Inbox", "id");
  const settings = row.channel === "email" ? emailSettingsOf(row.settings) : undefined;
  if (!settings) throw new Invalid("This inbox is not an email inbox", "id");
  return { id: row.id, workspaceId: row.workspaceId, name: row.name, settings };
}

async function heldBack(deps: MailDeps, workspaceId: string, inboxId: string, id: string) {
  const [row] = await deps.core.db
    .select()
    .from(emailQuarantine)
    .where(
      and(
        eq(emailQuarantine.workspaceId, workspaceId),
        eq(emailQuarantine.inboxId, inboxId),
        eq(emailQuarantine.id, id),
      ),
    );
  if (!row) throw new NotFound("Held-back mail", "itemId");
  return row;
}

function isSenderAuth(value: unknown): value is SenderAuth {
  return (
    typeof value === "object" &&
    value !== null &&
    ["pass", "none", "fail"].includes(String((value as { verdict?: unknown }).verdict))
  );
}

/** What is still held back, newest first. */
export async function listHeldBack(deps: MailDeps, workspaceId: string, inboxId: string, limit = 100) {
  await emailInbox(deps, workspaceId, inboxId);
  const rows = await deps.core.db
    .select()
    .from(emailQuarantine)
    .where(
      and(
        eq(emailQuarantine.workspaceId, workspaceId),
        eq(emailQuarantine.inboxId, inboxId),
        isNull(emailQuarantine.releasedAt),
      ),
    )
    .orderBy(desc(emailQuarantine.createdAt), desc(emailQuarantine.id))
    .limit(limit);
  return rows.map((r) => ({
    id: r.id,
    messageId: r.messageId,
    from: r.address,
    subject: r.subject,
    reason: r.reason,
    kind: (typeof r.details.kind === "string" ? r.details.kind : "other") as HoldKind | "other",
    receivedAt: r.createdAt.toISOString(),
    size: typeof r.details.size === "number" ? r.details.size : null,
    // Mail the parser cannot read, or without a sender, can only be deleted; an import that kept failing
    // is released from its raw copy (the failure may have passed).
    releasable:
      r.rawId !== null && r.details.kind !== "unreadable" && (r.address !== "" || r.details.kind === "import_failed"),
  }));
}

/**
 * "Not spam": the held-back mail is received again from its sealed raw copy, exactly as if it had
 * just arrived — parsed, threaded by its headers and reply token, stored in one transaction — without
 * the checks that held it back. Releasing twice (a double click, two admins) stores it once: the
 * Message-ID keeps ingest idempotent, and a released row answers with the message it became.
 */
export async function releaseHeldBack(deps: MailDeps, workspaceId: string, inboxId: string, id: string) {
  const db = deps.core.db;
  const inbox = await emailInbox(deps, workspaceId, inboxId);
  const row = await heldBack(deps, workspaceId, inboxId, id);
  const answer = async (itemId: string) => {
    const [item] = await db
      .select({ conversationId: timelineItems.conversationId })
      .from(timelineItems)
      .where(eq(timelineItems.id, itemId));
    if (!item) throw new NotFound("Released message", "itemId");
    return { id: row.id, status: "released" as const, conversationId: item.conversationId, itemId };
  };
  if (row.releasedItemId) return answer(row.releasedItemId);
  if (!row.rawId || (!row.address && row.details.kind !== "import_failed"))
    throw new Conflict(`This mail cannot be released (${row.reason}); delete it instead`, "itemId");
  // A release running alongside may have finished and removed the copy: then its message is the answer.
  const gone = async () => {
    const again = await heldBack(deps, workspaceId, inboxId, id);
    if (again.releasedItemId) return answer(again.releasedItemId);
    throw new Conflict("The stored copy of this mail is gone; delete it instead", "itemId");
  };
  const [raw] = await db
    .select({ storageKey: attachments.storageKey })
    .from(attachments)
    .where(and(eq(attachments.workspaceId, workspaceId), eq(attachments.id, row.rawId)));
  if (!raw) return gone();
  const source = await deps.files.openSealedStream(deps.keyring, raw.storageKey).catch(() => undefined);
  if (!source) return gone();
  const recipients = Array.isArray(row.details.recipients)
    ? (row.details.recipients as unknown[]).filter((r): r is string => typeof r === "string")
    : [];
  // The copy is authenticated as it is read: a damaged file (or one sealed under another SECRET_KEY)
  // fails before anything is stored, and says so instead of failing as a server error.
  let damaged = false;
  source.once("error", () => (damaged = true));
  // The sender check made on arrival stays the mail's verdict (DNS may have changed since).
  const auth = isSenderAuth(row.details.senderAuth) ? row.details.senderAuth : undefined;
  const receipt = await receiveEmail(deps, inbox, source, { recipients, released: true, auth }).catch(
    (err: unknown) => {
      if (damaged)
        throw new Conflict(
          "The stored copy of this mail cannot be read (damaged, or sealed with another SECRET_KEY); delete it instead",
          "itemId",
        );
      throw err;
    },
  );
  if (receipt.status !== "stored" && receipt.status !== "duplicate")
    throw new Conflict(
      `This mail cannot be released: ${"reason" in receipt ? receipt.reason : receipt.status}`,
      "itemId",
    );
  // Marked only if no other release got there first; either way the answer names the one message.
  const [marked] = await db
    .update(emailQuarantine)
    .set({ releasedAt: new Date(), releasedItemId: receipt.itemId, rawId: null })
    .where(and(eq(emailQuarantine.id, row.id), isNull(emailQuarantine.releasedAt)))
    .returning({ id: emailQuarantine.id });
  if (marked) await deps.files.remove(db, workspaceId, row.rawId);
  log.info("email: released from the spam view", { inboxId, itemId: receipt.itemId });
  return answer(receipt.itemId);
}

/** Deletes a held-back mail and its sealed copy for good. */
export async function deleteHeldBack(deps: MailDeps, workspaceId: string, inboxId: string, id: string) {
  await emailInbox(deps, workspaceId, inboxId);
  const [row] = await deps.core.db
    .delete(emailQuarantine)
    .where(
      and(
        eq(emailQuarantine.workspaceId, workspaceId),
        eq(emailQuarantine.inboxId, inboxId),
        eq(emailQuarantine.id, id),
      ),
    )
    .returning({ rawId: emailQuarantine.rawId });
  if (!row) throw new NotFound("Held-back mail", "itemId");
  if (row.rawId) await deps.files.remove(deps.core.db, workspaceId, row.rawId);
}

/** Held-back mail nobody released or deleted is deleted after this long, with its sealed copy. */
export const HELD_BACK_RETENTION_DAYS = 30;

/** Housekeeping (every node may run it: a row deleted twice is deleted once). */
export async function pruneHeldBack(deps: MailDeps, now = new Date(), days = HELD_BACK_RETENTION_DAYS) {
  const old = await deps.core.db
    .delete(emailQuarantine)
    .where(lt(emailQuarantine.createdAt, new Date(now.getTime() - days * 86_400_000)))
    .returning({ workspaceId: emailQuarantine.workspaceId, rawId: emailQuarantine.rawId });
  for (const row of old) if (row.rawId) await deps.files.remove(deps.core.db, row.workspaceId, row.rawId);
  return old.length;
}
