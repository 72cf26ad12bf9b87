import { XMLParser, XMLValidator } from "fast-xml-parser";
import { MAX_TEXT, type Identity, type NormalizedInbound } from "../../conversations/channel.ts";
import { DomainError } from "../../platform/errors.ts";

/** WeChat pushes one message or event per request, a few hundred bytes; anything this large is not WeChat. */
export const MAX_PUSH_BYTES = 64 * 1024;

/** The fields of one push as WeChat names them (`FromUserName`, `MsgType`…), every value a string. */
export type PushFields = Record<string, string>;

export type PushFault =
  | "too_large"
  | "malformed_xml"
  | "doctype"
  | "no_xml_root"
  | "duplicate_field"
  | "missing_field"
  | "invalid_field";

/** A push that cannot be read: answered with a 4xx (413 when too large), never stored. */
export class InvalidPush extends DomainError {
  constructor(
    readonly fault: PushFault,
    message: string,
    field?: string,
  ) {
    super(fault === "too_large" ? 413 : 400, fault === "too_large" ? "too_large" : "invalid", message, field);
  }
}

// Values stay strings: a MsgId (up to 20 digits) is past 2^53 and would lose its last digits as a number.
// Entities are decoded below (the five of XML and character references only), never from a DTD.
const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: false,
  cdataPropName: "#cdata",
});

type XmlNode = Record<string, XmlNode[] | string>;

