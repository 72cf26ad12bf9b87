import { and, eq, sql } from "drizzle-orm";
import { wechatAppOf } from "../../../channels/wechat/send.ts";
import { STALE_TOKEN } from "../../../channels/wechat/media.ts";
import { fetchUserInfo } from "../../../channels/wechat/user.ts";
import { mergeContacts } from "../../../conversations/contact-identity.ts";
import { announceContactUpdated, lockContact } from "../../../conversations/contact.ts";
import { readCredentials } from "../../../conversations/inbox.ts";
import { withEvents, type Core } from "../../../conversations/transaction.ts";
import { contactIdentities, contacts, type Inbox } from "../../../db/schema/index.ts";
import { log } from "../../../platform/log.ts";
import { accountKey, type FollowState } from "./followers.ts";
import type { WechatDeps } from "./media.ts";

/**
 * How long a lookup that found no UnionID (the account is not bound to an Open Platform account, or may
 * not call user/info: 48001) holds before the next message of the contact asks again.
 */
const RECHECK_MS = 7 * 86_400_000;

/**
 * After a message (or a follow) is stored and answered: the contact's UnionID, fetched once with
 * `user/info` unless the push carried it. The UnionID is the same person across the company's Official
 * Accounts and mini programs, so when another contact of the workspace already has it, the two are
 * merged: one contact, whose open conversation the next message of either account joins. Failures are
 * logged (without the token) and never reach the push.
 */
export async function lookUpUnionId(
  deps: WechatDeps,
  inbox: Inbox,
  contactId: string,
  openId: string,
  pushed?: string,
): Promise<void> {
  try {
    const db = deps.core.db;
    const [contact] = await db.select().from(contacts).where(eq(contacts.id, contactId));
    if (!contact || contact.mergedIntoId) return;
    const [known] = await db
      .select({ id: contactIdentities.id })
      .from(contactIdentities)
      .where(and(eq(contactIdentities.contactId, contactId), eq(contactIdentities.kind, "wechat_unionid")))
      .limit(1);
    if (known) return;
    const appId = String(inbox.settings.appId ?? "");
    const key = accountKey(appId);
    const checkedAt = (contact.attributes[key] as FollowState | undefined)?.unionIdCheckedAt;
    if (!pushed && checkedAt && Date.now() - Date.parse(checkedAt) < RECHECK_MS) return;

    const unionId = pushed ?? (await askWechat(deps, inbox, openId));
    await db
      .update(contacts)
      .set({
        attributes: sql`${contacts.attributes} || jsonb_build_object(${key}::text,
          COALESCE(${contacts.attributes} -> ${key}::text, '{}'::jsonb) || ${JSON.stringify({
            unionIdCheckedAt: new Date().toISOString(),
          })}::jsonb)`,
      })
      .where(eq(contacts.id, contactId));
    if (unionId) await joinByUnionId(deps.core, inbox.workspaceId, contactId, unionId);
  } catch (err) {
    log.warn("wechat: UnionID lookup failed", {
      inboxId: inbox.id,
      contactId,
      err: err instanceof Error ? err.message : String(err),
    });
  }
}

async function askWechat(deps: WechatDeps, inbox: Inbox, openId: string) {
  const credentials = readCredentials(deps.keyring, inbox, deps.core.db);
  const app = wechatAppOf({ id: inbox.id, channel: inbox.channel, settings: inbox.settings, credentials });
  const { tokens, ...api } = deps.wechat;
  let token = await tokens.tokenFor(app);
  let info = await fetchUserInfo(api, token, openId);
  if (!info.ok && STALE_TOKEN.has(info.errcode)) {
    tokens.invalidate(app.appId, token);
    token = await tokens.tokenFor(app);
    info = await fetchUserInfo(api, token, openId);
  }
  if (!info.ok) {
    log.warn("wechat: user/info refused", { inboxId: inbox.id, errcode: info.errcode, errmsg: info.errmsg });
    return undefined;
  }
  return info.unionId;
}

/**
 * Gives the contact its UnionID identity, or merges it into the contact that already has it (the older
 * one stays: its id is what agents and links already know).
 */
export async function joinByUnionId(core: Core, workspaceId: string, contactId: string, unionId: string) {
  const owner = await withEvents(core, async (tx, events) => {
    const contact = await lockContact(tx, workspaceId, contactId);
    const [added] = await tx
      .insert(contactIdentities)
      .values({ workspaceId, contactId, kind: "wechat_unionid", value: unionId, verified: true })
      .onConflictDoNothing()
      .returning({ id: contactIdentities.id });
    if (added) {
      await announceContactUpdated(events, contact);
      return undefined;
    }
    const [held] = await tx
      .select({ contactId: contactIdentities.contactId })
      .from(contactIdentities)
      .where(
        and(
          eq(contactIdentities.workspaceId, workspaceId),
          eq(contactIdentities.kind, "wechat_unionid"),
          eq(contactIdentities.value, unionId),
        ),
      );
    return held && held.contactId !== contactId ? held.contactId : undefined;
  });
  if (!owner) return;
  await mergeContacts(core, workspaceId, owner, contactId);
  log.info("wechat: contacts with one UnionID merged", { workspaceId, kept: owner, merged: contactId });
}
