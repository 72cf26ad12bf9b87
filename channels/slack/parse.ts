import { MAX_TEXT } from "../../conversations/channel.ts";

/** The parts of an Events API request the channel reads (https://api.slack.com/apis/events-api). */
export type SlackFile = {
  id?: string;
  name?: string;
  title?: string;
  mimetype?: string;
  size?: number;
  mode?: string;
  url_private?: string;
  url_private_download?: string;
};

export type SlackMessageEvent = {
  type: string;
  subtype?: string;
  channel?: string;
  channel_type?: string;
  user?: string;
  bot_id?: string;
  text?: string;
  ts?: string;
  thread_ts?: string;
  team?: string;
  user_team?: string;
  files?: SlackFile[];
};

export type SlackEnvelope = {
  type?: string;
  challenge?: string;
  team_id?: string;
  event_id?: string;
  authorizations?: { team_id?: string }[];
  event?: SlackMessageEvent;
};

/** Reads the raw body as JSON; undefined when it is not a JSON object (Slack only sends objects). */
export function envelopeOf(rawBody: string): SlackEnvelope | undefined {
  try {
    const parsed: unknown = JSON.parse(rawBody);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as SlackEnvelope) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The workspace (team) a request is for: the team the app is installed in, which picks the inbox and
 * so the signing secret. A Slack Connect channel's events reach each organization's own install, so
 * the top-level `team_id` is ours even when the writer's `user_team` is another organization's.
 */
export function teamOf(envelope: SlackEnvelope): string | undefined {
  const team = envelope.team_id ?? envelope.authorizations?.[0]?.team_id;
  return typeof team === "string" && /^[TE][A-Z0-9]{2,20}$/.test(team) ? team : undefined;
}

/**
 * Message subtypes that carry a customer's words: plain messages (no subtype), files shared, a thread
 * reply also sent to the channel, /me. Everything else (joins, topic changes, edits, deletions, bots)
 * is not a customer message. Edits (`message_changed`) are ignored: the timeline keeps what was sent.
 */
const CUSTOMER_SUBTYPES = new Set([undefined, "file_share", "thread_broadcast", "me_message"]);

/** Conversations in channels only: public (`channel`) and private (`group`), shared ones included. */
const CHANNEL_TYPES = new Set(["channel", "group"]);

export type SlackInbound = {
  /** `<channel>:<ts>`: unique per message in a workspace, and stable across Slack's retries. */
  externalId: string;
  /** `<channel>:<root ts>`: the thread the message belongs to (itself when top-level). */
  rootKey: string;
  topLevel: boolean;
  channel: string;
  /** `<team>:<user>`: the writer's own team, which differs from ours in a Slack Connect channel. */
  identity: string;
  userId: string;
  text: string | undefined;
  truncated: boolean;
  files: SlackFile[];
  sentAt: Date | undefined;
};

export type SlackDecision = { ignore: string } | { message: SlackInbound };

/** Slack escapes these three in message text (https://api.slack.com/reference/surfaces/formatting#escaping). */
function unescapeText(text: string) {
  return text.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
}

/**
 * Slack's markup as a person reads it, before unescaping (an escaped `&lt;` is never markup). Customers
 * in a shared channel address the app (`<@BOT> how do I…`): that mention is dropped, so the knowledge
 * bot, suggestions and entry rules read the question alone (the id halved the bot's confidence). Other
 * mentions and channels keep their label or id (`@U123`, `#general`), `<!here>` reads `@here`, and a
 * link its label and URL.
 */
function readableText(text: string, botUserId: string | undefined) {
  let addressed = false;
  // Literal < and > arrive escaped: every <…> left is markup.
  const plain = text.replace(/<([^<>]+)>/g, (_, inner: string) => {
    const bar = inner.indexOf("|");
    const target = bar < 0 ? inner : inner.slice(0, bar);
    const label = bar < 0 ? undefined : inner.slice(bar + 1);
    if (botUserId && target === `@${botUserId}`) {
      addressed = true;
      return "";
    }
    if (target.startsWith("@")) return `@${label ?? target.slice(1)}`;
    if (target.startsWith("#")) return `#${label ?? target.slice(1)}`;
    if (target.startsWith("!")) return label ?? `@${target.slice(1)}`;
    if (target.startsWith("mailto:")) return label ?? target.slice(7);
    return label && label !== target ? `${label} (${target})` : target;
  });
  if (!addressed) return unescapeText(plain);
  // A message that only names the app keeps the name: it is still the customer's call for attention.
  return unescapeText(plain.replace(/ {2,}/g, " ").trim()) || `@${botUserId}`;
}

/**
 * What one event means for the inbox: a customer message, or why it is ignored (the bot's own posts,
 * echoes of our replies, other subtypes, direct messages).
 */
export function parseMessageEvent(envelope: SlackEnvelope, botUserId: string | undefined): SlackDecision {
  const event = envelope.event;
  if (!event || event.type !== "message") return { ignore: `event ${event?.type ?? "none"}` };
  if (!CUSTOMER_SUBTYPES.has(event.subtype)) return { ignore: `message subtype ${event.subtype}` };
  if (event.bot_id || (botUserId && event.user === botUserId)) return { ignore: "a bot's message" };
  if (!event.channel_type || !CHANNEL_TYPES.has(event.channel_type))
    return { ignore: `channel type ${event.channel_type ?? "none"}` };
  const { channel, user, ts } = event;
  const str = (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= 64;
  if (!str(channel) || !str(user) || !str(ts)) return { ignore: "no channel, user or ts" };
  if (event.thread_ts !== undefined && !str(event.thread_ts)) return { ignore: "a malformed thread_ts" };
  const team = event.user_team ?? event.team ?? teamOf(envelope);
  if (!str(team)) return { ignore: "no team" };
  const topLevel = !event.thread_ts || event.thread_ts === ts;
  const raw = typeof event.text === "string" ? readableText(event.text, botUserId) : "";
  const seconds = Number(ts);
  return {
    message: {
      externalId: `${channel}:${ts}`,
      rootKey: `${channel}:${topLevel ? ts : event.thread_ts}`,
      topLevel,
      channel,
      identity: `${team}:${user}`,
      userId: user,
      text: raw ? raw.slice(0, MAX_TEXT) : undefined,
      truncated: raw.length > MAX_TEXT,
      files: Array.isArray(event.files) ? event.files.filter((f) => !!f && typeof f === "object") : [],
      sentAt: Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : undefined,
    },
  };
}

/** `<channel>:<ts>` back into its parts (the root of a conversation's thread, for replies). */
export function splitThreadKey(key: string): { channel: string; ts: string } | undefined {
  const at = key.indexOf(":");
  if (at <= 0 || at === key.length - 1) return undefined;
  return { channel: key.slice(0, at), ts: key.slice(at + 1) };
}
