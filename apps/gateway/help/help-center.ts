import { createHash } from "node:crypto";
import { and, desc, eq, sql } from "drizzle-orm";
import { Hono, type Context } from "hono";
import type { Executor } from "../../../db/connect.ts";
import { articles, knowledgeCategories, workspaces } from "../../../db/schema/index.ts";
import { recordEvent } from "../../../knowledge/events.ts";
import { RecentViews } from "../../../knowledge/recent-views.ts";
import { voteOnce } from "../../../knowledge/votes.ts";
import { RateLimiter } from "../../../platform/rate-limit.ts";
import { clientIp } from "../../server/client-ip.ts";
import { sanitizeHtml } from "../../../knowledge/markdown.ts";
import { MAX_QUERY_INPUT } from "../../../knowledge/search.ts";
import { NotFound } from "../../../platform/errors.ts";
import { pathId } from "../../../platform/validation.ts";
import { errorResponse } from "../../server/http.ts";
import type { Runtime } from "../../server/runtime.ts";
import {
  articleList,
  escapeHtml,
  HELP_CSP,
  highlighted,
  langOf,
  notFoundPage,
  page,
  TEXT,
  type Lang,
} from "./help-pages.ts";

/**
 * The public help center, server-rendered: `/help/<workspace-slug>/` home, categories, articles,
 * search and a sitemap. Plain HTML and a little CSS — fast without JavaScript. Only published,
 * public articles ever appear here.
 */

export async function workspaceBySlug(db: Executor, slug: string) {
  const [ws] = await db
    .select({ id: workspaces.id, name: workspaces.name, slug: workspaces.slug })
    .from(workspaces)
    .where(eq(workspaces.slug, slug));
  if (!ws) throw new NotFound("Help center");
  return ws;
}

const publicArticle = (workspaceId: string) =>
  and(eq(articles.workspaceId, workspaceId), eq(articles.status, "published"), eq(articles.visibility, "public"));

