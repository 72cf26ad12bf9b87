import { and, asc, desc, eq, isNull, sql } from "drizzle-orm";
import { appendItem } from "../conversations/append-item.ts";
import { MAX_ATTACHMENT_BYTES, type AttachmentStore } from "../conversations/attachment.ts";
import { MAX_TEXT } from "../conversations/channel.ts";
import type { EventLog } from "../conversations/event.ts";
import type { Tx } from "../db/connect.ts";
import { contacts, conversations, inboxes, outbox, users, type ReportSchedule } from "../db/schema/index.ts";

/** The label on a schedule's conversation, so people can find (or filter out) the report mails. */
export const REPORT_LABEL = "scheduled-report";

export type ReportFiles = Pick<AttachmentStore, "saveStream">;
export type ReportMail = { subject: string; text: string; html: string; csv: string; csvName: string };

/**
 * The inbox report mails leave through: the workspace's oldest email inbox with an outgoing server.
 * Undefined when it has none (nothing can be mailed until an admin sets one up).
 */
export async function senderInbox(tx: Tx, workspaceId: string) {
  const [inbox] = await tx
    .select({ id: inboxes.id, channel: inboxes.channel })
    .from(inboxes)
    .where(and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.channel, "email"), sql`${inboxes.settings} ? 'smtp'`))
    .orderBy(asc(inboxes.createdAt), asc(inboxes.id))
    .limit(1);
  return inbox;
}

/**
 * Who the schedule's conversation is assigned to: its author while they are still a supervisor or
 * admin, else the workspace's first admin. Agents see unassigned conversations (conversations/actor.ts),
 * and a report of everyone's figures is for those who read reports.
 */
async function ownerOf(tx: Tx, schedule: ReportSchedule) {
  const candidates = await tx
    .select({ id: users.id, role: users.role })
    .from(users)
    .where(
      and(
        eq(users.workspaceId, schedule.workspaceId),
        sql`${users.role} IN ('admin', 'supervisor')`,
        isNull(users.disabledAt),
      ),
    )
    .orderBy(asc(users.createdAt), asc(users.id));
  return (
    (candidates.find((u) => u.id === schedule.createdBy) ?? candidates.find((u) => u.role === "admin"))?.id ?? null
  );
}

/**
 * The schedule's conversation in the sending inbox: one per schedule, its contact named after it.
 * Made resolved and without a `conversation.created` event, so the router never queues it and no
 * report counts it as offered work; each mail is one more message in it, with its delivery status.
 */
async function reportConversation(tx: Tx, schedule: ReportSchedule, inboxId: string) {
  let [contact] = await tx
    .select({ id: contacts.id })
    .from(contacts)
    .where(
      and(
        eq(contacts.workspaceId, schedule.workspaceId),
        sql`${contacts.attributes}->>'reportScheduleId' = ${schedule.id}`,
      ),
    )
    .limit(1);
  if (!contact)
    [contact] = await tx
      .insert(contacts)
      .values({
        workspaceId: schedule.workspaceId,
        name: `Report: ${schedule.name}`.slice(0, 200),
        attributes: { reportScheduleId: schedule.id },
      })
      .returning({ id: contacts.id });
  const [existing] = await tx
    .select()
    .from(conversations)
    .where(and(eq(conversations.contactId, contact!.id), eq(conversations.inboxId, inboxId)))
    .orderBy(desc(conversations.createdAt))
    .limit(1);
  if (existing) return existing;
  const now = new Date();
  const [created] = await tx
    .insert(conversations)
    .values({
      workspaceId: schedule.workspaceId,
      contactId: contact!.id,
      inboxId,
      channel: "email",
      status: "resolved",
      resolvedAt: now,
      assigneeId: await ownerOf(tx, schedule),
      labels: [REPORT_LABEL],
    })
    .returning();
  return created!;
}

/**
 * Writes one report mail as an automatic message of the schedule's conversation, with the CSV
 * attached, and its outbox row in the same transaction: the outbox worker sends it through the inbox's
 * outgoing server (mailboxes/outbound-headers.ts addresses it to `to` with `subject`) and retries it.
 */
export async function queueReportMail(
  tx: Tx,
  events: EventLog,
  files: ReportFiles,
  schedule: ReportSchedule,
  inboxId: string,
  mail: ReportMail,
) {
  const conversation = await reportConversation(tx, schedule, inboxId);
  const csv = await files.saveStream(
    tx,
    schedule.workspaceId,
    { contactId: conversation.contactId },
    { name: mail.csvName, contentType: "text/csv" },
    (async function* () {
      yield new TextEncoder().encode(mail.csv);
    })(),
    MAX_ATTACHMENT_BYTES,
  );
  const appended = await appendItem(
    tx,
    events,
    conversation,
    {
      type: "message",
      direction: "out",
      channel: "email",
      inboxId,
      senderType: "system",
      text: mail.text.slice(0, MAX_TEXT),
      html: mail.html,
      data: { to: schedule.recipients, subject: mail.subject, reportScheduleId: schedule.id },
      deliveryStatus: "pending",
    },
    { ids: [csv.id], owner: { contactId: conversation.contactId } },
  );
  await tx.insert(outbox).values({
    workspaceId: schedule.workspaceId,
    timelineItemId: appended!.row.id,
    conversationId: conversation.id,
    inboxId,
    channel: "email",
  });
  await tx
    .update(conversations)
    .set({ lastMessageText: mail.subject.slice(0, 200), lastActivityAt: new Date() })
    .where(eq(conversations.id, conversation.id));
  return appended!.row.id;
}
