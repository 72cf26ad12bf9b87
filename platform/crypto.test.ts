import { createHmac } from "node:crypto";
import { describe, expect, it } from "bun:test";
import { Keyring, verifyHmacHex } from "./crypto.ts";

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
    const raw = Buffer.from(sealed.slice(3), "base64url");
    raw[raw.length - 1]! ^= 1;
    expect(() => keyring.open(`v1.${raw.toString("base64url")}`)).toThrow();
    expect(() => new Keyring("b".repeat(40)).open(sealed)).toThrow();
  });

  it("verifies signed tokens and rejects forged ones", () => {
    const token = keyring.signToken({ c: "contact-1" });
    expect(keyring.verifyToken<{ c: string }>(token)).toEqual({ c: "contact-1" });
    const [body] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ c: "contact-2" })).toString("base64url") + token.slice(body!.length);
    expect(keyring.verifyToken(forged)).toBeUndefined();
    expect(keyring.verifyToken("garbage")).toBeUndefined();
  });

  it("checks a host site's HMAC of a user id in constant time", () => {
    const hash = createHmac("sha256", "inbox-secret").update("user-42").digest("hex");
    expect(verifyHmacHex("inbox-secret", "user-42", hash)).toBe(true);
    expect(verifyHmacHex("inbox-secret", "user-43", hash)).toBe(false);
    expect(verifyHmacHex("inbox-secret", "user-42", "zz")).toBe(false);
  });
});
