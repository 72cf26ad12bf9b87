import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual, type CipherGCM, type DecipherGCM } from "node:crypto";

/** Sealed bytes begin with iv (12) and the GCM tag (16); the ciphertext follows. */
export const SEALED_HEADER_BYTES = 28;

/**
 * Secrets at rest (inbox credentials, recordings) are sealed with AES-256-GCM under a key derived
 * from SECRET_KEY. Format: base64url(iv[12] | tag[16] | ciphertext), prefixed by a version.
 */
export class Keyring {
  private readonly sealKey: Buffer;
  private readonly tokenKey: Buffer;

  constructor(secret: string) {
    // Separate keys per purpose, so a visitor token can never be replayed as ciphertext or vice versa.
    this.sealKey = createHmac("sha256", secret).update("switchboard/seal/v1").digest();
    this.tokenKey = createHmac("sha256", secret).update("switchboard/token/v1").digest();
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.sealKey, iv);
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return "v1." + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
  }

  open(sealed: string): string {
    if (!sealed.startsWith("v1.")) throw new Error("Unknown sealed format");
    const raw = Buffer.from(sealed.slice(3), "base64url");
    const decipher = createDecipheriv("aes-256-gcm", this.sealKey, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  }

  /** Bytes sealed the same way (recordings at rest): iv ‖ tag ‖ ciphertext. */
  sealBytes(plain: Uint8Array): Uint8Array {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.sealKey, iv);
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  openBytes(sealed: Uint8Array): Uint8Array<ArrayBuffer> {
    const raw = Buffer.from(sealed);
    const decipher = createDecipheriv("aes-256-gcm", this.sealKey, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return new Uint8Array(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]));
  }

  /**
   * Sealing for files too large to hold in memory (a raw 50 MB mail): the same format as sealBytes,
   * but the tag is known only after the last byte, so the writer leaves its 16 bytes to fill in.
   */
  sealer(): { iv: Buffer; cipher: CipherGCM } {
    const iv = randomBytes(12);
    return { iv, cipher: createCipheriv("aes-256-gcm", this.sealKey, iv) };
  }

  /** The streaming twin of openBytes: `final()` throws if the file was altered or truncated. */
  opener(header: Uint8Array): DecipherGCM {
    const raw = Buffer.from(header);
    const decipher = createDecipheriv("aes-256-gcm", this.sealKey, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, SEALED_HEADER_BYTES));
    return decipher;
  }

  /** A compact signed token: base64url(JSON).base64url(HMAC). Not encrypted: holds ids only. */
  signToken(claims: Record<string, unknown>): string {
    const body = Buffer.from(JSON.stringify(claims)).toString("base64url");
    return `${body}.${createHmac("sha256", this.tokenKey).update(body).digest("base64url")}`;
  }

  verifyToken<T>(token: string): T | undefined {
    const dot = token.indexOf(".");
    if (dot < 1) return undefined;
    const body = token.slice(0, dot);
    const expected = createHmac("sha256", this.tokenKey).update(body).digest();
    const given = Buffer.from(token.slice(dot + 1), "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      return JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as T;
    } catch {
      return undefined;
    }
  }
}

export function sha256Hex(input: string | Uint8Array): string {
  return createHash("sha256").update(input).digest("hex");
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

/** Constant-time check of a hex HMAC-SHA256 the caller made with `secret` (widget identity). */
export function verifyHmacHex(secret: string, message: string, givenHex: string): boolean {
  const expected = createHmac("sha256", secret).update(message).digest();
  if (!/^[0-9a-f]{64}$/i.test(givenHex)) return false;
  return timingSafeEqual(expected, Buffer.from(givenHex, "hex"));
}
