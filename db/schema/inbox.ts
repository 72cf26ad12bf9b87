import { sql } from "drizzle-orm";
import {
  check,
  index,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { workspaces } from "./workspace.ts";

export const channels = ["webchat", "voice", "email", "wechat", "slack", "sms", "whatsapp", "telegram", "api"] as const;
export const channelEnum = pgEnum("channel", channels);

/** Settings an inbox shows to the public (the widget reads them); secrets go in `credentials`. */
export type InboxSettings = {
  greeting?: { en?: string; "zh-CN"?: string };
  preChatForm?: boolean;
  locale?: string;
  color?: string;
  /** Web chat: only a visitor whose user id is signed with the inbox secret may claim it. */
  requireIdentityVerification?: boolean;
  /**
   * Web chat: the widget's call button goes through this Twilio phone line (the visitor's browser
   * joins with Twilio's Voice SDK) and the call waits in this queue. Unset: browser-to-browser WebRTC.
   */
  callLine?: { voiceInboxId: string; queueId: string };
  [key: string]: unknown;
};

/** A configured channel account: a widget, a phone number, a mailbox, a WeChat bot, a Slack workspace. */
export const inboxes = pgTable(
  "inboxes",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    channel: channelEnum("channel").notNull(),
    name: text("name").notNull(),
    // Public identifier a web page embeds (widget) — not a secret.
    publicKey: text("public_key"),
    // AES-256-GCM sealed JSON (platform/crypto.ts): API keys, passwords, HMAC secrets.
    credentials: text("credentials"),
    settings: jsonb("settings").$type<InboxSettings>().notNull().default({}),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("inboxes_public_key_key").on(t.publicKey), index("inboxes_workspace_idx").on(t.workspaceId)],
);

export type Inbox = typeof inboxes.$inferSelect;
export type Channel = (typeof channels)[number];

/**
 * Channel families whose keys come from outside and pick the inbox a message or call is for. A phone
 * number may serve voice and SMS at once, so uniqueness is per family, not per key.
 */
export const routeKinds = ["email", "voice", "sms", "whatsapp", "wechat_app", "slack_team"] as const;
export type RouteKind = (typeof routeKinds)[number];

/**
 * Every routing key (an email address or alias, a phone number, an app id) belongs to one inbox of one
 * workspace: the primary key makes a second claim fail, whichever workspace makes it. A claim carries
 * no mail or calls until its owner is proven (`verified_at`): an email address by a one-time code
 * mailed to it, a number by the Twilio account that holds it.
 */
export const inboxRoutes = pgTable(
  "inbox_routes",
  {
    kind: text("kind").$type<RouteKind>().notNull(),
    // Lower case (email addresses), or E.164 (numbers).
    key: text("key").notNull(),
    inboxId: uuid("inbox_id")
      .notNull()
      .references(() => inboxes.id, { onDelete: "cascade" }),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    verifiedAt: timestamp("verified_at", { withTimezone: true }),
    // SHA-256 of the one-time code mailed to the address, and when it stops counting.
    codeHash: text("code_hash"),
    codeExpiresAt: timestamp("code_expires_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.kind, t.key], name: "inbox_routes_pkey" }),
    index("inbox_routes_inbox_idx").on(t.inboxId),
    check("inbox_routes_key_lower", sql`${t.key} = lower(${t.key})`),
  ],
);
export type InboxRoute = typeof inboxRoutes.$inferSelect;
