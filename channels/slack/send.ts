import { PermanentSendError, type OutboundMessage, type SendResult } from "../../conversations/channel.ts";
import { callSlack, SlackUnavailable, slackApiBaseOf, type SlackCall } from "./api.ts";
import { splitThreadKey } from "./parse.ts";

export type SlackSendOptions = {
  /** SLACK_API_BASE, used when the inbox has no `apiBaseUrl` of its own. */
  apiBase?: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** An attachment's bytes (the file store), for files.uploadV2's upload step. */
  readFile?: (file: OutboundMessage["attachments"][number]) => Promise<Uint8Array>;
};

/** Slack reads `<`, `>` and `&` as markup (links, mentions): an agent's text is sent as written. */
export function escapeText(text: string) {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/**
 * Posts an agent's reply into the Slack thread of the conversation (`threadKey` = `<channel>:<root ts>`,
 * the customer's first message), so the customer sees it under what they wrote: the text with
 * chat.postMessage, each file with the files.uploadV2 flow (getUploadURLExternal, the bytes, then
 * completeUploadExternal into the same thread). The result's id is `<channel>:<ts>` of the text.
 */
export async function sendSlack(message: OutboundMessage, options: SlackSendOptions = {}): Promise<SendResult> {
  const token = message.inbox.credentials.botToken;
  if (typeof token !== "string") throw new PermanentSendError("The Slack inbox has no bot token");
  const thread = message.threadKey ? splitThreadKey(message.threadKey) : undefined;
  if (!thread) throw new PermanentSendError("This conversation has no Slack thread to reply in");
  const call: SlackCall = {
    apiBase: slackApiBaseOf(message.inbox.settings, options.apiBase),
    token,
    fetch: options.fetch,
    sleep: options.sleep,
  };
  let externalId: string | undefined;
  const text = message.text?.trim();
  if (text) {
    const posted = await callSlack<{ ts?: string; channel?: string }>(call, "chat.postMessage", {
      channel: thread.channel,
      thread_ts: thread.ts,
      text: escapeText(text),
      unfurl_links: false,
    });
    externalId = `${posted.channel ?? thread.channel}:${posted.ts ?? ""}`;
  }
  for (const file of message.attachments) {
    const id = await uploadFile(call, options, file, thread);
    externalId ??= `${thread.channel}:file:${id}`;
  }
  if (!externalId) throw new PermanentSendError("The reply has neither text nor files");
  return { externalId, status: "sent" };
}

/** files.uploadV2 as Slack's SDKs do it: ask for an upload URL, send the bytes there, then share the file. */
async function uploadFile(
  call: SlackCall,
  options: SlackSendOptions,
  file: OutboundMessage["attachments"][number],
  thread: { channel: string; ts: string },
) {
  if (!options.readFile) throw new PermanentSendError("Files cannot be sent to Slack from this server");
  const bytes = await options.readFile(file);
  const target = await callSlack<{ upload_url?: string; file_id?: string }>(
    call,
    "files.getUploadURLExternal",
    { filename: file.name, length: String(bytes.byteLength) },
    "form",
  );
  if (!target.upload_url || !target.file_id) throw new SlackUnavailable("Slack gave no upload URL");
  // The bytes go where Slack said, but only to Slack's file host or the API host itself: the bot token
  // is not sent there, yet the file is the customer's conversation.
  const uploadUrl = new URL(target.upload_url);
  if (uploadUrl.origin !== "https://files.slack.com" && uploadUrl.origin !== new URL(call.apiBase).origin)
    throw new PermanentSendError(`Slack's upload URL is on an unexpected host (${uploadUrl.host})`);
  let res: Response;
  try {
    res = await (call.fetch ?? fetch)(uploadUrl, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: new Blob([bytes as Uint8Array<ArrayBuffer>]),
      redirect: "manual",
      signal: AbortSignal.timeout(60_000),
    });
  } catch (err) {
    throw new SlackUnavailable(`Slack's file upload failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  await res.body?.cancel();
  if (!res.ok) throw new SlackUnavailable(`Slack's file upload answered HTTP ${res.status}`);
  await callSlack(
    call,
    "files.completeUploadExternal",
    { files: [{ id: target.file_id, title: file.name }], channel_id: thread.channel, thread_ts: thread.ts },
    "form",
  );
  return target.file_id;
}
