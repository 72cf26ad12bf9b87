import { sql } from "drizzle-orm";
import type { InboundPush } from "../../../channels/wechat/parse.ts";
import { announceContactUpdated, lockContact, resolveContact } from "../../../conversations/contact.ts";
import { withEvents, type Core } from "../../../conversations/transaction.ts";
import { contacts } from "../../../db/schema/index.ts";

type ContactChange = Extract<InboundPush, { kind: "contact" }>;

/**
 * A contact's standing with one Official Account, in `contacts.attributes["wechat:<AppID>"]` (one key per
 * account, so a person who follows two of the company's accounts keeps both, also through a merge):
 * `following`, `since` (the last follow), `unfollowedAt`, `scene` (the QR code's scene they followed
 * through), and `unionIdCheckedAt` (union-id.ts). Agents see it with the contact's other attributes.
 */
export type FollowState = {
  following?: boolean;
  since?: string;
  unfollowedAt?: string;
  scene?: string;
  unionIdCheckedAt?: string;
};

export const accountKey = (appId: string) => `wechat:${appId}`;

/**
 * Subscribe / unsubscribe: the contact of the OpenID (created on a first follow) is marked following or
 * not. A follow opens no conversation: the customer has said nothing yet, and a queue of empty
 * conversations would keep agents from customers who did. WeChat retries a push with the same
 * CreateTime, and pushes may arrive out of order: a change older than the one recorded changes nothing.
 */
export async function recordFollow(core: Core, workspaceId: string, appId: string, change: ContactChange) {
  return withEvents(core, async (tx, events) => {
    const { contactId } = await resolveContact(tx, workspaceId, change.from);
    const contact = await lockContact(tx, workspaceId, contactId);
    const key = accountKey(appId);
    const before = (contact.attributes[key] ?? {}) as FollowState;
    const at = change.at.toISOString();
    const last = [before.since, before.unfollowedAt].filter(Boolean).sort().pop();
    if (last && last > at) return contactId;
    const next: FollowState =
      change.change === "subscribed"
        ? {
            ...withoutKeys(before, ["unfollowedAt", "scene"]),
            following: true,
            since: at,
            ...(change.scene ? { scene: change.scene } : {}),
          }
        : { ...before, following: false, unfollowedAt: at };
    if (JSON.stringify(next) === JSON.stringify(before)) return contactId;
    const [row] = await tx
      .update(contacts)
      .set({
        attributes: sql`${contacts.attributes} || jsonb_build_object(${key}::text, ${JSON.stringify(next)}::jsonb)`,
        updatedAt: new Date(),
      })
      .where(sql`${contacts.id} = ${contactId}`)
      .returning();
    await announceContactUpdated(events, row!);
    return contactId;
  });
}

function withoutKeys<T extends object>(value: T, keys: (keyof T)[]): T {
  const copy = { ...value };
  for (const k of keys) delete copy[k];
  return copy;
}
