import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

/**
 * The one policy for requests the server makes to addresses someone else chose (IVR lookups, and
 * later callbacks, webhooks, media downloads): http(s) only, and never to this machine, the private
 * network, link-local or cloud metadata addresses, unless the host is listed in OUTBOUND_ALLOW_HOSTS.
 * The host is resolved and every address checked; redirects are followed by hand and each hop is
 * checked the same way. (The HTTP client resolves the name again when it connects; a DNS answer that
 * changes within that instant is the residual risk, as for any resolver-based check.)
 */
export class OutboundRefused extends Error {}

export type OutboundPolicy = {
  /** Host names or IP literals (lower case) that may be reached although private. */
  allowHosts: string[];
  /** Resolves a host name to its addresses (tests pass their own). */
  resolve?: (host: string) => Promise<string[]>;
  maxRedirects?: number;
};

const resolveAll = async (host: string) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** Refuses (OutboundRefused) a URL the policy does not allow; resolves to its checked addresses. */
export async function checkOutboundUrl(url: URL, policy: OutboundPolicy) {
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new OutboundRefused(`Only http and https URLs may be fetched, not ${url.protocol}`);
  const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  const allowed = (name: string) => policy.allowHosts.includes(name);
  if (allowed(host)) return;
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : await (policy.resolve ?? resolveAll)(host);
  } catch {
    throw new OutboundRefused(`${host} does not resolve`);
  }
  if (!addresses.length) throw new OutboundRefused(`${host} does not resolve`);
  for (const address of addresses)
    if (!isPublicAddress(address) && !allowed(address.toLowerCase()))
      throw new OutboundRefused(
        `${host} is a private, loopback or link-local address (${address}); OUTBOUND_ALLOW_HOSTS may list it`,
      );
}

/** `fetch` under the policy: the URL and every redirect it leads to are checked before they are requested. */
export async function fetchOutbound(input: string | URL, init: RequestInit, policy: OutboundPolicy): Promise<Response> {
  let url = new URL(input);
  for (let hop = 0; ; hop++) {
    await checkOutboundUrl(url, policy);
    const res = await fetch(url, { ...init, redirect: "manual" });
    const location = res.status >= 300 && res.status < 400 ? res.headers.get("location") : null;
    if (!location) return res;
    await res.body?.cancel();
    if (hop >= (policy.maxRedirects ?? 5)) throw new OutboundRefused("Too many redirects");
    url = new URL(location, url);
  }
}

/** Whether an address is on the public internet: not loopback, private, link-local, metadata, reserved. */
export function isPublicAddress(address: string): boolean {
  const ip = address.replace(/%.*$/, "");
  if (isIP(ip) === 4) return isPublicV4(ip.split(".").map(Number));
  if (isIP(ip) !== 6) return false;
  const g = ipv6Groups(ip);
  if (!g) return false;
  const v4 = (hi: number, lo: number) => [hi >> 8, hi & 255, lo >> 8, lo & 255];
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d): the IPv4 decides.
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) {
    // ::, ::1 and anything else with zeros up to the last group are never public.
    return g[5] === 0 && g[6] === 0 ? false : isPublicV4(v4(g[6]!, g[7]!));
  }
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return isPublicV4(v4(g[6]!, g[7]!));
  // 6to4 (2002:a.b.c.d::/48) embeds the IPv4 in groups 1–2.
  if (g[0] === 0x2002) return isPublicV4(v4(g[1]!, g[2]!));
  if (g[0]! >= 0xfc00 && g[0]! <= 0xfdff) return false; // unique local (fd00:ec2::254 is AWS metadata)
  if ((g[0]! & 0xffc0) === 0xfe80) return false; // link-local
  if ((g[0]! & 0xff00) === 0xff00) return false; // multicast
  if (g[0] === 0x2001 && g[1] === 0x0db8) return false; // documentation
  return true;
}

function isPublicV4([a, b, c]: number[]): boolean {
  if (a === 0 || a === 10 || a === 127) return false; // "this network", private, loopback
  if (a === 100 && b! >= 64 && b! <= 127) return false; // carrier-grade NAT (Alibaba's metadata lives here)
  if (a === 169 && b === 254) return false; // link-local, cloud metadata 169.254.169.254
  if (a === 172 && b! >= 16 && b! <= 31) return false;
  if (a === 192 && b === 168) return false;
  if (a === 192 && b === 0 && (c === 0 || c === 2)) return false; // protocol assignments, documentation
  if (a === 198 && (b === 18 || b === 19)) return false; // benchmarking
  if (a === 198 && b === 51 && c === 100) return false; // documentation
  if (a === 203 && b === 0 && c === 113) return false; // documentation
  return a! < 224; // multicast, reserved, broadcast
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a trailing dotted quad folded in). */
function ipv6Groups(ip: string): number[] | undefined {
  let text = ip.toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, quad.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const part = (s: string | undefined) => (s ? s.split(":").map((h) => parseInt(h, 16)) : []);
  const left = part(head);
  const right = part(tail);
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
  return groups.length === 8 && groups.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffff) ? groups : undefined;
}
