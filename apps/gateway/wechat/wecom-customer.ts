import { and, eq, inArray, sql } from "drizzle-orm";
import { wecomAccountOf } from "../../../channels/wechat/wecom-api.ts";
import { CUSTOMER_BATCH, fetchCustomers, type WecomCustomer } from "../../../channels/wechat/wecom-customer.ts";
import { announceContactUpdated, lockContact } from "../../../conversations/contact.ts";
import { readCredentials } from "../../../conversations/inbox.ts";
import { withEvents } from "../../../conversations/transaction.ts";
import { contactIdentities, contacts, type Inbox } from "../../../db/schema/index.ts";
import { log } from "../../../platform/log.ts";
import type { WechatDeps } from "./media.ts";
import { joinByUnionId } from "./union-id.ts";

/**
 * What WeCom told of a contact as a customer of one corp, in `contacts.attributes["wecom:<corpId>"]` (an
 * external_userid belongs to one corp; a person who wrote to two corps keeps both, also through a
 * merge): the WeChat `nickname`, `avatar` and `gender`, and `checkedAt`, when batchget was last asked.
 */
export type WecomCustomerState = { checkedAt?: string; nickname?: string; avatar?: string; gender?: number };

export const customerKey = (corpId: string) => `wecom:${corpId}`;

/**
 * A contact that got its name and UnionID is not asked again; one WeCom knew nothing more of (the corp
 * is not bound to an Open Platform account, or may not call batchget) is asked again after this long.
 */
const RECHECK_MS = 7 * 86_400_000;

type Written = { contactId: string; externalUserId: string };

/**
 * After a page of a WeCom inbox's messages is committed: the customers among them not looked up yet are
 * asked about with one `kf/customer/batchget` (up to 100 at a time). The nickname names a contact that
 * has no name; the UnionID becomes a `wechat_unionid` identity, and the contact that already has it (the
 * person follows the company's Official Account, or wrote to another corp's account) is joined with this
 * one (union-id.ts): one contact, whose open conversation the next message of either channel joins.
 * Failures are logged (without the token) and never hold up the pull.
 */
export async function lookUpCustomers(deps: WechatDeps, inbox: Inbox, written: Written[]): Promise<void> {
  try {
    const api = deps.wechat.wecomApi;
    if (!api || !written.length) return;
    const credentials = readCredentials(deps.keyring, inbox, deps.core.db);
    const { app } = wecomAccountOf({ id: inbox.id, channel: inbox.channel, settings: inbox.settings, credentials });
    const due = await dueForLookUp(deps, inbox.workspaceId, customerKey(app.corpId), written);
    for (let at = 0; at < due.length; at += CUSTOMER_BATCH) {
      const batch = due.slice(at, at + CUSTOMER_BATCH);
      const answer = await fetchCustomers(
        app,
        batch.map((c) => c.externalUserId),
        api,
      );
      if (!answer.ok)
        log.warn("wecom: kf/customer/batchget refused", {
          inboxId: inbox.id,
          errcode: answer.errcode,
          reason: answer.reason,
        });
      // A refusal is remembered too: asking again for each message would not change WeCom's mind.
      const known = new Map(answer.ok ? answer.customers.map((c) => [c.externalUserId, c]) : []);
      for (const { contactId, externalUserId } of batch) {
        const customer = known.get(externalUserId);
        await recordCustomer(deps, inbox.workspaceId, contactId, customerKey(app.corpId), customer);
        if (customer?.unionId) await joinByUnionId(deps.core, inbox.workspaceId, contactId, customer.unionId);
      }
    }
  } catch (err) {
    log.warn("wecom: looking up customers failed", {
      inboxId: inbox.id,
      err: err instanceof Error ? err.message : String(err),
    });
  }
}

/** The written contacts (once each) that still lack a name or UnionID and were not asked lately. */
async function dueForLookUp(deps: WechatDeps, workspaceId: string, key: string, written: Written[]) {
  const byContact = new Map(written.map((w) => [w.contactId, w]));
  const ids = [...byContact.keys()];
  const [rows, unioned] = await Promise.all([
    deps.core.db
      .select()
      .from(contacts)
      .where(and(eq(contacts.workspaceId, workspaceId), inArray(contacts.id, ids))),
    deps.core.db
      .select({ contactId: contactIdentities.contactId })
      .from(contactIdentities)
      .where(and(inArray(contactIdentities.contactId, ids), eq(contactIdentities.kind, "wechat_unionid"))),
  ]);
  const hasUnionId = new Set(unioned.map((u) => u.contactId));
  return rows
    .filter((contact) => {
      if (contact.mergedIntoId) return false;
      if (contact.name && hasUnionId.has(contact.id)) return false;
      const checkedAt = (contact.attributes[key] as WecomCustomerState | undefined)?.checkedAt;
      return !checkedAt || Date.now() - Date.parse(checkedAt) >= RECHECK_MS;
    })
    .map((contact) => byContact.get(contact.id)!);
}

/** WeCom's answer on the contact (its name only when it has none), announced with `contact.updated`. */
async function recordCustomer(
  deps: WechatDeps,
  workspaceId: string,
  contactId: string,
  key: string,
  customer: WecomCustomer | undefined,
) {
  await withEvents(deps.core, async (tx, events) => {
    const contact = await lockContact(tx, workspaceId, contactId).catch(() => undefined);
    if (!contact) return; // merged meanwhile: the contact it joined has its own answer
    const state: WecomCustomerState = {
      ...(contact.attributes[key] as WecomCustomerState | undefined),
      checkedAt: new Date().toISOString(),
      ...(customer?.nickname ? { nickname: customer.nickname } : {}),
      ...(customer?.avatar ? { avatar: customer.avatar } : {}),
      ...(customer?.gender ? { gender: customer.gender } : {}),
    };
    const [row] = await tx
      .update(contacts)
      .set({
        name: contact.name ?? customer?.nickname ?? null,
        attributes: sql`${contacts.attributes} || jsonb_build_object(${key}::text, ${JSON.stringify(state)}::jsonb)`,
        updatedAt: new Date(),
      })
      .where(eq(contacts.id, contactId))
      .returning();
    if (customer) await announceContactUpdated(events, row!);
  });
}
