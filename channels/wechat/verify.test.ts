import { describe, expect, it } from "bun:test";
import { messageSignature, plainSignature, verifyPush } from "./verify.ts";

// Expected digests computed outside this code: `printf '%s' <sorted, joined> | sha1sum`.
const TOKEN = "demo-wechat-token";
const AT = "1700000000";
const NOW = Number(AT) * 1000;

describe("plainSignature", () => {
  it("is the sha1 of token, timestamp and nonce sorted and joined", () => {
    expect(plainSignature(TOKEN, AT, "abc")).toBe("42117207f0fe38da72e2fee15db05e98ffd548a2");
  });

  it("sorts as strings, not as numbers: a nonce of 9 comes after the timestamp", () => {
    expect(plainSignature(TOKEN, AT, "9")).toBe("ec21b18dea5629d58da74ea0f821a390e66ce3cd");
  });

  it("sorts by code unit, so an upper-case token sorts before a lower-case nonce", () => {
    expect(plainSignature("Token", AT, "abc")).toBe("3c13fb6ec9f637e274e9a0beb132ea1d1aab4b67");
  });
});

describe("messageSignature", () => {
  it("sorts the encrypted body in with the other three", () => {
    expect(messageSignature(TOKEN, AT, "abc", "ENCRYPTED")).toBe("e5a3eb5a1a7026a63b5d331d2e1ecfe8e1e7a5f7");
  });
});

describe("verifyPush", () => {
  const plain = { token: TOKEN, timestamp: AT, nonce: "abc", signature: plainSignature(TOKEN, AT, "abc"), now: NOW };

  it("accepts a plaintext push signed with the inbox's token", () => {
    expect(verifyPush(plain)).toEqual({ ok: true });
  });

  it("accepts the signature in upper case", () => {
    expect(verifyPush({ ...plain, signature: plain.signature.toUpperCase() })).toEqual({ ok: true });
  });

  it("refuses a push signed with another token", () => {
    expect(verifyPush({ ...plain, signature: plainSignature("other-token", AT, "abc") })).toEqual({
      ok: false,
      reason: "bad-signature",
    });
  });

  it("refuses a signature whose nonce or timestamp was changed after signing", () => {
    expect(verifyPush({ ...plain, nonce: "abd" })).toMatchObject({ reason: "bad-signature" });
    expect(verifyPush({ ...plain, timestamp: "1700000001" })).toMatchObject({ reason: "bad-signature" });
  });

  it("refuses a truncated or non-hex signature without throwing", () => {
    expect(verifyPush({ ...plain, signature: plain.signature.slice(0, 39) })).toMatchObject({
      reason: "bad-signature",
    });
    expect(verifyPush({ ...plain, signature: "签名" })).toMatchObject({ reason: "bad-signature" });
  });

  it("names the missing parameter", () => {
    expect(verifyPush({ ...plain, signature: undefined })).toEqual({
      ok: false,
      reason: "missing-parameter",
      parameter: "signature",
    });
    expect(verifyPush({ ...plain, nonce: "" })).toMatchObject({ parameter: "nonce" });
    expect(verifyPush({ ...plain, timestamp: undefined })).toMatchObject({ parameter: "timestamp" });
    expect(verifyPush({ ...plain, token: "" })).toMatchObject({ parameter: "token" });
    expect(verifyPush({ ...plain, encrypt: "" })).toMatchObject({ parameter: "encrypt" });
  });

  it("accepts a timestamp up to five minutes either side of now, and refuses one further off", () => {
    expect(verifyPush({ ...plain, now: NOW + 300_000 })).toEqual({ ok: true });
    expect(verifyPush({ ...plain, now: NOW - 300_000 })).toEqual({ ok: true });
    expect(verifyPush({ ...plain, now: NOW + 301_000 })).toEqual({
      ok: false,
      reason: "timestamp-outside-window",
      skewSeconds: -301,
    });
    expect(verifyPush({ ...plain, now: NOW - 301_000 })).toMatchObject({ skewSeconds: 301 });
  });

  it("takes another window when asked", () => {
    expect(verifyPush({ ...plain, now: NOW + 61_000, maxSkewSeconds: 60 })).toMatchObject({
      reason: "timestamp-outside-window",
    });
  });

  it("refuses a signed timestamp that is not whole seconds", () => {
    const odd = "1700000000.5";
    expect(verifyPush({ ...plain, timestamp: odd, signature: plainSignature(TOKEN, odd, "abc") })).toEqual({
      ok: false,
      reason: "malformed-timestamp",
    });
  });

  it("reports a forged signature as forged even when its timestamp is old too", () => {
    expect(verifyPush({ ...plain, signature: "0".repeat(40), now: NOW + 3_600_000 })).toMatchObject({
      reason: "bad-signature",
    });
  });

  describe("in safe mode", () => {
    const encrypt = "ENCRYPTED";
    const safe = { ...plain, encrypt, signature: messageSignature(TOKEN, AT, "abc", encrypt) };

    it("accepts msg_signature over the encrypted body", () => {
      expect(verifyPush(safe)).toEqual({ ok: true });
    });

    it("refuses the plaintext signature in place of msg_signature", () => {
      expect(verifyPush({ ...safe, signature: plain.signature })).toMatchObject({ reason: "bad-signature" });
    });

    it("refuses an encrypted body swapped for another", () => {
      expect(verifyPush({ ...safe, encrypt: "ENCRYPTEE" })).toMatchObject({ reason: "bad-signature" });
    });
  });
});
