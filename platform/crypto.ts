import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
  type CipherGCM,
  type DecipherGCM,
} from "node:crypto";

/** Sealed bytes begin with iv (12) and the GCM tag (16); the ciphertext follows. */
export const SEALED_HEADER_BYTES = 28;

/** A value sealed or a token signed with a key this server does not have (SECRET_KEY changed). */
export class UnknownKeyError extends Error {
  constructor() {
    super(
      "sealed or signed with a key this server does not have (was SECRET_KEY changed without SECRET_KEY_PREVIOUS?)",
    );
  }
}

type DerivedKey = { id: string; seal: Buffer; token: Buffer };

function deriveKey(secret: string): DerivedKey {
  return {
    // Names the key in what it sealed or signed, without revealing anything about it.
    id: createHmac("sha256", secret).update("switchboard/key-id/v1").digest("base64url").slice(0, 8),
    // Separate keys per purpose, so a visitor token can never be replayed as ciphertext or vice versa.
    seal: createHmac("sha256", secret).update("switchboard/seal/v1").digest(),
    token: createHmac("sha256", secret).update("switchboard/token/v1").digest(),
  };
}

/**
 * Secrets at rest (inbox credentials, recordings) are sealed with AES-256-GCM under a key derived
 * from SECRET_KEY; tokens are signed with another. Sealed text is `v2.<key id>.<base64url(iv[12] |
 * tag[16] | ciphertext)>` and tokens end in `.<key id>`, so a value opens with the key that made it:
 * SECRET_KEY, or SECRET_KEY_PREVIOUS during a rotation. Values from before key ids (`v1.`, two-part
 * tokens) are tried with each key.
 */
export class Keyring {
  private readonly keys: DerivedKey[];

  constructor(secret: string, previous: (string | undefined)[] = []) {
    this.keys = [secret, ...previous.filter((p): p is string => !!p && p !== secret)].map(deriveKey);
  }

  private get current() {
    return this.keys[0]!;
  }

  seal(plaintext: string): string {
    const key = this.current;
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key.seal, iv);
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return `v2.${key.id}.` + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
  }

  open(sealed: string): string {
    return this.openSealed(sealed).plaintext;
  }

  /**
   * Opens a sealed value; `stale` when it was not sealed with the current key (the caller seals it
   * again). Throws UnknownKeyError when no key this server has made it.
   */
  openSealed(sealed: string): { plaintext: string; stale: boolean } {
    const decrypt = (key: DerivedKey, b64: string) => {
      const raw = Buffer.from(b64, "base64url");
      const decipher = createDecipheriv("aes-256-gcm", key.seal, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
    };
    const v2 = /^v2\.([A-Za-z0-9_-]{8})\.(.*)$/s.exec(sealed);
    if (v2) {
      const key = this.keys.find((k) => k.id === v2[1]);
      if (!key) throw new UnknownKeyError();
      return { plaintext: decrypt(key, v2[2]!), stale: key !== this.current };
    }
    if (!sealed.startsWith("v1.")) throw new Error("Unknown sealed format");
    for (const key of this.keys) {
      try {
        return { plaintext: decrypt(key, sealed.slice(3)), stale: true };
      } catch {
        // Not this key: GCM's tag tells, try the next.
      }
    }
    throw new UnknownKeyError();
  }

  /** Whether a sealed value was sealed with the current key (nothing to re-seal). */
  isCurrent(sealed: string): boolean {
    return sealed.startsWith(`v2.${this.current.id}.`);
  }

  /** Bytes sealed the same way (recordings at rest): iv ‖ tag ‖ ciphertext. */
  sealBytes(plain: Uint8Array): Uint8Array {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.current.seal, iv);
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  /** Files carry no key id (their layout predates it): each key is tried, the current one first. */
  openBytes(sealed: Uint8Array): Uint8Array<ArrayBuffer> {
    const raw = Buffer.from(sealed);
    for (const key of this.keys) {
      try {
        const decipher = createDecipheriv("aes-256-gcm", key.seal, raw.subarray(0, 12));
        decipher.setAuthTag(raw.subarray(12, 28));
        return new Uint8Array(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]));
      } catch {
        // Altered, or sealed with another key: the next key decides.
      }
    }
    throw new UnknownKeyError();
  }

  /**
   * Sealing for files too large to hold in memory (a raw 50 MB mail): the same format as sealBytes,
   * but the tag is known only after the last byte, so the writer leaves its 16 bytes to fill in.
   */
  sealer(): { iv: Buffer; cipher: CipherGCM } {
    const iv = randomBytes(12);
    return { iv, cipher: createCipheriv("aes-256-gcm", this.current.seal, iv) };
  }

  /** How many keys open values: SECRET_KEY, then SECRET_KEY_PREVIOUS. */
  get keyCount() {
    return this.keys.length;
  }

  /**
   * The streaming twin of openBytes, with the key at `keyIndex` (0: the current one): `final()`
   * throws if the file was altered or truncated, or sealed with another key. A stream cannot be tried
   * again, so the reader of a file sealed before a rotation picks the key first
   * (AttachmentStore.openSealedStream).
   */
  opener(header: Uint8Array, keyIndex = 0): DecipherGCM {
    const raw = Buffer.from(header);
    const key = this.keys[keyIndex] ?? this.current;
    const decipher = createDecipheriv("aes-256-gcm", key.seal, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, SEALED_HEADER_BYTES));
    return decipher;
  }

  /** A compact signed token: base64url(JSON).base64url(HMAC).keyId. Not encrypted: holds ids only. */
  signToken(claims: Record<string, unknown>): string {
    const body = Buffer.from(JSON.stringify(claims)).toString("base64url");
    return `${body}.${createHmac("sha256", this.current.token).update(body).digest("base64url")}.${this.current.id}`;
  }

  /** The claims of a token signed with one of this server's keys; undefined for anything else. */
  verifyToken<T>(token: string): T | undefined {
    const [body, signature, keyId, extra] = token.split(".");
    if (!body || !signature || extra !== undefined) return undefined;
    // Tokens from before key ids: each key may have signed them.
    const candidates = keyId === undefined ? this.keys : this.keys.filter((k) => k.id === keyId);
    const given = Buffer.from(signature, "base64url");
    const signed = candidates.some((k) => {
      const expected = createHmac("sha256", k.token).update(body).digest();
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
    if (!signed) return undefined;
    try {
      return JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as T;
    } catch {
      return undefined;
    }
  }

  /**
   * A secret per key for one purpose, the current key's first: what signToken({ purpose }) gave before
   * tokens carried a key id, so secrets derived that way (email reply tokens already in customers'
   * mailboxes) stay the same, and a rotation keeps the previous key's valid.
   */
  purposeSecrets(purpose: string): string[] {
    const body = Buffer.from(JSON.stringify({ purpose })).toString("base64url");
    return this.keys.map((k) => `${body}.${createHmac("sha256", k.token).update(body).digest("base64url")}`);
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
