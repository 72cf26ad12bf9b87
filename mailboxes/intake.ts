import type { Readable } from "node:stream";
import { and, eq, sql } from "drizzle-orm";
import { parseEmail, toInbound, UnreadableMail, type ParsedEmail } from "../channels/email/index.ts";
import type { ThreadDecision } from "../channels/email/threading.ts";
import { verifySender, type MailResolver, type SenderAuth, type SmtpPeer } from "../channels/email/verify.ts";
import { resolveContact } from "../conversations/contact.ts";
import { ingestInbound, type Placement } from "../conversations/ingest.ts";
import { OutboxWorker } from "../conversations/outbox.ts";
import { rowsOf } from "../db/connect.ts";
import { emailMessages, timelineItems } from "../db/schema/index.ts";
import { log } from "../platform/log.ts";
import type { EmailInbox, MailDeps } from "./email-inbox.ts";
import { holdBack, type HoldKind, type Quarantined } from "./quarantine.ts";
import { RawMailCopy } from "./raw-mail.ts";
import { chooseConversation, indexReceivedMail, threadClues } from "./threading.ts";

/**
 * The email pipeline every listener (SMTP-in, IMAP) hands raw mail to: parse (attachments streamed
 * to the store), classify (bounce, spam, flood), thread (threading.ts), and ingest in one transaction
 * with the Message-ID index that makes later replies thread.
 */

export type Receipt =
  | { status: "stored" | "duplicate"; conversationId: string; itemId: string }
  | { status: "bounce"; itemId?: string; reason: string }
  | Quarantined
  | { status: "refused"; reason: string };

export type ReceiveOptions = {
  /** The envelope's recipients (SMTP RCPT TO), where a reply token may hide even when the headers do not show it. */
  recipients?: string[];
  /** Checked once the mail is read, before anything is stored: a reason to refuse it (over the size limit). */
  refuse?: () => string | undefined;
  /** Released from the spam view: the checks that held it back (spam flag, flood) are not applied again. */
  released?: boolean;
  /** DNS for the sender checks (DKIM, SPF, DMARC); the system's resolver when absent. */
  resolver?: MailResolver;
  /** The SMTP client that delivered the mail (SPF checks it where it is the sender's own server). */
  peer?: SmtpPeer;
  /** The sender check made when the mail arrived (a released mail keeps the verdict it came with). */
  auth?: SenderAuth;
};

/** What the sender check says when it could not run at all: nothing either way. */
const UNCHECKED: SenderAuth = {
  verdict: "none",
  domain: null,
  dkim: "temperror",
  spf: null,
  dmarc: "temperror",
  policy: null,
};

/**
 * Receives one raw mail for an inbox. Never throws for bad mail: it is stored, quarantined with a
 * reason (and its raw bytes, to be released later), or (malformed beyond parsing) the error names why.
 */
export async function receiveEmail(
  deps: MailDeps,
  inbox: EmailInbox,
  source: Readable | Uint8Array,
  options: ReceiveOptions = {},
): Promise<Receipt> {
  const db = deps.core.db;
  const maxBytes = inbox.settings.maxAttachmentMb * 1024 * 1024;
  const files: string[] = [];
  // A released mail's raw copy is already in the store; any other may yet be held back and needs one.
  const raw = options.released
    ? undefined
    : source instanceof Uint8Array
      ? { copy: RawMailCopy.of(deps, inbox.workspaceId, source), stream: source }
      : RawMailCopy.tee(deps, inbox.workspaceId, source);
  const input = raw?.stream ?? source;
  // The sender check reads the same bytes as the parser, side by side: the mail is read once.
  const checking = options.auth
    ? Promise.resolve(options.auth)
    : verifySender(input, { resolver: options.resolver, peer: options.peer }).catch((err: unknown) => {
        log.warn("email: sender check failed", {
          inboxId: inbox.id,
          err: err instanceof Error ? err.message : String(err),
        });
        return UNCHECKED;
      });
  try {
    const mail = await parseEmail(input, async (file, content) => {
      try {
        const saved = await deps.files.saveStream(
          db,
          inbox.workspaceId,
          {},
          { name: file.name, contentType: file.contentType },
          content,
          maxBytes,
        );
        files.push(saved.id);
        return { id: saved.id, url: saved.url };
      } catch (err) {
        return { skipped: err instanceof Error ? err.message : String(err) };
      }
    }).catch((err: unknown) => {
      if (!(err instanceof UnreadableMail)) throw err;
      return err;
    });
    const auth = await checking;
    const refused = options.refuse?.();
    if (refused) return { status: "refused", reason: refused };
    if (mail instanceof UnreadableMail) {
      // Answering 4xx would have the sender retry the same bytes for days: the mail is held back with
      // its raw copy instead, and the next mail goes on.
      if (options.released)
        return { status: "refused", reason: `The mail cannot be read (${mail.message}); delete it instead` };
      return await holdBack(
        deps,
        inbox,
        mail.mail,
        raw?.copy,
        options.recipients ?? [],
        { kind: "unreadable", reason: mail.message.slice(0, 500) },
        { senderAuth: auth },
      );
    }
    return await ingestParsed(
      deps,
      inbox,
      mail,
      options.recipients ?? [],
      files,
      raw?.copy,
      options.released === true,
      auth,
    );
  } finally {
    // Whatever no message took (a duplicate, a quarantined or bounced mail) is removed again.
    await deps.files.discard(db, inbox.workspaceId, files);
    await raw?.copy.drop();
  }
}

