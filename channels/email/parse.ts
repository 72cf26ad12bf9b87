import { createHash, type Hash } from "node:crypto";
import { PassThrough, Readable } from "node:stream";
import { MailParser, type AddressObject, type EmailAddress } from "mailparser";
import { MAX_TEXT, type NormalizedInbound } from "../../conversations/channel.ts";
import { splitQuoted } from "./quote.ts";
import { classifyMail, parseDeliveryStatus, type MailClass } from "./safety.ts";
import { htmlToText, sanitizeEmailHtml } from "./sanitize.ts";
import { messageIdList, normalizeMessageId, normalizeSubject } from "./threading.ts";

export type Address = { address: string; name: string };

/** What the gateway's attachment store answers for one streamed file: its id and URL, or why not. */
export type StoredFile = { id: string; url: string } | { skipped: string };

/**
 * Stores one attachment as it streams past. The parser never holds a whole attachment in memory; the
 * sink writes it to disk (and may refuse it: too large, too many), and must consume `content`.
 */
export type AttachmentSink = (
  file: { name: string; contentType: string; contentId?: string; inline: boolean },
  content: Readable,
) => Promise<StoredFile>;

/** An inbound email, parsed: addresses, threading headers, bodies (HTML already sanitized), files. */
export type ParsedEmail = {
  messageId: string | undefined;
  /** The Message-ID, or a hash of the raw mail when it has none: the idempotency key either way. */
  externalId: string;
  from: Address | undefined;
  to: Address[];
  cc: Address[];
  replyTo: Address[];
  subject: string;
  subjectKey: string;
  date: Date | undefined;
  inReplyTo: string[];
  references: string[];
  text: string;
  quotedText: string | null;
  signature: string | null;
  html: string | null;
  /** The text was longer than a timeline message holds; the full body stays in `html` when there is one. */
  truncated: boolean;
  attachments: { id: string; name: string }[];
  skipped: { name: string; reason: string }[];
  class: MailClass;
  bounce?: { originalMessageId?: string; recipient?: string; status?: string; reason: string };
  size: number;
  header(name: string): string | undefined;
};

export const MAX_ATTACHMENTS = 20;
/** Recipients kept on the item; a mail to 10,000 people is stored, its list is not. */
const MAX_LISTED_ADDRESSES = 50;
/** The report parts of a bounce are read into memory, but only this much of them. */
const REPORT_BYTES = 64 * 1024;

/**
 * A NUL byte can hide anywhere in mail (raw 8-bit text, =00 in quoted-printable, encoded words) and no
 * PostgreSQL text or jsonb value may hold one: every text taken from a mail passes through here.
 */
function withoutNul(text: string) {
  return text.includes("\0") ? text.replaceAll("\0", "") : text;
}

function addresses(value: unknown): Address[] {
  const list = (Array.isArray(value) ? value : value ? [value] : []) as AddressObject[];
  const out: Address[] = [];
  const walk = (a: EmailAddress) => {
    if (a.group) a.group.forEach(walk);
    else if (a.address && /^[^\s@\0]+@[^\s@\0]+$/.test(a.address))
      out.push({ address: a.address.toLowerCase(), name: withoutNul(a.name ?? "").trim() });
  };
  for (const obj of list) for (const a of obj?.value ?? []) walk(a);
  return out;
}

function headerText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(headerText).join(", ");
  if (typeof value === "object" && "text" in value) return String((value as { text: unknown }).text);
  if (typeof value === "object" && "value" in value) return String((value as { value: unknown }).value);
  return String(value);
}

async function readCapped(stream: Readable, max: number) {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    if (size < max) chunks.push(Buffer.from(chunk as Buffer).subarray(0, max - size));
    size += (chunk as Buffer).length;
  }
  return withoutNul(Buffer.concat(chunks).toString("utf8"));
}

/** What is known of a mail the parser gave up on: enough to hold it back and list it in the spam view. */
export type UnreadablePart = Pick<ParsedEmail, "messageId" | "externalId" | "from" | "to" | "subject" | "size">;

/** A mail that cannot be parsed: it was read to its end, and `mail` says what its top headers said. */
export class UnreadableMail extends Error {
  constructor(
    reason: string,
    readonly mail: UnreadablePart,
  ) {
    super(`unreadable mail: ${reason}`);
  }
}

function identify(headers: Map<string, unknown>, hash: Hash, size: number): UnreadablePart {
  const messageId = normalizeMessageId(headerText(headers.get("message-id")));
  const subject = withoutNul(headerText(headers.get("subject")) ?? "").slice(0, 998);
  return {
    messageId,
    externalId: messageId ?? `sha256:${hash.digest("hex")}`,
    from: addresses(headers.get("from"))[0],
    to: addresses(headers.get("to")),
    subject,
    size,
  };
}

