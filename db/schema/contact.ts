import {
  boolean,
  index,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  type AnyPgColumn,
} from "drizzle-orm/pg-core";
import { users, workspaces } from "./workspace.ts";

export const contacts = pgTable(
  "contacts",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name"),
    attributes: jsonb("attributes").$type<Record<string, unknown>>().notNull().default({}),
    // Set when this contact was merged into another; kept so old links can be followed.
    mergedIntoId: uuid("merged_into_id").references((): AnyPgColumn => contacts.id),
    // Web chat visitor tokens issued before this instant are refused (an agent ended the visitor's
    // sessions): the token carries its issue time, so nothing per token is stored.
    visitorTokensRevokedAt: timestamp("visitor_tokens_revoked_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("contacts_workspace_idx").on(t.workspaceId)],
);

export const identityKinds = [
  "phone",
  "email",
  "wechat",
  "slack",
  "visitor",
  "wechat_unionid",
  "wecom",
  "wechaty",
  "telegram",
  "api",
  // A WhatsApp user (E.164, without "whatsapp:"): apart from "phone", so opting out of WhatsApp leaves
  // SMS and calls alone and the 24-hour window is the WhatsApp identity's.
  "whatsapp",
] as const;
export const identityKindEnum = pgEnum("identity_kind", identityKinds);

/**
 * How a person is reached. Unique per workspace on (kind, value), so one person reached by phone,
 * email and WeChat is one contact with three identities.
 */
export const contactIdentities = pgTable(
  "contact_identities",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    contactId: uuid("contact_id")
      .notNull()
      .references(() => contacts.id, { onDelete: "cascade" }),
    kind: identityKindEnum("kind").notNull(),
    value: text("value").notNull(),
    // False for what a visitor typed into a form; true for what a channel or a signature proved.
    verified: boolean("verified").notNull().default(true),
    // SMS/WhatsApp STOP (退订): nothing is sent to this identity until the person writes START.
    optedOutAt: timestamp("opted_out_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("contact_identities_kind_value_key").on(t.workspaceId, t.kind, t.value),
    index("contact_identities_contact_idx").on(t.contactId),
  ],
);

/** What agents wrote down about a contact, shown beside every conversation with them. */
export const contactNotes = pgTable(
  "contact_notes",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    contactId: uuid("contact_id")
      .notNull()
      .references(() => contacts.id, { onDelete: "cascade" }),
    authorId: uuid("author_id").references(() => users.id, { onDelete: "set null" }),
    text: text("text").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("contact_notes_contact_idx").on(t.contactId, t.createdAt)],
);

export type Contact = typeof contacts.$inferSelect;
export type ContactIdentity = typeof contactIdentities.$inferSelect;
export type ContactNote = typeof contactNotes.$inferSelect;
export type IdentityKind = (typeof identityKinds)[number];
