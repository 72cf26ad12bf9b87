import { errcodeOf } from "./api.ts";
import { callWithToken, wecomSays, type WecomApiOptions, type WecomApp } from "./wecom-api.ts";

/**
 * What WeCom's `kf/customer/batchget` tells of a customer (a WeChat user who wrote to the corp's
 * customer-service accounts): the WeChat nickname and avatar, and the UnionID when the corp is bound to
 * a WeChat Open Platform account — the same person's id across the company's Official Accounts and
 * mini programs. `gender` is 0 unknown, 1 male, 2 female.
 */
export type WecomCustomer = {
  externalUserId: string;
  nickname?: string;
  avatar?: string;
  gender?: number;
  unionId?: string;
};

export type CustomerBatch =
  | { ok: true; customers: WecomCustomer[]; invalid: string[] }
  | { ok: false; errcode: number; reason: string };

/** batchget takes at most 100 external_userids per call. */
export const CUSTOMER_BATCH = 100;

const text = (v: unknown) => (typeof v === "string" && v.trim() ? v.trim() : undefined);

/** batchget's answer: the customers WeCom knows, and the ids it does not (another corp's, or wrong). */
export function customerBatchOf(answer: Record<string, unknown>): CustomerBatch {
  const errcode = errcodeOf(answer);
  if (errcode !== 0) return { ok: false, errcode, reason: wecomSays(answer) };
  const list = Array.isArray(answer.customer_list) ? answer.customer_list : [];
  const customers: WecomCustomer[] = [];
  for (const entry of list) {
    if (!entry || typeof entry !== "object") continue;
    const c = entry as Record<string, unknown>;
    const externalUserId = text(c.external_userid);
    if (!externalUserId) continue;
    const gender = Number(c.gender);
    customers.push({
      externalUserId,
      ...(text(c.nickname) ? { nickname: text(c.nickname) } : {}),
      ...(text(c.avatar) && /^https?:\/\//.test(text(c.avatar)!) ? { avatar: text(c.avatar) } : {}),
      ...(Number.isInteger(gender) && gender > 0 ? { gender } : {}),
      ...(text(c.unionid) ? { unionId: text(c.unionid) } : {}),
    });
  }
  const invalid = Array.isArray(answer.invalid_external_userid)
    ? answer.invalid_external_userid.filter((v): v is string => typeof v === "string")
    : [];
  return { ok: true, customers, invalid };
}

/** Asks WeCom about up to 100 customers at once (`kf/customer/batchget`), without session context. */
export async function fetchCustomers(
  app: WecomApp,
  externalUserIds: string[],
  options: WecomApiOptions,
): Promise<CustomerBatch> {
  const body = { external_userid_list: externalUserIds.slice(0, CUSTOMER_BATCH), need_enter_session_context: 0 };
  const { answer } = await callWithToken(app, "/cgi-bin/kf/customer/batchget", body, options, "customers' profiles");
  return customerBatchOf(answer);
}
