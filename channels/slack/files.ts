import type { SlackFile } from "./parse.ts";

/**
 * Where a message's `url_private` may point for the bot token to go with it: Slack's own file hosts, or
 * the configured API base (a stand-in). Any other host would receive the token: refused.
 */
export function mayFetchWithToken(url: URL, apiBase: string) {
  if (url.origin === new URL(apiBase).origin) return true;
  if (url.protocol !== "https:") return false;
  const host = url.hostname.toLowerCase();
  return host === "files.slack.com" || host.endsWith(".slack.com") || host.endsWith(".slack-edge.com");
}

export type OpenedSlackFile =
  | { ok: true; name: string; contentType: string; body: ReadableStream<Uint8Array> }
  | { ok: false; name: string; reason: string };

const TIMEOUT_MS = 20_000;

/** A shared file's name as the agent sees it. */
export function slackFileName(file: SlackFile) {
  return (file.name || file.title || file.id || "file").slice(0, 255);
}

/**
 * Opens a file of a customer's message for download with the bot token (Slack's files are private to
 * the workspace). Files Slack no longer holds (`tombstone`), hides (`hidden_by_limit`) or links from
 * elsewhere (`external`), files larger than `maxBytes`, and refused hosts come back as reasons, which
 * the timeline shows instead. Redirects are not followed: the token would travel with them.
 */
export async function openSlackFile(
  file: SlackFile,
  opts: { token: string; apiBase: string; maxBytes: number; fetch?: typeof fetch },
): Promise<OpenedSlackFile> {
  const name = slackFileName(file);
  if (file.mode && file.mode !== "hosted" && file.mode !== "snippet" && file.mode !== "post")
    return { ok: false, name, reason: `Slack does not let this file be downloaded (${file.mode})` };
  if (typeof file.size === "number" && file.size > opts.maxBytes)
    return { ok: false, name, reason: `larger than ${Math.round(opts.maxBytes / 1024 / 1024)} MB` };
  const link = file.url_private_download ?? file.url_private;
  let url: URL;
  try {
    url = new URL(link ?? "");
  } catch {
    return { ok: false, name, reason: "no download link" };
  }
  if (!mayFetchWithToken(url, opts.apiBase)) return { ok: false, name, reason: `refused host ${url.host}` };
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(url, {
      headers: { authorization: `Bearer ${opts.token}` },
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    return { ok: false, name, reason: `download failed: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel();
    return { ok: false, name, reason: `download answered HTTP ${res.status}` };
  }
  const length = Number(res.headers.get("content-length") ?? "0");
  if (length > opts.maxBytes) {
    await res.body.cancel();
    return { ok: false, name, reason: `larger than ${Math.round(opts.maxBytes / 1024 / 1024)} MB` };
  }
  const contentType = file.mimetype || res.headers.get("content-type") || "application/octet-stream";
  return { ok: true, name, contentType, body: res.body };
}