async function ingestParsed(
  deps: MailDeps,
  inbox: EmailInbox,
  mail: ParsedEmail,
  recipients: string[],
  files: string[],
  raw: RawMailCopy | undefined,
  released: boolean,
  auth: SenderAuth,
): Promise<Receipt> {
  const hold = (kind: HoldKind, reason: string, details: Record<string, unknown> = {}) =>
    holdBack(deps, inbox, mail, raw, recipients, { kind, reason }, { ...details, senderAuth: auth });
  const db = deps.core.db;
  // One round trip for two questions asked of every mail: stored already (a redelivery)? and how
  // many mails has its sender brought in the last hour (the flood limit)?
  const [seen] = rowsOf<{ item_id: string | null; conversation_id: string | null; recent: number }>(
    await db.execute(sql`
      SELECT t.id AS item_id, t.conversation_id,
        (SELECT count(*)::int FROM ${emailMessages} m WHERE m.inbox_id = ${inbox.id} AND m.address = ${mail.from?.address ?? ""}
          AND m.direction = 'in' AND m.created_at >= ${new Date(Date.now() - 3_600_000).toISOString()}::timestamptz) AS recent
      FROM (SELECT 1) AS one
      LEFT JOIN ${timelineItems} t ON t.inbox_id = ${inbox.id} AND t.external_id = ${mail.externalId.slice(0, 512)}`),
  );
  if (seen?.item_id && seen.conversation_id)
    return { status: "duplicate", conversationId: seen.conversation_id, itemId: seen.item_id };

  if (mail.class.bounce) {
    const original = mail.bounce?.originalMessageId;
    const [sent] = original
      ? await db
          .select({ itemId: emailMessages.timelineItemId })
          .from(emailMessages)
          .where(
            and(
              eq(emailMessages.inboxId, inbox.id),
              eq(emailMessages.messageId, original),
              eq(emailMessages.direction, "out"),
            ),
          )
      : [];
    // Anyone can write a "bounce": only one its sender's domain vouches for (or an admin released) fails
    // a delivery; an unverified one waits in the spam view.
    if (sent?.itemId && auth.verdict !== "pass" && !released)
      return hold("unverified_bounce", "bounce whose sender could not be verified", {
        bounce: mail.bounce,
        itemId: sent.itemId,
      });
    if (sent?.itemId) {
      const reason = `Bounced: ${mail.bounce?.reason ?? "undeliverable"}${mail.bounce?.recipient ? ` (${mail.bounce.recipient})` : ""}`;
      await OutboxWorker.markFailed(deps.core, inbox.workspaceId, sent.itemId, reason);
      return { status: "bounce", itemId: sent.itemId, reason };
    }
    // Released by an admin, a report on mail we never sent is kept like any other message.
    if (!released)
      return hold("unknown_bounce", "bounce for a message this inbox did not send", { bounce: mail.bounce });
  }
  if (!mail.from) {
    if (released)
      return {
        status: "refused",
        reason: "The mail has no valid sender address (From): there is nobody to file it under; delete it instead",
      };
    return hold("no_sender", "no valid sender address (From)");
  }
  const from = mail.from;
  if (!released) {
    if (mail.class.spam) return hold("spam", "flagged as spam");
    if (Number(seen?.recent ?? 0) >= inbox.settings.floodPerHour)
      return hold("flood", `sender over the limit of ${inbox.settings.floodPerHour} mails an hour`, {
        limit: inbox.settings.floodPerHour,
      });
  }

  // A forged sender (DMARC fail) neither joins anyone's thread nor copies anyone on reply-all.
  const clues = threadClues(deps, inbox, mail, from, recipients, auth.verdict === "fail");

  const inbound = toInbound({ ...mail, from }, inbox.id);
  // The timeline marks mail whose sender is not verified; the check's details stay with the item.
  inbound.data = { ...inbound.data, senderAuth: auth };
  if (files.length) {
    // Files were stored while the mail streamed in, before its sender was known: give them to the
    // sender's contact so ingest may attach them.
    const { contactId: senderId } = await db.transaction((tx) => resolveContact(tx, inbox.workspaceId, inbound.from));
    await deps.files.claim(db, inbox.workspaceId, files, senderId);
  }
  inbound.attachments = mail.attachments.map((a) => a.id);

  let decision: ThreadDecision | undefined;
  const result = await ingestInbound(deps.core, inbox.workspaceId, inbound, {
    checked: true,
    place: async (tx, contactId): Promise<Placement> => {
      decision = await chooseConversation(tx, inbox, mail, from, clues, contactId);
      // Automatic mail (an out-of-office, a list) is kept with its thread but reopens nothing.
      return "conversationId" in decision
        ? { conversationId: decision.conversationId, keepStatus: !!mail.class.automated }
        : { newConversation: true };
    },
    stored: (tx, stored) => indexReceivedMail(tx, inbox, mail, from, clues.participants, stored),
  });
  if (decision && !result.duplicate)
    log.debug("email: threaded", { inboxId: inbox.id, rule: decision.rule, conversationId: result.conversation.id });
  return {
    status: result.duplicate ? "duplicate" : "stored",
    conversationId: result.conversation.id,
    itemId: result.item.id,
  };
}
