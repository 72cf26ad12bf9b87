import { BlockList, isIP } from "node:net";
import type { Readable } from "node:stream";
import { dkimVerify, dmarc, spf, type DNSResolver } from "mailauth";

/**
 * Is an inbound mail really from the domain in its From? DKIM signatures, SPF for the connecting
 * host (only where that host is the sender's own server), and the From domain's DMARC policy, all with
 * mailauth. Production asks DNS; tests pass a resolver answering for their own domains.
 */

/** mailauth's DNS lookup: `(name, "TXT")` → records, or an error with a DNS code (ENOTFOUND…). */
export type MailResolver = DNSResolver;

/**
 * - pass: the From domain vouches for the mail (DMARC pass, or an aligned DKIM signature when the
 *   domain publishes no DMARC record);
 * - fail: DMARC fails under an enforcing policy (quarantine or reject): the From is likely forged;
 * - none: nothing says either way (no signature, no policy, p=none, a DNS error): "sender not verified".
 */
export type SenderVerdict = "pass" | "none" | "fail";

export type SenderAuth = {
  verdict: SenderVerdict;
  /** The From domain the verdict is about. */
  domain: string | null;
  dkim: string;
  /** Not checked (null) when the connecting host was not the sender's server (a relay, IMAP). */
  spf: string | null;
  dmarc: string;
  policy: string | null;
};

/** The connection facts SPF needs; absent for IMAP, where no connecting host is known. */
export type SmtpPeer = { ip: string; helo?: string; envelopeFrom?: string };

/** Loopback, private, link-local and unique-local peers are our own relays, never the sender's server. */
const localNetworks = new BlockList();
const IPV4_LOCAL = [
  ["127.0.0.0", 8],
  ["10.0.0.0", 8],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["169.254.0.0", 16],
  ["100.64.0.0", 10],
];
const IPV6_LOCAL = [
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
];
for (const [net, bits] of IPV4_LOCAL) localNetworks.addSubnet(String(net), Number(bits), "ipv4");
for (const [net, bits] of IPV6_LOCAL) localNetworks.addSubnet(String(net), Number(bits), "ipv6");

/** SPF means something only when the host that connected is the sender's own outgoing server. */
export function peerIsSender(ip: string) {
  const plain = ip.replace(/^::ffff:(?=\d+\.)/i, "");
  const family = isIP(plain);
  if (!family) return false;
  return !localNetworks.check(plain, family === 4 ? "ipv4" : "ipv6");
}

export async function verifySender(
  input: Readable | Uint8Array,
  options: { resolver?: MailResolver; peer?: SmtpPeer } = {},
): Promise<SenderAuth> {
  const { resolver, peer } = options;
  const bytes = input instanceof Uint8Array ? Buffer.from(input.buffer, input.byteOffset, input.byteLength) : input;
  const dkim = await dkimVerify(bytes, { resolver });
  const signatures = dkim.results ?? [];
  const spfResult =
    peer && peerIsSender(peer.ip)
      ? await spf({ ip: peer.ip, helo: peer.helo, sender: peer.envelopeFrom, resolver })
      : undefined;
  const author = dkim.headerFrom?.length === 1 ? dkim.headerFrom[0]! : undefined;
  const fromDomain = author ? author.slice(author.lastIndexOf("@") + 1).toLowerCase() : null;
  const policy = fromDomain
    ? await dmarc({
        headerFrom: dkim.headerFrom,
        fromFields: dkim.fromFields,
        spfDomains: spfResult?.status.result === "pass" && spfResult.domain ? [spfResult.domain] : [],
        dkimDomains: signatures.flatMap((r) =>
          r.status.result === "pass" && r.signingDomain
            ? [{ id: r.id, domain: r.signingDomain, aligned: r.status.aligned, underSized: r.status.underSized }]
            : [],
        ),
        resolver,
      })
    : false;
  const dmarcResult = policy ? policy.status.result : "none";
  const alignedDkim = signatures.some((r) => r.status.result === "pass" && r.status.aligned);
  const verdict: SenderVerdict =
    dmarcResult === "pass" || (dmarcResult === "none" && alignedDkim)
      ? "pass"
      : dmarcResult === "fail" && policy && (policy.policy === "quarantine" || policy.policy === "reject")
        ? "fail"
        : "none";
  return {
    verdict,
    domain: fromDomain,
    dkim: signatures.length
      ? signatures.map((r) => `${r.status.result}${r.signingDomain ? ` (${r.signingDomain})` : ""}`).join(", ")
      : "none",
    spf: spfResult ? spfResult.status.result : null,
    dmarc: dmarcResult,
    policy: policy ? policy.policy : null,
  };
}
