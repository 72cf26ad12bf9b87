import type { Readable } from "node:stream";
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import {
  chooseThread,
  conversationOfToken,
  parseEmail,
  splitPlusAddress,
  toInbound,
  emailSettingsOf,
  replyAddress,
  normalizeSubject,
  UnreadableMail,
  type Address,
  type EmailEnvelope,
  type EmailSettings,
  type ParsedEmail,
} from "../channels/email/index.ts";
import type { ThreadCandidate } from "../channels/email/threading.ts";
import { verifySender, type MailResolver, type SenderAuth, type SmtpPeer } from "../channels/email/verify.ts";
import type { OutboundMessage } from "../conversations/channel.ts";
import { contactsOfIdentities, resolveContact } from "../conversations/contact.ts";
import { confirmEmailRoute, provenRoute, VERIFY_TAG } from "../conversations/inbox-route.ts";
import { ingestInbound, type Placement } from "../conversations/conversation.ts";
import { OutboxWorker } from "../conversations/outbox.ts";
import { rowsOf, type Executor, type Tx } from "../db/connect.ts";
import {
  attachments,
  conversations,
  emailMessages,
  emailParticipants,
  inboxes,
  timelineItems,
  type Inbox,
  type OutboxRow,
} from "../db/schema/index.ts";
import { log } from "../platform/log.ts";
import type { Runtime } from "../apps/server/runtime.ts";
import { holdBack, type HoldKind } from "./quarantine.ts";
import { RawMailCopy } from "./raw-mail.ts";

/**
 * The email pipeline every listener (SMTP-in, IMAP) hands raw mail to: parse (attachments streamed
 * to the store), classify (bounce, spam, flood), thread, and ingest in one transaction with the
 * Message-ID index that makes later replies thread. Also prepares outbound mail for the sender.
 */

export type EmailInbox = Pick<Inbox, "id" | "workspaceId" | "name"> & { settings: EmailSettings };

export type Receipt =
  | { status: "stored" | "duplicate"; conversationId: string; itemId: string }
  | { status: "bounce"; itemId?: string; reason: string }
  | { status: "quarantined" | "refused"; reason: string };

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

/**
 * Secrets for reply tokens, derived from the runtime's token keys: stable across restarts and nodes;
 * the current key's first (new tokens), the previous key's still accepted during a rotation.
 */
export function replySecrets(rt: Runtime) {
  return rt.keyring.purposeSecrets("email-reply-token");
}

async function candidates(tx: Tx, ids: string[]): Promise<Map<string, ThreadCandidate>> {
  if (!ids.length) return new Map();
  const rows = await tx
    .select({
      conversationId: conversations.id,
      contactId: conversations.contactId,
      status: conversations.status,
      resolvedAt: conversations.resolvedAt,
      lastActivityAt: conversations.lastActivityAt,
    })
    .from(conversations)
    .where(inArray(conversations.id, [...new Set(ids)]));
  const people = await tx
    .select({ conversationId: emailParticipants.conversationId, address: emailParticipants.address })
    .from(emailParticipants)
    .where(inArray(emailParticipants.conversationId, [...new Set(ids)]));
  return new Map(
    rows.map((r) => [
      r.conversationId,
      { ...r, participants: people.filter((p) => p.conversationId === r.conversationId).map((p) => p.address) },
    ]),
  );
}

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
  rt: Runtime,
  inbox: EmailInbox,
  source: Readable | Uint8Array,
  options: ReceiveOptions = {},
): Promise<Receipt> {
  const db = rt.core.db;
  const maxBytes = inbox.settings.maxAttachmentMb * 1024 * 1024;
  const files: string[] = [];
  // A released mail's raw copy is already in the store; any other may yet be held back and needs one.
  const raw = options.released
    ? undefined
    : source instanceof Uint8Array
      ? { copy: RawMailCopy.of(rt, inbox.workspaceId, source), stream: source }
      : RawMailCopy.tee(rt, inbox.workspaceId, source);
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
        const saved = await rt.files.saveStream(
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
        rt,
        inbox,
        mail.mail,
        raw?.copy,
        options.recipients ?? [],
        { kind: "unreadable", reason: mail.message.slice(0, 500) },
        { senderAuth: auth },
      );
    }
    return await ingestParsed(
      rt,
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
    await rt.files.discard(db, inbox.workspaceId, files);
    await raw?.copy.drop();
  }
}

