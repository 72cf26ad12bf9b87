/**
 * A Wechaty bot's session as every node sees it (`inbox_states.session`): the node running the bot
 * writes it, the admin API reads it on any node. No secrets: errors are scrubbed of the puppet token.
 */
export const wechatyStatuses = ["stopped", "starting", "scan", "logged_in", "logged_out", "error"] as const;
export type WechatyStatus = (typeof wechatyStatuses)[number];

/** wechaty-puppet's `types.ScanStatus` numbers. */
const SCAN_STATUSES: Record<number, string> = {
  0: "unknown",
  1: "cancel",
  2: "waiting",
  3: "scanned",
  4: "confirmed",
  5: "timeout",
};
export const scanStatusName = (status: number) => SCAN_STATUSES[status] ?? "unknown";

export type WechatySession = {
  status: WechatyStatus;
  /** The login QR code's text while the bot waits for a scan (status `scan`). */
  qrcode: string | null;
  scanStatus: string | null;
  /** The WeChat account the bot is logged in as. */
  user: { id: string; name: string } | null;
  lastError: string | null;
  /** The node (lease holder) running the bot. */
  node: string | null;
  updatedAt: string | null;
};

export const STOPPED: WechatySession = {
  status: "stopped",
  qrcode: null,
  scanStatus: null,
  user: null,
  lastError: null,
  node: null,
  updatedAt: null,
};

const str = (v: unknown) => (typeof v === "string" ? v : null);

/** The stored session, read tolerantly: anything missing or unknown reads as stopped. */
export function sessionOf(stored: unknown): WechatySession {
  if (!stored || typeof stored !== "object") return { ...STOPPED };
  const s = stored as Record<string, unknown>;
  const user = s.user as { id?: unknown; name?: unknown } | null | undefined;
  return {
    status: wechatyStatuses.includes(s.status as WechatyStatus) ? (s.status as WechatyStatus) : "stopped",
    qrcode: str(s.qrcode),
    scanStatus: str(s.scanStatus),
    user: user && typeof user.id === "string" ? { id: user.id, name: str(user.name) ?? user.id } : null,
    lastError: str(s.lastError),
    node: str(s.node),
    updatedAt: str(s.updatedAt),
  };
}

/** A puppet's error as admins may read it: the token (puppet-service puts it in URLs) replaced. */
export function scrubbed(err: unknown, secrets: (string | undefined)[]): string {
  let text = (err instanceof Error ? err.message : String(err)).slice(0, 500);
  for (const secret of secrets) if (secret && secret.length >= 4) text = text.replaceAll(secret, "***");
  return text;
}

/** How long to wait before restarting a bot after its `attempt`-th failure in a row: doubling, capped. */
export function reconnectDelay(attempt: number, baseMs = 1000, maxMs = 5 * 60_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
