import { describe, expect, it } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { dkimSign } from "mailauth";
import { peerIsSender, verifySender } from "./verify.ts";

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const records: Record<string, string> = {
  "s1._domainkey.strict.test": `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`,
  "_dmarc.strict.test": "v=DMARC1; p=reject",
  "strict.test": "v=spf1 ip4:192.0.2.10 -all",
  "_dmarc.lax.test": "v=DMARC1; p=none",
};
/** DNS as these tests publish it; every other name does not exist. */
const resolver = async (name: string, type: string) => {
  const record = type === "TXT" ? records[name.toLowerCase()] : undefined;
  if (record) return [[record]];
  throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: "ENOTFOUND" });
};

const mail = (from: string) =>
  Buffer.from(`From: ${from}\r\nTo: help@acme.test\r\nSubject: Hi\r\nMessage-ID: <m@x>\r\n\r\nHello\r\n`);

async function sign(raw: Buffer, domain: string) {
  const key = {
    signingDomain: domain,
    selector: "s1",
    privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
  const { signatures } = await dkimSign(raw, { ...key, signatureData: [key] });
  return Buffer.concat([Buffer.from(signatures), raw]);
}

describe("verifySender", () => {
  it("passes a mail signed by its From domain, and fails the same From unsigned under p=reject", async () => {
    expect(await verifySender(await sign(mail("ann@strict.test"), "strict.test"), { resolver })).toMatchObject({
      verdict: "pass",
      dmarc: "pass",
      domain: "strict.test",
    });
    expect(await verifySender(mail("ann@strict.test"), { resolver })).toMatchObject({
      verdict: "fail",
      dkim: "none",
      dmarc: "fail",
      policy: "reject",
    });
  });

  it("says nothing either way without a policy, under p=none, or for a signature of another domain", async () => {
    expect((await verifySender(mail("bo@nopolicy.test"), { resolver })).verdict).toBe("none");
    expect((await verifySender(mail("bo@lax.test"), { resolver })).verdict).toBe("none");
    expect((await verifySender(await sign(mail("bo@nopolicy.test"), "strict.test"), { resolver })).verdict).toBe(
      "none",
    );
  });

  it("checks SPF only for a public peer, where it can pass DMARC for an unsigned mail", async () => {
    const viaSender = await verifySender(mail("ann@strict.test"), {
      resolver,
      peer: { ip: "192.0.2.10", helo: "mx.strict.test", envelopeFrom: "ann@strict.test" },
    });
    expect(viaSender).toMatchObject({ verdict: "pass", spf: "pass", dmarc: "pass" });
    const forgedHost = await verifySender(mail("ann@strict.test"), {
      resolver,
      peer: { ip: "198.51.100.7", envelopeFrom: "ann@strict.test" },
    });
    expect(forgedHost).toMatchObject({ verdict: "fail", spf: "fail" });
    // Through our own relay on loopback, SPF would judge the relay: not checked at all.
    const viaRelay = await verifySender(mail("ann@strict.test"), {
      resolver,
      peer: { ip: "127.0.0.1", envelopeFrom: "ann@strict.test" },
    });
    expect(viaRelay).toMatchObject({ verdict: "fail", spf: null });
  });

  it("counts loopback, private, link-local and unique-local peers as relays, public ones as senders", () => {
    for (const ip of [
      "127.0.0.1",
      "10.1.2.3",
      "172.20.0.5",
      "192.168.1.1",
      "169.254.1.1",
      "::1",
      "fd00::1",
      "fe80::1",
      "::ffff:10.0.0.1",
      "nonsense",
    ])
      expect(peerIsSender(ip)).toBe(false);
    for (const ip of ["192.0.2.10", "8.8.8.8", "2001:db8::1", "::ffff:203.0.113.9"])
      expect(peerIsSender(ip)).toBe(true);
  });
});
