import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
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
    const [row] = await db
      .insert(attachments)
      .values({
        id,
        workspaceId,
        contactId: owner.contactId ?? null,
        userId: owner.userId ?? null,
        name: (file.name || "file").slice(0, 255),
        contentType,
        size: bytes.byteLength,
        storageKey: `${workspaceId}/${id}`,
        sha256: new Bun.CryptoHasher("sha256").update(bytes).digest("hex"),
      })
      .returning();
    return attachmentView(row!);
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
