import { and, asc, desc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db, Executor } from "../db/connect.ts";
import {
  articleStatuses,
  articleVersions,
  articleVisibilities,
  articles,
  knowledgeCategories,
  knowledgeIndexOutbox,
  type Article,
  type Role,
} from "../db/schema/index.ts";
import { likeContains } from "../db/text-search.ts";
import { NotFound } from "../platform/errors.ts";
import { can, requirePermission } from "../platform/permission.ts";
import { parseInput } from "../platform/validation.ts";
import { indexArticle } from "./embedded.ts";
import { plainText, renderMarkdown, sanitizeHtml } from "./markdown.ts";

/** Who is acting on the knowledge base (any signed-in user of the workspace). */
export type KnowledgeActor = { userId: string; workspaceId: string; role: Role };

/** Who writes and publishes: the roles holding knowledge.edit (knowledge editors, admins). */
export function canEdit(actor: Pick<KnowledgeActor, "role">) {
  return can(actor, "knowledge.edit");
}
export function requireEditor(actor: KnowledgeActor) {
  requirePermission(actor, "knowledge.edit");
}

/** Longest body accepted: long manuals fit, a pasted database dump does not. */
export const MAX_BODY_CHARS = 500_000;
export const Locale = z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, "a locale such as en or zh-CN");

/** An article's editable fields, without defaults: a save changes only the fields it names. */
const ArticleFields = z.object({
  title: z.string().trim().min(1).max(300),
  body: z
    .string()
    .max(MAX_BODY_CHARS, `must be at most ${MAX_BODY_CHARS} characters`)
    .refine((b) => b.trim().length > 0, { message: "must not be blank" }),
  locale: Locale,
  status: z.enum(articleStatuses),
  summary: z.string().trim().max(1000),
  visibility: z.enum(articleVisibilities),
  tags: z.array(z.string().trim().min(1).max(50)).max(20),
  categoryId: z.uuid().nullable(),
  note: z.string().max(500).optional(),
});
export const ArticleInput = ArticleFields.extend({
  locale: ArticleFields.shape.locale.default("en"),
  status: ArticleFields.shape.status.default("draft"),
  summary: ArticleFields.shape.summary.default(""),
  visibility: ArticleFields.shape.visibility.default("public"),
  tags: ArticleFields.shape.tags.default([]),
  categoryId: ArticleFields.shape.categoryId.default(null),
  /** Another article this one translates: they share a translation group. */
  translationOf: z.uuid().optional(),
});
export type ArticleInput = z.input<typeof ArticleInput>;
// Not ArticleInput.partial(): zod fills a missing field's default even in a partial object, and a
// save of the body alone would quietly unpublish the article and clear its category.
export const ArticlePatch = ArticleFields.partial();
export type ArticlePatch = z.input<typeof ArticlePatch>;

/** The category exists in the workspace (a body's categoryId is checked before it is stored). */
export async function checkCategory(
  tx: Executor,
  workspaceId: string,
  categoryId: string | null | undefined,
  field = "categoryId",
) {
  if (!categoryId) return;
  const [c] = await tx
    .select({ id: knowledgeCategories.id })
    .from(knowledgeCategories)
    .where(and(eq(knowledgeCategories.id, categoryId), eq(knowledgeCategories.workspaceId, workspaceId)));
  if (!c) throw new NotFound("Category", field);
}

export type SaveOptions = {
  /** An external index (Meilisearch) is fed from the outbox: write a row with each save. */
  externalIndex: boolean;
};

/** Everything derived from the source on each save: HTML, plain text, search vector, version row. */
async function afterSave(tx: Executor, a: Article, authorId: string, note: string | undefined, options: SaveOptions) {
  await tx.insert(articleVersions).values({
    workspaceId: a.workspaceId,
    articleId: a.id,
    version: a.version,
    title: a.title,
    summary: a.summary,
    body: a.body,
    tags: a.tags,
    status: a.status,
    visibility: a.visibility,
    categoryId: a.categoryId,
    locale: a.locale,
    authorId,
    note: note ?? null,
  });
  await indexArticle(tx, a);
  if (options.externalIndex)
    await tx.insert(knowledgeIndexOutbox).values({ workspaceId: a.workspaceId, articleId: a.id });
}

