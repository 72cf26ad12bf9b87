import type { Context } from "hono";
import { decryptMessage, encryptedOf, parsePushXml, toInbound, verifyPush } from "../../../channels/wechat/index.ts";
import type { WechatSetup } from "../../../channels/wechat/setup.ts";
import { mediaIdOf, withPendingMedia } from "../../../channels/wechat/media.ts";
import type { NormalizedInbound } from "../../../conversations/channel.ts";
import { ingestInbound } from "../../../conversations/ingest.ts";
import type { Inbox } from "../../../db/schema/index.ts";
import { Invalid } from "../../../platform/errors.ts";
import { log } from "../../../platform/log.ts";
import type { Runtime } from "../../server/runtime.ts";
import { forbidden, pushBody, refusal } from "./refusal.ts";
import { WINDOW_SECONDS, type SeenNonces } from "./nonces.ts";
import { recordFollow } from "./followers.ts";
import { downloadMedia, queueMediaDownload } from "./media.ts";
import { lookUpUnionId } from "./union-id.ts";

/** Image, voice and video messages carry no text; the agent still needs to see that something came. */
const PLACEHOLDERS: Record<string, string> = {
  image: "[图片]",
  voice: "[语音]",
  video: "[视频]",
  shortvideo: "[视频]",
  file: "[文件]",
};

function withPlaceholder(inbound: NormalizedInbound): NormalizedInbound {
  if (inbound.text) return inbound;
  const msgType = String(inbound.data?.msgType ?? "");
  const placeholder = PLACEHOLDERS[msgType];
  return placeholder ? { ...inbound, text: placeholder } : inbound;
}

/**
 * Work that must not hold up WeChat's 5-second answer (downloads, profile lookups): started once the
 * handler has returned `success`. Each job records its own outcome and never throws.
 */
function afterAnswer(job: () => Promise<unknown>) {
  setTimeout(() => void job().catch((err: unknown) => log.error("wechat: follow-up failed", { err })), 0);
}

/** `GET`: WeChat's URL check, answered with `echostr` when the signature is right. */
export function officialUrlCheck(c: Context, setup: WechatSetup) {
  const q = c.req.query();
  const verdict = verifyPush({
    token: setup.token,
    timestamp: q.timestamp,
    nonce: q.nonce,
    signature: q.signature,
    now: Date.now(),
    maxSkewSeconds: WINDOW_SECONDS,
  });
  if (!verdict.ok) {
    const { message, field } = refusal(verdict);
    return forbidden(c, message, field);
  }
  return c.text(q.echostr ?? "", 200);
}

/**
 * `POST`: a message push in plaintext, compatible or safe mode. The message is committed before
 * `success` is answered, so WeChat's retries (same MsgId) find it stored.
 */
export async function officialPush(c: Context, rt: Runtime, row: Inbox, setup: WechatSetup, nonces: SeenNonces) {
  const body = await pushBody(c, "push");

  const q = c.req.query();
  const encrypted = q.encrypt_type === "aes";
  if (encrypted && setup.mode === "plaintext") {
    throw new Invalid("This inbox is in plaintext mode; encrypted pushes are refused", "encrypt_type");
  }
  if (!encrypted && setup.mode === "safe") {
    return forbidden(c, "This inbox is in safe mode: pushes must be encrypted (encrypt_type=aes)", "encrypt_type");
  }
  // The signature is checked before the body is trusted for anything but its Encrypt element.
  const encrypt = encrypted ? encryptedOf(body) : undefined;
  const now = Date.now();
  const verdict = verifyPush({
    token: setup.token,
    timestamp: q.timestamp,
    nonce: q.nonce,
    signature: encrypted ? q.msg_signature : q.signature,
    encrypt,
    now,
    maxSkewSeconds: WINDOW_SECONDS,
  });
  if (!verdict.ok) {
    const { message, field } = refusal(verdict);
    return forbidden(c, message, field);
  }
  const nonce = q.nonce!;
  if (!(await nonces.claim(row.id, nonce, now))) return forbidden(c, "This nonce was already used", "nonce");

  try {
    const xml = encrypt === undefined ? body : decryptMessage(setup.encodingAesKey, encrypt, setup.appId);
    const push = toInbound(parsePushXml(xml), { inboxId: row.id });
    if (push.kind === "message") {
      const inbound = withPendingMedia(withPlaceholder(push.inbound));
      // A file to download takes the one-by-one ingest, whose transaction also records the download
      // as due (media.ts), so a node dying right after the answer loses nothing.
      const stored = mediaIdOf(inbound.data)
        ? await ingestInbound(rt.core, row.workspaceId, inbound, {
            stored: (tx, s) => queueMediaDownload(tx, row.workspaceId, s.itemId),
          })
        : await rt.inbound.submit(row.workspaceId, inbound);
      if (!stored.duplicate)
        afterAnswer(async () => {
          if (stored.item.data.media) await downloadMedia(rt, stored.item.id);
          const unionId = typeof inbound.data?.unionId === "string" ? inbound.data.unionId : undefined;
          await lookUpUnionId(rt, row, stored.contactId, inbound.from.value, unionId);
        });
    } else if (push.kind === "contact") {
      const contactId = await recordFollow(rt.core, row.workspaceId, setup.appId, push);
      if (push.change === "subscribed") afterAnswer(() => lookUpUnionId(rt, row, contactId, push.openId, push.unionId));
    }
    return c.text("success", 200);
  } catch (err) {
    await nonces.release(row.id, nonce);
    throw err;
  }
}