const PREDEFINED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decodeEntities(text: string) {
  return text.replace(/&([^;&\s]{1,16});/g, (_, name: string) => {
    if (Object.hasOwn(PREDEFINED, name)) return PREDEFINED[name] as string;
    const code = /^#x[0-9a-f]+$/i.test(name)
      ? Number.parseInt(name.slice(2), 16)
      : /^#\d+$/.test(name)
        ? Number(name.slice(1))
        : Number.NaN;
    // NUL and lone surrogates are not XML characters (and PostgreSQL text cannot hold a NUL).
    if (!Number.isInteger(code) || code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
      throw new InvalidPush("malformed_xml", `Unknown or invalid entity &${name};`);
    return String.fromCodePoint(code);
  });
}

function isElement(node: XmlNode) {
  return !("#text" in node) && !("#cdata" in node);
}

function nameOf(node: XmlNode) {
  return Object.keys(node)[0] as string;
}

/**
 * An element's text: CDATA exactly as sent (WeChat wraps user text in it, spaces and all), plain text
 * with entities decoded and trimmed (the line breaks of a pretty-printed push are not part of a value).
 */
function textOf(children: XmlNode[]) {
  const hasCdata = children.some((c) => "#cdata" in c);
  let out = "";
  for (const child of children) {
    if ("#cdata" in child) {
      for (const part of child["#cdata"] as XmlNode[]) out += String(part["#text"] ?? "");
    } else if ("#text" in child) {
      const text = String(child["#text"]);
      if (!hasCdata || text.trim()) out += decodeEntities(text);
    }
  }
  return hasCdata ? out : out.trim();
}

/** Nested elements (ScanCodeInfo, SendPicsInfo's item list) become dotted names; repeats are numbered. */
function flatten(children: XmlNode[], prefix: string, out: PushFields) {
  const elements = children.filter(isElement);
  const counts = new Map<string, number>();
  for (const el of elements) counts.set(nameOf(el), (counts.get(nameOf(el)) ?? 0) + 1);
  const seen = new Map<string, number>();
  for (const el of elements) {
    const name = nameOf(el);
    if (!prefix && (counts.get(name) ?? 0) > 1)
      throw new InvalidPush("duplicate_field", `<${name}> appears more than once`, name);
    const index = seen.get(name) ?? 0;
    seen.set(name, index + 1);
    const key = `${prefix}${name}${(counts.get(name) ?? 0) > 1 ? `.${index}` : ""}`;
    const inner = el[name] as XmlNode[];
    if (inner.some(isElement)) flatten(inner, `${key}.`, out);
    else out[key] = textOf(inner);
  }
}

/**
 * The fields of a pushed XML body, plaintext or the safe-mode envelope (`ToUserName`, `Encrypt`).
 * Refuses what WeChat never sends: a body past MAX_PUSH_BYTES, a DOCTYPE or entity declaration (an XML
 * bomb or an external entity would be read from it), anything but one `<xml>` root.
 */
export function parsePushXml(body: string): PushFields {
  if (body.length > MAX_PUSH_BYTES || Buffer.byteLength(body, "utf8") > MAX_PUSH_BYTES)
    throw new InvalidPush("too_large", `A WeChat push is at most ${MAX_PUSH_BYTES} bytes`);
  // Customers may well type "<!DOCTYPE" into a message: only markup outside CDATA counts.
  const markup = body.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, "");
  if (/<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i.test(markup))
    throw new InvalidPush("doctype", "DOCTYPE and entity declarations are refused");
  if (body.includes("\0")) throw new InvalidPush("malformed_xml", "NUL byte in the body");
  const valid = XMLValidator.validate(body);
  if (valid !== true)
    throw new InvalidPush("malformed_xml", `Malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
  let doc: XmlNode[];
  try {
    doc = parser.parse(body) as XmlNode[];
  } catch (e) {
    throw new InvalidPush("malformed_xml", `Malformed XML: ${(e as Error).message}`);
  }
  const roots = doc.filter(isElement);
  if (roots.length !== 1 || nameOf(roots[0] as XmlNode) !== "xml")
    throw new InvalidPush("no_xml_root", "A WeChat push has one root element, <xml>");
  const children = (roots[0] as XmlNode).xml as XmlNode[];
  if (children.some((c) => "#cdata" in c || ("#text" in c && String(c["#text"]).trim())))
    throw new InvalidPush("malformed_xml", "Text directly inside <xml>, outside any field");
  const fields: PushFields = Object.create(null);
  flatten(children, "", fields);
  return fields;
}

/** The ciphertext of a safe-mode (or compatible-mode) push, for channels/wechat/crypto.ts to open. */
export function encryptedOf(body: string): string {
  const encrypted = parsePushXml(body).Encrypt;
  if (!encrypted) throw new InvalidPush("missing_field", "The push has no <Encrypt> field", "Encrypt");
  return encrypted;
}

export type InboundPush =
  | { kind: "message"; inbound: NormalizedInbound }
  | {
      kind: "contact";
      change: "subscribed" | "unsubscribed";
      openId: string;
      from: Identity;
      unionId?: string;
      /** The scene of the parametric QR code the customer subscribed through (EventKey `qrscene_…`). */
      scene?: string;
      at: Date;
      /** The same key as a message's: WeChat retries an event with the same FromUserName and CreateTime. */
      externalId: string;
      channelAccountId: string;
    }
  | { kind: "ignored"; reason: string };

const TRUNCATION_NOTE = "\n…（消息过长，已截断）";

/** A customer can send more than a timeline message holds: keep the start and say so, rather than refuse it. */
function fitText(text: string): { text: string; truncated: boolean } {
  if (text.length <= MAX_TEXT) return { text, truncated: false };
  let cut = MAX_TEXT - TRUNCATION_NOTE.length;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1; // never split a surrogate pair (emoji, rare Han characters)
  return { text: text.slice(0, cut) + TRUNCATION_NOTE, truncated: true };
}

function required(fields: PushFields, name: string) {
  const value = fields[name];
  if (!value) throw new InvalidPush("missing_field", `The push has no <${name}>`, name);
  return value;
}

function coordinate(fields: PushFields, name: string) {
  const value = Number(required(fields, name));
  if (!Number.isFinite(value)) throw new InvalidPush("invalid_field", `<${name}> is not a number`, name);
  return value;
}

/** Only the fields that are present, so `data` carries no keys with undefined values. */
function present(entries: Record<string, string | number | boolean | undefined>) {
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined && v !== ""));
}

type Body = { kind: "text" | "media"; text?: string; data: Record<string, unknown> };

/** The message types WeChat documents for the Official Account's message push. */
function messageBody(type: string, f: PushFields): Body {
  switch (type) {
    case "text":
      return { kind: "text", text: f.Content ?? "", data: {} };
    case "image":
      return { kind: "media", data: present({ mediaId: f.MediaId, picUrl: f.PicUrl }) };
    case "voice":
      // Recognition is WeChat's speech-to-text, sent only when the account turned it on.
      return {
        kind: "media",
        text: f.Recognition || undefined,
        data: present({ mediaId: f.MediaId, format: f.Format, recognition: f.Recognition, mediaId16k: f.MediaId16K }),
      };
    case "video":
    case "shortvideo":
      return { kind: "media", data: present({ mediaId: f.MediaId, thumbMediaId: f.ThumbMediaId }) };
    case "file":
      return {
        kind: "media",
        text: f.Title ? `📎 ${f.Title}` : undefined,
        data: present({
          title: f.Title,
          description: f.Description,
          fileKey: f.FileKey,
          fileMd5: f.FileMd5,
          fileSize: f.FileTotalLen,
          mediaId: f.MediaId,
        }),
      };
    case "location": {
      const latitude = coordinate(f, "Location_X");
      const longitude = coordinate(f, "Location_Y");
      const label = f.Label?.trim();
      return {
        kind: "text",
        text: `📍 ${label ? `${label} ` : ""}(${latitude}, ${longitude})`,
        data: present({ latitude, longitude, scale: f.Scale ? Number(f.Scale) : undefined, label }),
      };
    }
    case "link":
      return {
        kind: "text",
        text: [f.Title, f.Description, f.Url].filter(Boolean).join("\n"),
        data: present({ title: f.Title, description: f.Description, url: f.Url }),
      };
    default:
      // Never dropped: WeChat adds types (mini-program cards, music…) and the customer still wrote something.
      return { kind: "text", text: `[不支持的消息类型: ${type}]`, data: { unsupported: true } };
  }
}

/** Menu clicks and QR scans become messages so the agent sees what the customer did. */
const VISIBLE_EVENTS: Record<string, string> = { click: "菜单", view: "菜单", scan: "扫码" };

/**
 * One push as what the core does with it: a message for the timeline, a change of the contact
 * (subscribe / unsubscribe, no message), or nothing (location reports, delivery receipts of our own
 * template and mass sends).
 */
export function toInbound(fields: PushFields, options: { inboxId: string }): InboundPush {
  const openId = required(fields, "FromUserName");
  const createTime = required(fields, "CreateTime");
  const msgType = required(fields, "MsgType");
  if (!/^\d{1,12}$/.test(createTime))
    throw new InvalidPush("invalid_field", "<CreateTime> is not a time in seconds", "CreateTime");
  if (openId.length > 320) throw new InvalidPush("invalid_field", "<FromUserName> is too long", "FromUserName");
  const sentAt = new Date(Number(createTime) * 1000);
  const from: Identity = { kind: "wechat", value: openId };
  const unionId = fields.UnionId || fields.UnionID || undefined;
  // The OpenID is per Official Account: a contact joined by UnionID has several, and a reply goes to the
  // one of the account it came through (apps/gateway/wechat/outbound.ts reads it from the item).
  const common = present({ msgType, toUserName: fields.ToUserName, openId, unionId });

  let body: Body;
  let externalId: string;
  if (msgType === "event") {
    const event = required(fields, "Event");
    externalId = `${openId}:${createTime}:${event}`;
    const name = event.toLowerCase();
    if (name === "subscribe" || name === "unsubscribe") {
      const scene = fields.EventKey?.startsWith("qrscene_") ? fields.EventKey.slice("qrscene_".length) : undefined;
      return {
        kind: "contact",
        change: name === "subscribe" ? "subscribed" : "unsubscribed",
        openId,
        from,
        ...(unionId ? { unionId } : {}),
        ...(scene ? { scene } : {}),
        at: sentAt,
        externalId,
        channelAccountId: options.inboxId,
      };
    }
    const label = VISIBLE_EVENTS[name];
    if (!label) return { kind: "ignored", reason: `event ${event} is not shown in the timeline` };
    const key = fields.EventKey ?? "";
    body = {
      kind: "text",
      text: `[${label}] ${key}`.trim(),
      data: present({ event, eventKey: key, menuId: fields.MenuId, ticket: fields.Ticket }),
    };
  } else {
    // Messages always carry a MsgId; should one not, WeChat's own rule for events dedupes its retries.
    externalId = fields.MsgId || `${openId}:${createTime}:${msgType}`;
    body = messageBody(msgType, fields);
  }
  if (externalId.length > 512) throw new InvalidPush("invalid_field", "<MsgId> is too long", "MsgId");

  const fitted = body.text === undefined ? undefined : fitText(body.text);
  return {
    kind: "message",
    inbound: {
      channel: "wechat",
      channelAccountId: options.inboxId,
      externalId,
      from,
      kind: body.kind,
      text: fitted?.text,
      attachments: [],
      sentAt,
      data: { ...common, ...body.data, ...(fitted?.truncated ? { truncated: true } : {}) },
    },
  };
}
