import { createRoute, z } from "@hono/zod-openapi";
import { requireConversation } from "../../conversations/conversation.ts";
import {
  ArticleListQuery,
  articleView,
  canEdit,
  createArticle,
  diffVersions,
  getArticle,
  getVersion,
  listArticles,
  listVersions,
  Locale,
  restoreVersion,
  translationsOf,
  updateArticle,
} from "../../knowledge/article.ts";
import {
  CategoryInput,
  CategoryPatch,
  createCategory,
  deleteCategory,
  listCategories,
  updateCategory,
} from "../../knowledge/category.ts";
import { articleReport, editSuggestions, knowledgeGaps, recordEvent } from "../../knowledge/events.ts";
import { renderMarkdown } from "../../knowledge/markdown.ts";
import { MAX_QUERY_INPUT, type SearchHit } from "../../knowledge/search.ts";
import { suggestForConversation } from "../../knowledge/suggest.ts";
import { Forbidden } from "../../platform/errors.ts";
import { articleUrl } from "../../knowledge/article-url.ts";
import { body, created, IdParam, Json, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

const SearchQuery = z.object({
  q: z.string().max(MAX_QUERY_INPUT, `must be at most ${MAX_QUERY_INPUT} characters`),
  locale: Locale.optional(),
  categoryId: z.uuid().optional(),
  // Out-of-range limits are brought into 1…50 rather than refused: a search box should just work.
  limit: z.coerce
    .number()
    .int()
    .default(10)
    .transform((n) => Math.min(50, Math.max(1, n))),
});
const VersionParams = z.object({ id: z.uuid(), version: z.coerce.number().int().min(1) });
const DiffQuery = z.object({ from: z.coerce.number().int().min(1), to: z.coerce.number().int().min(1) });
const PeriodQuery = z.object({ days: z.coerce.number().int().min(1).max(365).default(30) });
const PreviewBody = z.object({ body: z.string().max(500_000) });
const SuggestionBody = z.object({ text: z.string().trim().min(1).max(5000) });
const InsertionBody = z.object({ conversationId: z.uuid(), as: z.enum(["summary", "link"]) });

export const searchItem = (h: SearchHit) => ({
  id: h.id,
  title: h.title,
  snippet: h.snippet,
  score: h.score,
  highlights: h.highlights,
  summary: h.summary,
  locale: h.locale,
});

/**
 * The knowledge base API under /api/v1/knowledge: editors and admins write, every signed-in user
 * reads and searches (agents see agents-only articles too; the public never does).
 */
export function knowledgeApi(rt: Runtime) {
  const db = rt.core.db;
  const kb = rt.knowledge;
  const app = router<AuthEnv>();
  const saved = () => kb.sync?.wake();

  app.openapi(
    createRoute({
      method: "post",
      path: "/knowledge/articles",
      request: body(Json),
      responses: created("{id, …article}"),
      tags: ["knowledge"],
    }),
    async (c) => {
      const a = await createArticle(db, c.get("actor"), c.req.valid("json"), kb.saveOptions);
      saved();
      return c.json(articleView(a), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/knowledge/articles",
      request: { query: ArticleListQuery },
      responses: ok("{items} newest change first"),
      tags: ["knowledge"],
    }),
    async (c) => c.json({ items: await listArticles(db, c.get("actor").workspaceId, c.req.valid("query")) }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/knowledge/articles/{id}",
      request: { params: IdParam },
      responses: ok("The article with its translations"),
      tags: ["knowledge"],
    }),
    async (c) => {
      const a = await getArticle(db, c.get("actor").workspaceId, c.req.valid("param").id);
      return c.json({ ...articleView(a), translations: await translationsOf(db, a) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/knowledge/articles/{id}",
      request: { params: IdParam, ...body(Json) },
      responses: ok("The article, saved as a new version"),
      tags: ["knowledge"],
    }),
    async (c) => {
      const a = await updateArticle(db, c.get("actor"), c.req.valid("param").id, c.req.valid("json"), kb.saveOptions);
      saved();
      return c.json(articleView(a), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/knowledge/articles/{id}/versions",
      request: { params: IdParam },
      responses: ok("{items} newest first"),
      tags: ["knowledge"],
    }),
    async (c) => c.json({ items: await listVersions(db, c.get("actor").workspaceId, c.req.valid("param").id) }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/knowledge/articles/{id}/versions/{version}",
      request: { params: VersionParams },
      responses: ok("One version"),
      tags: ["knowledge"],
    }),
    async (c) => {
      const { id, version } = c.req.valid("param");
      return c.json(await getVersion(db, c.get("actor").workspaceId, id, version), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/knowledge/articles/{id}/diff",
      request: { params: IdParam, query: DiffQuery },
      responses: ok("Changes from one version to another"),
      tags: ["knowledge"],
    }),
    async (c) => {
      const { from, to } = c.req.valid("query");
      return c.json(await diffVersions(db, c.get("actor").workspaceId, c.req.valid("param").id, from, to), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/knowledge/articles/{id}/versions/{version}/restore",
      request: { params: VersionParams },
      responses: ok("The article, with the old content as a new version"),
      tags: ["knowledge"],
    }),
    async (c) => {
      const { id, version } = c.req.valid("param");
      const a = await restoreVersion(db, c.get("actor"), id, version, kb.saveOptions);
      saved();
      return c.json(articleView(a), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/knowledge/articles/{id}/suggestions",
      request: { params: IdParam, ...body(SuggestionBody) },
      responses: created("Recorded for the editors"),
      tags: ["knowledge"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const a = await getArticle(db, actor.workspaceId, c.req.valid("param").id);
      await recordEvent(db, {
        workspaceId: actor.workspaceId,
        kind: "edit_suggestion",
        articleId: a.id,
        userId: actor.userId,
        detail: c.req.valid("json").text,
      });
      return c.json({ ok: true }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/knowledge/articles/{id}/suggestions",
      request: { params: IdParam },
      responses: ok("{items:[{id, detail, userId, createdAt}]} newest first"),
      tags: ["knowledge"],
    }),
    async (c) => {
      const actor = c.get("actor");
      if (!canEdit(actor)) throw new Forbidden("Requires role knowledge_editor or admin");
      const a = await getArticle(db, actor.workspaceId, c.req.valid("param").id);
      return c.json({ items: await editSuggestions(db, actor.workspaceId, a.id) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/knowledge/preview",
      request: body(PreviewBody),
      responses: ok("{html}: the body as the help center will show it"),
      tags: ["knowledge"],
    }),
    async (c) => {
      if (!canEdit(c.get("actor"))) throw new Forbidden("Requires role knowledge_editor or admin");
      return c.json({ html: renderMarkdown(c.req.valid("json").body) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/knowledge/search",
      request: { query: SearchQuery },
      responses: ok("{items:[{id,title,snippet,score}]} best first"),
      tags: ["knowledge"],
    }),
    async (c) => {
      const { q, locale, categoryId, limit } = c.req.valid("query");
      const hits = await kb.search.search({
        workspaceId: c.get("actor").workspaceId,
        q,
        locale,
        categoryId,
        limit,
        publicOnly: false,
      });
      return c.json({ items: hits.map(searchItem) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/knowledge/categories",
      responses: ok("{items} by position"),
      tags: ["knowledge"],
    }),
    async (c) => c.json({ items: await listCategories(db, c.get("actor").workspaceId) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/knowledge/categories",
      request: body(CategoryInput),
      responses: created("The category"),
      tags: ["knowledge"],
    }),
    async (c) => c.json(await createCategory(db, c.get("actor"), c.req.valid("json")), 201),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/knowledge/categories/{id}",
      request: { params: IdParam, ...body(CategoryPatch) },
      responses: ok("The category renamed or moved"),
      tags: ["knowledge"],
    }),
    async (c) => c.json(await updateCategory(db, c.get("actor"), c.req.valid("param").id, c.req.valid("json")), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/knowledge/categories/{id}",
      request: { params: IdParam },
      responses: ok("Deleted; its subcategories and articles moved up to its parent"),
      tags: ["knowledge"],
    }),
    async (c) => {
      await deleteCategory(db, c.get("actor"), c.req.valid("param").id, kb.saveOptions);
      saved();
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/knowledge/gaps",
      request: { query: PeriodQuery },
      responses: ok("{items:[{query, kind, count, lastAt}]}"),
      tags: ["knowledge"],
    }),
    async (c) => {
      const actor = c.get("actor");
      return c.json(
        {
          items: await knowledgeGaps(
            db,
            actor.workspaceId,
            new Date(Date.now() - c.req.valid("query").days * 86_400_000),
          ),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/knowledge/report",
      request: { query: PeriodQuery },
      responses: ok("{articles:[{articleId,title,counts}], deflections}"),
      tags: ["knowledge"],
    }),
    async (c) => {
      const actor = c.get("actor");
      return c.json(
        await articleReport(db, actor.workspaceId, new Date(Date.now() - c.req.valid("query").days * 86_400_000)),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/conversations/{id}/knowledge",
      request: { params: IdParam },
      responses: ok("{question, items}: articles for the customer's latest messages"),
      tags: ["knowledge"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const conversation = await requireConversation(db, actor, c.req.valid("param").id);
      const { question, items } = await suggestForConversation(db, kb.search, actor.workspaceId, conversation.id);
      return c.json({ question, items: items.map(searchItem) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/knowledge/articles/{id}/insertions",
      request: { params: IdParam, ...body(InsertionBody) },
      responses: ok("{text}: what to put in the reply; the use is recorded"),
      tags: ["knowledge"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const { conversationId, as } = c.req.valid("json");
      await requireConversation(db, actor, conversationId);
      const a = await getArticle(db, actor.workspaceId, c.req.valid("param").id);
      await recordEvent(db, {
        workspaceId: actor.workspaceId,
        kind: "insert",
        articleId: a.id,
        conversationId,
        userId: actor.userId,
      });
      const link =
        a.visibility === "public" && a.status === "published"
          ? await articleUrl(db, rt.config.publicUrl ?? new URL(c.req.url).origin, actor.workspaceId, a.id)
          : null;
      const text = as === "link" && link ? `${a.title}: ${link}` : a.summary || a.bodyText.slice(0, 1000);
      return c.json({ text, link }, 200);
    },
  );

  return app;
}
