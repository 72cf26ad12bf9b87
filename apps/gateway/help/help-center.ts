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
import { MAX_QUERY_INPUT, type SearchHit } from "../../../knowledge/search.ts";
import { NotFound } from "../../../platform/errors.ts";
import { pathId } from "../../../platform/validation.ts";
import { errorResponse } from "../../server/http.ts";
import type { Runtime } from "../../server/runtime.ts";

/**
 * The public help center, server-rendered: `/help/<workspace-slug>/` home, categories, articles,
 * search and a sitemap. Plain HTML and a little CSS — fast without JavaScript. Only published,
 * public articles ever appear here.
 */

const TEXT = {
  en: {
    title: "Help center",
    search: "Search",
    placeholder: "Search articles…",
    results: (n: number, q: string) => `${n} result${n === 1 ? "" : "s"} for “${q}”`,
    none: "No article matched. Try other words, or contact us.",
    categories: "Categories",
    popular: "Popular articles",
    helpful: "Was this helpful?",
    yes: "Yes",
    no: "No",
    thanks: "Thanks for your feedback.",
    other: "Also in",
    updated: "Updated",
    empty: "No articles yet.",
    home: "Home",
    tooShort: "Type at least two characters.",
    notFound: "Page not found",
    backHome: "Back to the help center home",
    missing: {
      "Help center": "There is no help center at this address.",
      Category: "This category does not exist or was removed.",
      Article: "This article does not exist, was unpublished or moved.",
      Page: "There is no page at this address.",
    },
    siteHome: "Go to the home page",
  },
  "zh-CN": {
    title: "帮助中心",
    search: "搜索",
    placeholder: "搜索文章…",
    results: (n: number, q: string) => `“${q}” 的搜索结果：${n} 条`,
    none: "没有找到相关文章。请换个说法，或联系我们。",
    categories: "分类",
    popular: "热门文章",
    helpful: "这篇文章有帮助吗？",
    yes: "有帮助",
    no: "没帮助",
    thanks: "感谢您的反馈。",
    other: "其他语言",
    updated: "更新于",
    empty: "暂无文章。",
    home: "首页",
    tooShort: "请至少输入两个字符。",
    notFound: "页面不存在",
    backHome: "返回帮助中心首页",
    missing: {
      "Help center": "这个地址没有帮助中心。",
      Category: "该分类不存在或已被删除。",
      Article: "该文章不存在、已下线或已移动。",
      Page: "这个地址没有页面。",
    },
    siteHome: "前往首页",
  },
} as const;
type Lang = keyof typeof TEXT;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** ?lang= wins, then the browser's Accept-Language; Chinese readers get the Chinese interface. */
function langOf(c: Context): Lang {
  const asked = c.req.query("lang") ?? c.req.header("accept-language") ?? "";
  return /^zh/i.test(asked.trim()) ? "zh-CN" : "en";
}

export async function workspaceBySlug(db: Executor, slug: string) {
  const [ws] = await db
    .select({ id: workspaces.id, name: workspaces.name, slug: workspaces.slug })
    .from(workspaces)
    .where(eq(workspaces.slug, slug));
  if (!ws) throw new NotFound("Help center");
  return ws;
}

/** The public URL of an article, for links agents paste into replies. */
export async function articleUrl(db: Executor, base: string, workspaceId: string, articleId: string) {
  const [ws] = await db.select({ slug: workspaces.slug }).from(workspaces).where(eq(workspaces.id, workspaceId));
  return ws?.slug ? `${base}/help/${ws.slug}/articles/${articleId}` : null;
}

function highlighted(hit: Pick<SearchHit, "snippet" | "highlights">) {
  let out = "";
  let at = 0;
  for (const [s, e] of hit.highlights) {
    out += escapeHtml(hit.snippet.slice(at, s)) + `<mark>${escapeHtml(hit.snippet.slice(s, e))}</mark>`;
    at = e;
  }
  return out + escapeHtml(hit.snippet.slice(at));
}

const CSS = `body{font:16px/1.6 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;color:#1f2933;background:#f7f8fa}
header{background:#1d4ed8;color:#fff;padding:1.5rem 1rem}header a{color:#fff;text-decoration:none}main{max-width:46rem;margin:0 auto;padding:1rem}
form.search{display:flex;gap:.5rem;margin:1rem 0}form.search input{flex:1;padding:.6rem;font-size:1rem;border:1px solid #cbd2d9;border-radius:6px}
button{padding:.6rem 1rem;font-size:1rem;border:0;border-radius:6px;background:#1d4ed8;color:#fff;cursor:pointer}
ul.list{list-style:none;padding:0}ul.list li{background:#fff;margin:.5rem 0;padding:.8rem 1rem;border-radius:8px;box-shadow:0 1px 2px #0001}
mark{background:#fde68a}article{background:#fff;padding:1rem 1.5rem;border-radius:8px}nav.lang{float:right}nav.lang a{color:#fff;margin-left:1rem}
.meta{color:#616e7c;font-size:.9rem}pre{background:#f0f2f5;padding:.8rem;overflow:auto}table{border-collapse:collapse}td,th{border:1px solid #d9dee3;padding:.3rem .6rem}img{max-width:100%}`;

