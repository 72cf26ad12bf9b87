/**
 * The address a request came from, for per-IP limits and the loopback check of /metrics.
 *
 * Each proxy appends the address it received the request from to X-Forwarded-For, so everything
 * left of what our own proxies wrote is whatever the client sent. Behind `trustedHops` proxies the
 * client is the entry the outermost trusted proxy appended: the `trustedHops`-th from the right.
 * With no trusted proxy the header is ignored and the socket's peer address is the client.
 */
export function clientIpOf(trustedHops: number, forwardedFor: string | undefined, peer: string | undefined) {
  const fallback = peer || "unknown";
  if (trustedHops <= 0 || !forwardedFor) return fallback;
  const entries = forwardedFor
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean);
  if (!entries.length) return fallback;
  // Fewer entries than hops: the request skipped an outer proxy; the leftmost is the farthest address seen.
  return entries[Math.max(0, entries.length - trustedHops)]!;
}

/** `clientIpOf` for a Hono context whose env carries the peer address (apps/server/app.ts's `ip` binding). */
export function clientIp(trustedHops: number, c: { req: { header(name: string): string | undefined }; env: unknown }) {
  return clientIpOf(trustedHops, c.req.header("x-forwarded-for"), (c.env as { ip?: string } | undefined)?.ip);
}

/** Loopback addresses, IPv4-mapped IPv6 included (Bun reports `::ffff:127.0.0.1` on dual-stack sockets). */
export function isLoopback(ip: string) {
  const v4 = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  return ip === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
