import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Email threading as plain functions over plain data: which conversation an inbound mail belongs to.
 * The gateway looks the candidates up (stored Message-IDs, the reply token, same-contact subjects) and
 * this file decides, so every rule is unit-tested without a database.
 */

/** Message-IDs compare without angle brackets and case-insensitively: clients quote them back both ways. */
export function normalizeMessageId(id: string | undefined | null): string | undefined {
  // A NUL byte could not be stored (nor matched): it is no part of any id.
  const v = id
    ?.replaceAll("\0", "")
    .trim()
    .replace(/^<+|>+$/g, "")
    .trim()
    .toLowerCase();
  return v ? v.slice(0, 900) : undefined;
}

/** All ids in a References / In-Reply-To header value (or a parsed list), oldest first. */
export function messageIdList(value: string | string[] | undefined | null): string[] {
  if (!value) return [];
  const text = Array.isArray(value) ? value.join(" ") : value;
  const bracketed = [...text.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!);
  const ids = bracketed.length ? bracketed : text.split(/[\s,]+/);
  return [...new Set(ids.map(normalizeMessageId).filter((x): x is string => !!x))];
}

// Reply and forward prefixes of common clients and languages: Re, Fwd, Fw, AW/WG (German), SV/VS
// (Nordic), RE/TR (French), Antw, 回复/转发 (Foxmail, Chinese Outlook), 回覆/轉寄 (Traditional), 答复/
// 答覆, 返信/転送 (Japanese); with ASCII or full-width colons and an optional [n] or (n) counter.
const PREFIX =
  /^\s*(?:re|fwd?|aw|wg|sv|vs|tr|antw|rif|odp|përgj|回复|回覆|答复|答覆|转发|轉寄|转寄|返信|転送)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*/i;
const LIST_TAG = /^\s*\[[^\]]{1,40}\]\s*/;

/**
 * The subject with every reply/forward prefix (and leading mailing-list tags) removed, whitespace
 * folded and case folded: "Re: AW: 回复：Order #42" and "order  #42" give the same key.
 */
export function normalizeSubject(subject: string | undefined | null): string {
  let s = (subject ?? "").normalize("NFKC");
  for (let i = 0; i < 20; i++) {
    const next = s.replace(PREFIX, "").replace(LIST_TAG, "");
    if (next === s) break;
    s = next;
  }
  return s.replace(/\s+/g, " ").trim().toLowerCase();
}

/**
 * The per-conversation reply token put in our Reply-To (`support+<token>@domain`): the conversation id
 * and a short MAC, so a sender cannot steer mail into a conversation by guessing a token.
 */
export function replyToken(conversationId: string, secret: string) {
  const id = conversationId.replace(/-/g, "").toLowerCase();
  return `c${id}${mac(id, secret)}`;
}

function mac(id: string, secret: string) {
  return createHmac("sha256", secret).update(`email-reply/${id}`).digest("hex").slice(0, 10);
}

