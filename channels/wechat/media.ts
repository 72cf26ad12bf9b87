import type { NormalizedInbound } from "../../conversations/channel.ts";
import { apiUrl, callWechat, errcodeOf, STALE_TOKEN } from "./api.ts";

/**
 * A pushed message's media file, as recorded on its timeline item (`data.media`) until it is downloaded:
 * `pending` (still to fetch; `attempts` so far), `stored` (the attachments are on the item) or `failed`
 * (`errcode`/`errmsg` are WeChat's when WeChat refused, `reason` says it for the agent).
 */
export type MediaState = {
  state: "pending" | "stored" | "failed";
  attempts: number;
  errcode?: number;
  errmsg?: string;
  reason?: string;
  /** When the state last changed (ISO). */
  at?: string;
  /** Files written but not yet on the item: removed by the next attempt if this one died before settling. */
  files?: string[];
};

/** The message types whose `MediaId` names a file to download with `media/get`. */
const DOWNLOADED = new Set(["image", "voice", "video", "shortvideo", "file"]);

/** WeChat keeps a pushed message's media for 3 days; after that `media/get` can only refuse. */
export const MEDIA_LIFETIME_MS = 3 * 86_400_000;

/** Downloads are tried this many times (a passing fault: WeChat busy, a network error) before giving up. */
export const MAX_MEDIA_ATTEMPTS = 5;

/** `media/get` may take longer than other calls: up to 10 MB of video. */
const MEDIA_TIMEOUT_MS = 60_000;

/** Answers that another attempt may change: WeChat busy (-1) or rate-limited (45009, 45011). */
const PASSING = new Set([-1, 45009, 45011]);

/** WeChat refused the access token: fetch a new one and try once more. */
export { STALE_TOKEN } from "./api.ts";

/** The media id of a pushed message (image, voice, video, file), or undefined for other messages. */
export function mediaIdOf(data: Record<string, unknown> | undefined): string | undefined {
  if (!data || !DOWNLOADED.has(String(data.msgType ?? ""))) return undefined;
  return typeof data.mediaId === "string" && data.mediaId ? data.mediaId : undefined;
}

/** The message with its download recorded as pending, when it has a file to download. */
export function withPendingMedia(inbound: NormalizedInbound): NormalizedInbound {
  if (!mediaIdOf(inbound.data)) return inbound;
  const media: MediaState = { state: "pending", attempts: 0 };
  return { ...inbound, data: { ...inbound.data, media } };
}

export type MediaApi = { apiBase: string; fetch?: typeof fetch };

export type FetchedMedia =
  | { ok: true; bytes: Uint8Array; contentType: string; name?: string }
  /** `permanent`: no later attempt can change it (an unknown or expired media id, a file too large). */
  | { ok: false; errcode?: number; errmsg: string; permanent: boolean };

/**
 * Downloads a pushed message's file with `GET /cgi-bin/media/get`. WeChat answers with the file's bytes,
 * or with JSON: an `errcode` when it refuses (with a 200 and a text/plain or JSON type), or, for videos,
 * a `video_url` to fetch the file from. A file over `maxBytes` is not kept. Network faults and answers
 * other than 200 throw (the caller retries later); the message never quotes the URL (it has the token).
 */
export async function fetchMedia(
  api: MediaApi,
  token: string,
  mediaId: string,
  maxBytes: number,
): Promise<FetchedMedia> {
  const doFetch = api.fetch ?? fetch;
  const url = apiUrl(api.apiBase, "/cgi-bin/media/get", { access_token: token, media_id: mediaId });
  const res = await request(doFetch, url, "a media file");
  const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "application/json" || type === "text/plain" || type === "text/json") {
    const text = await res.text();
    let answer: Record<string, unknown> = {};
    try {
      answer = JSON.parse(text);
    } catch {
      throw new Error("WeChat answered the request for a media file with text that is not JSON");
    }
    const errcode = errcodeOf(answer);
    if (errcode !== 0) {
      const errmsg = String(answer.errmsg ?? "").trim() || "no reason given";
      return { ok: false, errcode, errmsg, permanent: !PASSING.has(errcode) && !STALE_TOKEN.has(errcode) };
    }
    // Videos come as a link to WeChat's file server, valid for a while.
    if (typeof answer.video_url === "string" && /^https?:\/\//.test(answer.video_url)) {
      const video = await request(doFetch, new URL(answer.video_url), "a video file");
      return readFile(video, "video/mp4", maxBytes);
    }
    throw new Error("WeChat answered the request for a media file with JSON that names no file");
  }
  return readFile(res, type, maxBytes);
}

