import { sql } from "drizzle-orm";
import {
  bigserial,
  boolean,
  customType,
  index,
  integer,
  pgEnum,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { users, workspaces } from "./workspace.ts";

/** Postgres full-text vector; written only by SQL (knowledge/embedded.ts), never read into TypeScript. */
const tsvector = customType<{ data: string }>({ dataType: () => "tsvector" });

export const articleStatuses = ["draft", "in_review", "published", "archived"] as const;
export const articleStatusEnum = pgEnum("article_status", articleStatuses);
/** `agents`: shown to agents (suggestions, search) but never in the help center, widget or bot. */
export const articleVisibilities = ["public", "agents"] as const;
export const articleVisibilityEnum = pgEnum("article_visibility", articleVisibilities);

export const knowledgeCategories = pgTable(
  "knowledge_categories",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    // A tree: top-level categories have no parent.
    parentId: uuid("parent_id"),
    name: text("name").notNull(),
    slug: text("slug").notNull(),
    locale: text("locale").notNull().default("en"),
    position: integer("position").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("knowledge_categories_slug_key").on(t.workspaceId, t.slug)],
);

export const articles = pgTable(
  "knowledge_articles",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    // Translations of one article share a group id (the first article's id).
    translationGroupId: uuid("translation_group_id").notNull(),
    categoryId: uuid("category_id").references(() => knowledgeCategories.id, { onDelete: "set null" }),
    locale: text("locale").notNull(),
    title: text("title").notNull(),
    summary: text("summary").notNull().default(""),
    body: text("body").notNull(),
    // Rendered and sanitized once per save: the help center and widget serve it as is.
    bodyHtml: text("body_html").notNull(),
    // Plain text of the body: snippets and the bot's answers.
    bodyText: text("body_text").notNull(),
    tags: text("tags").array().notNull().default(sql`'{}'::text[]`),
    status: articleStatusEnum("status").notNull().default("draft"),
    visibility: articleVisibilityEnum("visibility").notNull().default("public"),
    authorId: uuid("author_id").references(() => users.id, { onDelete: "set null" }),
    version: integer("version").notNull().default(1),
    // Embedded search: weighted title (A) > summary (B) > body (C); Chinese segmented in TypeScript.
    // Not searched itself: knowledge_postings are derived from it (knowledge/postings.ts).
    searchVector: tsvector("search_vector"),
    views: integer("views").notNull().default(0),
    helpfulYes: integer("helpful_yes").notNull().default(0),
    helpfulNo: integer("helpful_no").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    publishedAt: timestamp("published_at", { withTimezone: true }),
  },
  (t) => [
    index("knowledge_articles_list_idx").on(t.workspaceId, t.status, t.updatedAt),
    index("knowledge_articles_group_idx").on(t.translationGroupId),
    // A category's page and its deletion find its articles without reading the workspace's.
    index("knowledge_articles_category_idx").on(t.categoryId),
  ],
);

/** Every save of an article, in order: history, diff and restore read these. */
export const articleVersions = pgTable(
  "knowledge_article_versions",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    articleId: uuid("article_id")
      .notNull()
      .references(() => articles.id, { onDelete: "cascade" }),
    version: integer("version").notNull(),
    title: text("title").notNull(),
    summary: text("summary").notNull(),
    body: text("body").notNull(),
    tags: text("tags").array().notNull(),
    status: articleStatusEnum("status").notNull(),
    visibility: articleVisibilityEnum("visibility").notNull(),
    categoryId: uuid("category_id"),
    locale: text("locale").notNull(),
    authorId: uuid("author_id").references(() => users.id, { onDelete: "set null" }),
    note: text("note"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.articleId, t.version] })],
);

/**
 * Words seen in a workspace's articles (lower-cased, Latin script): a query word that is not here is
 * corrected to the closest one by trigram similarity — the embedded engine's typo tolerance.
 */
export const knowledgeTerms = pgTable(
  "knowledge_terms",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    term: text("term").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.term] }),
    index("knowledge_terms_trgm_idx").using("gin", sql`${t.term} gin_trgm_ops`),
  ],
);

/**
 * The embedded engine's inverted index: one row per (published article, term), where a term is a
 * lexeme of the article's search vector (an English stem, a Chinese word or bigram). `impact` is how
 * much the term says about the article (title > summary and tags > body, repeated occurrences
 * saturating), so a query reads only the best few hundred rows of each of its terms, from one index,
 * however many articles contain the term. The filters a search applies (language, public, category)
 * are copied here so they are checked in that same index scan. Rewritten with every save.
 */
