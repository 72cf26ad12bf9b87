import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, rm } from "node:fs/promises";
import { pipeline, type Readable } from "node:stream";
import { join } from "node:path";
import { and, eq, inArray, isNull } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { attachments } from "../db/schema/index.ts";
import { SEALED_HEADER_BYTES, type Keyring } from "../platform/crypto.ts";
import { DomainError, NotFound, TooLarge } from "../platform/errors.ts";
import { attachmentView } from "./timeline.ts";
import { orphanedUploads } from "./upload-quota.ts";

export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

/** Sealed files (recordings, held-back raw mail) carry this suffix: readers must open them with the keyring. */
export const SEALED_SUFFIX = ".sealed";

/**
 * A sealed file being written chunk by chunk (AES-256-GCM, the keyring's key, the recordings'
 * format). Nothing is recorded until `keep`; `drop` removes what was written.
 */
export type SealedWriter = {
  write(chunk: Uint8Array): Promise<void>;
  /** Finishes the file and records its row: the attachment id. */
  keep(db: Executor, meta: { name: string; contentType: string }): Promise<string>;
  drop(): Promise<void>;
};

// What a customer or agent may upload: documents and media people send support, nothing executable.
const ALLOWED =
  /^(image\/(png|jpeg|gif|webp)|application\/pdf|text\/plain|text\/csv|audio\/(mpeg|ogg|wav|webm)|video\/(mp4|webm)|application\/(zip|msword|vnd\.openxmlformats-officedocument\.[a-z.]+|vnd\.ms-excel))$/;

/** Files on local disk under DATA_DIR/files/<workspace>/<id>; the row holds the metadata. */
export class AttachmentStore {
  constructor(private readonly root: string) {}

  private path(workspaceId: string, id: string) {
    return join(this.root, workspaceId, id);
  }

  /**
   * Stores a file uploaded over HTTP as it streams in, refusing types outside the upload list before
   * writing anything. Past `maxBytes` the partial file is removed and `overLimit(size)` thrown (413 by
   * default; a quota that allowed less than the size limit answers 429). The row remembers the
   * uploader's address: quotas count it, and the orphan sweep deletes it if no message takes it.
   */
  async saveUpload(
    db: Executor,
    workspaceId: string,
    owner: { contactId?: string; userId?: string },
    upload: { name: string; contentType: string; content: AsyncIterable<Uint8Array> },
    limit: { maxBytes: number; uploaderIp: string; overLimit?: () => Error },
  ) {
    const contentType = (upload.contentType || "application/octet-stream").split(";")[0]!.trim().toLowerCase();
    if (!ALLOWED.test(contentType))
      throw new DomainError(415, "unsupported_type", `Files of type ${contentType} are not accepted`, "file");
    const id = crypto.randomUUID();
    const written = await this.write(workspaceId, id, upload.content, limit.maxBytes);
    if (!written)
      throw (
        limit.overLimit?.() ??
        new TooLarge(`File is larger than ${Math.round(limit.maxBytes / 1024 / 1024)} MB`, "file")
      );
    try {
      return await this.record(
        db,
        workspaceId,
        owner,
        { id, name: upload.name, contentType, ...written },
        limit.uploaderIp,
      );
    } catch (err) {
      await rm(this.path(workspaceId, id), { force: true });
      throw err;
    }
  }

  /**
   * Writes a stream to the file of `id`, owner-only (0600 in a 0700 directory: DATA_DIR holds
   * customers' files). Past `maxBytes` the partial file is removed, the rest of the stream drained,
   * and the answer is undefined.
   */
  private async write(workspaceId: string, id: string, content: AsyncIterable<Uint8Array>, maxBytes: number) {
    await mkdir(join(this.root, workspaceId), { recursive: true, mode: 0o700 });
    const path = this.path(workspaceId, id);
    const hash = new Bun.CryptoHasher("sha256");
    const out = createWriteStream(path, { mode: 0o600 });
    let size = 0;
    let tooLarge = false;
    try {
      for await (const bytes of content) {
        size += bytes.length;
        if (size > maxBytes) tooLarge = true;
        if (tooLarge) continue;
        hash.update(bytes);
        if (!out.write(bytes)) await new Promise((r) => out.once("drain", r));
      }
    } catch (err) {
      out.destroy();
      await rm(path, { force: true });
      throw err;
    } finally {
      if (!out.destroyed)
        await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    }
    if (tooLarge) {
      await rm(path, { force: true });
      return undefined;
    }
    return { size, sha256: hash.digest("hex") };
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
    content: AsyncIterable<Uint8Array>,
    maxBytes: number,
  ) {
    const given = (meta.contentType || "application/octet-stream").split(";")[0]!.trim().toLowerCase();
    const contentType = ALLOWED.test(given) ? given : "application/octet-stream";
    const id = crypto.randomUUID();
    const written = await this.write(workspaceId, id, content, maxBytes);
    if (!written) throw new TooLarge(`File is larger than ${Math.round(maxBytes / 1024 / 1024)} MB`, "file");
    return this.record(db, workspaceId, owner, { id, name: meta.name, contentType, ...written });
  }

