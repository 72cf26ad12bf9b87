import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { and, asc, eq, gt, inArray, or } from "drizzle-orm";
import { Zip, ZipDeflate, ZipPassThrough } from "fflate";
import { SEALED_SUFFIX } from "../conversations/attachment.ts";
import type { Db } from "../db/connect.ts";
import {
  attachments,
  callTranscripts,
  calls,
  contactIdentities,
  contactNotes,
  contacts,
  conversations,
  csatResponses,
  csatSurveys,
  qaFindings,
  qaScores,
  ticketEntries,
  tickets,
  timelineItems,
} from "../db/schema/index.ts";
import type { Keyring } from "../platform/crypto.ts";
import { NotFound } from "../platform/errors.ts";
import { log } from "../platform/log.ts";

export type ExportDeps = {
  db: Db;
  keyring: Keyring;
  files: { localPath(storageKey: string): string; openSealedStream(keyring: Keyring, key: string): Promise<Readable> };
};

const PAGE = 500;
const encoder = new TextEncoder();
const json = (v: unknown) => encoder.encode(JSON.stringify(v, null, 2));
const safeName = (s: string) => s.replace(/[^\p{L}\p{N}._-]+/gu, "_").slice(0, 100) || "file";

/**
 * Everything stored about a contact, as a zip streamed while it is written (docs/privacy.md): contact.json
 * (the contact, identities, notes), conversations/<id>.json (the conversation, every timeline item, its
 * calls with transcripts, CSAT, QA score and findings), tickets.json (with their entries) and files/ (the
 * attachments and call recordings, opened if sealed). Memory stays bounded: items are read a page at a
 * time and files streamed, each chunk waiting for the reader.
 */
export async function exportContact(deps: ExportDeps, workspaceId: string, contactId: string) {
  const { db } = deps;
  const [contact] = await db
    .select()
    .from(contacts)
    .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.id, contactId)));
  if (!contact) throw new NotFound("Contact", "id");
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>(undefined, undefined, {
    highWaterMark: 16,
  });
  const writer = writable.getWriter();
  let pending: Uint8Array[] = [];
  let failed: Error | undefined;
  const zip = new Zip((err, chunk, final) => {
    if (err) failed = err;
    else pending.push(chunk);
    if (final) pending.push(new Uint8Array(0));
  });
  const drain = async () => {
    if (failed) throw failed;
    const out = pending;
    pending = [];
    for (const chunk of out) if (chunk.length) await writer.write(chunk);
  };
  const addBytes = async (name: string, bytes: Uint8Array) => {
    const entry = new ZipDeflate(name, { level: 6 });
    zip.add(entry);
    entry.push(bytes, true);
    await drain();
  };
  const addStream = async (name: string, stream: AsyncIterable<Uint8Array>) => {
    // Stored as they are: media and recordings are compressed already.
    const entry = new ZipPassThrough(name);
    zip.add(entry);
    for await (const chunk of stream) {
      entry.push(chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk as ArrayBuffer));
      await drain();
    }
    entry.push(new Uint8Array(0), true);
    await drain();
  };

  const write = async () => {
    const people = await db
      .select({ id: contacts.id })
      .from(contacts)
      .where(
        and(
          eq(contacts.workspaceId, workspaceId),
          or(eq(contacts.id, contactId), eq(contacts.mergedIntoId, contactId)),
        ),
      );
    const ids = people.map((p) => p.id);
    const identities = await db.select().from(contactIdentities).where(inArray(contactIdentities.contactId, ids));
    const notes = await db.select().from(contactNotes).where(inArray(contactNotes.contactId, ids));
    await addBytes(
      "contact.json",
      json({ contact, mergedContactIds: ids.filter((i) => i !== contactId), identities, notes }),
    );
    const owned = await db
      .select()
      .from(conversations)
      .where(and(eq(conversations.workspaceId, workspaceId), inArray(conversations.contactId, ids)))
      .orderBy(asc(conversations.createdAt));
    const fileRows: { id: string; name: string; storageKey: string }[] = [];
    for (const conv of owned) {
      // The timeline is written a page at a time into one JSON document.
      const entry = new ZipDeflate(`conversations/${conv.id}.json`, { level: 6 });
      zip.add(entry);
      const convCalls = await db.select().from(calls).where(eq(calls.conversationId, conv.id));
      const head = {
        conversation: conv,
        calls: convCalls,
        transcripts: convCalls.length
          ? await db
              .select()
              .from(callTranscripts)
              .where(
                inArray(
                  callTranscripts.callId,
                  convCalls.map((c) => c.id),
                ),
              )
          : [],
        csatSurveys: await db.select().from(csatSurveys).where(eq(csatSurveys.conversationId, conv.id)),
        csatResponses: await db.select().from(csatResponses).where(eq(csatResponses.conversationId, conv.id)),
        qaScores: await db.select().from(qaScores).where(eq(qaScores.conversationId, conv.id)),
        qaFindings: await db.select().from(qaFindings).where(eq(qaFindings.conversationId, conv.id)),
      };
      const opening = JSON.stringify(head, null, 2).replace(/\n}$/, ',\n  "timeline": [');
      entry.push(encoder.encode(opening));
      await drain();
      let after = -1;
      let first = true;
      for (;;) {
        const page = await db
          .select()
          .from(timelineItems)
          .where(and(eq(timelineItems.conversationId, conv.id), gt(timelineItems.seq, after)))
          .orderBy(asc(timelineItems.seq))
          .limit(PAGE);
        if (!page.length) break;
        after = Number(page[page.length - 1]!.seq);
        const text = page.map((i) => JSON.stringify(i)).join(",\n    ");
        entry.push(encoder.encode(`${first ? "\n    " : ",\n    "}${text}`));
        first = false;
        await drain();
        const pageFiles = await db
          .select({ id: attachments.id, name: attachments.name, storageKey: attachments.storageKey })
          .from(attachments)
          .where(
            inArray(
              attachments.timelineItemId,
              page.map((i) => i.id),
            ),
          );
        fileRows.push(...pageFiles);
        if (page.length < PAGE) break;
      }
      entry.push(encoder.encode("\n  ]\n}\n"), true);
      await drain();
      const recordings = convCalls.filter((c) => c.recordingId).map((c) => c.recordingId!);
      if (recordings.length)
        fileRows.push(
          ...(await db
            .select({ id: attachments.id, name: attachments.name, storageKey: attachments.storageKey })
            .from(attachments)
            .where(inArray(attachments.id, recordings))),
        );
    }
    const own = await db
      .select()
      .from(tickets)
      .where(and(eq(tickets.workspaceId, workspaceId), inArray(tickets.contactId, ids)));
    const entries = own.length
      ? await db
          .select()
          .from(ticketEntries)
          .where(
            inArray(
              ticketEntries.ticketId,
              own.map((t) => t.id),
            ),
          )
      : [];
    await addBytes(
      "tickets.json",
      json(own.map((t) => ({ ...t, entries: entries.filter((e) => e.ticketId === t.id) }))),
    );
    for (const f of fileRows) {
      const stream = f.storageKey.endsWith(SEALED_SUFFIX)
        ? await deps.files.openSealedStream(deps.keyring, f.storageKey)
        : createReadStream(deps.files.localPath(f.storageKey));
      await addStream(`files/${f.id}-${safeName(f.name)}`, stream);
    }
    zip.end();
    await drain();
    await writer.close();
  };
  write().catch(async (err: unknown) => {
    log.error("privacy: contact export failed", { err, contactId });
    await writer.abort(err).catch(() => {});
  });
  return readable;
}
