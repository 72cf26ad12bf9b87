import { expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { articles, knowledgePostings, knowledgeTermCounts } from "../db/schema/index.ts";
import { testWorkspace } from "../test/workspace.ts";
import { importArticles, reindexEmbedded } from "./bulk.ts";
import { EmbeddedBackend } from "./embedded.ts";

it("imports articles searchable at once, and the re-index rebuilds a lost index from the Markdown", async () => {
  const w = await testWorkspace();
  const ids = await importArticles(w.core.db, w.workspaceId, [
    { title: "运费说明", body: "订单满 99 元**包邮**。", locale: "zh-CN" },
    { title: "Shipping fees", body: "Free shipping over 99.", locale: "en" },
  ]);
  const search = new EmbeddedBackend(w.core.db);
  const find = (q: string) =>
    search.search({ workspaceId: w.workspaceId, q, publicOnly: true, limit: 5 }).then((h) => h.map((x) => x.id));
  expect(await find("包邮")).toEqual([ids[0]!]);
  expect(await find("shipped")).toEqual([ids[1]!]);
  // An index lost (or built by an older segmentation) is rebuilt from the stored Markdown.
  await w.core.db
    .update(articles)
    .set({ searchVector: null, bodyText: "" })
    .where(eq(articles.workspaceId, w.workspaceId));
  await w.core.db.delete(knowledgePostings).where(eq(knowledgePostings.workspaceId, w.workspaceId));
  await w.core.db.delete(knowledgeTermCounts).where(eq(knowledgeTermCounts.workspaceId, w.workspaceId));
  expect(await find("包邮")).toEqual([]);
  expect(await reindexEmbedded(w.core.db, w.workspaceId)).toBe(2);
  expect(await find("包邮")).toEqual([ids[0]!]);
  expect(await find("shipping")).toEqual([ids[1]!]);
});
