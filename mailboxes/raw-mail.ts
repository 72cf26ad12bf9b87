import { pipeline, Transform, type Readable } from "node:stream";
import type { Executor } from "../db/connect.ts";
import type { SealedWriter } from "../conversations/attachment.ts";
import type { MailDeps } from "./email-inbox.ts";

/** A mail up to this size is copied in memory while it is parsed; a larger one goes to a sealed file. */
const IN_MEMORY_BYTES = 1024 * 1024;

/**
 * The raw bytes of a mail as it is received, kept in case it is held back: a quarantined mail must
 * stay releasable, and an SMTP stream cannot be read twice. Small mail (nearly all) is copied in
 * memory and written only if it is held back; past IN_MEMORY_BYTES the copy spills to a sealed file,
 * so a 50 MB mail never sits in memory whole.
 */
export class RawMailCopy {
  private chunks: Buffer[] = [];
  private size = 0;
  private spilled: SealedWriter | undefined;
  private settled = false;

  private constructor(
    private readonly deps: Pick<MailDeps, "keyring" | "files">,
    private readonly workspaceId: string,
  ) {}

  /** A mail already whole in memory (an IMAP fetch, SMTP to several inboxes): nothing to copy. */
  static of(deps: Pick<MailDeps, "keyring" | "files">, workspaceId: string, bytes: Uint8Array) {
    const copy = new RawMailCopy(deps, workspaceId);
    copy.chunks.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    copy.size = bytes.byteLength;
    return copy;
  }

  /** The stream to parse, copying each chunk as it passes (with back-pressure when writing to disk). */
  static tee(
    deps: Pick<MailDeps, "keyring" | "files">,
    workspaceId: string,
    source: Readable,
  ): { copy: RawMailCopy; stream: Readable } {
    const copy = new RawMailCopy(deps, workspaceId);
    const pass = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        copy.add(chunk).then(() => callback(null, chunk), callback);
      },
    });
    return { copy, stream: pipeline(source, pass, () => {}) };
  }

  private async add(chunk: Buffer) {
    this.size += chunk.length;
    if (this.spilled) return this.spilled.write(chunk);
    this.chunks.push(chunk);
    if (this.size <= IN_MEMORY_BYTES) return;
    this.spilled = await this.deps.files.createSealed(this.workspaceId, this.deps.keyring);
    for (const c of this.chunks.splice(0)) await this.spilled.write(c);
  }

  /** Stores the copy sealed in the attachment store: the id of its row. */
  async keep(db: Executor): Promise<string> {
    this.settled = true;
    let writer = this.spilled;
    if (!writer) {
      writer = await this.deps.files.createSealed(this.workspaceId, this.deps.keyring);
      for (const c of this.chunks.splice(0)) await writer.write(c);
    }
    try {
      return await writer.keep(db, { name: "message.eml", contentType: "message/rfc822" });
    } catch (err) {
      await writer.drop();
      throw err;
    }
  }

  /** Forgets the copy (the mail was stored, refused or is a duplicate). Safe to call after keep. */
  async drop() {
    this.chunks = [];
    if (this.spilled && !this.settled) await this.spilled.drop();
    this.settled = true;
  }
}
