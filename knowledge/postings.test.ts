import { expect, it } from "bun:test";
import { and, eq } from "drizzle-orm";
import { knowledgePostings, knowledgeTermCounts } from "../db/schema/index.ts";
import { testWorkspace } from "../test/workspace.ts";
import { createArticle, updateArticle } from "./article.ts";
import { EmbeddedBackend } from "./embedded.ts";

it("keeps postings and term counts in step with every save: new words counted, dropped words and unpublished articles not", async () => {
  const w = await testWorkspace();
  const editor = await w.actor("knowledge_editor");
  const db = w.core.db;
  const options = { externalIndex: false };
  const counts = async () =>
    Object.fromEntries(
      (await db.select().from(knowledgeTermCounts).where(eq(knowledgeTermCounts.workspaceId, w.workspaceId)))
        .filter((c) => c.articles !== 0)
        .map((c) => [`${c.term}/${c.language}`, c.articles]),
    );
  const postingsOf = async (articleId: string) =>
    (
      await db
        .select()
        .from(knowledgePostings)
        .where(and(eq(knowledgePostings.workspaceId, w.workspaceId), eq(knowledgePostings.articleId, articleId)))
    ).map((p) => [p.term, p.impact]);

  const a = await createArticle(
    db,
    editor,
    { title: "Refund", body: "Money back.", locale: "en", status: "published" },
    options,
  );
  const b = await createArticle(
    db,
    editor,
    { title: "Refund rules", body: "Refund within 30 days.", locale: "en", status: "published" },
    options,
  );
  await createArticle(db, editor, { title: "退款", body: "原路退回。", locale: "zh-CN", status: "draft" }, options);
  expect(await counts()).toMatchObject({ "/en": 2, "refund/en": 2, "money/en": 1, "rule/en": 1 });
  expect((await counts())["退款/zh"]).toBeUndefined();
  // A title word outweighs the same word in the body; a second mention adds less than the first.
  expect(Object.fromEntries(await postingsOf(b.id))).toMatchObject({
    refund: expect.closeTo(1 + 0.1, 5),
    day: expect.closeTo(0.1, 5),
  });

  await updateArticle(db, editor, a.id, { body: "Paid back to your card." }, options);
  const afterEdit = await counts();
  expect(afterEdit["money/en"]).toBeUndefined();
  expect(afterEdit).toMatchObject({ "/en": 2, "refund/en": 2, "card/en": 1 });

  await updateArticle(db, editor, b.id, { status: "archived" }, options);
  expect(await postingsOf(b.id)).toEqual([]);
  expect(await counts()).toMatchObject({ "/en": 1, "refund/en": 1 });
  expect((await counts())["rule/en"]).toBeUndefined();

  const search = new EmbeddedBackend(db);
  expect(
    (await search.search({ workspaceId: w.workspaceId, q: "refund", publicOnly: true, limit: 5 })).map((h) => h.id),
  ).toEqual([a.id]);
  await updateArticle(db, editor, a.id, { visibility: "agents" }, options);
  expect(await search.search({ workspaceId: w.workspaceId, q: "refund", publicOnly: true, limit: 5 })).toEqual([]);
  expect(
    (await search.search({ workspaceId: w.workspaceId, q: "refund", publicOnly: false, limit: 5 })).map((h) => h.id),
  ).toEqual([a.id]);
});