/**
 * Help pages are public and share the origin of /app, whose sign-in token sits in localStorage: they
 * run no script at all (not even one an article smuggled past the sanitizer), style only with the one
 * stylesheet above (allowed by its hash, so an injected <style> or style attribute does nothing), show
 * images from https (articles embed them), submit forms only to us, and may not be framed.
 */
export const HELP_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash("sha256").update(CSS).digest("base64")}'`,
  "img-src 'self' https:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

function searchForm(base: string, lang: Lang) {
  const t = TEXT[lang];
  return `<form class="search" action="${base}/search" method="get" role="search"><input type="hidden" name="lang" value="${lang}">
<input name="q" type="search" placeholder="${t.placeholder}" aria-label="${t.search}" maxlength="500"><button>${t.search}</button></form>`;
}

function page(
  c: Context,
  o: {
    lang: Lang;
    ws: { name: string; slug: string | null };
    title: string;
    canonical?: string;
    description?: string;
    body: string;
    status?: 200 | 404;
  },
) {
  const t = TEXT[o.lang];
  const base = `/help/${o.ws.slug}`;
  const origin = new URL(c.req.url).origin;
  return c.html(
    `<!doctype html>
<html lang="${o.lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(o.title)}</title>
${o.canonical ? `<link rel="canonical" href="${escapeHtml(origin + o.canonical)}">` : `<meta name="robots" content="noindex">`}
${o.description ? `<meta name="description" content="${escapeHtml(o.description.slice(0, 300))}">` : ""}
<style>${CSS}</style></head>
<body><header><a href="${base}?lang=${o.lang}"><b>${escapeHtml(o.ws.name)}</b> · ${t.title}</a>
<nav class="lang"><a href="?lang=en" hreflang="en">English</a><a href="?lang=zh-CN" hreflang="zh-CN">中文</a></nav></header>
<main>${searchForm(base, o.lang)}
${o.body}</main></body></html>`,
    o.status ?? 200,
    // A missing page may exist a minute later (an article being published): not cached.
    { "cache-control": o.status === 404 ? "no-store" : "public, max-age=60" },
  );
}

/**
 * What a reader gets for a help-center address that leads nowhere: an HTML page (never the API's
 * JSON) with status 404, in the reader's language, with the search box every page has and the way
 * back home. An unknown workspace has neither a home nor anything to search: its page links to the
 * site's root.
 */
async function notFoundPage(c: Context, db: Executor, what: string) {
  const lang = langOf(c);
  const t = TEXT[lang];
  const slug = c.req.param("slug") ?? "";
  const [ws] = slug
    ? await db
        .select({ name: workspaces.name, slug: workspaces.slug })
        .from(workspaces)
        .where(eq(workspaces.slug, slug))
    : [];
  const reason = t.missing[what as keyof typeof t.missing] ?? t.missing.Page;
  if (!ws) {
    return c.html(
      `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t.notFound} — ${t.title}</title><meta name="robots" content="noindex"><style>${CSS}</style></head>
<body><header><b>${t.title}</b></header><main><h1>${t.notFound}</h1><p>${t.missing["Help center"]}</p><p><a href="/">${t.siteHome}</a></p></main></body></html>`,
      404,
      { "cache-control": "no-store" },
    );
  }
  const base = `/help/${ws.slug}`;
  const body = `<h1>${t.notFound}</h1><p>${reason}</p><p><a href="${base}?lang=${lang}">${t.backHome}</a></p>`;
  return page(c, { lang, ws, title: `${t.notFound} — ${ws.name}`, body, status: 404 });
}

const publicArticle = (workspaceId: string) =>
  and(eq(articles.workspaceId, workspaceId), eq(articles.status, "published"), eq(articles.visibility, "public"));

function articleList(lang: Lang, base: string, items: { id: string; title: string; summary: string }[]) {
  if (!items.length) return `<p>${TEXT[lang].empty}</p>`;
  return `<ul class="list">${items.map((a) => `<li><a href="${base}/articles/${a.id}?lang=${lang}">${escapeHtml(a.title)}</a>${a.summary ? `<div class="meta">${escapeHtml(a.summary)}</div>` : ""}</li>`).join("")}</ul>`;
}

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
