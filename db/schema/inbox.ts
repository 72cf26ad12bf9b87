import { index, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { workspaces } from "./workspace.ts";

export const channels = ["webchat", "voice", "email", "wechat", "slack", "sms", "whatsapp"] as const;
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
    workspaceId: uuid("workspace_id").notNull().references(() => workspaces.id, { onDelete: "cascade" }),
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
