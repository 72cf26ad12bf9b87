import { createHmac } from "node:crypto";
import { describe, expect, it } from "bun:test";
import { Keyring, SEALED_HEADER_BYTES, verifyHmacHex } from "./crypto.ts";

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

  it("seals a file chunk by chunk in the recordings' format, and opens it as a stream that fails when altered", () => {
    const chunks = [Buffer.from("From: a@x.test\r\n"), Buffer.alloc(100_000, 7), Buffer.from("end")];
    const { iv, cipher } = keyring.sealer();
    const body = Buffer.concat([...chunks.map((c) => cipher.update(c)), cipher.final()]);
    const sealed = Buffer.concat([iv, cipher.getAuthTag(), body]);
    // Whole or streamed, the same bytes open to the same plain text.
    expect(Buffer.from(keyring.openBytes(sealed))).toEqual(Buffer.concat(chunks));
    const opener = keyring.opener(sealed.subarray(0, SEALED_HEADER_BYTES));
    expect(Buffer.concat([opener.update(sealed.subarray(SEALED_HEADER_BYTES)), opener.final()])).toEqual(Buffer.concat(chunks));
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

  it("checks a host site's HMAC of a user id in constant time", () => {
    const hash = createHmac("sha256", "inbox-secret").update("user-42").digest("hex");
    expect(verifyHmacHex("inbox-secret", "user-42", hash)).toBe(true);
    expect(verifyHmacHex("inbox-secret", "user-43", hash)).toBe(false);
    expect(verifyHmacHex("inbox-secret", "user-42", "zz")).toBe(false);
  });
});
