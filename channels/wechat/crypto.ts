import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { Invalid } from "../../platform/errors.ts";

/**
 * The message crypto of Official Accounts (safe and compatible mode) and WeCom callbacks: AES-256-CBC
 * with the key from the inbox's EncodingAESKey and the key's first 16 bytes as the IV (the same IV for
 * every message: WeChat's design, which is why the plaintext starts with 16 random bytes). The
 * plaintext is `random(16) ‖ length(4, big-endian) ‖ message ‖ receiveId`, padded PKCS#7 to a 32-byte
 * block, not AES's 16. There is no MAC: integrity is `msg_signature` (verify.ts), checked first.
 */

const BLOCK = 32;
const RANDOM_BYTES = 16;
const HEADER_BYTES = RANDOM_BYTES + 4;
/** 43 characters: 32 bytes in base64 without the trailing "=", which WeChat's console leaves off. */
const ENCODING_AES_KEY = /^[A-Za-z0-9+/]{43}$/;

export function isEncodingAesKey(value: string): boolean {
  return ENCODING_AES_KEY.test(value);
}

/** Why a push could not be decrypted; a 400 for the sender, never a crash of the gateway. */
export type DecryptFailure = "ciphertext" | "padding" | "length" | "encoding" | "receive-id";

export class WechatDecryptError extends Invalid {
  constructor(
    readonly failure: DecryptFailure,
    message: string,
  ) {
    super(message, "Encrypt");
  }
}

function aesKey(encodingAesKey: string): { key: Buffer; iv: Buffer } {
  if (!isEncodingAesKey(encodingAesKey)) {
    throw new Invalid("encodingAesKey must be 43 characters of base64 (A–Z, a–z, 0–9, + and /)", "encodingAesKey");
  }
  const key = Buffer.from(`${encodingAesKey}=`, "base64");
  return { key, iv: key.subarray(0, 16) };
}

/**
 * Encrypts a reply (or a test push) for `receiveId`: the AppID of an Official Account, the CorpID of
 * a WeCom callback. `random16` fixes the leading random bytes, for reproducible tests.
 */
export function encryptMessage(
  encodingAesKey: string,
  message: string,
  receiveId: string,
  random16: Uint8Array = randomBytes(RANDOM_BYTES),
): string {
  const { key, iv } = aesKey(encodingAesKey);
  if (random16.length !== RANDOM_BYTES) throw new Invalid("random16 must be 16 bytes", "random16");
  const body = Buffer.from(message, "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length, 0);
  const plain = Buffer.concat([random16, length, body, Buffer.from(receiveId, "utf8")]);
  // A full block of padding when the plaintext already fills its blocks: PKCS#7 always pads.
  const pad = BLOCK - (plain.length % BLOCK);
  const padded = Buffer.concat([plain, Buffer.alloc(pad, pad)]);
  const cipher = createCipheriv("aes-256-cbc", key, iv).setAutoPadding(false);
  return Buffer.concat([cipher.update(padded), cipher.final()]).toString("base64");
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The message inside an `Encrypt` element (or WeCom's encrypted `echostr`). Refuses, with a
 * `WechatDecryptError`, anything that is not a well-formed plaintext for `expectedReceiveId`: a push
 * encrypted for another app must never be accepted, even when the key is shared.
 */
export function decryptMessage(encodingAesKey: string, encrypted: string, expectedReceiveId: string): string {
  const { key, iv } = aesKey(encodingAesKey);
  const ciphertext = Buffer.from(encrypted, "base64");
  // Node's base64 decoder skips characters outside the alphabet; a body that is not base64 must not
  // decrypt to whatever remains.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encrypted) || ciphertext.length === 0 || ciphertext.length % BLOCK !== 0) {
    throw new WechatDecryptError("ciphertext", "Encrypt is not base64 of whole 32-byte blocks");
  }
  const decipher = createDecipheriv("aes-256-cbc", key, iv).setAutoPadding(false);
  const padded = Buffer.concat([decipher.update(ciphertext), decipher.final()]);

  const pad = padded[padded.length - 1]!;
  if (pad < 1 || pad > BLOCK || padded.subarray(padded.length - pad).some((b) => b !== pad)) {
    throw new WechatDecryptError("padding", "Encrypt has bad padding (wrong EncodingAESKey?)");
  }
  const plain = padded.subarray(0, padded.length - pad);
  if (plain.length < HEADER_BYTES) throw new WechatDecryptError("length", "Encrypt is too short for a message");
  const length = plain.readUInt32BE(RANDOM_BYTES);
  if (length > plain.length - HEADER_BYTES) {
    throw new WechatDecryptError("length", "Encrypt's message length runs past its data");
  }
  let message: string;
  let receiveId: string;
  try {
    message = utf8.decode(plain.subarray(HEADER_BYTES, HEADER_BYTES + length));
    receiveId = utf8.decode(plain.subarray(HEADER_BYTES + length));
  } catch {
    throw new WechatDecryptError("encoding", "Encrypt's message is not UTF-8");
  }
  if (receiveId !== expectedReceiveId) {
    throw new WechatDecryptError("receive-id", "Encrypt was encrypted for another app (AppID/CorpID mismatch)");
  }
  return message;
}
