import { MAX_TEXT, type NormalizedInbound } from "../../conversations/channel.ts";

/**
 * One entry of `sync_msg`'s `msg_list` as the core sees it. `origin` says who wrote it: 3 the WeChat
 * customer, 4 WeCom itself (events), 5 a WeCom member replying from WeCom's own client.
 */
export type WecomSyncedMessage = Record<string, unknown> & {
  msgid?: unknown;
  open_kfid?: unknown;
  external_userid?: unknown;
  send_time?: unknown;
  origin?: unknown;
  msgtype?: unknown;
};

export const ORIGIN_CUSTOMER = 3;
export const ORIGIN_EVENT = 4;
export const ORIGIN_SERVICER = 5;

export type WecomOutcome =
  | { kind: "message"; inbound: NormalizedInbound }
  /** WeCom could not deliver one of our replies after accepting it (`msg_send_fail`). */
  | { kind: "send_failed"; msgId: string; externalUserId: string; reason: string }
  | { kind: "ignored"; reason: string };

/** Why WeCom dropped a reply it had accepted (`msg_send_fail`'s `fail_type`), for the agent. */
const SEND_FAILURES: Record<number, string> = {
  0: "WeCom gave no reason",
  1: "the customer-service account was deleted",
  2: "the WeCom app was closed",
  4: "the session expired: the customer last wrote more than 48 hours ago",
  5: "the session was closed",
  6: "more than 5 replies followed the customer's last message",
  7: "the account is not bound to a video channel",
  8: "the corp is not verified",
  9: "the account is not bound to a video channel and the corp is not verified",
  10: "the customer refuses messages from this account",
};

const str = (v: unknown) => (typeof v === "string" ? v : typeof v === "number" ? String(v) : "");
const joined = (...parts: unknown[]) => parts.map(str).filter(Boolean).join(" ");
const obj = (v: unknown): Record<string, unknown> =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** Only the fields that are present, so `data` carries no keys with undefined or empty values. */
function present(entries: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined && v !== null && v !== ""));
}

const TRUNCATION_NOTE = "\n[消息过长，已截断]";

function fitted(text: string): { text: string; truncated?: true } {
  if (text.length <= MAX_TEXT) return { text };
  let cut = MAX_TEXT - TRUNCATION_NOTE.length;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1; // never split a surrogate pair
  return { text: text.slice(0, cut) + TRUNCATION_NOTE, truncated: true };
}

type Body = { kind: "text" | "media"; text: string; data: Record<string, unknown> };

/** Media have no text: a placeholder shows that something came, and the media id stays in `data`. */
function media(placeholder: string, part: Record<string, unknown>): Body {
  return { kind: "media", text: placeholder, data: present({ mediaId: str(part.media_id) }) };
}

/** The message types of WeCom customer service, each as text an agent can read. */
function messageBody(type: string, m: WecomSyncedMessage): Body {
  const part = obj(m[type]);
  switch (type) {
    case "text":
      return { kind: "text", text: str(part.content), data: present({ menuId: str(part.menu_id) }) };
    case "image":
      return media("[图片]", part);
    case "voice":
      return media("[语音]", part);
    case "video":
      return media("[视频]", part);
    case "file":
      return media("[文件]", part);
    case "location": {
      const latitude = Number(part.latitude);
      const longitude = Number(part.longitude);
      const label = [str(part.name), str(part.address)].filter(Boolean).join(" ");
      const where = Number.isFinite(latitude) && Number.isFinite(longitude) ? `(${latitude}, ${longitude})` : "";
      return {
        kind: "text",
        text: `📍 ${[label, where].filter(Boolean).join(" ")}`.trim(),
        data: present({ latitude, longitude, name: str(part.name), address: str(part.address) }),
      };
    }
    case "link":
      return {
        kind: "text",
        text: [str(part.title), str(part.desc), str(part.url)].filter(Boolean).join("\n") || "[链接]",
        data: present({ title: str(part.title), description: str(part.desc), url: str(part.url) }),
      };
    case "business_card":
      return { kind: "text", text: `[名片] ${str(part.userid)}`.trim(), data: present({ userId: str(part.userid) }) };
    case "miniprogram":
      return {
        kind: "text",
        text: `[小程序] ${str(part.title)}`.trim(),
        data: present({ appId: str(part.appid), title: str(part.title), pagePath: str(part.pagepath) }),
      };
    case "channels": {
      // sub_type: 1 a post, 2 a live stream, 3 a profile card of a video channel (视频号).
      const what = { 1: "视频号动态", 2: "视频号直播", 3: "视频号名片" }[Number(part.sub_type)] ?? "视频号";
      const detail = [str(part.nickname), str(part.title)].filter(Boolean).join(": ");
      return {
        kind: "text",
        text: `[${what}] ${detail}`.trim(),
        data: present({
          subType: Number(part.sub_type) || undefined,
          nickname: str(part.nickname),
          title: str(part.title),
        }),
      };
    }
    case "channels_shop_product":
      return {
        kind: "text",
        text: `[视频号商品] ${[str(part.title), str(part.sales_price)].filter(Boolean).join(" ")}`.trim(),
        data: present({ productId: str(part.product_id), title: str(part.title), shop: str(part.shop_nickname) }),
      };
    case "channels_shop_order":
      return {
        kind: "text",
        text: `[视频号订单] ${joined(part.order_id, part.product_titles, part.price_wording)}`.trim(),
        data: present({ orderId: str(part.order_id), state: str(part.state), shop: str(part.shop_nickname) }),
      };
    case "merged_msg": {
      const items = Array.isArray(part.item) ? part.item.map(obj) : [];
      const lines = items.map((i) => `${str(i.sender_name)}: ${mergedContent(i)}`);
      return {
        kind: "text",
        text: [`[聊天记录] ${str(part.title)}`.trim(), ...lines].join("\n"),
        data: present({ title: str(part.title), count: items.length }),
      };
    }
    default:
      // Never dropped: WeCom adds types, and the customer still wrote something.
      return { kind: "text", text: `[不支持的消息类型: ${type || "?"}]`, data: { unsupported: true } };
  }
}

