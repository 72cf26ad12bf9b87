import { PermanentSendError } from "../../conversations/channel.ts";

/** Slack's own host; SLACK_API_BASE or an inbox's `apiBaseUrl` replace it (same paths, `/api/<method>`). */
export const SLACK_API_BASE = "https://slack.com";

/** The Web API base for an inbox: its own, else the server's SLACK_API_BASE, else Slack's. */
export function slackApiBaseOf(settings: Record<string, unknown>, configured: string | undefined) {
  const own = typeof settings.apiBaseUrl === "string" ? settings.apiBaseUrl : undefined;
  return (own ?? configured ?? SLACK_API_BASE).replace(/\/$/, "");
}

/**
 * Slack answers most failures with HTTP 200 and `{ok: false, error}`. These cannot succeed on a retry;
 * each says what an admin or agent can do about it.
 */
const PERMANENT: Record<string, string> = {
  channel_not_found: "Slack cannot find this channel, or the app cannot see it (channel_not_found)",
  not_in_channel: "The Slack app is not a member of this channel: invite it with /invite (not_in_channel)",
  is_archived: "The Slack channel is archived (is_archived)",
  invalid_auth: "Slack refused the inbox's bot token: enter it again in the inbox settings (invalid_auth)",
  not_authed: "Slack got no bot token: enter it in the inbox settings (not_authed)",
  token_revoked: "The Slack bot token was revoked: reinstall the app and enter the new token (token_revoked)",
  account_inactive: "The Slack app's bot user is deactivated or the app was uninstalled (account_inactive)",
  missing_scope: "The Slack app lacks a scope this needs (missing_scope): see docs/channels/slack.md",
  msg_too_long: "The message is too long for Slack (msg_too_long)",
  no_text: "Slack refused an empty message (no_text)",
  restricted_action: "The Slack workspace does not allow the app to post here (restricted_action)",
  ekm_access_denied: "Slack's Enterprise Key Management refused the post (ekm_access_denied)",
};

/** The longest Retry-After the sender waits for in place; beyond it the outbox's own backoff takes over. */
const MAX_INLINE_WAIT_S = 30;
const TIMEOUT_MS = 10_000;

export type SlackCall = {
  apiBase: string;
  token: string;
  fetch?: typeof fetch;
  /** Waits (tests shorten it). */
  sleep?: (ms: number) => Promise<void>;
};

/** A failure of a Web API call that a later attempt may get past (rate limits, Slack down). */
export class SlackUnavailable extends Error {}

/**
 * One Web API method with a bearer token and a JSON body. `ok: false` becomes PermanentSendError for
 * the errors above, else SlackUnavailable; a rate limit (HTTP 429 or `ratelimited`) is waited out in
 * place once when Slack's Retry-After is short, else left to the caller's backoff.
 */
export async function callSlack<T extends Record<string, unknown>>(
  call: SlackCall,
  method: string,
  body: Record<string, unknown>,
  /** Some methods (files.getUploadURLExternal) take form fields only; values that are not strings go as JSON. */
  encoding: "json" | "form" = "json",
): Promise<T> {
  const doFetch = call.fetch ?? fetch;
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await doFetch(`${call.apiBase}/api/${method}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${call.token}`,
          "content-type": encoding === "json" ? "application/json; charset=utf-8" : "application/x-www-form-urlencoded",
        },
        body: encoding === "json" ? JSON.stringify(body) : formOf(body),
        // Slack's API does not redirect; a redirect elsewhere must not take the bot token with it.
        redirect: "manual",
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new SlackUnavailable(`Slack could not be reached: ${err instanceof Error ? err.message : String(err)}`);
    }
    const answer = (await res.json().catch(() => undefined)) as { ok?: boolean; error?: string } | undefined;
    const limited = res.status === 429 || answer?.error === "ratelimited";
    if (limited) {
      const wait = Number(res.headers.get("retry-after") ?? "1");
      const seconds = Number.isFinite(wait) && wait >= 0 ? wait : 1;
      if (attempt === 1 && seconds <= MAX_INLINE_WAIT_S) {
        await (call.sleep ?? Bun.sleep)(seconds * 1000);
        continue;
      }
      throw new SlackUnavailable(`Slack rate-limited ${method}; retry after ${seconds} s`);
    }
    if (!answer || typeof answer.ok !== "boolean")
      throw new SlackUnavailable(`Slack answered ${method} with HTTP ${res.status} and no result`);
    if (answer.ok) return answer as T;
    const error = String(answer.error ?? "unknown_error");
    const permanent = PERMANENT[error];
    if (permanent) throw new PermanentSendError(permanent);
    throw new SlackUnavailable(`Slack refused ${method}: ${error}`);
  }
}

function formOf(body: Record<string, unknown>) {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(body))
    if (v !== undefined) form.set(k, typeof v === "string" ? v : JSON.stringify(v));
  return form.toString();
}
