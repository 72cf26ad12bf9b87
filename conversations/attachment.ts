import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import type { Readable } from "node:stream";
import { join } from "node:path";
import { and, eq, inArray, isNull } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { attachments } from "../db/schema/index.ts";
import { DomainError, NotFound, TooLarge } from "../platform/errors.ts";
import { attachmentView } from "./timeline.ts";

export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

// What a customer or agent may upload: documents and media people send support, nothing executable.
const ALLOWED = /^(image\/(png|jpeg|gif|webp)|application\/pdf|text\/plain|text\/csv|audio\/(mpeg|ogg|wav|webm)|video\/(mp4|webm)|application\/(zip|msword|vnd\.openxmlformats-officedocument\.[a-z.]+|vnd\.ms-excel))$/;

/** Files on local disk under DATA_DIR/files/<workspace>/<id>; the row holds the metadata. */
export class AttachmentStore {
  constructor(private readonly root: string) {}

  private path(workspaceId: string, id: string) {
    return join(this.root, workspaceId, id);
  }

  async save(db: Executor, workspaceId: string, owner: { contactId?: string; userId?: string }, file: File) {
    if (file.size > MAX_ATTACHMENT_BYTES) throw new TooLarge(`File is larger than ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MB`, "file");
    const contentType = (file.type || "application/octet-stream").split(";")[0]!.trim().toLowerCase();
    if (!ALLOWED.test(contentType)) throw new DomainError(415, "unsupported_type", `Files of type ${contentType} are not accepted`, "file");
    const id = crypto.randomUUID();
    await mkdir(join(this.root, workspaceId), { recursive: true });
    const bytes = new Uint8Array(await file.arrayBuffer());
    await Bun.write(this.path(workspaceId, id), bytes);
    return this.record(db, workspaceId, owner, { id, name: file.name, contentType, size: bytes.byteLength, sha256: new Bun.CryptoHasher("sha256").update(bytes).digest("hex") });
  }

  /**
   * Stores a file as it streams in (an email attachment), never holding it whole in memory. Types
   * outside the upload list are kept as application/octet-stream: always downloaded, never rendered.
   * Past `maxBytes` the partial file is removed and the rest of the stream drained: `TooLarge`.
   */
  async saveStream(
    db: Executor,
    workspaceId: string,
    owner: { contactId?: string; userId?: string },
    meta: { name: string; contentType: string },
    content: Readable,
    maxBytes: number,
  ) {
    const given = (meta.contentType || "application/octet-stream").split(";")[0]!.trim().toLowerCase();
    const contentType = ALLOWED.test(given) ? given : "application/octet-stream";
    const id = crypto.randomUUID();
    await mkdir(join(this.root, workspaceId), { recursive: true });
    const path = this.path(workspaceId, id);
    const hash = new Bun.CryptoHasher("sha256");
    const out = createWriteStream(path);
    let size = 0;
    let tooLarge = false;
    try {
      for await (const chunk of content) {
        const bytes = chunk as Buffer;
        size += bytes.length;
        if (size > maxBytes) tooLarge = true;
        if (tooLarge) continue;
        hash.update(bytes);
        if (!out.write(bytes)) await new Promise((r) => out.once("drain", r));
      }
    } finally {
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    }
    if (tooLarge) {
      await rm(path, { force: true });
      throw new TooLarge(`File is larger than ${Math.round(maxBytes / 1024 / 1024)} MB`, "file");
    }
    return this.record(db, workspaceId, owner, { id, name: meta.name, contentType, size, sha256: hash.digest("hex") });
  }

  /** The row for a file just written under its id: what both ways of saving end with. */
  private async record(
    db: Executor,
    workspaceId: string,
    owner: { contactId?: string; userId?: string },
    file: { id: string; name: string; contentType: string; size: number; sha256: string },
  ) {
    const [row] = await db
      .insert(attachments)
      .values({
        ...file,
        workspaceId,
        contactId: owner.contactId ?? null,
        userId: owner.userId ?? null,
        name: (file.name || "file").slice(0, 255),
        storageKey: `${workspaceId}/${file.id}`,
      })
      .returning();
    return attachmentView(row!);
  }

  /** Gives files stored before their sender was known (streamed mail) to that contact, for ingest. */
  async claim(db: Executor, workspaceId: string, ids: string[], contactId: string) {
    if (!ids.length) return;
    await db
      .update(attachments)
      .set({ contactId })
      .where(and(eq(attachments.workspaceId, workspaceId), inArray(attachments.id, ids), isNull(attachments.contactId), isNull(attachments.userId), isNull(attachments.timelineItemId)));
  }

  /** Removes stored files no message took (a mail that turned out to be a duplicate). */
  async discard(db: Executor, workspaceId: string, ids: string[]) {
    for (const id of ids) {
      const [row] = await db
        .delete(attachments)
        .where(and(eq(attachments.workspaceId, workspaceId), eq(attachments.id, id), isNull(attachments.timelineItemId)))
        .returning();
      if (row) await rm(join(this.root, row.storageKey), { force: true });
    }
  }

  /** Where a stored file lies on local disk (the email sender attaches it from there). */
  localPath(storageKey: string) {
    return join(this.root, storageKey);
  }

  /** The file for a reader of the workspace; the caller decides who may read which attachment. */
  async open(db: Executor, workspaceId: string, id: string) {
    const [row] = await db
      .select()
      .from(attachments)
      .where(and(eq(attachments.workspaceId, workspaceId), eq(attachments.id, id)));
    if (!row) throw new NotFound("Attachment");
    return { row, file: Bun.file(join(this.root, row.storageKey)) };
  }
}
