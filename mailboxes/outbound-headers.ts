import { and, asc, desc, eq, sql } from "drizzle-orm";
import {
  emailSettingsOf,
  normalizeSubject,
  replyAddress,
  splitPlusAddress,
  type EmailEnvelope,
} from "../channels/email/index.ts";
import type { OutboundMessage } from "../conversations/channel.ts";
import {
  attachments,
  emailMessages,
  emailParticipants,
  inboxes,
  timelineItems,
  type OutboxRow,
} from "../db/schema/index.ts";
import type { MailDeps } from "./email-inbox.ts";
import { replySecrets } from "./threading.ts";

function addressOf(value: string) {
  return /<([^>]+)>\s*$/.exec(value)?.[1]?.trim().toLowerCase() ?? value.trim().toLowerCase();
}

/**
 * OutboxOptions.prepare for email: completes an agent's reply with the headers that thread it — our
 * Message-ID (stable per outbox row), In-Reply-To the customer's latest mail, References the
 * conversation's chain, Reply-To with its token — and records the Message-ID so the customer's answer
 * threads back. Recipients are the contact, plus participants on reply-all, or what the agent chose.
 */
export function prepareEmail(deps: MailDeps) {
  return async (message: OutboundMessage, row: OutboxRow): Promise<OutboundMessage> => {
    const db = deps.core.db;
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
      replyTo: replyAddress(settings.address, message.conversationId, replySecrets(deps)[0]!),
      subject,
      inReplyTo: forward ? undefined : lastIn ? `<${lastIn.messageId}>` : undefined,
      references: forward ? [] : chain.slice(-20).map((m) => `<${m.messageId}>`),
      signature: settings.signature,
      automatic: item?.senderType === "system",
      attachments: files.map((f) => ({
        filename: f.name,
        path: deps.files.localPath(f.storageKey),
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