/** A forwarded chat's entry: its content is a JSON string of the entry's own message type. */
function mergedContent(entry: Record<string, unknown>) {
  const type = str(entry.msgtype);
  let content: Record<string, unknown> = {};
  try {
    content = obj(JSON.parse(str(entry.msg_content)));
  } catch {
    // Shown as its type below.
  }
  if (type === "text") return str(obj(content.text).content) || "[文本]";
  return messageBody(type, { [type]: content[type] ?? content }).text;
}

/**
 * One `sync_msg` entry as what the core does with it. Customers' messages become messages of the
 * contact with identity `wecom` = `external_userid`; WeCom's events either mark our reply failed or are
 * ignored with a reason; replies a WeCom member typed in WeCom's own client (origin 5) are ignored with a
 * reason: such a member serves the chat outside Switchboard, and the agent's view here stays the inbox's.
 */
export function wecomMessageOf(m: WecomSyncedMessage, options: { inboxId: string }): WecomOutcome {
  const origin = Number(m.origin);
  const msgType = str(m.msgtype);
  const msgId = str(m.msgid);
  if (msgType === "event" || origin === ORIGIN_EVENT) return eventOf(obj(m.event));
  if (origin === ORIGIN_SERVICER) return { kind: "ignored", reason: "a WeCom member replied from WeCom's own client" };
  if (origin !== ORIGIN_CUSTOMER) return { kind: "ignored", reason: `origin ${str(m.origin) || "missing"} is unknown` };
  const externalUserId = str(m.external_userid);
  if (!msgId || msgId.length > 512) return { kind: "ignored", reason: "a message without a usable msgid" };
  if (!externalUserId || externalUserId.length > 320)
    return { kind: "ignored", reason: "a message without a usable external_userid" };
  const sendTime = Number(m.send_time);
  const body = messageBody(msgType, m);
  const fit = fitted(body.text);
  return {
    kind: "message",
    inbound: {
      channel: "wechat",
      channelAccountId: options.inboxId,
      externalId: msgId,
      from: { kind: "wecom", value: externalUserId },
      kind: body.kind,
      text: fit.text,
      attachments: [],
      ...(Number.isFinite(sendTime) && sendTime > 0 ? { sentAt: new Date(sendTime * 1000) } : {}),
      data: {
        msgType: msgType || "unknown",
        openKfid: str(m.open_kfid),
        // A contact joined by UnionID may be a customer of two corps: a reply goes to the one who wrote here.
        externalUserId,
        ...body.data,
        ...(fit.truncated ? { truncated: true } : {}),
      },
    },
  };
}

function eventOf(event: Record<string, unknown>): WecomOutcome {
  const type = str(event.event_type);
  if (type === "msg_send_fail") {
    const failType = Number(event.fail_type);
    const why = SEND_FAILURES[failType] ?? `fail_type ${str(event.fail_type) || "missing"}`;
    return {
      kind: "send_failed",
      msgId: str(event.fail_msgid),
      externalUserId: str(event.external_userid),
      reason: `WeCom could not deliver this reply: ${why}.`,
    };
  }
  // enter_session: the customer opened the chat and has not written; the conversation starts with their
  // first message. servicer_status_change / session_status_change: WeCom's own reception, not ours.
  // user_recall_msg / servicer_recall_msg: the timeline keeps what was received.
  return { kind: "ignored", reason: `event ${type || "without a type"} is not shown in the timeline` };
}
