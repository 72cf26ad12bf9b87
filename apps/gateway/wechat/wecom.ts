import type { Context } from "hono";
import { and, eq, sql } from "drizzle-orm";
import type { WecomSetup } from "../../../channels/wechat/setup.ts";
import { verifyWecomCallback, wecomCallbackOf, wecomUrlCheck } from "../../../channels/wechat/wecom-callback.ts";
import { inboxes, type Inbox } from "../../../db/schema/index.ts";
import { log } from "../../../platform/log.ts";
import type { Runtime } from "../../server/runtime.ts";
import type { SeenNonces } from "./nonces.ts";
import { forbidden, pushBody, refusal } from "./refusal.ts";
import { pullAfterAnswer, wecomSyncOf } from "./wecom-sync.ts";

/**
 * A WeCom customer-service inbox's callback URL. WeCom's callbacks are always encrypted and signed with
 * `msg_signature`; they carry no message, only "pull now" with a short-lived token, so the answer is
 * `success` at once and the pull (wecom-sync.ts) runs after it.
 */

/** `GET`: the URL check WeCom makes when the admin saves the URL; the answer is the decrypted echostr. */
export function wecomUrlCheckRoute(c: Context, setup: WecomSetup) {
  const check = wecomUrlCheck(setup, c.req.query(), Date.now());
  if (!check.ok) {
    const { message, field } = refusal(check);
    return forbidden(c, message, field);
  }
  return c.text(check.echo, 200);
}

/** `POST`: `kf_msg_or_event`. Verified (signature, 5-minute window, fresh nonce), answered, then pulled. */
export async function wecomCallback(c: Context, rt: Runtime, row: Inbox, setup: WecomSetup, nonces: SeenNonces) {
  const body = await pushBody(c, "callback");

  const q = c.req.query();
  const now = Date.now();
  const verdict = verifyWecomCallback(setup, q, body, now);
  if (!verdict.ok) {
    const { message, field } = refusal(verdict);
    return forbidden(c, message, field);
  }
  const nonce = q.nonce!;
  if (!(await nonces.claim(row.id, nonce, now))) return forbidden(c, "This nonce was already used", "nonce");
  try {
    const event = wecomCallbackOf(setup, verdict.encrypt);
    if (event.kind === "kf_msg_or_event") {
      const target = await inboxOfAccount(rt, row, setup, event.openKfid);
      if (target) pullAfterAnswer(wecomSyncOf(rt), target, event.token);
      else log.info("wecom: callback for an account no inbox serves", { inboxId: row.id, openKfid: event.openKfid });
    }
    return c.text("success", 200);
  } catch (err) {
    await nonces.release(row.id, nonce);
    throw err;
  }
}

/**
 * WeCom has one callback URL per corp's customer-service app, whichever of its accounts has news: the
 * callback may name an account another inbox of the same corp (and workspace) serves.
 */
async function inboxOfAccount(rt: Runtime, row: Inbox, setup: WecomSetup, openKfid: string) {
  if (openKfid === setup.openKfid) return row.id;
  const [other] = await rt.core.db
    .select({ id: inboxes.id })
    .from(inboxes)
    .where(
      and(
        eq(inboxes.workspaceId, row.workspaceId),
        eq(inboxes.channel, "wechat"),
        sql`${inboxes.settings}->>'kind' = 'wecom'`,
        sql`${inboxes.settings}->>'corpId' = ${setup.corpId}`,
        sql`${inboxes.settings}->>'openKfid' = ${openKfid}`,
      ),
    );
  return other?.id;
}
