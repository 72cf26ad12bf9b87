import { createHmac } from "node:crypto";
import { describe, expect, it } from "bun:test";
import { Keyring, SEALED_HEADER_BYTES, UnknownKeyError, verifyHmacHex } from "./crypto.ts";

describe("keyring", () => {
  const keyring = new Keyring("a".repeat(40));

  it("seals credentials so the stored text reveals nothing and opens them back", () => {
    const sealed = keyring.seal('{"password":"hunter2"}');
    expect(sealed).not.toContain("hunter2");
    expect(keyring.open(sealed)).toBe('{"password":"hunter2"}');
  });

  it("refuses ciphertext that was tampered with or sealed under another key", () => {
    const sealed = keyring.seal("secret");
    // Flip one bit of the ciphertext itself (the last base64 character may carry only padding bits).
    const [version, keyId, b64] = sealed.split(".");
    const raw = Buffer.from(b64!, "base64url");
    raw[raw.length - 1]! ^= 1;
    expect(() => keyring.open(`${version}.${keyId}.${raw.toString("base64url")}`)).toThrow();
    expect(() => new Keyring("b".repeat(40)).open(sealed)).toThrow();
  });

  it("seals a file chunk by chunk in the recordings' format, and opens it as a stream that fails when altered", () => {
    const chunks = [Buffer.from("From: a@x.test\r\n"), Buffer.alloc(100_000, 7), Buffer.from("end")];
    const { iv, cipher } = keyring.sealer();
    const body = Buffer.concat([...chunks.map((c) => cipher.update(c)), cipher.final()]);
    const sealed = Buffer.concat([iv, cipher.getAuthTag(), body]);
    // Whole or streamed, the same bytes open to the same plain text.
    expect(Buffer.from(keyring.openBytes(sealed))).toEqual(Buffer.concat(chunks));
    const opener = keyring.opener(sealed.subarray(0, SEALED_HEADER_BYTES));
    expect(Buffer.concat([opener.update(sealed.subarray(SEALED_HEADER_BYTES)), opener.final()])).toEqual(
      Buffer.concat(chunks),
    );
    const altered = Buffer.from(sealed);
    altered[SEALED_HEADER_BYTES + 50]! ^= 1;
    const check = keyring.opener(altered.subarray(0, SEALED_HEADER_BYTES));
    check.update(altered.subarray(SEALED_HEADER_BYTES));
    expect(() => check.final()).toThrow();
  });

  it("verifies signed tokens and rejects forged ones", () => {
    const token = keyring.signToken({ c: "contact-1" });
    expect(keyring.verifyToken<{ c: string }>(token)).toEqual({ c: "contact-1" });
    const [body] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ c: "contact-2" })).toString("base64url") + token.slice(body!.length);
    expect(keyring.verifyToken(forged)).toBeUndefined();
    expect(keyring.verifyToken("garbage")).toBeUndefined();
  });

  describe("rotation (SECRET_KEY_PREVIOUS)", () => {
    const oldKey = "o".repeat(40);
    const before = new Keyring(oldKey);
    const rotated = new Keyring("n".repeat(40), [oldKey]);
    const stranger = new Keyring("n".repeat(40));

    it("opens what the previous key sealed, says it is stale, and seals anew with the current key", () => {
      const sealed = before.seal("hunter2");
      expect(rotated.openSealed(sealed)).toEqual({ plaintext: "hunter2", stale: true });
      expect(rotated.isCurrent(sealed)).toBe(false);
      const again = rotated.seal("hunter2");
      expect(rotated.isCurrent(again)).toBe(true);
      expect(rotated.openSealed(again)).toEqual({ plaintext: "hunter2", stale: false });
      // The old key alone cannot open the new value: the key id names a key it does not have.
      expect(() => before.open(again)).toThrow(UnknownKeyError);
    });

    it("throws UnknownKeyError for a value no key opens, including values sealed before key ids", () => {
      const sealed = before.seal("hunter2");
      expect(() => stranger.open(sealed)).toThrow(UnknownKeyError);
      const legacy = `v1.${sealed.split(".")[2]}`;
      expect(rotated.openSealed(legacy)).toEqual({ plaintext: "hunter2", stale: true });
      expect(before.openSealed(legacy)).toEqual({ plaintext: "hunter2", stale: true });
      expect(() => stranger.open(legacy)).toThrow(UnknownKeyError);
    });

    it("verifies tokens the previous key signed, and two-part tokens from before key ids", () => {
      const token = before.signToken({ c: "contact-1" });
      expect(token.split(".")).toHaveLength(3);
      expect(rotated.verifyToken(token)).toEqual({ c: "contact-1" });
      expect(stranger.verifyToken(token)).toBeUndefined();
      const legacy = token.split(".").slice(0, 2).join(".");
      expect(rotated.verifyToken(legacy)).toEqual({ c: "contact-1" });
      expect(stranger.verifyToken(legacy)).toBeUndefined();
      // A token naming one key but signed by another is refused.
      const [body, sig] = token.split(".");
      expect(rotated.verifyToken(`${body}.${sig}.${rotated.signToken({}).split(".")[2]}`)).toBeUndefined();
    });

    it("keeps purpose secrets as they were before key ids, the current key's first", () => {
      const body = Buffer.from(JSON.stringify({ purpose: "email-reply-token" })).toString("base64url");
      const tokenKey = (secret: string) => createHmac("sha256", secret).update("switchboard/token/v1").digest();
      const legacy = (secret: string) =>
        `${body}.${createHmac("sha256", tokenKey(secret)).update(body).digest("base64url")}`;
      expect(before.purposeSecrets("email-reply-token")).toEqual([legacy(oldKey)]);
      expect(rotated.purposeSecrets("email-reply-token")).toEqual([legacy("n".repeat(40)), legacy(oldKey)]);
    });

    it("opens recordings the previous key sealed", () => {
      const sealed = before.sealBytes(Buffer.from("audio"));
      expect(Buffer.from(rotated.openBytes(sealed)).toString()).toBe("audio");
      expect(() => stranger.openBytes(sealed)).toThrow(UnknownKeyError);
    });
  });

  it("checks a host site's HMAC of a user id in constant time", () => {
    const hash = createHmac("sha256", "inbox-secret").update("user-42").digest("hex");
    expect(verifyHmacHex("inbox-secret", "user-42", hash)).toBe(true);
    expect(verifyHmacHex("inbox-secret", "user-43", hash)).toBe(false);
    expect(verifyHmacHex("inbox-secret", "user-42", "zz")).toBe(false);
  });
});