async function request(doFetch: typeof fetch, url: URL, purpose: string) {
  let res: Response;
  try {
    res = await doFetch(url, { signal: AbortSignal.timeout(MEDIA_TIMEOUT_MS) });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`WeChat could not be reached for ${purpose}: ${reason.replace(/access_token=[^&\s"']*/gi, "…")}`);
  }
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`WeChat answered HTTP ${res.status} to the request for ${purpose}`);
  }
  return res;
}

/** The body, read up to `maxBytes` (a larger file is refused for good: it will not get smaller). */
async function readFile(res: Response, contentType: string, maxBytes: number): Promise<FetchedMedia> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.length;
    if (size > maxBytes) {
      await res.body?.cancel().catch(() => {});
      const mb = Math.round(maxBytes / 1024 / 1024);
      return { ok: false, errmsg: `The file is larger than ${mb} MB, the limit for attachments`, permanent: true };
    }
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  const name = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(res.headers.get("content-disposition") ?? "")?.[1];
  return { ok: true, bytes, contentType: sniffed(bytes) ?? (contentType || "application/octet-stream"), name };
}

/** WeChat labels some files loosely (images as application/octet-stream): the bytes say what they are. */
function sniffed(bytes: Uint8Array): string | undefined {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts(0xff, 0xd8, 0xff)) return "image/jpeg";
  if (starts(0x89, 0x50, 0x4e, 0x47)) return "image/png";
  if (starts(0x47, 0x49, 0x46, 0x38)) return "image/gif";
  if (starts(0x23, 0x21, 0x41, 0x4d, 0x52, 0x0a)) return "audio/amr";
  if (bytes.length > 8 && String.fromCharCode(...bytes.subarray(4, 8)) === "ftyp") return "video/mp4";
  return undefined;
}

const EXTENSIONS: Record<string, string> = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/gif": "gif",
  "audio/amr": "amr",
  "audio/wav": "wav",
  "audio/speex": "speex",
  "video/mp4": "mp4",
};

/** The attachment's name: the file's own (files), else the message type and id with the type's extension. */
export function mediaFileName(msgType: string, messageId: string, contentType: string, given?: string) {
  if (msgType === "file" && given) return given;
  const ext = EXTENSIONS[contentType] ?? given?.split(".").pop() ?? "bin";
  const kind = msgType === "shortvideo" ? "video" : msgType;
  return `wechat-${kind}-${messageId.replace(/[^\w-]/g, "").slice(0, 40)}.${ext}`;
}

/** What WeChat's `media/upload` accepts for an image sent in a customer-service message. */
export const UPLOADABLE_IMAGE = /^image\/(jpeg|png|gif)$/;

export type Uploaded = { ok: true; mediaId: string } | { ok: false; errcode: number; errmsg: string };

/** The temporary media types of `media/upload` (WeCom takes all four; an Official Account reply uses images). */
export type UploadType = "image" | "voice" | "video" | "file";

/**
 * Uploads a file as temporary media (`POST /cgi-bin/media/upload?type=…`, multipart field `media`), the
 * same call on the Official Account API and on WeCom's, for a message that names it by `media_id` (valid
 * for 3 days).
 */
export async function uploadMedia(
  api: MediaApi,
  token: string,
  file: { bytes: Uint8Array; name: string; contentType: string },
  type: UploadType = "image",
): Promise<Uploaded> {
  const form = new FormData();
  form.append("media", new Blob([file.bytes as Uint8Array<ArrayBuffer>], { type: file.contentType }), file.name);
  const url = apiUrl(api.apiBase, "/cgi-bin/media/upload", { access_token: token, type });
  const { answer } = await callWechat(api.fetch ?? fetch, url, { method: "POST", body: form }, `uploading a ${type}`);
  const errcode = errcodeOf(answer);
  if (errcode !== 0) return { ok: false, errcode, errmsg: String(answer.errmsg ?? "").trim() || "no reason given" };
  if (typeof answer.media_id !== "string" || !answer.media_id)
    throw new Error(`WeChat answered the ${type} upload without a media_id`);
  return { ok: true, mediaId: answer.media_id };
}

/** An image for a customer-service `image` message. */
export const uploadImage = (
  api: MediaApi,
  token: string,
  file: { bytes: Uint8Array; name: string; contentType: string },
) => uploadMedia(api, token, file, "image");