  /** The row for a file just written under its id: what both ways of saving end with. */
  private async record(
    db: Executor,
    workspaceId: string,
    owner: { contactId?: string; userId?: string },
    file: { id: string; name: string; contentType: string; size: number; sha256: string },
    uploaderIp?: string,
  ) {
    const [row] = await db
      .insert(attachments)
      .values({
        ...file,
        workspaceId,
        contactId: owner.contactId ?? null,
        userId: owner.userId ?? null,
        uploaderIp: uploaderIp ?? null,
        name: (file.name || "file").slice(0, 255),
        storageKey: `${workspaceId}/${file.id}`,
      })
      .returning();
    return attachmentView(row!);
  }

  /** Starts a sealed file under a new id (streamed, so a large file never sits whole in memory). */
  async createSealed(workspaceId: string, keyring: Keyring): Promise<SealedWriter> {
    const id = crypto.randomUUID();
    const storageKey = `${workspaceId}/${id}${SEALED_SUFFIX}`;
    const path = join(this.root, storageKey);
    await mkdir(join(this.root, workspaceId), { recursive: true, mode: 0o700 });
    const { iv, cipher } = keyring.sealer();
    const hash = new Bun.CryptoHasher("sha256");
    const out = createWriteStream(path, { mode: 0o600 });
    let size = 0;
    let failed: Error | undefined;
    out.on("error", (err) => (failed = err));
    const put = async (bytes: Uint8Array) => {
      if (failed) throw failed;
      if (bytes.length && !out.write(bytes)) await new Promise((r) => out.once("drain", r));
    };
    // The tag is known only at the end: its place after the iv is filled in once the body is written.
    await put(Buffer.concat([iv, Buffer.alloc(SEALED_HEADER_BYTES - iv.length)]));
    const close = () =>
      new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    return {
      async write(chunk) {
        size += chunk.length;
        hash.update(chunk);
        await put(cipher.update(chunk));
      },
      keep: async (db, meta) => {
        await put(cipher.final());
        await close();
        const file = await open(path, "r+");
        try {
          await file.write(cipher.getAuthTag(), 0, 16, iv.length);
        } finally {
          await file.close();
        }
        const [row] = await db
          .insert(attachments)
          .values({
            id,
            workspaceId,
            name: meta.name.slice(0, 255),
            contentType: meta.contentType,
            size,
            storageKey,
            sha256: hash.digest("hex"),
          })
          .returning({ id: attachments.id });
        return row!.id;
      },
      drop: async () => {
        if (!out.closed) await close().catch(() => {});
        await rm(path, { force: true });
      },
    };
  }

  /** A sealed file's plain bytes as a stream; it errors (never ends cleanly) if the file was altered. */
  async openSealedStream(keyring: Keyring, storageKey: string): Promise<Readable> {
    const path = join(this.root, storageKey);
    const file = await open(path, "r");
    const header = Buffer.alloc(SEALED_HEADER_BYTES);
    try {
      await file.read(header, 0, SEALED_HEADER_BYTES, 0);
    } finally {
      await file.close();
    }
    const body = () => createReadStream(path, { start: SEALED_HEADER_BYTES });
    // During a key rotation the file may have been sealed with the previous key (a held-back mail's
    // raw copy kept from before): find the key its tag matches, reading the file once per key tried.
    const key = keyring.keyCount > 1 ? await sealedWith(keyring, header, body) : 0;
    return pipeline(body(), keyring.opener(header, key), () => {});
  }

  /** Removes one file and its row, whoever held it (a held-back mail deleted from the spam view). */
  async remove(db: Executor, workspaceId: string, id: string) {
    const [row] = await db
      .delete(attachments)
      .where(and(eq(attachments.workspaceId, workspaceId), eq(attachments.id, id)))
      .returning();
    if (row) await rm(join(this.root, row.storageKey), { force: true });
  }

  /**
   * Deletes uploads no message took within the grace period (a visitor who uploaded and left, or an
   * upload flood): rows first, then files, so a message cannot take a file that is being removed.
   */
  async pruneOrphans(db: Executor, olderThan: Date) {
    const rows = await db
      .delete(attachments)
      .where(orphanedUploads(olderThan))
      .returning({ storageKey: attachments.storageKey });
    for (const row of rows) await rm(join(this.root, row.storageKey), { force: true });
    return rows.length;
  }

  /** Gives files stored before their sender was known (streamed mail) to that contact, for ingest. */
  async claim(db: Executor, workspaceId: string, ids: string[], contactId: string) {
    if (!ids.length) return;
    await db
      .update(attachments)
      .set({ contactId })
      .where(
        and(
          eq(attachments.workspaceId, workspaceId),
          inArray(attachments.id, ids),
          isNull(attachments.contactId),
          isNull(attachments.userId),
          isNull(attachments.timelineItemId),
        ),
      );
  }

  /** Removes stored files no message took (a mail that turned out to be a duplicate). */
  async discard(db: Executor, workspaceId: string, ids: string[]) {
    for (const id of ids) {
      const [row] = await db
        .delete(attachments)
        .where(
          and(eq(attachments.workspaceId, workspaceId), eq(attachments.id, id), isNull(attachments.timelineItemId)),
        )
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

/** The index of the key a sealed file's tag matches; the current key's (0) when none does. */
async function sealedWith(keyring: Keyring, header: Uint8Array, body: () => Readable) {
  for (let key = 0; key < keyring.keyCount; key++) {
    const decipher = keyring.opener(header, key);
    try {
      for await (const chunk of body()) decipher.update(chunk as Buffer);
      decipher.final();
      return key;
    } catch {
      // Another key's, or altered: the next key decides; with none, the stream errors as it reads.
    }
  }
  return 0;
}
