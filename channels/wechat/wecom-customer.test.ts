import { describe, expect, it } from "bun:test";
import { customerBatchOf, fetchCustomers } from "./wecom-customer.ts";

describe("kf/customer/batchget", () => {
  it("asks for the customers without session context and reads nickname, avatar, gender and UnionID", async () => {
    const calls: { path: string; token: string | null; body: any }[] = [];
    const doFetch = (async (input: URL | RequestInfo, init?: RequestInit) => {
      const url = new URL(String(input));
      calls.push({
        path: url.pathname,
        token: url.searchParams.get("access_token"),
        body: JSON.parse(String(init?.body)),
      });
      return Response.json({
        errcode: 0,
        errmsg: "ok",
        customer_list: [
          {
            external_userid: "wmA",
            nickname: " 张三 ",
            avatar: "http://wx.qlogo.cn/a/0",
            gender: 1,
            unionid: "oUnion1",
          },
          { external_userid: "wmB", nickname: "", avatar: "javascript:alert(1)", gender: 0, unionid: "" },
          { nickname: "no id" },
        ],
        invalid_external_userid: ["wmC"],
      });
    }) as typeof fetch;
    const tokens = { tokenFor: async () => "tok", invalidate() {} };
    const batch = await fetchCustomers({ corpId: "ww1", secret: "s" }, ["wmA", "wmB", "wmC"], {
      apiBase: "http://w",
      fetch: doFetch,
      tokens,
    });
    expect(calls).toEqual([
      {
        path: "/cgi-bin/kf/customer/batchget",
        token: "tok",
        body: { external_userid_list: ["wmA", "wmB", "wmC"], need_enter_session_context: 0 },
      },
    ]);
    expect(batch).toEqual({
      ok: true,
      customers: [
        { externalUserId: "wmA", nickname: "张三", avatar: "http://wx.qlogo.cn/a/0", gender: 1, unionId: "oUnion1" },
        { externalUserId: "wmB" },
      ],
      invalid: ["wmC"],
    });
  });

  it("gives WeCom's refusal with its code", () => {
    expect(customerBatchOf({ errcode: 95017, errmsg: "api forbidden" })).toEqual({
      ok: false,
      errcode: 95017,
      reason: "WeCom 95017: api forbidden",
    });
  });
});
