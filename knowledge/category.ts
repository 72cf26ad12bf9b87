import { and, asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { rowsOf, type Db, type Executor } from "../db/connect.ts";
import { articles, knowledgeCategories, knowledgeIndexOutbox } from "../db/schema/index.ts";
import { Invalid, NotFound } from "../platform/errors.ts";
import { parseInput } from "../platform/validation.ts";
import { checkCategory, Locale, requireEditor, type KnowledgeActor, type SaveOptions } from "./article.ts";
import { moveCategoryPostings } from "./postings.ts";

/** The category tree: editors create, rename, move (a new parent) and delete categories. */

/** A category's fields, without defaults: a change names only what it changes (see ArticlePatch). */
const CategoryFields = z.object({
  name: z.string().trim().min(1).max(120),
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,60}$/, "lower-case letters, digits and -"),
  parentId: z.uuid().nullable(),
  locale: Locale,
  position: z.number().int().min(0).max(10_000),
});
export const CategoryInput = CategoryFields.extend({
  parentId: CategoryFields.shape.parentId.default(null),
  locale: CategoryFields.shape.locale.default("en"),
  position: CategoryFields.shape.position.default(0),
});
export const CategoryPatch = CategoryFields.partial();

async function checkSlugFree(db: Executor, workspaceId: string, slug: string, except?: string) {
  const [taken] = await db
    .select({ id: knowledgeCategories.id })
    .from(knowledgeCategories)
    .where(
      and(
        eq(knowledgeCategories.workspaceId, workspaceId),
        eq(knowledgeCategories.slug, slug),
        except ? sql`${knowledgeCategories.id} <> ${except}` : undefined,
      ),
    );
  if (taken) throw new Invalid("A category with this slug exists", "slug");
}

export async function createCategory(db: Executor, actor: KnowledgeActor, raw: unknown) {
  requireEditor(actor);
  const input = parseInput(CategoryInput, raw);
  await checkCategory(db, actor.workspaceId, input.parentId, "parentId");
  await checkSlugFree(db, actor.workspaceId, input.slug);
  const [c] = await db
    .insert(knowledgeCategories)
    .values({ ...input, workspaceId: actor.workspaceId })
    .returning();
  return c!;
}

export async function listCategories(db: Executor, workspaceId: string) {
  return db
    .select()
    .from(knowledgeCategories)
    .where(eq(knowledgeCategories.workspaceId, workspaceId))
    .orderBy(asc(knowledgeCategories.position), asc(knowledgeCategories.name));
}

async function getCategory(db: Executor, workspaceId: string, id: string) {
  const [c] = await db
    .select()
    .from(knowledgeCategories)
    .where(and(eq(knowledgeCategories.id, id), eq(knowledgeCategories.workspaceId, workspaceId)));
  if (!c) throw new NotFound("Category");
  return c;
}

/** The category and every category below it (a move under any of them would make a loop). */
async function subtreeOf(db: Executor, workspaceId: string, id: string): Promise<Set<string>> {
  const rows = rowsOf<{ id: string }>(
    await db.execute(sql`
      WITH RECURSIVE below AS (
        SELECT id FROM knowledge_categories WHERE workspace_id = ${workspaceId} AND id = ${id}
        UNION
        SELECT c.id FROM knowledge_categories c JOIN below b ON c.parent_id = b.id WHERE c.workspace_id = ${workspaceId}
      ) SELECT id FROM below`),
  );
  return new Set(rows.map((r) => r.id));
}

/** Rename, re-slug, re-order or move under another parent (null: to the top level). */
export async function updateCategory(db: Db, actor: KnowledgeActor, id: string, raw: unknown) {
  requireEditor(actor);
  const patch = parseInput(CategoryPatch, raw);
  if (!Object.values(patch).some((v) => v !== undefined))
    throw new Invalid("Name at least one of name, slug, parentId, locale, position", "name");
  return db.transaction(async (tx) => {
    await getCategory(tx, actor.workspaceId, id);
    if (patch.slug) await checkSlugFree(tx, actor.workspaceId, patch.slug, id);
    if (patch.parentId) {
      await checkCategory(tx, actor.workspaceId, patch.parentId, "parentId");
      if ((await subtreeOf(tx, actor.workspaceId, id)).has(patch.parentId))
        throw new Invalid("A category cannot move under itself or its own subcategory", "parentId");
    }
    const [c] = await tx
      .update(knowledgeCategories)
      .set(patch)
      .where(and(eq(knowledgeCategories.id, id), eq(knowledgeCategories.workspaceId, actor.workspaceId)))
      .returning();
    return c!;
  });
}

/**
 * Deletes a category; nothing in it is lost: its subcategories and articles move up to its parent
 * (to the top level and uncategorized when it had none), search index included.
 */
export async function deleteCategory(db: Db, actor: KnowledgeActor, id: string, options: SaveOptions) {
  requireEditor(actor);
  await db.transaction(async (tx) => {
    const c = await getCategory(tx, actor.workspaceId, id);
    const ws = actor.workspaceId;
    await tx
      .update(knowledgeCategories)
      .set({ parentId: c.parentId })
      .where(and(eq(knowledgeCategories.workspaceId, ws), eq(knowledgeCategories.parentId, id)));
    await moveCategoryPostings(tx, ws, id, c.parentId);
    const moved = await tx
      .update(articles)
      .set({ categoryId: c.parentId })
      .where(and(eq(articles.workspaceId, ws), eq(articles.categoryId, id)))
      .returning({ id: articles.id });
    if (options.externalIndex && moved.length)
      await tx.insert(knowledgeIndexOutbox).values(moved.map((a) => ({ workspaceId: ws, articleId: a.id })));
    await tx
      .delete(knowledgeCategories)
      .where(and(eq(knowledgeCategories.id, id), eq(knowledgeCategories.workspaceId, ws)));
  });
}
