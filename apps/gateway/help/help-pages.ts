import { createHash } from "node:crypto";
import { eq } from "drizzle-orm";
import type { Context } from "hono";
import type { Executor } from "../../../db/connect.ts";
import { workspaces } from "../../../db/schema/index.ts";
import type { SearchHit } from "../../../knowledge/search.ts";

/**
 * The help center's pages: the reader's language, the one stylesheet and its CSP, the page frame
 * with its search box, article lists and search highlights, and the localized not-found page. Plain
 * HTML and a little CSS, no script.
 */

export const TEXT = {
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
export type Lang = keyof typeof TEXT;

export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** ?lang= wins, then the browser's Accept-Language; Chinese readers get the Chinese interface. */
export function langOf(c: Context): Lang {
  const asked = c.req.query("lang") ?? c.req.header("accept-language") ?? "";
  return /^zh/i.test(asked.trim()) ? "zh-CN" : "en";
}

export function highlighted(hit: Pick<SearchHit, "snippet" | "highlights">) {
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

export function page(
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
export async function notFoundPage(c: Context, db: Executor, what: string) {
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

export function articleList(lang: Lang, base: string, items: { id: string; title: string; summary: string }[]) {
  if (!items.length) return `<p>${TEXT[lang].empty}</p>`;
  return `<ul class="list">${items.map((a) => `<li><a href="${base}/articles/${a.id}?lang=${lang}">${escapeHtml(a.title)}</a>${a.summary ? `<div class="meta">${escapeHtml(a.summary)}</div>` : ""}</li>`).join("")}</ul>`;
}
