import { index, jsonb, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { inboxes } from "./inbox.ts";
import { workspaces } from "./workspace.ts";

/**
 * What a channel keeps about one inbox while it runs, shared by every node: the provider's access token
 * (sealed; one node refreshes it for all), a sync cursor (WeCom's `sync_msg`), and a long-running
 * client's session (a Wechaty bot's login state and QR code, shown in Settings).
 */
export const inboxStates = pgTable("inbox_states", {
  inboxId: uuid("inbox_id")
    .primaryKey()
    .references(() => inboxes.id, { onDelete: "cascade" }),
  workspaceId: uuid("workspace_id")
    .notNull()
    .references(() => workspaces.id, { onDelete: "cascade" }),
  // AES-256-GCM sealed (platform/crypto.ts), like inbox credentials.
  accessToken: text("access_token"),
  accessTokenExpiresAt: timestamp("access_token_expires_at", { withTimezone: true }),
  cursor: text("cursor"),
  session: jsonb("session").$type<Record<string, unknown>>(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/**
 * Nonces of accepted webhook pushes until their timestamp leaves the accepted window. A signature that
 * covers only (token, timestamp, nonce) does not cover the body; remembering nonces in the database
 * refuses a replay whichever node it reaches.
 */
export const webhookNonces = pgTable(
  "webhook_nonces",
  {
    inboxId: uuid("inbox_id")
      .notNull()
      .references(() => inboxes.id, { onDelete: "cascade" }),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    nonce: text("nonce").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.inboxId, t.nonce], name: "webhook_nonces_pkey" }),
    index("webhook_nonces_expires_idx").on(t.expiresAt),
  ],
);

/**
 * Leases for work one node at a time must do for a long while (a Wechaty bot per inbox, an IMAP
 * import): held by `holder` until `expires_at`, renewed while the holder lives, taken over after.
 * Short critical sections use a transaction-scoped advisory lock instead (db/lease.ts).
 */
export const leases = pgTable("leases", {
  name: text("name").primaryKey(),
  // The workspace whose work it guards (a bot of one of its inboxes); null for a cluster-wide singleton.
  workspaceId: uuid("workspace_id").references(() => workspaces.id, { onDelete: "cascade" }),
  holder: text("holder").notNull(),
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
});

export type InboxState = typeof inboxStates.$inferSelect;
