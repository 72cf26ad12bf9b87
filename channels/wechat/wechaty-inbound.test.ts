import { describe, expect, it } from "bun:test";
import { NormalizedInbound, PermanentSendError } from "../../conversations/channel.ts";
import { wechatyInbound, wechatyTargetOf, type WechatyMessageFacts } from "./wechaty-inbound.ts";
import { reconnectDelay, scrubbed, sessionOf } from "./wechaty-session.ts";

const INBOX = "5f0c2f8e-6a8c-4a53-9a55-4f2a7c0f7a11";
const alice = { id: "wxid_alice", name: "Alice 李" };
const message = (over: Partial<WechatyMessageFacts> = {}): WechatyMessageFacts => ({
  id: "msg-1",
  type: 7,
  text: "你好，我想查询订单",
  self: false,
  talker: alice,
  ...over,
});

describe("wechatyInbound", () => {
  it("makes a direct chat's text a message from the contact's Wechaty id, idempotent on the message id", () => {
    const inbound = wechatyInbound(message(), INBOX)!;
    expect(NormalizedInbound.parse(inbound)).toMatchObject({
      channel: "wechat",
      channelAccountId: INBOX,
      externalId: "msg-1",
      from: { kind: "wechaty", value: "wxid_alice", displayName: "Alice 李" },
      kind: "text",
      text: "你好，我想查询订单",
      data: { msgType: "text", wechaty: { memberId: "wxid_alice", memberName: "Alice 李" } },
    });
  });

  it("ignores the bot's own messages", () => {
    expect(wechatyInbound(message({ self: true }), INBOX)).toBeUndefined();
  });

  it("shows media as WeChat's placeholders and keeps unknown types as unsupported", () => {
    const text = (type: number) => wechatyInbound(message({ type, text: "" }), INBOX)!.text;
    expect([6, 2, 15, 1, 5].map(text)).toEqual(["[图片]", "[语音]", "[视频]", "[文件]", "[表情]"]);
    expect(wechatyInbound(message({ type: 6 }), INBOX)!.kind).toBe("media");
    const odd = wechatyInbound(message({ type: 99 }), INBOX)!;
    expect(odd.text).toBe("[不支持的消息类型: unknown]");
    expect(odd.data).toMatchObject({ unsupported: true });
  });

  it("makes a room's message the room's, with the member who said it", () => {
    const inbound = wechatyInbound(message({ room: { id: "123@chatroom", topic: "VIP 客户群" } }), INBOX)!;
    expect(inbound.from).toEqual({ kind: "wechaty", value: "room:123@chatroom", displayName: "VIP 客户群" });
    expect(inbound.data).toMatchObject({
      senderName: "Alice 李",
      wechaty: { roomId: "123@chatroom", topic: "VIP 客户群", memberId: "wxid_alice", memberName: "Alice 李" },
    });
  });

  it("truncates text past the core's limit, with a note", () => {
    const inbound = wechatyInbound(message({ text: "长".repeat(20_000) }), INBOX)!;
    expect(NormalizedInbound.parse(inbound).text!.endsWith("[已截断]")).toBe(true);
    expect(inbound.data).toMatchObject({ truncated: true });
  });
});

describe("wechatyTargetOf", () => {
  it("replies in the room of a room's conversation, else to the contact", () => {
    expect(wechatyTargetOf([{ kind: "wechaty", value: "room:123@chatroom" }])).toEqual({
      kind: "room",
      id: "123@chatroom",
    });
    expect(
      wechatyTargetOf([
        { kind: "email", value: "a@b.c" },
        { kind: "wechaty", value: "wxid_alice" },
      ]),
    ).toEqual({
      kind: "contact",
      id: "wxid_alice",
    });
  });

  it("fails for good when the contact has no Wechaty identity", () => {
    expect(() => wechatyTargetOf([{ kind: "phone", value: "+8613800138000" }])).toThrow(PermanentSendError);
  });
});

describe("the bot's session", () => {
  it("reads anything stored tolerantly, as stopped when unknown", () => {
    expect(sessionOf(null).status).toBe("stopped");
    expect(sessionOf({ status: "bogus", user: { id: 3 } })).toMatchObject({ status: "stopped", user: null });
    expect(sessionOf({ status: "scan", qrcode: "https://login.weixin.qq.com/l/x" })).toMatchObject({
      status: "scan",
      qrcode: "https://login.weixin.qq.com/l/x",
    });
  });

  it("keeps the puppet token out of errors", () => {
    const err = new Error("resolution failed for target wechaty://api.chatie.io/puppet_secret_token_1: not found");
    expect(scrubbed(err, ["puppet_secret_token_1"])).toBe(
      "resolution failed for target wechaty://api.chatie.io/***: not found",
    );
  });

  it("backs off exponentially up to five minutes", () => {
    expect([1, 2, 3, 4].map((n) => reconnectDelay(n))).toEqual([1000, 2000, 4000, 8000]);
    expect(reconnectDelay(30)).toBe(300_000);
  });
});