function rendered(body: string) {
  const bodyHtml = renderMarkdown(body);
  return { bodyHtml, bodyText: plainText(bodyHtml) };
}

export async function createArticle(
  db: Db,
  actor: KnowledgeActor,
  raw: unknown,
  options: SaveOptions,
): Promise<Article> {
  requireEditor(actor);
  const input = parseInput(ArticleInput, raw);
  return db.transaction(async (tx) => {
    await checkCategory(tx, actor.workspaceId, input.categoryId);
    let group: string | undefined;
    if (input.translationOf) {
      const [source] = await tx
        .select({ group: articles.translationGroupId })
        .from(articles)
        .where(and(eq(articles.id, input.translationOf), eq(articles.workspaceId, actor.workspaceId)));
      if (!source) throw new NotFound("Article", "translationOf");
      group = source.group;
    }
    const id = crypto.randomUUID();
    const [a] = await tx
      .insert(articles)
      .values({
        id,
        workspaceId: actor.workspaceId,
        translationGroupId: group ?? id,
        categoryId: input.categoryId,
        locale: input.locale,
        title: input.title,
        summary: input.summary,
        body: input.body,
        ...rendered(input.body),
        tags: input.tags,
        status: input.status,
        visibility: input.visibility,
        authorId: actor.userId,
        publishedAt: input.status === "published" ? new Date() : null,
      })
      .returning();
    await afterSave(tx, a!, actor.userId, input.note, options);
    return a!;
  });
}

/** A save: the changed fields become a new version (numbered after the latest). */
export async function updateArticle(
  db: Db,
  actor: KnowledgeActor,
  id: string,
  raw: unknown,
  options: SaveOptions,
): Promise<Article> {
  requireEditor(actor);
  const patch = parseInput(ArticlePatch, raw);
  return db.transaction(async (tx) => {
    const [current] = await tx
      .select()
      .from(articles)
      .where(and(eq(articles.id, id), eq(articles.workspaceId, actor.workspaceId)))
      .for("update");
    if (!current) throw new NotFound("Article");
    await checkCategory(tx, actor.workspaceId, patch.categoryId);
    const { note, ...fields } = patch;
    const next = { ...fields, ...(fields.body !== undefined ? rendered(fields.body) : {}) };
    const publishing = fields.status === "published" && current.status !== "published";
    const [a] = await tx
      .update(articles)
      .set({
        ...next,
        version: current.version + 1,
        updatedAt: new Date(),
        ...(publishing ? { publishedAt: new Date() } : {}),
      })
      .where(eq(articles.id, id))
      .returning();
    await afterSave(tx, a!, actor.userId, note, options);
    return a!;
  });
}

/** Restoring writes the old version's content as a new version: history only ever grows. */
export async function restoreVersion(db: Db, actor: KnowledgeActor, id: string, version: number, options: SaveOptions) {
  const old = await getVersion(db, actor.workspaceId, id, version);
  // Its category comes back too, unless that category has been deleted since (then the article stays where it is).
  const [category] = old.categoryId
    ? await db
        .select({ id: knowledgeCategories.id })
        .from(knowledgeCategories)
        .where(and(eq(knowledgeCategories.workspaceId, actor.workspaceId), eq(knowledgeCategories.id, old.categoryId)))
    : [{ id: null }];
  return updateArticle(
    db,
    actor,
    id,
    {
      title: old.title,
      summary: old.summary,
      body: old.body,
      tags: old.tags,
      status: old.status,
      visibility: old.visibility,
      locale: old.locale,
      ...(category ? { categoryId: category.id } : {}),
      note: `Restored version ${version}`,
    },
    options,
  );
}

export async function getArticle(db: Executor, workspaceId: string, id: string) {
  const [a] = await db
    .select()
    .from(articles)
    .where(and(eq(articles.id, id), eq(articles.workspaceId, workspaceId)));
  if (!a) throw new NotFound("Article");
  return a;
}

/**
 * The article as the API shows it (no search vector). Its HTML is sanitized again on the way out, as
 * the help center does: rows rendered before the sanitizer checked decoded URLs may hold a
 * `javascript:` link, and the editor's preview puts this HTML in the page.
 */
