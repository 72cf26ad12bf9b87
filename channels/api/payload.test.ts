import { describe, expect, it } from "bun:test";
import { createHmac } from "node:crypto";
import { ApiInboundMessage, identitiesOf, signature, signedHeaders, toInbound, verifySignature } from "./index.ts";

describe("API channel callbacks", () => {
  it("signs '<timestamp>.<raw body>' with HMAC-SHA256 in lowercase hex", () => {
    const body = '{"id":"e1","type":"message.created"}';
    const expected = createHmac("sha256", "s3cret").update(`1700000000.${body}`).digest("hex");
    expect(signature("s3cret", 1700000000, body)).toBe(`sha256=${expected}`);
    const headers = signedHeaders("s3cret", body, 1700000000);
    expect(headers["x-switchboard-timestamp"]).toBe("1700000000");
    expect(headers["x-switchboard-signature"]).toBe(`sha256=${expected}`);
  });

  it("verifies a signature in its time window only, and not with another secret or body", () => {
    const body = "{}";
    const h = signedHeaders("k", body, 1000);
    const given = { timestamp: h["x-switchboard-timestamp"], signature: h["x-switchboard-signature"] };
    expect(verifySignature("k", given, body, { nowSeconds: 1010 })).toBe(true);
    expect(verifySignature("k", given, body, { nowSeconds: 2000 })).toBe(false);
    expect(verifySignature("other", given, body, { nowSeconds: 1010 })).toBe(false);
    expect(verifySignature("k", given, "{ }", { nowSeconds: 1010 })).toBe(false);
    expect(verifySignature("k", { timestamp: null, signature: given.signature }, body)).toBe(false);
  });
});

describe("API channel messages", () => {
  it("names a missing contact identifier", () => {
    const parsed = ApiInboundMessage.safeParse({ contact: {}, text: "hi" });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.path).toEqual(["contact", "identifier"]);
  });

  it("makes the identifier the contact's api identity; email and phone unverified ones", () => {
    const message = ApiInboundMessage.parse({
      contact: { identifier: "u-1", name: "Ada", email: "ada@example.test", phone: "+1 555 0100" },
      text: "hi",
      externalId: "m-1",
    });
    const { from, extra } = identitiesOf(message.contact);
    expect(from).toEqual({ kind: "api", value: "u-1", displayName: "Ada", verified: true });
    expect(extra.map((i) => [i.kind, i.verified])).toEqual([
      ["email", false],
      ["phone", false],
    ]);
    const inbound = toInbound("00000000-0000-4000-8000-000000000000", message, "x");
    expect(inbound).toMatchObject({ channel: "api", externalId: "m-1", text: "hi" });
    expect(
      toInbound("00000000-0000-4000-8000-000000000000", { ...message, externalId: undefined }, "r").externalId,
    ).toBe("api:r");
  });
});
