import { describe, expect, it } from "bun:test";
import { MAX_TEXT, NormalizedInbound } from "../../conversations/channel.ts";
import { encryptedOf, InvalidPush, MAX_PUSH_BYTES, parsePushXml, toInbound, type InboundPush } from "./parse.ts";

const inboxId = "0b6f3c52-7d1e-4a8b-9c3d-2e5f6a7b8c9d";
const openId = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

/** A push as WeChat sends it: the account, the customer's OpenID, the time, then the message's own fields. */
const push = (fields: string, createTime = "1348831860") => `<xml>
  <ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>
  <FromUserName><![CDATA[${openId}]]></FromUserName>
  <CreateTime>${createTime}</CreateTime>
  ${fields}
</xml>`;

/** The message the core would ingest, checked against the channel contract exactly as ingest checks it. */
function message(xml: string) {
  const result = toInbound(parsePushXml(xml), { inboxId });
  if (result.kind !== "message") throw new Error(`expected a message, got ${result.kind}`);
  return NormalizedInbound.parse(result.inbound);
}

function refusal(run: () => unknown): InvalidPush {
  try {
    run();
  } catch (e) {
    if (e instanceof InvalidPush) return e;
    throw e;
  }
  throw new Error("expected the push to be refused");
}

describe("parsePushXml", () => {
  it("reads every field as a string, keeping a 20-digit MsgId exactly (it is past 2^53)", () => {
    const fields = parsePushXml(
      push(`<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[我想退款]]></Content>
      <MsgId>23456789012345678901</MsgId>`),
    );
    expect({ ...fields }).toEqual({
      ToUserName: "gh_0123456789ab",
      FromUserName: openId,
      CreateTime: "1348831860",
      MsgType: "text",
      Content: "我想退款",
      MsgId: "23456789012345678901",
    });
  });

  it("keeps CDATA text exactly: spaces, line breaks, brackets next to the ]]> terminator, a split ]]>", () => {
    // A "]]>" inside a message can only be sent as two CDATA sections; "]]" and "]>" alone need no split.
    const xml = push(`<MsgType><![CDATA[text]]></MsgType>
      <Content><![CDATA[  订单 [#123]] 怎么办？]>
第二行  ]]]]><![CDATA[>结束 ]]></Content><MsgId>1</MsgId>`);
    expect(parsePushXml(xml).Content).toBe("  订单 [#123]] 怎么办？]>\n第二行  ]]>结束 ");
  });

  it("trims the line breaks of a pretty-printed plain value and decodes XML's own entities", () => {
    const fields = parsePushXml(`<xml><CreateTime>
        1348831860
      </CreateTime><Label>Tom &amp; Jerry &lt;店&gt; &#20013;&#x6587;</Label></xml>`);
    expect(fields.CreateTime).toBe("1348831860");
    expect(fields.Label).toBe("Tom & Jerry <店> 中文");
  });

  it("flattens nested event details into dotted names and numbers repeated items", () => {
    const fields = parsePushXml(`<xml><Event><![CDATA[pic_weixin]]></Event><SendPicsInfo><Count>2</Count>
      <PicList><item><PicMd5Sum><![CDATA[aaa]]></PicMd5Sum></item><item><PicMd5Sum><![CDATA[bbb]]></PicMd5Sum></item>
      </PicList></SendPicsInfo></xml>`);
    expect({ ...fields }).toEqual({
      Event: "pic_weixin",
      "SendPicsInfo.Count": "2",
      "SendPicsInfo.PicList.item.0.PicMd5Sum": "aaa",
      "SendPicsInfo.PicList.item.1.PicMd5Sum": "bbb",
    });
  });

  it("refuses malformed XML", () => {
    expect(refusal(() => parsePushXml("<xml><Content>hi</MsgType></xml>")).fault).toBe("malformed_xml");
    expect(refusal(() => parsePushXml("<xml><Content>hi</Content>")).fault).toBe("malformed_xml");
    expect(refusal(() => parsePushXml("")).fault).toBe("malformed_xml");
    expect(refusal(() => parsePushXml("MsgType=text&Content=hi")).fault).toBe("malformed_xml");
    expect(refusal(() => parsePushXml("<xml><A>&nbsp;</A></xml>")).fault).toBe("malformed_xml");
    expect(refusal(() => parsePushXml("<xml><A>&#0;</A></xml>")).fault).toBe("malformed_xml");
    expect(refusal(() => parsePushXml("<xml><A>a\0b</A></xml>")).fault).toBe("malformed_xml");
    expect(refusal(() => parsePushXml("<xml><constructor>1</constructor></xml>")).fault).toBe("malformed_xml");
  });

  it("refuses a body whose root is not <xml>, and two roots as malformed", () => {
    expect(refusal(() => parsePushXml("<root><MsgType>text</MsgType></root>")).fault).toBe("no_xml_root");
    expect(refusal(() => parsePushXml("<xml><A>1</A></xml><xml><A>2</A></xml>")).fault).toBe("malformed_xml");
  });

  it("refuses a DOCTYPE or entity declaration anywhere, but not the same words inside a message", () => {
    const bomb = `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>
      <xml><Content>&b;</Content></xml>`;
    expect(refusal(() => parsePushXml(bomb))).toMatchObject({ fault: "doctype", status: 400 });
    const external = `<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml><Content>x</Content></xml>`;
    expect(refusal(() => parsePushXml(external)).fault).toBe("doctype");
    expect(refusal(() => parsePushXml(`<xml><!ENTITY x "y"><A>1</A></xml>`)).fault).toBe("doctype");
    expect(parsePushXml(`<xml><Content><![CDATA[<!DOCTYPE html> 是什么？]]></Content></xml>`).Content).toBe(
      "<!DOCTYPE html> 是什么？",
    );
  });

  it("refuses a body over the limit, counted in UTF-8 bytes (a Chinese character is three)", () => {
    const ascii = push(`<Content><![CDATA[${"a".repeat(MAX_PUSH_BYTES)}]]></Content>`);
    expect(refusal(() => parsePushXml(ascii))).toMatchObject({ fault: "too_large", status: 413 });
    const chinese = push(`<Content><![CDATA[${"退".repeat(MAX_PUSH_BYTES / 3)}]]></Content>`);
    expect(chinese.length).toBeLessThan(MAX_PUSH_BYTES);
    expect(refusal(() => parsePushXml(chinese)).fault).toBe("too_large");
  });

  it("refuses a field sent twice rather than guess which one WeChat meant", () => {
    const xml = push("<MsgType><![CDATA[text]]></MsgType><MsgType><![CDATA[event]]></MsgType>");
    expect(refusal(() => parsePushXml(xml))).toMatchObject({ fault: "duplicate_field", field: "MsgType" });
  });
});