export function articleView(a: Article) {
  const { searchVector: _vector, ...rest } = a;
  return { ...rest, bodyHtml: sanitizeHtml(rest.bodyHtml) };
}

export const ArticleListQuery = z.object({
  status: z.enum(articleStatuses).optional(),
  locale: Locale.optional(),
  categoryId: z.uuid().optional(),
  q: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
});

/** The editor's list: newest change first, by status, locale, category or title. */
export async function listArticles(db: Executor, workspaceId: string, query: z.infer<typeof ArticleListQuery>) {
  const conditions = [eq(articles.workspaceId, workspaceId)];
  if (query.status) conditions.push(eq(articles.status, query.status));
  if (query.locale) conditions.push(eq(articles.locale, query.locale));
  if (query.categoryId) conditions.push(eq(articles.categoryId, query.categoryId));
  if (query.q) conditions.push(sql`${articles.title} ILIKE ${likeContains(query.q)} ESCAPE '\\'`);
  const rows = await db
    .select({
      id: articles.id,
      title: articles.title,
      summary: articles.summary,
      locale: articles.locale,
      status: articles.status,
      visibility: articles.visibility,
      categoryId: articles.categoryId,
      tags: articles.tags,
      version: articles.version,
      translationGroupId: articles.translationGroupId,
      updatedAt: articles.updatedAt,
      views: articles.views,
      helpfulYes: articles.helpfulYes,
      helpfulNo: articles.helpfulNo,
    })
    .from(articles)
    .where(and(...conditions))
    .orderBy(desc(articles.updatedAt), asc(articles.id))
    .limit(query.limit)
    .offset(query.offset);
  return rows;
}

/** Other-language versions of an article. */
export async function translationsOf(db: Executor, a: Pick<Article, "id" | "workspaceId" | "translationGroupId">) {
  return db
    .select({
      id: articles.id,
      locale: articles.locale,
      title: articles.title,
      status: articles.status,
      visibility: articles.visibility,
    })
    .from(articles)
    .where(
      and(
        eq(articles.workspaceId, a.workspaceId),
        eq(articles.translationGroupId, a.translationGroupId),
        sql`${articles.id} <> ${a.id}`,
      ),
    );
}

export async function listVersions(db: Executor, workspaceId: string, id: string) {
  await getArticle(db, workspaceId, id);
  return db
    .select({
      version: articleVersions.version,
      title: articleVersions.title,
      status: articleVersions.status,
      authorId: articleVersions.authorId,
      note: articleVersions.note,
      createdAt: articleVersions.createdAt,
    })
    .from(articleVersions)
    .where(and(eq(articleVersions.articleId, id), eq(articleVersions.workspaceId, workspaceId)))
    .orderBy(desc(articleVersions.version));
}

export async function getVersion(db: Executor, workspaceId: string, id: string, version: number) {
  const [v] = await db
    .select()
    .from(articleVersions)
    .where(
      and(
        eq(articleVersions.articleId, id),
        eq(articleVersions.workspaceId, workspaceId),
        eq(articleVersions.version, version),
      ),
    );
  if (!v) throw new NotFound("Version", "version");
  return v;
}

export type DiffLine = { op: "same" | "add" | "remove"; text: string };

/** Line diff (longest common subsequence); long bodies are compared by their first 2,000 lines. */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = before.split("\n").slice(0, 2000);
  const b = after.split("\n").slice(0, 2000);
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) out.push({ op: "same", text: a[i]! }), i++, j++;
    else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) out.push({ op: "remove", text: a[i++]! });
    else out.push({ op: "add", text: b[j++]! });
  }
  while (i < n) out.push({ op: "remove", text: a[i++]! });
  while (j < m) out.push({ op: "add", text: b[j++]! });
  return out;
}

export async function diffVersions(db: Executor, workspaceId: string, id: string, from: number, to: number) {
  const [a, b] = await Promise.all([getVersion(db, workspaceId, id, from), getVersion(db, workspaceId, id, to)]);
  return {
    from,
    to,
    title: a.title === b.title ? null : { before: a.title, after: b.title },
    summary: a.summary === b.summary ? null : { before: a.summary, after: b.summary },
    body: diffLines(a.body, b.body),
  };
}