/**
 * Parses a raw RFC 5322 message as it streams in (SMTP DATA, an IMAP download). Charsets (GBK, GB2312,
 * Big5, ISO-2022-JP…) and encoded words are decoded by mailparser; an unknown charset falls back
 * rather than failing. Attachments go to `sink` one by one. Mail the parser cannot read at all throws
 * UnreadableMail once it has been read to its end; a failing source throws its own error.
 */
export async function parseEmail(source: Readable | Uint8Array, sink?: AttachmentSink): Promise<ParsedEmail> {
  const hash = createHash("sha256");
  let size = 0;
  const input = source instanceof Uint8Array ? Readable.from([Buffer.from(source)]) : source;
  const tee = new PassThrough();
  input.on("data", (chunk: Buffer) => {
    hash.update(chunk);
    size += chunk.length;
  });
  input.on("error", (err) => tee.destroy(err));
  input.pipe(tee);

  const parser = new MailParser({ skipImageLinks: true, skipTextToHtml: true, maxHtmlLengthToParse: 5 * 1024 * 1024 });
  let headers = new Map<string, unknown>();
  const rawHeaders = new Map<string, string>();
  let text = "";
  let html: string | null = null;
  const stored: { id: string; name: string; url: string; contentId?: string }[] = [];
  const skipped: { name: string; reason: string }[] = [];
  const reports: { type: string; body: string }[] = [];
  const pending: Promise<void>[] = [];
  let unreadable: Error | undefined;
  /** Attachment streams still being read: a parser that gives up never ends them, so they are ended here. */
  const open = new Set<Readable>();

  await new Promise<void>((resolve, reject) => {
    parser.on("headers", (h) => (headers = h as Map<string, unknown>));
    // mailparser folds some headers (List-*) into structures: the raw lines are what safety reads.
    parser.on("headerLines", (lines: { key: string; line: string }[]) => {
      for (const { key, line } of lines)
        if (!rawHeaders.has(key)) rawHeaders.set(key, withoutNul(line.slice(line.indexOf(":") + 1)).trim());
    });
    parser.on("data", (data) => {
      if (data.type === "text") {
        text = withoutNul(data.text ?? "");
        html = typeof data.html === "string" ? withoutNul(data.html) : null;
        return;
      }
      const name = withoutNul(
        data.filename ?? (data.contentType === "message/rfc822" ? "message.eml" : "attachment"),
      ).slice(0, 255);
      const contentType = withoutNul(data.contentType || "application/octet-stream").toLowerCase();
      open.add(data.content);
      data.content.once("close", () => open.delete(data.content));
      data.content.once("end", () => open.delete(data.content));
      const work = (async () => {
        try {
          if (
            contentType === "message/delivery-status" ||
            contentType === "text/rfc822-headers" ||
            (contentType === "message/rfc822" && reports.length)
          ) {
            reports.push({ type: contentType, body: await readCapped(data.content, REPORT_BYTES) });
            return;
          }
          if (!sink) {
            data.content.resume();
            await new Promise((r) => data.content.once("end", r));
            return;
          }
          if (stored.length >= MAX_ATTACHMENTS) {
            skipped.push({ name, reason: `more than ${MAX_ATTACHMENTS} attachments` });
            data.content.resume();
            await new Promise((r) => data.content.once("end", r));
            return;
          }
          const result = await sink(
            {
              name,
              contentType,
              contentId: normalizeMessageId(data.contentId),
              inline: data.contentDisposition === "inline" || !!data.related,
            },
            data.content,
          );
          if ("skipped" in result) skipped.push({ name, reason: result.skipped });
          else stored.push({ ...result, name, contentId: normalizeMessageId(data.contentId) });
        } catch (err) {
          // The stream must still be drained, or the parser waits for ever.
          skipped.push({ name, reason: err instanceof Error ? err.message : String(err) });
          data.content.resume();
        } finally {
          data.release?.();
        }
      })();
      pending.push(work);
    });
    parser.on("end", () => resolve());
    parser.on("error", (err: Error) => {
      // The mail cannot be parsed (more MIME parts than the parser allows, a header block over its
      // limit): the rest is still read to its end, so the caller's raw copy is whole and the
      // connection is ready for the next mail.
      unreadable = err;
      for (const content of open) content.destroy(err);
      tee.unpipe(parser);
      tee.resume();
      if (tee.readableEnded) resolve();
      else tee.once("end", () => resolve());
    });
    tee.on("error", reject);
    tee.pipe(parser);
  });
  await Promise.all(pending);
  if (unreadable) throw new UnreadableMail(unreadable.message, identify(headers, hash, size));

  const header = (name: string) => {
    const value = headerText(headers.get(name.toLowerCase())) ?? rawHeaders.get(name.toLowerCase());
    return value === undefined ? undefined : withoutNul(value);
  };
  const from = addresses(headers.get("from"))[0];
  const messageId = normalizeMessageId(header("message-id"));
  const inReplyTo = messageIdList(header("in-reply-to"));
  const references = messageIdList(headers.get("references") as string | string[] | undefined);
  const ct = headers.get("content-type") as { value?: string; params?: Record<string, string> } | undefined;
  const mailClass = classifyMail(
    (name) => rawHeaders.get(name.toLowerCase()),
    from?.address,
    ct?.value?.toLowerCase(),
    ct?.params?.["report-type"],
  );

  const inline = Object.fromEntries(stored.filter((s) => s.contentId).map((s) => [s.contentId!, s.url]));
  const cleanHtml = html ? sanitizeEmailHtml(html, inline) : null;
  const plain = text.trim() ? text : cleanHtml ? htmlToText(cleanHtml) : "";
  const split = splitQuoted(plain);
  const truncated = split.text.length > MAX_TEXT;

  let bounce: ParsedEmail["bounce"];
  if (mailClass.bounce) {
    const status = parseDeliveryStatus(reports.find((r) => r.type === "message/delivery-status")?.body ?? text);
    const original = reports.find((r) => r.type !== "message/delivery-status")?.body ?? text;
    const originalId = /^Message-ID:\s*(<[^>\r\n]+>)/im.exec(original)?.[1];
    bounce = {
      originalMessageId: normalizeMessageId(originalId),
      recipient: status.recipient,
      status: status.status,
      reason: [status.status, status.reason].filter(Boolean).join(" ") || "Returned as undeliverable",
    };
  }
  const subject = (header("subject") ?? "").slice(0, 998);
  const date =
    headers.get("date") instanceof Date && !Number.isNaN((headers.get("date") as Date).getTime())
      ? (headers.get("date") as Date)
      : undefined;
  return {
    messageId,
    externalId: messageId ?? `sha256:${hash.digest("hex")}`,
    from,
    to: addresses(headers.get("to")),
    cc: addresses(headers.get("cc")),
    replyTo: addresses(headers.get("reply-to")),
    subject,
    subjectKey: normalizeSubject(subject),
    date,
    inReplyTo,
    references,
    text: truncated ? split.text.slice(0, MAX_TEXT - 1) + "…" : split.text,
    quotedText: split.quoted ? split.quoted.slice(0, 20_000) : null,
    signature: split.signature,
    html: cleanHtml,
    truncated,
    attachments: stored.map((s) => ({ id: s.id, name: s.name })),
    skipped,
    class: mailClass,
    bounce,
    size,
    header,
  };
}