describe("encryptedOf", () => {
  it("takes the ciphertext out of a safe-mode envelope", () => {
    const envelope = `<xml>
    <ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>
    <Encrypt><![CDATA[hJXrs0f2ZqG1kKz7Q8bT+3vN9yW4pL6mC1dE5fA2sR0=]]></Encrypt>
</xml>`;
    expect(encryptedOf(envelope)).toBe("hJXrs0f2ZqG1kKz7Q8bT+3vN9yW4pL6mC1dE5fA2sR0=");
  });

  it("refuses a plaintext push where a ciphertext was expected", () => {
    const plain = push("<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content>");
    expect(refusal(() => encryptedOf(plain))).toMatchObject({ fault: "missing_field", field: "Encrypt" });
  });
});

describe("toInbound: messages", () => {
  it("makes a text message the customer's message, from their OpenID, keyed by MsgId", () => {
    const inbound = message(
      push(`<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[ 我想退款，订单号 20261207 ]]></Content>
      <MsgId>24876543210987654321</MsgId>`),
    );
    expect(inbound).toMatchObject({
      channel: "wechat",
      channelAccountId: inboxId,
      externalId: "24876543210987654321",
      from: { kind: "wechat", value: openId },
      kind: "text",
      text: " 我想退款，订单号 20261207 ",
      attachments: [],
      data: { msgType: "text", toUserName: "gh_0123456789ab" },
    });
    expect(inbound.sentAt?.toISOString()).toBe("2012-09-28T11:31:00.000Z");
  });

  it("leaves an image to be downloaded later: its PicUrl and MediaId go in data, not attachments", () => {
    const inbound = message(
      push(`<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://mmbiz.qpic.cn/mmbiz_jpg/abc/0]]></PicUrl>
      <MediaId><![CDATA[media_id_img_01]]></MediaId><MsgId>1234567890123456</MsgId>`),
    );
    expect(inbound).toMatchObject({ kind: "media", externalId: "1234567890123456", attachments: [] });
    expect(inbound.text).toBeUndefined();
    expect(inbound.data).toMatchObject({
      msgType: "image",
      mediaId: "media_id_img_01",
      picUrl: "http://mmbiz.qpic.cn/mmbiz_jpg/abc/0",
    });
  });

  it("shows WeChat's speech recognition as a voice note's text", () => {
    const inbound = message(
      push(`<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[media_id_voice]]></MediaId>
      <Format><![CDATA[amr]]></Format><Recognition><![CDATA[我的快递到哪了]]></Recognition><MsgId>2</MsgId>`),
    );
    expect(inbound).toMatchObject({ kind: "media", text: "我的快递到哪了" });
    expect(inbound.data).toMatchObject({ msgType: "voice", mediaId: "media_id_voice", format: "amr" });
  });

  it("keeps a voice note without recognition as media with no text", () => {
    const inbound = message(
      push(`<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[media_id_voice]]></MediaId>
      <Format><![CDATA[speex]]></Format><Recognition><![CDATA[]]></Recognition><MsgId>3</MsgId>`),
    );
    expect(inbound.text).toBeUndefined();
    expect(inbound.data).toMatchObject({ format: "speex" });
    expect(inbound.data).not.toHaveProperty("recognition");
  });

  for (const type of ["video", "shortvideo"]) {
    it(`carries a ${type}'s MediaId and ThumbMediaId for the download`, () => {
      const inbound = message(
        push(`<MsgType><![CDATA[${type}]]></MsgType><MediaId><![CDATA[media_id_video]]></MediaId>
        <ThumbMediaId><![CDATA[thumb_media_id]]></ThumbMediaId><MsgId>4</MsgId>`),
      );
      expect(inbound).toMatchObject({ kind: "media", attachments: [] });
      expect(inbound.data).toEqual({
        msgType: type,
        toUserName: "gh_0123456789ab",
        openId: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        mediaId: "media_id_video",
        thumbMediaId: "thumb_media_id",
      });
    });
  }

  it("names a file by its title and keeps what identifies it", () => {
    const inbound = message(
      push(`<MsgType><![CDATA[file]]></MsgType><Title><![CDATA[发票 2026-11.pdf]]></Title>
      <Description><![CDATA[]]></Description><FileKey><![CDATA[fk_01]]></FileKey>
      <FileMd5><![CDATA[5d41402abc4b2a76b9719d911017c592]]></FileMd5><FileTotalLen>48213</FileTotalLen>
      <MsgId>5</MsgId>`),
    );
    expect(inbound).toMatchObject({ kind: "media", text: "📎 发票 2026-11.pdf" });
    expect(inbound.data).toMatchObject({
      msgType: "file",
      title: "发票 2026-11.pdf",
      fileKey: "fk_01",
      fileMd5: "5d41402abc4b2a76b9719d911017c592",
      fileSize: "48213",
    });
  });

  it("writes a location as a pin with its label and coordinates (Location_X is the latitude)", () => {
    const inbound = message(
      push(`<MsgType><![CDATA[location]]></MsgType><Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y>
      <Scale>20</Scale><Label><![CDATA[广州市天河区天河路 385 号]]></Label><MsgId>6</MsgId>`),
    );
    expect(inbound).toMatchObject({ kind: "text", text: "📍 广州市天河区天河路 385 号 (23.134521, 113.358803)" });
    expect(inbound.data).toMatchObject({ latitude: 23.134521, longitude: 113.358803, scale: 20 });
  });

  it("refuses a location whose coordinates are not numbers", () => {
    const xml = push(`<MsgType><![CDATA[location]]></MsgType><Location_X>north</Location_X>
      <Location_Y>113.3</Location_Y><MsgId>7</MsgId>`);
    expect(refusal(() => toInbound(parsePushXml(xml), { inboxId }))).toMatchObject({ field: "Location_X" });
  });

  it("writes a link as its title, description and URL", () => {
    const inbound = message(
      push(`<MsgType><![CDATA[link]]></MsgType><Title><![CDATA[退货政策]]></Title>
      <Description><![CDATA[七天无理由退货]]></Description><Url><![CDATA[https://shop.example.cn/returns?a=1&b=2]]></Url>
      <MsgId>8</MsgId>`),
    );
    expect(inbound.text).toBe("退货政策\n七天无理由退货\nhttps://shop.example.cn/returns?a=1&b=2");
    expect(inbound.data).toMatchObject({ url: "https://shop.example.cn/returns?a=1&b=2", title: "退货政策" });
  });

  it("keeps a type WeChat added later as an unsupported message, never dropping it", () => {
    const inbound = message(
      push(`<MsgType><![CDATA[miniprogrampage]]></MsgType><Title><![CDATA[小程序]]></Title><MsgId>9</MsgId>`),
    );
    expect(inbound).toMatchObject({
      externalId: "9",
      text: "[不支持的消息类型: miniprogrampage]",
      data: { msgType: "miniprogrampage", unsupported: true },
    });
  });

  it("passes the UnionID on when WeChat sends one, so the gateway can join the person's accounts", () => {
    const inbound = message(
      push(`<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content>
      <UnionId><![CDATA[o6_bmasdasdsad6_2sgVt7hMZOPfL]]></UnionId><MsgId>10</MsgId>`),
    );
    expect(inbound.data).toMatchObject({ unionId: "o6_bmasdasdsad6_2sgVt7hMZOPfL" });
  });

  it("truncates a text past MAX_TEXT with a note instead of refusing it, without splitting an emoji", () => {
    const long = `${"好".repeat(MAX_TEXT - 21)}😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀`;
    const inbound = message(
      push(`<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${long}]]></Content><MsgId>11</MsgId>`),
    );
    expect(inbound.text?.length).toBeLessThanOrEqual(MAX_TEXT);
    expect(inbound.text).toEndWith("（消息过长，已截断）");
    expect(inbound.text).toStartWith("好".repeat(100));
    expect(inbound.text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    expect(inbound.data).toMatchObject({ truncated: true });
  });

  it("names the field a push lacks", () => {
    const full = {
      FromUserName: `<FromUserName><![CDATA[${openId}]]></FromUserName>`,
      CreateTime: "<CreateTime>1348831860</CreateTime>",
      MsgType: "<MsgType><![CDATA[text]]></MsgType>",
    };
    for (const missing of Object.keys(full) as (keyof typeof full)[]) {
      const xml = `<xml>${Object.entries(full)
        .filter(([name]) => name !== missing)
        .map(([, element]) => element)
        .join("")}<Content><![CDATA[hi]]></Content><MsgId>12</MsgId></xml>`;
      expect(refusal(() => toInbound(parsePushXml(xml), { inboxId }))).toMatchObject({
        fault: "missing_field",
        field: missing,
        status: 400,
      });
    }
  });

  it("refuses a CreateTime that is not seconds", () => {
    const xml = push("<MsgType><![CDATA[text]]></MsgType><MsgId>13</MsgId>", "2026-12-07T15:00:00Z");
    expect(refusal(() => toInbound(parsePushXml(xml), { inboxId }))).toMatchObject({ field: "CreateTime" });
  });
});

describe("toInbound: events", () => {
  const event = (name: string, extra = "") =>
    toInbound(parsePushXml(push(`<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[${name}]]></Event>${extra}`)), {
      inboxId,
    });
  const asMessage = (result: InboundPush) => {
    if (result.kind !== "message") throw new Error(`expected a message, got ${result.kind}`);
    return NormalizedInbound.parse(result.inbound);
  };

  it("turns a subscribe into a change of the contact, with the QR scene it came through, and no message", () => {
    expect(
      event("subscribe", "<EventKey><![CDATA[qrscene_shop42]]></EventKey><Ticket><![CDATA[TK]]></Ticket>"),
    ).toEqual({
      kind: "contact",
      change: "subscribed",
      openId,
      from: { kind: "wechat", value: openId },
      scene: "shop42",
      at: new Date(1348831860 * 1000),
      externalId: `${openId}:1348831860:subscribe`,
      channelAccountId: inboxId,
    });
  });

  it("turns an unsubscribe into a change of the contact", () => {
    expect(event("unsubscribe", "<EventKey><![CDATA[]]></EventKey>")).toMatchObject({
      kind: "contact",
      change: "unsubscribed",
      openId,
    });
  });

  it("shows a menu click to the agent, keyed by sender, time and event since events have no MsgId", () => {
    const inbound = asMessage(event("CLICK", "<EventKey><![CDATA[查询订单]]></EventKey>"));
    expect(inbound).toMatchObject({
      kind: "text",
      text: "[菜单] 查询订单",
      externalId: `${openId}:1348831860:CLICK`,
      from: { kind: "wechat", value: openId },
      data: { msgType: "event", event: "CLICK", eventKey: "查询订单" },
    });
  });

  it("shows a menu link opened and a QR code scanned", () => {
    const view = asMessage(
      event("VIEW", "<EventKey><![CDATA[https://shop.example.cn/]]></EventKey><MenuId>7</MenuId>"),
    );
    expect(view).toMatchObject({ text: "[菜单] https://shop.example.cn/", data: { menuId: "7" } });
    const scan = asMessage(event("SCAN", "<EventKey><![CDATA[store_12]]></EventKey><Ticket><![CDATA[TK]]></Ticket>"));
    expect(scan).toMatchObject({ text: "[扫码] store_12", externalId: `${openId}:1348831860:SCAN` });
  });

  it("ignores location reports and our own sends' receipts", () => {
    expect(event("LOCATION", "<Latitude>23.137466</Latitude><Longitude>113.352425</Longitude>")).toMatchObject({
      kind: "ignored",
    });
    expect(event("TEMPLATESENDJOBFINISH", "<Status><![CDATA[success]]></Status>").kind).toBe("ignored");
  });

  it("refuses an event without its Event name", () => {
    const xml = push("<MsgType><![CDATA[event]]></MsgType>");
    expect(refusal(() => toInbound(parsePushXml(xml), { inboxId }))).toMatchObject({ field: "Event" });
  });
});
