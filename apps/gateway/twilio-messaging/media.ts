import { MAX_MEDIA, TWILIO_API, type TwilioMessage } from "../../../channels/twilio-messaging/index.ts";
import { MAX_ATTACHMENT_BYTES } from "../../../conversations/attachment.ts";
import { checkOutboundUrl, OutboundRefused } from "../../../platform/outbound.ts";
import { log } from "../../../platform/log.ts";
import type { Runtime } from "../../server/runtime.ts";

/**
 * The files of an incoming MMS or WhatsApp message, downloaded before the message is stored (not after,
 * as WeChat's are): Twilio keeps them at its API (`…/Messages/MM…/Media/ME…`, Basic auth with the
 * account), and a bounded download — at most MAX_MEDIA files of MAX_ATTACHMENT_BYTES, each within
 * DOWNLOAD_MS, all at once — fits in the 15 s Twilio waits for the webhook's answer. Nothing has to
 * survive a crash: until the answer, Twilio has not been told the message arrived. A file that cannot
 * be fetched is listed on the message (`data.mediaErrors`) and the message stored without it.
 */
const DOWNLOAD_MS = 10_000;
const MAX_REDIRECTS = 3;

export type MediaAccount = { accountSid: string; authToken: string; apiBaseUrl: string };

/**
 * The Twilio API base an inbox's media may come from: its own, else TWILIO_API_BASE, else Twilio's. A
 * path (the demo's stand-in) is on this server.
 */
export function apiBaseOf(rt: Pick<Runtime, "config" | "calls">, settings: Record<string, unknown>) {
  const own = typeof settings.apiBaseUrl === "string" ? settings.apiBaseUrl : undefined;
  const base = (own ?? rt.config.twilioApiBaseUrl ?? TWILIO_API).replace(/\/$/, "");
  return base.startsWith("/") ? `${rt.config.publicUrl ?? rt.calls.publicBase}${base}` : base;
}

const EXTENSIONS: Record<string, string> = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/gif": "gif",
  "image/webp": "webp",
  "audio/ogg": "ogg",
  "audio/mpeg": "mp3",
  "audio/amr": "amr",
  "video/mp4": "mp4",
  "application/pdf": "pdf",
  "text/vcard": "vcf",
  "text/plain": "txt",
};

/**
 * Fetches one media URL. Only from the inbox's Twilio API origin (a signed webhook is Twilio's, but a
 * MediaUrl elsewhere is not followed with the account's credentials); Twilio answers with a redirect
 * to its file store, followed without the credentials, each hop under the outbound-URL policy.
 */
async function fetchMedia(rt: Pick<Runtime, "config">, account: MediaAccount, given: string) {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new OutboundRefused("not a URL");
  }
  if (url.origin !== new URL(account.apiBaseUrl).origin)
    throw new OutboundRefused(`media is fetched only from ${new URL(account.apiBaseUrl).origin}`);
  const policy = { allowHosts: rt.config.outboundAllowHosts };
  const signal = AbortSignal.timeout(DOWNLOAD_MS);
  let headers: Record<string, string> = {
    authorization: `Basic ${btoa(`${account.accountSid}:${account.authToken}`)}`,
  };
  for (let hop = 0; ; hop++) {
    await checkOutboundUrl(url, policy);
    const res = await fetch(url, { headers, redirect: "manual", signal });
    const location = res.status >= 300 && res.status < 400 ? res.headers.get("location") : null;
    if (!location) {
      if (!res.ok || !res.body) {
        await res.body?.cancel();
        throw new Error(`Twilio answered ${res.status}`);
      }
      return res;
    }
    await res.body?.cancel();
    if (hop >= MAX_REDIRECTS) throw new OutboundRefused("too many redirects");
    const next = new URL(location, url);
    // The account's credentials go to Twilio's API only, never to where it redirects.
    if (next.origin !== url.origin) headers = {};
    url = next;
  }
}

export type DownloadedMedia = { ids: string[]; errors: { index: number; reason: string }[] };

/** Downloads a message's files into attachments owned by the contact; never throws. */
export async function downloadMedia(
  rt: Pick<Runtime, "config" | "core" | "files">,
  workspaceId: string,
  contactId: string,
  account: MediaAccount,
  message: TwilioMessage,
): Promise<DownloadedMedia> {
  const results = await Promise.all(
    message.media.slice(0, MAX_MEDIA).map(async (m, index) => {
      try {
        const res = await fetchMedia(rt, account, m.url);
        const contentType = (res.headers.get("content-type") || m.contentType).split(";")[0]!.trim().toLowerCase();
        const name = `${message.messageSid}-${index + 1}.${EXTENSIONS[contentType] ?? "bin"}`;
        const saved = await rt.files.saveStream(
          rt.core.db,
          workspaceId,
          { contactId },
          { name, contentType },
          res.body as AsyncIterable<Uint8Array>,
          MAX_ATTACHMENT_BYTES,
        );
        return { index, id: saved.id };
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        log.warn("twilio messaging: a media file could not be downloaded", {
          messageSid: message.messageSid,
          index,
          reason,
        });
        return { index, reason };
      }
    }),
  );
  return {
    ids: results.flatMap((r) => ("id" in r && r.id ? [r.id] : [])),
    errors: results.flatMap((r) => ("reason" in r && r.reason ? [{ index: r.index, reason: r.reason }] : [])),
  };
}
