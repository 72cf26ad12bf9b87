import { eq } from "drizzle-orm";
import { Hono, type Context } from "hono";
import { z } from "zod";
import {
  decryptMessage,
  encryptedOf,
  MAX_PUSH_BYTES,
  parsePushXml,
  toInbound,
  verifyPush,
  InvalidPush,
  type PushVerdict,
} from "../../../channels/wechat/index.ts";
import type { NormalizedInbound } from "../../../conversations/channel.ts";
import { readCredentials } from "../../../conversations/inbox.ts";
import { inboxes } from "../../../db/schema/index.ts";
import { errorBody, Invalid, NotFound } from "../../../platform/errors.ts";
import { log } from "../../../platform/log.ts";
import type { Runtime } from "../../server/runtime.ts";
import { wechatSetupOf } from "../../../channels/wechat/setup.ts";

/** How old (or how far ahead) a push's timestamp may be; nonces are remembered as long. */
const WINDOW_SECONDS = 300;

/**
 * Nonces of accepted pushes, per inbox, until their timestamp leaves the window. The plaintext
 * signature covers only token, timestamp and nonce, so without this a captured push could be replayed
 * with any body inside the window. Per node and in memory: behind several nodes a replay can still
 * reach another node once; a shared store comes with the scale work.
 */
class SeenNonces {
  private readonly seen = new Map<string, number>();

  /** False when the nonce was already used inside the window. */
  claim(inboxId: string, nonce: string, now: number): boolean {
    if (this.seen.size > 10_000) this.sweep(now);
    const key = `${inboxId}\u0000${nonce}`;
    const until = this.seen.get(key);
    if (until !== undefined && until > now) return false;
    this.seen.set(key, now + 2 * WINDOW_SECONDS * 1000);
    return true;
  }

  /** A push that failed before it was stored may be retried by WeChat with the same nonce. */
  release(inboxId: string, nonce: string) {
    this.seen.delete(`${inboxId}\u0000${nonce}`);
  }

  private sweep(now: number) {
    for (const [key, until] of this.seen) if (until <= now) this.seen.delete(key);
  }
}

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

const forbidden = (c: Context, message: string, field?: string) => c.json(errorBody("forbidden", message, field), 403);

function refusal(verdict: Exclude<PushVerdict, { ok: true }>): { message: string; field?: string } {
  switch (verdict.reason) {
    case "missing-parameter":
      return { message: `The push has no ${verdict.parameter}`, field: verdict.parameter };
    case "bad-signature":
      return { message: "Invalid WeChat signature", field: "signature" };
    case "malformed-timestamp":
      return { message: "timestamp is not a time in seconds", field: "timestamp" };
    case "timestamp-outside-window":
      return { message: "timestamp is outside the accepted window of 5 minutes", field: "timestamp" };
  }
}

const InboxId = z.uuid();

/**
 * The Official Account's server URL (`/webhooks/wechat/<inboxId>`, pasted into WeChat's console):
 * `GET` answers the URL check, `POST` receives message pushes in plaintext, compatible or safe mode.
 * A message is committed before `success` is answered, so WeChat's retries (same MsgId) find it stored.
 */
export function wechatWebhooks(rt: Runtime) {
  const app = new Hono();
  const nonces = new SeenNonces();

  async function inboxOf(c: Context) {
    const id = InboxId.safeParse(c.req.param("inboxId"));
    if (!id.success) throw new NotFound("Inbox", "inboxId");
    const [row] = await rt.core.db.select().from(inboxes).where(eq(inboxes.id, id.data));
    if (!row || row.channel !== "wechat") throw new NotFound("Inbox", "inboxId");
    return { row, setup: wechatSetupOf(row.settings, readCredentials(rt.keyring, row, rt.core.db)) };
  }

  app.get("/webhooks/wechat/:inboxId", async (c) => {
    const { setup } = await inboxOf(c);
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
  });

  app.post("/webhooks/wechat/:inboxId", async (c) => {
    const { row, setup } = await inboxOf(c);
    const declared = Number(c.req.header("content-length") ?? 0);
    if (declared > MAX_PUSH_BYTES) throw new InvalidPush("too_large", "The push is larger than 64 KB");
    const body = await c.req.text();
    if (Buffer.byteLength(body, "utf8") > MAX_PUSH_BYTES) {
      throw new InvalidPush("too_large", "The push is larger than 64 KB");
    }

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
    if (!nonces.claim(row.id, nonce, now)) return forbidden(c, "This nonce was already used", "nonce");

    try {
      const xml = encrypt === undefined ? body : decryptMessage(setup.encodingAesKey, encrypt, setup.appId);
      const push = toInbound(parsePushXml(xml), { inboxId: row.id });
      if (push.kind === "message") {
        await rt.inbound.submit(row.workspaceId, withPlaceholder(push.inbound));
      } else if (push.kind === "contact") {
        // Subscribe/unsubscribe will mark the contact (follower or not); nothing is stored for them yet.
        log.info("wechat: follower change not stored yet", { inboxId: row.id, change: push.change });
      }
      return c.text("success", 200);
    } catch (err) {
      nonces.release(row.id, nonce);
      throw err;
    }
  });

  return app;
}
