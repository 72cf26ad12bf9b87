import { createHash } from "node:crypto";
import type { Context } from "hono";
import type { CsatLang } from "../../../csat/settings.ts";
import { escapeHtml } from "../help/help-pages.ts";

/** The survey link's pages: the question with its stars or thumbs, thanks, and why a link no longer works. */
export const TEXT = {
  en: {
    title: "Your feedback",
    comment: "Anything you would like to add? (optional)",
    send: "Send",
    stars: (n: number) => `${n} star${n === 1 ? "" : "s"}`,
    up: "Good",
    down: "Bad",
    thanks: "Thank you for your feedback!",
    thanksDetail: "Your answer helps us serve you better.",
    answered: "This survey was already answered",
    answeredDetail: "Thank you — we have your answer.",
    expired: "This survey has expired",
    expiredDetail: "Its link is no longer valid.",
    notFound: "Survey not found",
    notFoundDetail: "Check that you opened the whole link.",
    reopened: "This conversation is open again",
    reopenedDetail: "You can rate it once it is resolved.",
    invalid: "Please choose a rating",
  },
  "zh-CN": {
    title: "服务评价",
    comment: "还有什么想告诉我们的吗？（选填）",
    send: "提交",
    stars: (n: number) => `${n} 星`,
    up: "满意",
    down: "不满意",
    thanks: "感谢您的评价！",
    thanksDetail: "您的反馈帮助我们做得更好。",
    answered: "该评价已提交",
    answeredDetail: "谢谢，我们已收到您的评价。",
    expired: "该评价已过期",
    expiredDetail: "此链接已失效。",
    notFound: "找不到该评价",
    notFoundDetail: "请确认打开的是完整链接。",
    reopened: "该会话已重新打开",
    reopenedDetail: "会话解决后即可评价。",
    invalid: "请选择评分",
  },
} as const;

const CSS = `body{font:16px/1.6 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;color:#1f2933;background:#f7f8fa}
main{max-width:30rem;margin:3rem auto;padding:1.5rem;background:#fff;border-radius:10px;box-shadow:0 1px 3px #0002}
h1{font-size:1.3rem;margin:0 0 1rem}.scale{display:flex;flex-direction:row-reverse;justify-content:center;gap:.3rem;margin:1rem 0}
.scale input{position:absolute;opacity:0}.scale label{font-size:2.2rem;cursor:pointer;color:#cbd2d9;line-height:1}
.stars input:checked~label,.stars label:hover,.stars label:hover~label{color:#f59e0b}
.thumbs{flex-direction:row}.thumbs label{filter:grayscale(1);padding:.2rem .6rem;border-radius:8px}.thumbs input:checked+label{filter:none;background:#e0e7ff}
.scale input:focus-visible+label{outline:2px solid #1d4ed8}
textarea{width:100%;box-sizing:border-box;min-height:5rem;padding:.5rem;font:inherit;border:1px solid #cbd2d9;border-radius:6px}
button{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem;border:0;border-radius:6px;background:#1d4ed8;color:#fff;cursor:pointer}
.error{color:#b91c1c}.meta{color:#616e7c}fieldset{border:0;padding:0;margin:0}`;

/** Public and script-free, like the help center: only this stylesheet (by hash), forms only to us, never framed. */
export const SURVEY_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash("sha256").update(CSS).digest("base64")}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

type Status = 200 | 201 | 400 | 404 | 409 | 410 | 429;

function frame(c: Context, lang: CsatLang, title: string, body: string, status: Status) {
  c.header("content-security-policy", SURVEY_CSP);
  c.header("x-content-type-options", "nosniff");
  c.header("cache-control", "no-store");
  c.header("referrer-policy", "no-referrer");
  return c.html(
    `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body><main>${body}</main></body></html>`,
    status,
  );
}

/** The question and a form posting the rating (and comment) back to the same link. */
export function surveyPage(
  c: Context,
  o: { lang: CsatLang; token: string; question: string; scale: "stars" | "thumbs"; error?: boolean },
) {
  const t = TEXT[o.lang];
  // Row-reversed so that CSS alone lights a star and every star before it.
  const choices =
    o.scale === "stars"
      ? [5, 4, 3, 2, 1]
          .map(
            (n) =>
              `<input type="radio" id="r${n}" name="rating" value="${n}" required><label for="r${n}" title="${t.stars(n)}" aria-label="${t.stars(n)}">★</label>`,
          )
          .join("")
      : [
          [5, "👍", t.up],
          [1, "👎", t.down],
        ]
          .map(
            ([n, icon, label]) =>
              `<input type="radio" id="r${n}" name="rating" value="${n}" required><label for="r${n}" title="${label}" aria-label="${label}">${icon}</label>`,
          )
          .join("");
  return frame(
    c,
    o.lang,
    t.title,
    `<h1>${escapeHtml(o.question)}</h1>${o.error ? `<p class="error" role="alert">${t.invalid}</p>` : ""}
<form method="post" action="/csat/${encodeURIComponent(o.token)}">
<fieldset><div class="scale ${o.scale}">${choices}</div></fieldset>
<label class="meta" for="comment">${t.comment}</label><textarea id="comment" name="comment" maxlength="2000"></textarea>
<button type="submit">${t.send}</button></form>`,
    o.error ? 400 : 200,
  );
}

/** Thanks, or why the link cannot be answered (already answered, expired, unknown, too many tries). */
export function outcomePage(
  c: Context,
  lang: CsatLang,
  outcome: "thanks" | "answered" | "expired" | "notFound" | "reopened",
) {
  const t = TEXT[lang];
  const status = { thanks: 201, answered: 409, expired: 410, notFound: 404, reopened: 409 } as const;
  return frame(
    c,
    lang,
    t[outcome],
    `<h1>${t[outcome]}</h1><p class="meta">${t[`${outcome}Detail`]}</p>`,
    status[outcome],
  );
}