async function ingestParsed(
  rt: Runtime,
  inbox: EmailInbox,
  mail: ParsedEmail,
  recipients: string[],
  files: string[],
  raw: RawMailCopy | undefined,
  released: boolean,
  auth: SenderAuth,
): Promise<Receipt> {
  const hold = (kind: HoldKind, reason: string, details: Record<string, unknown> = {}) =>
    holdBack(rt, inbox, mail, raw, recipients, { kind, reason }, { ...details, senderAuth: auth });
  const db = rt.core.db;
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
      await OutboxWorker.markFailed(rt.core, inbox.workspaceId, sent.itemId, reason);
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

  const own = new Set([inbox.settings.address, ...inbox.settings.aliases]);
  const secrets = replySecrets(rt);
  const headerIds = [...new Set([...mail.inReplyTo, ...[...mail.references].reverse()])].slice(0, 100);
  const tokenConversation = [...recipients.map((address) => ({ address })), ...mail.to, ...mail.cc]
    .map((a) => splitPlusAddress(a.address))
    .filter((a) => own.has(a.base) && a.tag)
    .map((a) => secrets.map((secret) => conversationOfToken(a.tag!, secret)).find((id) => !!id))
    .find((id): id is string => !!id);
  // A forged sender (DMARC fail) neither joins anyone's thread nor copies anyone on reply-all.
  const forged = auth.verdict === "fail";
  // One row per address: the same person in To and Cc is one participant.
  const participants = new Map<string, Address>();
  for (const a of forged ? [] : [...mail.to, ...mail.cc]) {
    if (participants.size >= 50) break;
    if (!own.has(splitPlusAddress(a.address).base) && a.address !== from.address) participants.set(a.address, a);
  }

  const inbound = toInbound({ ...mail, from }, inbox.id);
  // The timeline marks mail whose sender is not verified; the check's details stay with the item.
  inbound.data = { ...inbound.data, senderAuth: auth };
  if (files.length) {
    // Files were stored while the mail streamed in, before its sender was known: give them to the
    // sender's contact so ingest may attach them.
    const { contactId: senderId } = await db.transaction((tx) => resolveContact(tx, inbox.workspaceId, inbound.from));
    await rt.files.claim(db, inbox.workspaceId, files, senderId);
  }
  inbound.attachments = mail.attachments.map((a) => a.id);

  let decision: ReturnType<typeof chooseThread> | undefined;
  const result = await ingestInbound(rt.core, inbox.workspaceId, inbound, {
    checked: true,
    place: async (tx, contactId): Promise<Placement> => {
      if (forged) {
        decision = { newConversation: true, rule: "none" };
        return { newConversation: true };
      }
      const byHeaderRows = headerIds.length
        ? await tx
            .select({ messageId: emailMessages.messageId, conversationId: emailMessages.conversationId })
            .from(emailMessages)
            .where(and(eq(emailMessages.inboxId, inbox.id), inArray(emailMessages.messageId, headerIds)))
        : [];
      const bySubjectRows = mail.subjectKey
        ? await tx
            .selectDistinct({ conversationId: emailMessages.conversationId })
            .from(emailMessages)
            .innerJoin(conversations, eq(conversations.id, emailMessages.conversationId))
            .where(
              and(
                eq(emailMessages.inboxId, inbox.id),
                eq(emailMessages.subjectKey, mail.subjectKey),
                eq(conversations.contactId, contactId),
              ),
            )
        : [];
      const tokenRows = tokenConversation
        ? await tx
            .select({ id: conversations.id })
            .from(conversations)
            .where(and(eq(conversations.id, tokenConversation), eq(conversations.workspaceId, inbox.workspaceId)))
        : [];
      const known = await candidates(tx, [
        ...byHeaderRows.map((r) => r.conversationId),
        ...bySubjectRows.map((r) => r.conversationId),
        ...tokenRows.map((r) => r.id),
      ]);
      const order = new Map(headerIds.map((id, i) => [id, i]));
      decision = chooseThread({
        contactId,
        fromAddress: from.address,
        now: new Date(),
        byHeader: byHeaderRows
          .sort((a, b) => order.get(a.messageId)! - order.get(b.messageId)!)
          .flatMap((r) =>
            known.get(r.conversationId) ? [{ messageId: r.messageId, candidate: known.get(r.conversationId)! }] : [],
          ),
        byToken: tokenRows[0] ? known.get(tokenRows[0].id) : undefined,
        bySubject: bySubjectRows.flatMap((r) => (known.get(r.conversationId) ? [known.get(r.conversationId)!] : [])),
        settings: {
          subjectWindowDays: inbox.settings.subjectWindowDays,
          reopenWithinDays: inbox.settings.reopenWithinDays,
        },
      });
      // Automatic mail (an out-of-office, a list) is kept with its thread but reopens nothing.
      return "conversationId" in decision
        ? { conversationId: decision.conversationId, keepStatus: !!mail.class.automated }
        : { newConversation: true };
    },
    stored: async (tx, stored) => {
      await tx
        .insert(emailMessages)
        .values({
          workspaceId: inbox.workspaceId,
          inboxId: inbox.id,
          conversationId: stored.conversationId,
          timelineItemId: stored.itemId,
          messageId: mail.externalId.slice(0, 900),
          direction: "in",
          subjectKey: mail.subjectKey,
          subject: mail.subject,
          address: from.address,
        })
        .onConflictDoNothing();
      if (participants.size) {
        // Cc'd people become contacts of their own (found by their address, or new), linked to the
        // conversation; a row stored before participants were contacts gets its contact now.
        const contactOf = await contactsOfIdentities(
          tx,
          inbox.workspaceId,
          [...participants.values()].map((p) => ({
            kind: "email",
            value: p.address,
            ...(p.name ? { displayName: p.name.slice(0, 200) } : {}),
          })),
        );
        await tx
          .insert(emailParticipants)
          .values(
            [...participants.values()].map((p) => ({
              workspaceId: inbox.workspaceId,
              conversationId: stored.conversationId,
              address: p.address,
              name: p.name || null,
              contactId: contactOf.get(p.address)!,
            })),
          )
          .onConflictDoUpdate({
            target: [emailParticipants.conversationId, emailParticipants.address],
            set: { contactId: sql`COALESCE(${emailParticipants.contactId}, excluded.contact_id)` },
          });
      }
    },
  });
  if (decision && !result.duplicate)
    log.debug("email: threaded", { inboxId: inbox.id, rule: decision.rule, conversationId: result.conversation.id });
  return {
    status: result.duplicate ? "duplicate" : "stored",
    conversationId: result.conversation.id,
    itemId: result.item.id,
  };
}