export function helpCenter(rt: Runtime) {
  const db = rt.core.db;
  const recentViews = new RecentViews(rt.config.help.viewWindowMs);
  const gapLimit = new RateLimiter(rt.config.help.gapsPerMinute, rt.config.help.gapsPerMinute / 60);
  // Readers are anonymous: their address stands for them, hashed with the workspace so votes never store it.
  const readerOf = (c: Context, workspaceId: string) =>
    createHash("sha256")
      .update(`${workspaceId}\n${clientIp(rt.config.trustProxy, c)}`)
      .digest("base64url")
      .slice(0, 32);
  const app = new Hono();
  // Readers are people with browsers: a missing workspace, category or article is a page, not JSON.
  app.onError((err, c) =>
    err instanceof NotFound ? notFoundPage(c, db, err.message.replace(/ not found$/, "")) : errorResponse(err, c),
  );
  app.use("/help/*", async (c, next) => {
    await next();
    c.header("content-security-policy", HELP_CSP);
    c.header("x-content-type-options", "nosniff");
  });
  const summaryCols = { id: articles.id, title: articles.title, summary: articles.summary };
  const langFilter = (lang: Lang) => sql`${articles.locale} LIKE ${lang === "zh-CN" ? "zh%" : "en%"}`;

  app.get("/help/:slug", async (c) => {
    const ws = await workspaceBySlug(db, c.req.param("slug"));
    const lang = langOf(c);
    const t = TEXT[lang];
    const base = `/help/${ws.slug}`;
    const [categories, popular] = await Promise.all([
      db
        .select()
        .from(knowledgeCategories)
        .where(eq(knowledgeCategories.workspaceId, ws.id))
        .orderBy(knowledgeCategories.position, knowledgeCategories.name),
      db
        .select(summaryCols)
        .from(articles)
        .where(and(publicArticle(ws.id), langFilter(lang)))
        .orderBy(desc(articles.views), desc(articles.updatedAt))
        .limit(20),
    ]);
    const cats = categories.filter((c) => !c.parentId);
    const body = `${cats.length ? `<h2>${t.categories}</h2><ul class="list">${cats.map((cat) => `<li><a href="${base}/categories/${escapeHtml(cat.slug)}?lang=${lang}">${escapeHtml(cat.name)}</a></li>`).join("")}</ul>` : ""}
<h2>${t.popular}</h2>${articleList(lang, base, popular)}`;
    return page(c, { lang, ws, title: `${ws.name} — ${t.title}`, canonical: `${base}?lang=${lang}`, body });
  });

  app.get("/help/:slug/categories/:category", async (c) => {
    const ws = await workspaceBySlug(db, c.req.param("slug"));
    const lang = langOf(c);
    const [cat] = await db
      .select()
      .from(knowledgeCategories)
      .where(and(eq(knowledgeCategories.workspaceId, ws.id), eq(knowledgeCategories.slug, c.req.param("category"))));
    if (!cat) throw new NotFound("Category");
    const base = `/help/${ws.slug}`;
    const [children, items] = await Promise.all([
      db
        .select()
        .from(knowledgeCategories)
        .where(and(eq(knowledgeCategories.workspaceId, ws.id), eq(knowledgeCategories.parentId, cat.id))),
      db
        .select(summaryCols)
        .from(articles)
        .where(and(publicArticle(ws.id), eq(articles.categoryId, cat.id)))
        .orderBy(desc(articles.views), articles.title)
        .limit(200),
    ]);
    const body = `<p class="meta"><a href="${base}?lang=${lang}">${TEXT[lang].home}</a> ›</p><h1>${escapeHtml(cat.name)}</h1>
${children.length ? `<ul class="list">${children.map((ch) => `<li><a href="${base}/categories/${escapeHtml(ch.slug)}?lang=${lang}">${escapeHtml(ch.name)}</a></li>`).join("")}</ul>` : ""}
${articleList(lang, base, items)}`;
    return page(c, { lang, ws, title: `${cat.name} — ${ws.name}`, canonical: `${base}/categories/${cat.slug}`, body });
  });

  app.get("/help/:slug/articles/:id", async (c) => {
    const ws = await workspaceBySlug(db, c.req.param("slug"));
    const id = pathId(c.req.param("id"), "Article");
    const lang = langOf(c);
    const t = TEXT[lang];
    // A reader's reloads (or a script's loop) count as one view per HELP_VIEW_WINDOW_MINUTES.
    const counted = recentViews.first(readerOf(c, ws.id), id);
    const [a] = counted
      ? await db
          .update(articles)
          .set({ views: sql`${articles.views} + 1` })
          .where(and(publicArticle(ws.id), eq(articles.id, id)))
          .returning()
      : await db
          .select()
          .from(articles)
          .where(and(publicArticle(ws.id), eq(articles.id, id)));
    if (!a) throw new NotFound("Article");
    if (counted) await recordEvent(db, { workspaceId: ws.id, kind: "view", articleId: a.id });
    const base = `/help/${ws.slug}`;
    const translations = await db
      .select({ id: articles.id, locale: articles.locale, title: articles.title })
      .from(articles)
      .where(
        and(
          publicArticle(ws.id),
          eq(articles.translationGroupId, a.translationGroupId),
          sql`${articles.id} <> ${a.id}`,
        ),
      );
    const voted = c.req.query("voted") === "1";
    // The stored HTML is sanitized again on the way out: rows rendered before the sanitizer checked URLs
    // after decoding may still hold a javascript: link.
    const body = `<p class="meta"><a href="${base}?lang=${lang}">${t.home}</a> ›</p>
<article lang="${escapeHtml(a.locale)}"><h1>${escapeHtml(a.title)}</h1><p class="meta">${t.updated} ${a.updatedAt.toISOString().slice(0, 10)}</p>${sanitizeHtml(a.bodyHtml)}</article>
${translations.length ? `<p class="meta">${t.other}: ${translations.map((tr) => `<a href="${base}/articles/${tr.id}" hreflang="${escapeHtml(tr.locale)}">${escapeHtml(tr.title)}</a>`).join(" · ")}</p>` : ""}
${voted ? `<p>${t.thanks}</p>` : `<form method="post" action="${base}/articles/${a.id}/vote?lang=${lang}"><p>${t.helpful} <button name="helpful" value="yes">${t.yes}</button> <button name="helpful" value="no">${t.no}</button></p></form>`}`;
    return page(c, {
      lang,
      ws,
      title: `${a.title} — ${ws.name}`,
      canonical: `${base}/articles/${a.id}`,
      description: a.summary || a.bodyText.slice(0, 160),
      body,
    });
  });

  app.post("/help/:slug/articles/:id/vote", async (c) => {
    const ws = await workspaceBySlug(db, c.req.param("slug"));
    const id = pathId(c.req.param("id"), "Article");
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    // One vote per article and reader: a repeated one is thanked for and not counted.
    await voteOnce(db, {
      workspaceId: ws.id,
      articleId: id,
      voter: readerOf(c, ws.id),
      helpful: form.helpful === "yes",
    });
    return c.redirect(`/help/${ws.slug}/articles/${id}?lang=${langOf(c)}&voted=1`, 303);
  });

  app.get("/help/:slug/search", async (c) => {
    const ws = await workspaceBySlug(db, c.req.param("slug"));
    const lang = langOf(c);
    const t = TEXT[lang];
    const q = (c.req.query("q") ?? "").slice(0, MAX_QUERY_INPUT).trim();
    const base = `/help/${ws.slug}`;
    // The reader's interface language does not filter: a Chinese question finds Chinese articles by itself.
    const locale = c.req.query("locale");
    const asked = {
      workspaceId: ws.id,
      q,
      publicOnly: true,
      limit: 20,
      locale: locale && /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(locale) ? locale : undefined,
    };
    // An empty search is a knowledge gap, but only HELP_GAPS_PER_MINUTE of them per reader: a script
    // must not be able to fill the editors' gap report.
    const hits = q
      ? await rt.knowledge.search.search(asked, { recordGap: () => gapLimit.take(readerOf(c, ws.id)) === 0 })
      : [];
    const shown = q.slice(0, 200);
    const list = hits.length
      ? `<ul class="list">${hits.map((h) => `<li><a href="${base}/articles/${h.id}?lang=${lang}">${escapeHtml(h.title)}</a><div class="meta">${highlighted(h)}</div></li>`).join("")}</ul>`
      : `<p>${[...q].length === 1 ? t.tooShort : q ? t.none : ""}</p>`;
    const body = `${q ? `<h1>${escapeHtml(t.results(hits.length, shown))}</h1>` : ""}${list}`;
    return page(c, {
      lang,
      ws,
      title: `${q ? shown + " — " : ""}${t.search} — ${ws.name}`,
      canonical: `${base}/search`,
      body,
    });
  });

  app.get("/help/:slug/sitemap.xml", async (c) => {
    const ws = await workspaceBySlug(db, c.req.param("slug"));
    const origin = rt.config.publicUrl ?? new URL(c.req.url).origin;
    const rows = await db
      .select({ id: articles.id, updatedAt: articles.updatedAt })
      .from(articles)
      .where(publicArticle(ws.id))
      .orderBy(desc(articles.updatedAt))
      .limit(50_000);
    const urls = [
      `<url><loc>${escapeHtml(`${origin}/help/${ws.slug}`)}</loc></url>`,
      ...rows.map(
        (r) =>
          `<url><loc>${escapeHtml(`${origin}/help/${ws.slug}/articles/${r.id}`)}</loc><lastmod>${r.updatedAt.toISOString()}</lastmod></url>`,
      ),
    ];
    return c.body(
      `<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${urls.join("")}</urlset>`,
      200,
      { "content-type": "application/xml; charset=utf-8" },
    );
  });

  // Any other address under a help center (a mistyped link) is the same page.
  app.get("/help/:slug/*", (c) => notFoundPage(c, db, "Page"));

  return app;
}
