import { rm } from "node:fs/promises";
import { and, asc, eq, inArray, lt, notInArray, or, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import {
  attachments,
  automationRuns,
  calls,
  contactIdentities,
  contacts,
  conversations,
  emailQuarantine,
  erasures,
  events,
  FINAL_CALL_STATUSES,
  tickets,
} from "../db/schema/index.ts";
import { Conflict, NotFound } from "../platform/errors.ts";
import { log } from "../platform/log.ts";
import { recordAudit, type AuditActor } from "./audit.ts";
import { removeConversations, type FileStore } from "./remove-conversations.ts";

/** A contact and those merged into it: one person, erased together. */
async function personOf(db: Db, workspaceId: string, contactId: string) {
  const rows = await db
    .select({ id: contacts.id })
    .from(contacts)
    .where(
      and(eq(contacts.workspaceId, workspaceId), or(eq(contacts.id, contactId), eq(contacts.mergedIntoId, contactId))),
    );
  return rows.map((r) => r.id);
}

/**
 * Starts the erasure of a contact (a data subject's request): refused with 409 while one of its calls is
 * live (the call would write to what is being deleted), else an `erasures` row the caller runs at once
 * and the sweep finishes after a crash. The audit row names the contact id only.
 */
export async function requestErasure(db: Db, actor: NonNullable<AuditActor>, contactId: string, ip?: string | null) {
  const [contact] = await db
    .select({ id: contacts.id })
    .from(contacts)
    .where(and(eq(contacts.workspaceId, actor.workspaceId), eq(contacts.id, contactId)));
  if (!contact) throw new NotFound("Contact", "id");
  const live = await db
    .select({ id: calls.id })
    .from(calls)
    .innerJoin(conversations, eq(conversations.id, calls.conversationId))
    .where(
      and(
        eq(calls.workspaceId, actor.workspaceId),
        inArray(conversations.contactId, await personOf(db, actor.workspaceId, contactId)),
        notInArray(calls.status, FINAL_CALL_STATUSES),
      ),
    )
    .limit(1);
  if (live.length) throw new Conflict("The contact has a call in progress: erase it once the call has ended", "calls");
  const [row] = await db
    .insert(erasures)
    .values({ workspaceId: actor.workspaceId, contactId, requestedBy: actor.userId })
    .returning({ id: erasures.id });
  await recordAudit(db, {
    workspaceId: actor.workspaceId,
    actor,
    action: "contact.erase",
    subjectType: "contact",
    subjectId: contactId,
    detail: { erasureId: row!.id },
    ip,
  });
  return row!.id;
}

/**
 * Removes everything stored about the contact: its conversations (timeline, files, recordings, calls,
 * transcripts, CSAT, QA, report facts, replay events), its tickets with their entries, its uploads and
 * held-back mail, then the contact with its identities and notes. Search reads these rows, so nothing of
 * it is found once they are gone. Safe to run again after a crash: each step deletes what is left.
 */
export async function runErasure(db: Db, files: FileStore, erasureId: string) {
  const [job] = await db.select().from(erasures).where(eq(erasures.id, erasureId));
  if (!job || job.status === "done") return;
  const { workspaceId } = job;
  try {
    const people = await personOf(db, workspaceId, job.contactId);
    const owned = people.length
      ? await db
          .select({ id: conversations.id })
          .from(conversations)
          .where(and(eq(conversations.workspaceId, workspaceId), inArray(conversations.contactId, people)))
      : [];
    const removed = await removeConversations(
      db,
      files,
      workspaceId,
      owned.map((c) => c.id),
    );
    // Mail held back as spam carries the sender's address, not a contact: matched by the contact's emails.
    const emails = people.length
      ? (
          await db
            .select({ value: contactIdentities.value })
            .from(contactIdentities)
            .where(and(inArray(contactIdentities.contactId, people), eq(contactIdentities.kind, "email")))
        ).map((i) => i.value.toLowerCase())
      : [];
    const held = emails.length
      ? await db
          .select({ id: emailQuarantine.id, rawId: emailQuarantine.rawId })
          .from(emailQuarantine)
          .where(
            and(eq(emailQuarantine.workspaceId, workspaceId), inArray(sql`lower(${emailQuarantine.address})`, emails)),
          )
      : [];
    const uploads = people.length
      ? await db
          .select({ id: attachments.id, storageKey: attachments.storageKey })
          .from(attachments)
          .where(
            and(
              eq(attachments.workspaceId, workspaceId),
              or(
                inArray(attachments.contactId, people),
                held.length
                  ? inArray(
                      attachments.id,
                      held.filter((h) => h.rawId).map((h) => h.rawId!),
                    )
                  : undefined,
              ),
            ),
          )
      : [];
    for (const f of uploads) await rm(files.localPath(f.storageKey), { force: true });
    const rest = await db.transaction(async (tx) => {
      if (!people.length) return { tickets: 0, contacts: 0, events: 0 };
      const own = await tx
        .select({ id: tickets.id })
        .from(tickets)
        .where(and(eq(tickets.workspaceId, workspaceId), inArray(tickets.contactId, people)));
      if (own.length)
        await tx.delete(automationRuns).where(
          inArray(
            automationRuns.ticketId,
            own.map((t) => t.id),
          ),
        );
      const gone = await tx
        .delete(tickets)
        .where(and(eq(tickets.workspaceId, workspaceId), inArray(tickets.contactId, people)))
        .returning({ id: tickets.id });
      if (uploads.length)
        await tx.delete(attachments).where(
          inArray(
            attachments.id,
            uploads.map((u) => u.id),
          ),
        );
      if (held.length)
        await tx.delete(emailQuarantine).where(
          inArray(
            emailQuarantine.id,
            held.map((h) => h.id),
          ),
        );
      // Events that carry the contact or its tickets in their payload (contact and ticket changes).
      const named = [...people, ...gone.map((t) => t.id)];
      const logged = await tx
        .delete(events)
        .where(
          and(
            eq(events.workspaceId, workspaceId),
            sql`(${events.payload}->>'contactId' IN (${sql.join(
              named.map((id) => sql`${id}`),
              sql`, `,
            )}) OR ${events.payload}->'contact'->>'id' IN (${sql.join(
              named.map((id) => sql`${id}`),
              sql`, `,
            )}) OR ${events.payload}->'ticket'->>'id' IN (${sql.join(
              named.map((id) => sql`${id}`),
              sql`, `,
            )}))`,
          ),
        )
        .returning({ seq: events.seq });
      // Those merged into it first: they point at it.
      const merged = people.filter((p) => p !== job.contactId);
      if (merged.length) await tx.delete(contacts).where(inArray(contacts.id, merged));
      await tx.delete(contacts).where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.id, job.contactId)));
      return { tickets: gone.length, contacts: people.length, events: logged.length };
    });
    const counts = {
      ...removed,
      events: removed.events + rest.events,
      files: removed.files + uploads.length,
      tickets: rest.tickets,
      contacts: rest.contacts,
    };
    await db
      .update(erasures)
      .set({ status: "done", counts, doneAt: new Date(), error: null })
      .where(eq(erasures.id, job.id));
    return counts;
  } catch (err) {
    log.error("privacy: erasure failed; the sweep tries again", { err, erasureId });
    await db
      .update(erasures)
      .set({ error: err instanceof Error ? err.message.slice(0, 500) : String(err) })
      .where(eq(erasures.id, job.id));
    return undefined;
  }
}

/**
 * Erasures left unfinished (a crash, a failure): run again, oldest first, a few per pass. One requested
 * in the last `graceMs` is left to the request that started it.
 */
export async function sweepErasures(db: Db, files: FileStore, graceMs = 60_000, limit = 5) {
  const pending = await db
    .select({ id: erasures.id })
    .from(erasures)
    .where(and(eq(erasures.status, "pending"), lt(erasures.requestedAt, new Date(Date.now() - graceMs))))
    .orderBy(asc(erasures.requestedAt))
    .limit(limit);
  for (const e of pending) await runErasure(db, files, e.id);
  return pending.length;
}
