import { eq } from "drizzle-orm";
import type { ParsedEmail } from "../channels/email/index.ts";
import { emailQuarantine } from "../db/schema/index.ts";
import { log } from "../platform/log.ts";
import type { EmailInbox, MailDeps } from "./email-inbox.ts";
import type { RawMailCopy } from "./raw-mail.ts";

/** Why a mail was held back, as a code the spam view translates (the reason text says it in English). */
export type HoldKind =
  | "spam"
  | "flood"
  | "no_sender"
  | "unknown_bounce"
  | "unverified_bounce"
  | "unreadable"
  | "import_failed";

/** What holding a mail back needs of it: a parsed mail, or the top headers of one the parser gave up on. */
export type HeldMail = Pick<ParsedEmail, "externalId" | "from" | "subject" | "to" | "size">;

/** What receiving a mail answers when it was held back. */
export type Quarantined = { status: "quarantined"; reason: string };

/** Envelope recipients kept with a held-back mail: a reply token among them still threads it on release. */
const KEPT_RECIPIENTS = 20;

/**
 * Holds a mail back from the inbox (spam, flood, no sender) with its raw bytes sealed in the
 * attachment store, so the spam view can release it later exactly as it arrived. The same mail held
 * back twice (a redelivery) keeps its first row and copy.
 */
export async function holdBack(
  deps: Pick<MailDeps, "core">,
  inbox: EmailInbox,
  mail: HeldMail,
  raw: RawMailCopy | undefined,
  recipients: string[],
  hold: { kind: HoldKind; reason: string },
  details: Record<string, unknown> = {},
): Promise<Quarantined> {
  // The row and its raw copy commit together: the spam view never lists a mail it could not release
  // for want of a copy that is still being written.
  await deps.core.db.transaction(async (db) => {
    const [row] = await db
      .insert(emailQuarantine)
      .values({
        workspaceId: inbox.workspaceId,
        inboxId: inbox.id,
        messageId: mail.externalId.slice(0, 900),
        address: mail.from?.address ?? "",
        subject: mail.subject.slice(0, 998),
        reason: hold.reason,
        details: {
          ...details,
          kind: hold.kind,
          to: mail.to.slice(0, 10).map((a) => a.address),
          recipients: recipients.slice(0, KEPT_RECIPIENTS),
          size: mail.size,
        },
      })
      .onConflictDoNothing()
      .returning({ id: emailQuarantine.id });
    if (row && raw)
      await db
        .update(emailQuarantine)
        .set({ rawId: await raw.keep(db) })
        .where(eq(emailQuarantine.id, row.id));
  });
  log.info("email: quarantined", { inboxId: inbox.id, reason: hold.reason });
  return { status: "quarantined", reason: hold.reason };
}
