import { describe, expect, it } from "bun:test";
import { MAX_TEXT } from "../../conversations/channel.ts";
import { wecomMessageOf, type WecomSyncedMessage } from "./wecom-message.ts";

const inboxId = "5f0c6b1e-8d2a-4c3e-9b1f-0a1b2c3d4e5f";
const base = {
  msgid: "from_msgid_4622416642169452483",
  open_kfid: "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q",
  external_userid: "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw",
  send_time: 1615478585,
  origin: 3,
};
const of = (m: Partial<WecomSyncedMessage>) => wecomMessageOf({ ...base, ...m } as WecomSyncedMessage, { inboxId });
const inbound = (m: Partial<WecomSyncedMessage>) => {
  const out = of(m);
  if (out.kind !== "message") throw new Error(`not a message: ${JSON.stringify(out)}`);
  return out.inbound;
};

describe("sync_msg messages of customers (origin 3)", () => {
  it("become messages of the wecom identity, idempotent on msgid, dated by send_time", () => {
    expect(inbound({ msgtype: "text", text: { content: "你好，我想查询订单", menu_id: "101" } })).toEqual({
      channel: "wechat",
      channelAccountId: inboxId,
      externalId: base.msgid,
      from: { kind: "wecom", value: base.external_userid },
      kind: "text",
      text: "你好，我想查询订单",
      attachments: [],
      sentAt: new Date(1615478585 * 1000),
      data: { msgType: "text", openKfid: base.open_kfid, externalUserId: base.external_userid, menuId: "101" },
    });
  });

  it("show media as placeholders and keep the media_id", () => {
    for (const [type, placeholder] of [
      ["image", "[图片]"],
      ["voice", "[语音]"],
      ["video", "[视频]"],
      ["file", "[文件]"],
    ] as const) {
      const m = inbound({ msgtype: type, [type]: { media_id: `MEDIA_${type}` } });
      expect(m).toMatchObject({ kind: "media", text: placeholder, data: { msgType: type, mediaId: `MEDIA_${type}` } });
    }
  });

  it("turn locations, links, cards, mini programs and video channels into readable text", () => {
    expect(
      inbound({
        msgtype: "location",
        location: { latitude: 23.1, longitude: 113.3, name: "广州塔", address: "海珠区" },
      }).text,
    ).toBe("📍 广州塔 海珠区 (23.1, 113.3)");
    expect(
      inbound({ msgtype: "link", link: { title: "订单", desc: "查看物流", url: "https://x.test/o/1" } }).text,
    ).toBe("订单\n查看物流\nhttps://x.test/o/1");
    expect(inbound({ msgtype: "business_card", business_card: { userid: "zhangsan" } }).text).toBe("[名片] zhangsan");
    expect(
      inbound({ msgtype: "miniprogram", miniprogram: { title: "商城", appid: "wx1", pagepath: "p/i" } }),
    ).toMatchObject({
      text: "[小程序] 商城",
      data: { appId: "wx1", pagePath: "p/i" },
    });
    expect(
      inbound({ msgtype: "channels", channels: { sub_type: 2, nickname: "某品牌", title: "新品直播" } }).text,
    ).toBe("[视频号直播] 某品牌: 新品直播");
    expect(
      inbound({ msgtype: "channels_shop_product", channels_shop_product: { title: "保温杯", sales_price: "89.00" } })
        .text,
    ).toBe("[视频号商品] 保温杯 89.00");
    const merged = inbound({
      msgtype: "merged_msg",
      merged_msg: {
        title: "聊天记录",
        item: [{ sender_name: "小王", msgtype: "text", msg_content: JSON.stringify({ text: { content: "在吗" } }) }],
      },
    });
    expect(merged.text).toBe("[聊天记录] 聊天记录\n小王: 在吗");
  });

  it("keep an unknown type as an unsupported message, never dropped", () => {
    expect(inbound({ msgtype: "hologram", hologram: {} })).toMatchObject({
      kind: "text",
      text: "[不支持的消息类型: hologram]",
      data: { unsupported: true, msgType: "hologram" },
    });
  });

  it("truncate a text longer than the timeline holds, with a note", () => {
    const m = inbound({ msgtype: "text", text: { content: "长".repeat(MAX_TEXT + 10) } });
    expect(m.text!.length).toBeLessThanOrEqual(MAX_TEXT);
    expect(m.data).toMatchObject({ truncated: true });
  });

  it("are ignored with a reason when they lack msgid or external_userid", () => {
    expect(of({ msgid: "", msgtype: "text", text: { content: "x" } })).toMatchObject({ kind: "ignored" });
    expect(of({ external_userid: undefined, msgtype: "text", text: { content: "x" } })).toMatchObject({
      kind: "ignored",
    });
  });
});

describe("other origins", () => {
  it("a WeCom member's reply from WeCom's client (origin 5) is skipped with a reason", () => {
    expect(of({ origin: 5, msgtype: "text", text: { content: "我是客服" } })).toEqual({
      kind: "ignored",
      reason: "a WeCom member replied from WeCom's own client",
    });
  });

  it("msg_send_fail says which reply failed and why", () => {
    const out = of({
      origin: 4,
      msgtype: "event",
      event: { event_type: "msg_send_fail", external_userid: base.external_userid, fail_msgid: "abc123", fail_type: 4 },
    });
    expect(out).toEqual({
      kind: "send_failed",
      msgId: "abc123",
      externalUserId: base.external_userid,
      reason:
        "WeCom could not deliver this reply: the session expired: the customer last wrote more than 48 hours ago.",
    });
  });

  it("enter_session and WeCom's reception events are ignored with a reason", () => {
    for (const event_type of ["enter_session", "servicer_status_change", "session_status_change", "user_recall_msg"])
      expect(of({ origin: 4, msgtype: "event", event: { event_type } })).toEqual({
        kind: "ignored",
        reason: `event ${event_type} is not shown in the timeline`,
      });
  });
});
