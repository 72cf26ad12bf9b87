import { eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { articles, articleVersions, type ArticleStatus, type ArticleVisibility } from "../db/schema/index.ts";
import { rememberWords, vectorSql } from "./embedded.ts";
import { writePostings } from "./postings.ts";
import { plainText, renderMarkdown } from "./markdown.ts";
import { vocabulary } from "./segment.ts";

export type ImportedArticle = {
  title: string;
  body: string;
  locale: string;
  summary?: string;
  tags?: string[];
  status?: ArticleStatus;
  visibility?: ArticleVisibility;
};

/**
 * Many articles at once (imports, the benchmark): the same rendering and search vector as a single
 * save, in batches of one INSERT each. Returns the new ids in input order.
 */
export async function importArticles(
  db: Db,
  workspaceId: string,
  items: ImportedArticle[],
  batch = 500,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < items.length; i += batch) {
    const rows = items.slice(i, i + batch).map((a) => {
      const id = crypto.randomUUID();
      const bodyHtml = renderMarkdown(a.body);
      const bodyText = plainText(bodyHtml);
      const summary = a.summary ?? "";
      const tags = a.tags ?? [];
      const status = a.status ?? "published";
      return {
        id,
        workspaceId,
        translationGroupId: id,
        locale: a.locale,
        title: a.title,
        summary,
        body: a.body,
        bodyHtml,
        bodyText,
        tags,
        status,
        visibility: a.visibility ?? "public",
        publishedAt: status === "published" ? new Date() : null,
        ...vectorSql({ title: a.title, summary, bodyText, tags }),
      };
    });
    await db.transaction(async (tx) => {
      await tx.insert(articles).values(rows);
      await tx.insert(articleVersions).values(
        rows.map((r) => ({
          workspaceId,
          articleId: r.id,
          version: 1,
          title: r.title,
          summary: r.summary,
          body: r.body,
          tags: r.tags,
          status: r.status,
          visibility: r.visibility,
          locale: r.locale,
          note: "imported",
        })),
      );
      await writePostings(
        tx,
        workspaceId,
        rows.map((r) => r.id),
      );
      await rememberWords(
        tx,
        workspaceId,
        rows.flatMap((r) => vocabulary(`${r.title} ${r.summary} ${r.bodyText}`, 500)),
      );
    });
    ids.push(...rows.map((r) => r.id));
  }
  return ids;
}

/**
 * Rebuilds the embedded index from the articles' Markdown (after a change to segmentation or
 * rendering): HTML, plain text, vector and vocabulary, in batches. Returns how many were rebuilt.
 */
export async function reindexEmbedded(
  db: Db,
  workspaceId?: string,
  batch = 200,
  onProgress?: (done: number) => void,
): Promise<number> {
  let done = 0;
  let after = "00000000-0000-0000-0000-000000000000";
  for (;;) {
    const page = await db
      .select({ id: articles.id })
      .from(articles)
      .where(sql`${articles.id} > ${after} ${workspaceId ? sql`AND ${articles.workspaceId} = ${workspaceId}` : sql``}`)
      .orderBy(articles.id)
      .limit(batch);
    if (!page.length) return done;
    after = page[page.length - 1]!.id;
    await db.transaction(async (tx) => {
      const rows = await tx
        .select()
        .from(articles)
        .where(
          inArray(
            articles.id,
            page.map((p) => p.id),
          ),
        );
      const byWorkspace = new Map<string, string[]>();
      for (const a of rows) {
        const bodyHtml = renderMarkdown(a.body);
        const bodyText = plainText(bodyHtml);
        await tx
          .update(articles)
          .set({ bodyHtml, bodyText, ...vectorSql({ ...a, bodyText }) })
          .where(eq(articles.id, a.id));
        await rememberWords(tx, a.workspaceId, vocabulary(`${a.title} ${a.summary} ${bodyText}`));
        byWorkspace.set(a.workspaceId, [...(byWorkspace.get(a.workspaceId) ?? []), a.id]);
      }
      for (const [ws, ids] of byWorkspace) await writePostings(tx, ws, ids);
    });
    done += page.length;
    onProgress?.(done);
  }
}