function formatAddress(a: Address) {
  return a.name ? `${a.name} <${a.address}>` : a.address;
}

/**
 * The core's NormalizedInbound for a parsed mail, with the email fields the inbox timeline shows
 * (subject, from, to, cc, quotedText) in the item's data.
 */
export function toInbound(
  mail: ParsedEmail & { from: Address },
  inboxId: string,
  receivedAt = new Date(),
): NormalizedInbound {
  // A sender's clock can be anything: a date in the future would sort the item after later replies.
  const sentAt = mail.date && mail.date.getTime() <= receivedAt.getTime() + 5 * 60_000 ? mail.date : receivedAt;
  return {
    channel: "email",
    channelAccountId: inboxId,
    externalId: mail.externalId.slice(0, 512),
    from: {
      kind: "email",
      value: mail.from.address,
      ...(mail.from.name ? { displayName: mail.from.name.slice(0, 200) } : {}),
    },
    threadKey: (mail.references[0] ?? mail.inReplyTo[0] ?? mail.messageId)?.slice(0, 998),
    kind: mail.attachments.length ? "media" : "text",
    text: mail.text || undefined,
    html: mail.html ?? undefined,
    attachments: mail.attachments.map((a) => a.id),
    sentAt,
    data: {
      subject: mail.subject || "(no subject)",
      from: formatAddress(mail.from),
      to: mail.to.slice(0, MAX_LISTED_ADDRESSES).map(formatAddress),
      cc: mail.cc.slice(0, MAX_LISTED_ADDRESSES).map(formatAddress),
      ...(mail.to.length + mail.cc.length > 2 * MAX_LISTED_ADDRESSES
        ? { recipientCount: mail.to.length + mail.cc.length }
        : {}),
      ...(mail.quotedText ? { quotedText: mail.quotedText } : {}),
      ...(mail.signature ? { signature: mail.signature } : {}),
      ...(mail.messageId ? { messageId: mail.messageId } : {}),
      ...(mail.class.automated ? { automated: mail.class.automated } : {}),
      ...(mail.truncated ? { truncated: true } : {}),
      ...(mail.skipped.length ? { skippedAttachments: mail.skipped } : {}),
    },
  };
}