export const knowledgePostings = pgTable(
  "knowledge_postings",
  {
    workspaceId: uuid("workspace_id").notNull(),
    term: text("term").notNull(),
    // The workspace's rows go with it through the article.
    articleId: uuid("article_id")
      .notNull()
      .references(() => articles.id, { onDelete: "cascade" }),
    impact: real("impact").notNull(),
    // The article's language, the first part of its locale (zh for zh-CN): what a locale filter asks for.
    language: text("language").notNull(),
    public: boolean("public").notNull(),
    categoryId: uuid("category_id"),
  },
  (t) => [
    // article_id last: among equal impacts every term lists the same articles first, so the best
    // rows of two terms overlap and articles matching both are found.
    index("knowledge_postings_term_idx").on(t.workspaceId, t.term, t.impact.desc(), t.articleId),
    index("knowledge_postings_article_idx").on(t.articleId),
  ],
);

/**
 * In how many published articles of each language each term occurs (its document frequency), for the
 * idf weight that makes a rare term count more than a common one — and so a search filtered to one
 * language skips at once the terms only other languages use. The empty term counts the articles.
 */
export const knowledgeTermCounts = pgTable(
  "knowledge_term_counts",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    term: text("term").notNull(),
    language: text("language").notNull(),
    articles: integer("articles").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.term, t.language] })],
);

/**
 * Durable outbox for an external search index (Meilisearch): written in the same transaction as the
 * article, so an index outage delays updates but never loses one. Done rows are deleted.
 */
export const knowledgeIndexOutbox = pgTable(
  "knowledge_index_outbox",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    articleId: uuid("article_id").notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }).notNull().defaultNow(),
    lastError: text("last_error"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("knowledge_index_outbox_due_idx").on(t.nextAttemptAt)],
);

export const knowledgeEventKinds = [
  "search_empty", // a search (help center, widget, agent) that found nothing: a knowledge gap
  "view", // the help center showed an article
  "vote_up",
  "vote_down",
  "insert", // an agent inserted an article into a reply
  "bot_answer", // the bot answered with an article
  "deflection", // the customer said the bot's answer solved it: no agent needed
  "handover", // the bot handed the chat to an agent: a gap when no article fit
  "edit_suggestion", // an agent proposed a change to an article (detail) for the editors
] as const;
export const knowledgeEventKindEnum = pgEnum("knowledge_event_kind", knowledgeEventKinds);

/** What readers did with the knowledge base: gaps, views, votes, insertions, deflections. */
export const knowledgeEvents = pgTable(
  "knowledge_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    kind: knowledgeEventKindEnum("kind").notNull(),
    articleId: uuid("article_id"),
    // Normalized (trimmed, lower-cased, first 200 characters) so gaps group by question.
    query: text("query"),
    // Free text: an agent's suggested edit.
    detail: text("detail"),
    conversationId: uuid("conversation_id"),
    userId: uuid("user_id"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("knowledge_events_kind_idx").on(t.workspaceId, t.kind, t.createdAt)],
);

/**
 * One help-center vote per article per reader (a hash of the reader's address, never the address
 * itself): a second vote from the same reader changes nothing.
 */
export const articleVotes = pgTable(
  "article_votes",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    articleId: uuid("article_id")
      .notNull()
      .references(() => articles.id, { onDelete: "cascade" }),
    voter: text("voter").notNull(),
    helpful: boolean("helpful").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.articleId, t.voter] })],
);

// deciding: a node claimed the customer's message and is choosing; answered: waiting for "did this
// solve it?"; handed_over: agents own the chat; solved: deflected.
export const botStates = ["deciding", "answered", "handed_over", "solved"] as const;
export const botStateEnum = pgEnum("knowledge_bot_state", botStates);

/** The self-service bot's state per conversation: while `answered`, routing holds the chat back. */
export const knowledgeBotSessions = pgTable("knowledge_bot_sessions", {
  conversationId: uuid("conversation_id").primaryKey(),
  workspaceId: uuid("workspace_id")
    .notNull()
    .references(() => workspaces.id, { onDelete: "cascade" }),
  state: botStateEnum("state").notNull(),
  question: text("question").notNull(),
  articleId: uuid("article_id"),
  // The customer message the bot last acted on: every node sees each event, one claims it.
  handledItemId: uuid("handled_item_id"),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

export type Article = typeof articles.$inferSelect;
export type ArticleVersion = typeof articleVersions.$inferSelect;
export type ArticleStatus = (typeof articleStatuses)[number];
export type ArticleVisibility = (typeof articleVisibilities)[number];
export type KnowledgeCategory = typeof knowledgeCategories.$inferSelect;
export type KnowledgeEventKind = (typeof knowledgeEventKinds)[number];