function addressOf(value: string) {
  return /<([^>]+)>\s*$/.exec(value)?.[1]?.trim().toLowerCase() ?? value.trim().toLowerCase();
}

/**
 * OutboxOptions.prepare for email: completes an agent's reply with the headers that thread it — our
 * Message-ID (stable per outbox row), In-Reply-To the customer's latest mail, References the
 * conversation's chain, Reply-To with its token — and records the Message-ID so the customer's answer
 * threads back. Recipients are the contact, plus participants on reply-all, or what the agent chose.
 */
export function prepareEmail(rt: Runtime) {
  return async (message: OutboundMessage, row: OutboxRow): Promise<OutboundMessage> => {
    const db = rt.core.db;
    const settings = emailSettingsOf(message.inbox.settings);
    if (!settings) return message;
    const data = message.channelData ?? {};
    const [inboxRow] = await db.select({ name: inboxes.name }).from(inboxes).where(eq(inboxes.id, message.inbox.id));
    const [item] = await db
      .select({ senderType: timelineItems.senderType })
      .from(timelineItems)
      .where(eq(timelineItems.id, row.timelineItemId));
    const chain = await db
      .select({
        messageId: emailMessages.messageId,
        direction: emailMessages.direction,
        subject: emailMessages.subject,
        address: emailMessages.address,
      })
      .from(emailMessages)
      .where(eq(emailMessages.conversationId, message.conversationId))
      .orderBy(asc(emailMessages.createdAt), asc(emailMessages.id));
    const lastIn = [...chain].reverse().find((m) => m.direction === "in");
    const contactEmails = message.to.filter((i) => i.kind === "email").map((i) => i.value.toLowerCase());
    const explicitTo = Array.isArray(data.to) ? (data.to as string[]).map(addressOf) : undefined;
    const explicitCc = Array.isArray(data.cc) ? (data.cc as string[]).map(addressOf) : undefined;
    const participants = data.replyAll
      ? (
          await db
            .select({ address: emailParticipants.address })
            .from(emailParticipants)
            .where(eq(emailParticipants.conversationId, message.conversationId))
        ).map((p) => p.address)
      : [];
    const domain = settings.address.slice(settings.address.lastIndexOf("@") + 1);
    const messageId = `<${row.id}@${domain}>`;
    const lastSubject = [...chain].reverse().find((m) => m.subject)?.subject;
    const forward = data.forward === true;
    const subject =
      typeof data.subject === "string" && data.subject.trim()
        ? data.subject.trim()
        : forward && lastSubject
          ? `Fwd: ${lastSubject.replace(/^\s*(re|aw|回复|答复)\s*[:：]\s*/i, "")}`
          : lastSubject
            ? normalizeSubject(lastSubject) === lastSubject.trim().toLowerCase()
              ? `Re: ${lastSubject}`
              : lastSubject
            : `${inboxRow?.name ?? "Support"}`;
    const files = await db.select().from(attachments).where(eq(attachments.timelineItemId, row.timelineItemId));
    // A merged contact has several addresses: the reply goes to the one the customer wrote from in this
    // conversation (its latest mail from one of them), never to whichever identity a query lists first.
    const wroteFrom = [...chain]
      .reverse()
      .find((m) => m.direction === "in" && contactEmails.includes(m.address))?.address;
    const to = explicitTo?.length ? explicitTo : wroteFrom ? [wroteFrom] : contactEmails.slice(0, 1);
    const own = new Set([settings.address, ...settings.aliases]);
    const cc = [...new Set([...(explicitCc ?? []), ...participants])].filter(
      (a) => !to.includes(a) && !own.has(splitPlusAddress(a).base),
    );
    // A forward carries the customer's latest mail below the agent's words, as mail clients do.
    let text = message.text;
    if (forward) {
      const [original] = await db
        .select({ text: timelineItems.text, data: timelineItems.data, createdAt: timelineItems.createdAt })
        .from(timelineItems)
        .where(
          and(
            eq(timelineItems.conversationId, message.conversationId),
            eq(timelineItems.direction, "in"),
            eq(timelineItems.type, "message"),
          ),
        )
        .orderBy(desc(timelineItems.seq))
        .limit(1);
      if (original)
        text = [
          message.text ?? "",
          "---------- Forwarded message ----------",
          `From: ${String(original.data.from ?? "")}`,
          `Date: ${original.createdAt.toUTCString()}`,
          `Subject: ${String(original.data.subject ?? "")}`,
          "",
          original.text ?? "",
        ].join("\n");
    }
    const envelope: EmailEnvelope = {
      messageId,
      from: {
        name: message.senderName
          ? `${message.senderName} (${settings.displayName ?? inboxRow?.name ?? "Support"})`
          : (settings.displayName ?? inboxRow?.name ?? "Support"),
        address: settings.address,
      },
      to,
      cc,
      replyTo: replyAddress(settings.address, message.conversationId, replySecrets(rt)[0]!),
      subject,
      inReplyTo: forward ? undefined : lastIn ? `<${lastIn.messageId}>` : undefined,
      references: forward ? [] : chain.slice(-20).map((m) => `<${m.messageId}>`),
      signature: settings.signature,
      automatic: item?.senderType === "system",
      attachments: files.map((f) => ({
        filename: f.name,
        path: rt.files.localPath(f.storageKey),
        contentType: f.contentType,
      })),
    };
    await db
      .insert(emailMessages)
      .values({
        workspaceId: row.workspaceId,
        inboxId: message.inbox.id,
        conversationId: message.conversationId,
        timelineItemId: row.timelineItemId,
        messageId: messageId.slice(1, -1).toLowerCase(),
        direction: "out",
        subjectKey: normalizeSubject(subject),
        subject,
        address: to[0] ?? "",
      })
      .onConflictDoNothing();
    // The timeline shows a sent mail's headers like a received one's.
    await db
      .update(timelineItems)
      .set({
        data: sql`${timelineItems.data} || ${JSON.stringify({ subject, from: `${envelope.from.name} <${envelope.from.address}>`, to, cc, messageId: messageId.slice(1, -1) })}::jsonb`,
      })
      .where(eq(timelineItems.id, row.timelineItemId));
    return { ...message, text, channelData: { ...data, email: envelope } };
  };
}

/** Counts used by the bench and tests: stored Message-IDs of an inbox. */
export async function storedMessageIds(db: Executor, inboxId: string) {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(emailMessages)
    .where(eq(emailMessages.inboxId, inboxId));
  return row?.n ?? 0;
}