/** The conversation id a reply token stands for, or undefined when it is not one of ours. */
export function conversationOfToken(token: string, secret: string): string | undefined {
  const m = /^c([0-9a-f]{32})([0-9a-f]{10})$/.exec(token.toLowerCase());
  if (!m) return undefined;
  const expected = Buffer.from(mac(m[1]!, secret));
  const given = Buffer.from(m[2]!);
  if (!timingSafeEqual(expected, given)) return undefined;
  const h = m[1]!;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** `support+ctoken@x.test` → `{ base: "support@x.test", tag: "ctoken" }`. */
export function splitPlusAddress(address: string) {
  const a = address.trim().toLowerCase();
  const at = a.lastIndexOf("@");
  if (at < 1) return { base: a, tag: undefined };
  const local = a.slice(0, at);
  const plus = local.indexOf("+");
  if (plus < 0) return { base: a, tag: undefined };
  return { base: `${local.slice(0, plus)}${a.slice(at)}`, tag: local.slice(plus + 1) || undefined };
}

/** The Reply-To address for a conversation: the inbox address with the conversation's token. */
export function replyAddress(inboxAddress: string, conversationId: string, secret: string) {
  const { base } = splitPlusAddress(inboxAddress);
  const at = base.lastIndexOf("@");
  return `${base.slice(0, at)}+${replyToken(conversationId, secret)}${base.slice(at)}`;
}

export type ThreadCandidate = {
  conversationId: string;
  contactId: string;
  status: "open" | "pending" | "snoozed" | "resolved";
  resolvedAt: Date | null;
  lastActivityAt: Date;
  /** Addresses of the conversation's participants (Cc'd people), lower-cased. */
  participants?: string[];
};

export type ThreadSettings = {
  /** Same-contact subject matching looks this far back (days); 0 turns it off. */
  subjectWindowDays: number;
  /** A reply more than this many days after resolution opens a new conversation instead of reopening. */
  reopenWithinDays: number;
};

export const DEFAULT_THREAD_SETTINGS: ThreadSettings = { subjectWindowDays: 14, reopenWithinDays: 30 };

export type ThreadInput = {
  contactId: string;
  fromAddress: string;
  now: Date;
  /** In-Reply-To first, then References newest first; each with the conversation it was stored on. */
  byHeader: { messageId: string; candidate: ThreadCandidate }[];
  /** The conversation of a valid reply token in a recipient address, if any. */
  byToken?: ThreadCandidate;
  /** The contact's own conversations whose stored mail has the same normalized subject. */
  bySubject: ThreadCandidate[];
  settings: ThreadSettings;
};

export type ThreadDecision =
  | { conversationId: string; rule: "header" | "token" | "subject"; reopen: boolean }
  | { newConversation: true; rule: "none" | "expired" | "other_contact"; previousConversationId?: string };

const DAY = 86_400_000;

/** May this sender's mail join the candidate's conversation? Only its contact or a participant. */
function belongs(c: ThreadCandidate, input: ThreadInput) {
  return c.contactId === input.contactId || (c.participants ?? []).includes(input.fromAddress.toLowerCase());
}

function settle(c: ThreadCandidate, rule: "header" | "token" | "subject", input: ThreadInput): ThreadDecision {
  if (c.status !== "resolved") return { conversationId: c.conversationId, rule, reopen: false };
  const resolvedAt = c.resolvedAt ?? c.lastActivityAt;
  if (input.now.getTime() - resolvedAt.getTime() > input.settings.reopenWithinDays * DAY)
    return { newConversation: true, rule: "expired", previousConversationId: c.conversationId };
  return { conversationId: c.conversationId, rule, reopen: true };
}

/**
 * The thread rules, in order: a Message-ID we stored or sent (In-Reply-To, then References), our
 * reply token, then — for the same contact only — the normalized subject within the window.
 * Otherwise a new conversation. A header or token match from someone who is neither the contact nor
 * a participant is not followed: different contacts are never merged (a forwarded thread someone
 * else replies to starts their own conversation).
 */
export function chooseThread(input: ThreadInput): ThreadDecision {
  let refused: ThreadCandidate | undefined;
  for (const { candidate } of input.byHeader) {
    if (belongs(candidate, input)) return settle(candidate, "header", input);
    refused ??= candidate;
  }
  if (input.byToken) {
    if (belongs(input.byToken, input)) return settle(input.byToken, "token", input);
    refused ??= input.byToken;
  }
  if (input.settings.subjectWindowDays > 0) {
    const since = input.now.getTime() - input.settings.subjectWindowDays * DAY;
    const recent = input.bySubject
      .filter((c) => c.contactId === input.contactId && c.lastActivityAt.getTime() >= since)
      // An open conversation wins over a resolved one, then the most recent.
      .sort(
        (a, b) =>
          Number(a.status === "resolved") - Number(b.status === "resolved") ||
          b.lastActivityAt.getTime() - a.lastActivityAt.getTime(),
      );
    if (recent[0]) return settle(recent[0], "subject", input);
  }
  return refused
    ? { newConversation: true, rule: "other_contact", previousConversationId: refused.conversationId }
    : { newConversation: true, rule: "none" };
}
