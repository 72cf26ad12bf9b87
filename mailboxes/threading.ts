import { and, eq, inArray, sql } from "drizzle-orm";
import {
  chooseThread,
  conversationOfToken,
  splitPlusAddress,
  type Address,
  type ParsedEmail,
} from "../channels/email/index.ts";
import type { ThreadCandidate, ThreadDecision } from "../channels/email/threading.ts";
import { contactsOfIdentities } from "../conversations/contact.ts";
import type { Tx } from "../db/connect.ts";
import { conversations, emailMessages, emailParticipants } from "../db/schema/index.ts";
import type { EmailInbox, MailDeps } from "./email-inbox.ts";

/**
 * The database side of email threading: the clues a received mail carries (the Message-IDs it
 * answers, a reply token among its recipients, the people it copies), the candidates they name, and
 * the Message-ID index that makes later replies thread. The rules themselves are pure
 * (channels/email/threading.ts).
 */

/**
 * Secrets for reply tokens, derived from the node's token keys: stable across restarts and nodes;
 * the current key's first (new tokens), the previous key's still accepted during a rotation.
 */
export function replySecrets(deps: Pick<MailDeps, "keyring">) {
  return deps.keyring.purposeSecrets("email-reply-token");
}

/** What one received mail says about its thread, worked out before its transaction. */
export type ThreadClues = {
  /** In-Reply-To first, then References newest first. */
  headerIds: string[];
  /** The conversation a valid reply token in a recipient address names. */
  tokenConversation: string | undefined;
  /** Copied people (To, Cc), one per address, without the inbox's own addresses and the sender. */
  participants: Map<string, Address>;
  /** A forged sender (DMARC fail) neither joins anyone's thread nor copies anyone on reply-all. */
  forged: boolean;
};

export function threadClues(
  deps: Pick<MailDeps, "keyring">,
  inbox: EmailInbox,
  mail: ParsedEmail,
  from: Address,
  recipients: string[],
  forged: boolean,
): ThreadClues {
  const own = new Set([inbox.settings.address, ...inbox.settings.aliases]);
  const secrets = replySecrets(deps);
  const headerIds = [...new Set([...mail.inReplyTo, ...[...mail.references].reverse()])].slice(0, 100);
  const tokenConversation = [...recipients.map((address) => ({ address })), ...mail.to, ...mail.cc]
    .map((a) => splitPlusAddress(a.address))
    .filter((a) => own.has(a.base) && a.tag)
    .map((a) => secrets.map((secret) => conversationOfToken(a.tag!, secret)).find((id) => !!id))
    .find((id): id is string => !!id);
  // One row per address: the same person in To and Cc is one participant.
  const participants = new Map<string, Address>();
  for (const a of forged ? [] : [...mail.to, ...mail.cc]) {
    if (participants.size >= 50) break;
    if (!own.has(splitPlusAddress(a.address).base) && a.address !== from.address) participants.set(a.address, a);
  }
  return { headerIds, tokenConversation, participants, forged };
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

/** The conversation a mail from this contact joins, inside the ingest transaction. */
export async function chooseConversation(
  tx: Tx,
  inbox: EmailInbox,
  mail: ParsedEmail,
  from: Address,
  clues: ThreadClues,
  contactId: string,
): Promise<ThreadDecision> {
  if (clues.forged) return { newConversation: true, rule: "none" };
  const { headerIds, tokenConversation } = clues;
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
  return chooseThread({
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
}

/**
 * Records a stored mail in the thread index, in its ingest transaction: its Message-ID (what later
 * replies name) and the people it copies, who reply-all reaches and whose mail may join the thread.
 */
export async function indexReceivedMail(
  tx: Tx,
  inbox: EmailInbox,
  mail: ParsedEmail,
  from: Address,
  participants: ThreadClues["participants"],
  stored: { conversationId: string; itemId: string },
) {
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
  if (!participants.size) return;
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
