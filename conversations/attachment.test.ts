import { describe, expect, it } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { eq } from "drizzle-orm";
import { attachments } from "../db/schema/index.ts";
import { Keyring } from "../platform/crypto.ts";
import { testWorkspace } from "../test/workspace.ts";
import { AttachmentStore } from "./attachment.ts";

const OLD = "the-key-this-file-was-sealed-with-0123456789";
const NEW = "the-key-that-replaced-it-0123456789-abcdefghij";

async function readAll(stream: Readable) {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe("sealed files (held-back mail's raw copies) across a key rotation", () => {
  it("open with SECRET_KEY_PREVIOUS after the rotation, and not once the previous key is gone", async () => {
    const w = await testWorkspace();
    const store = new AttachmentStore(mkdtempSync(join(tmpdir(), "switchboard-files-")));
    const writer = await store.createSealed(w.workspaceId, new Keyring(OLD));
    const mail = "From: a@example.test\r\nSubject: held back\r\n\r\n" + "body line\r\n".repeat(5_000);
    await writer.write(Buffer.from(mail.slice(0, 20_000)));
    await writer.write(Buffer.from(mail.slice(20_000)));
    const id = await writer.keep(w.core.db, { name: "raw.eml", contentType: "message/rfc822" });
    const [row] = await w.core.db.select().from(attachments).where(eq(attachments.id, id));

    expect(await readAll(await store.openSealedStream(new Keyring(OLD), row!.storageKey))).toBe(mail);
    // Rotated: the new key is current, the old one previous; a file sealed under the old key still opens.
    expect(await readAll(await store.openSealedStream(new Keyring(NEW, [OLD]), row!.storageKey))).toBe(mail);
    await expect(readAll(await store.openSealedStream(new Keyring(NEW), row!.storageKey))).rejects.toThrow();
  });
});
