import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import type { Browser, Page } from "playwright-core";
import { ingestInbound } from "../../../conversations/ingest.ts";
import { articles, workspaces } from "../../../db/schema/index.ts";
import { launchChromium, openWidget, signIn } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

/**
 * The XSS corpus, in a real browser: hostile text goes in wherever a customer, a visitor or an editor
 * can put it (article bodies, chat messages, contact and agent names, email subjects and HTML bodies)
 * and the help center, the agent inbox and the widget must show it without running any of it. A
 * script that runs calls alert() (caught by the page's own alert and by Chromium's dialog event);
 * a link must not lead to javascript:, vbscript: or data:.
 */
const TRICKS = [
  `<img src=x onerror="alert('img')">`,
  `<svg onload="alert('svg')"><circle r=1 /></svg>`,
  `<script>alert('script')</script>`,
  `<a href="javascript:alert('a')">a</a>`,
  `<a href="&#106;avascript:alert('entity')">entity</a>`,
  `<a href="JaVa&#x09;ScRiPt:alert('tab')">tab</a>`,
  `<a href="vbscript:msgbox('vb')">vb</a>`,
  `<a href="data:text/html,<script>alert('data')</script>">data</a>`,
  `<iframe src="javascript:alert('frame')"></iframe>`,
  `"><img src=x onerror=alert('attribute')>`,
  `[md](javascript:alert('md')) [ent](&#106;avascript:alert('md-entity'))`,
];
const HOSTILE = TRICKS.join(" ");

/** Markdown an editor (or a stolen editor account) could publish. */
const ARTICLE = [
  "# Returns",
  "[entity](&#106;avascript:alert('entity')) [hex](&#x6A;avascript:alert('hex')) [named](javascript&colon;alert('named'))",
  "[Mixed](JaVaScRiPt:alert('case')) [tab](java\tscript:alert('tab')) [newline](<java\nscript:alert('nl')>)",
  "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) [vb](vbscript:msgbox('vb'))",
  "![svg](data:image/svg+xml;base64,PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnIG9ubG9hZD0nYWxlcnQoMSknLz4=)",
  "[titled](javascript:alert('title') \"javascript:alert('t')\") [safe](https://example.com \"javascript:alert('t2')\")",
  "<javascript:alert('autolink')> <https://example.com/ok>",
  "[ref][evil] [ref2][evil2]\n\n[evil]: javascript:alert('ref')\n[evil2]: &#106;avascript:alert('ref2') \"t\"",
  HOSTILE,
  "<details open ontoggle=alert('details')><summary>x</summary></details>",
].join("\n\n");

/** Counts every alert/confirm/prompt the page's scripts or an injected one would call. */
const TRAP = `window.__xss = 0; for (const f of ["alert", "confirm", "prompt", "print"]) window[f] = () => { window.__xss++; };`;

/**
 * What in `root` (and every open shadow root below it) could run script: event-handler attributes,
 * script-bearing elements, and links or sources whose scheme is not one of ours.
 */
function dangerIn({ selector, shadowHost }: { selector: string; shadowHost?: string }) {
  const base = shadowHost ? document.querySelector(shadowHost)?.shadowRoot : document;
  const found: string[] = [];
  const roots: ParentNode[] = base ? [...base.querySelectorAll(selector)] : [];
  const ok = new Set(["http:", "https:", "mailto:", "tel:", "blob:"]);
  for (const root of roots) {
    for (const el of [root as Element, ...root.querySelectorAll("*")]) {
      if (["SCRIPT", "IFRAME", "OBJECT", "EMBED", "FRAME"].includes(el.tagName)) found.push(el.tagName);
      for (const attr of el.getAttributeNames()) {
        if (attr.startsWith("on")) found.push(`${el.tagName}@${attr}`);
        if (["href", "src", "action", "formaction", "xlink:href"].includes(attr)) {
          const url = URL.parse(el.getAttribute(attr)!, location.href);
          if (url && !ok.has(url.protocol)) found.push(`${el.tagName}@${attr}=${url.protocol}`);
        }
      }
    }
  }
  return { found, roots: roots.length, xss: (window as unknown as { __xss: number }).__xss };
}

let s: TestServer;
let browser: Browser;
let slug: string;
const SETUP_MS = 60_000;

beforeAll(async () => {
  s = await startTestServer();
  browser = await launchChromium();
  const [ws] = await s.rt.core.db
    .select({ slug: workspaces.slug })
    .from(workspaces)
    .where(eq(workspaces.id, s.workspaceId));
  slug = ws!.slug!;
}, SETUP_MS);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, SETUP_MS);

/** A fresh page that records every dialog and every CSP violation, with the alert trap installed. */
async function trappedPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript(TRAP);
  const page: Page = await context.newPage();
  const dialogs: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  return { page, dialogs, close: () => context.close() };
}

async function publish(token: string, title: string, body: string) {
  const made = await api(`${s.url}/api/v1/knowledge/articles`, {
    token,
    body: { title, body, locale: "en", status: "published" },
  });
  expect(made.status).toBe(201);
  return made.body.id as string;
}

describe("XSS corpus in Chromium", () => {
  it("help center: a hostile article runs nothing, links nowhere but allowed schemes, and the page allows no script", async () => {
    const editor = await s.signInAs("admin");
    const id = await publish(editor, `Returns ${TRICKS[0]} ${TRICKS[3]}`, ARTICLE);
    // A row rendered by an older, weaker sanitizer: the page must not trust stored HTML either.
    const legacy = await publish(editor, "Legacy", "legacy");
    await s.rt.core.db
      .update(articles)
      .set({
        bodyHtml: `<p><a href="javascript:alert('legacy')">x</a><img src=x onerror="alert('legacy-img')"><script>alert('legacy-script')</script></p>`,
      })
      .where(eq(articles.id, legacy));

    const { page, dialogs, close } = await trappedPage();
    for (const article of [id, legacy]) {
      const res = await page.goto(`${s.url}/help/${slug}/articles/${article}`);
      expect(res!.status()).toBe(200);
      expect(res!.headers()["content-security-policy"]).toMatch(/default-src 'none'.*frame-ancestors 'none'/);
      await page.locator("article").waitFor();
      expect(await page.evaluate(dangerIn, { selector: "article" })).toEqual({ found: [], roots: 1, xss: 0 });
    }
    // Even a script that got into the page would not run: the policy forbids inline script.
    const violations = page.evaluate(
      () =>
        new Promise<string>((resolve) =>
          document.addEventListener("securitypolicyviolation", (e) => resolve(e.violatedDirective), { once: true }),
        ),
    );
    await page.evaluate(() => {
      const script = document.createElement("script");
      script.textContent = "alert('injected')";
      document.body.append(script);
    });
    expect(await violations).toMatch(/^script-src/);
    await page.goto(`${s.url}/help/${slug}/search?q=${encodeURIComponent(HOSTILE)}`);
    expect(await page.evaluate(dangerIn, { selector: "main" })).toEqual({ found: [], roots: 1, xss: 0 });
    expect(dialogs).toEqual([]);
    await close();
  });

  it("agent inbox: hostile contact names, chat messages, email subjects and HTML bodies show as text", async () => {
    const session = await api(`${s.url}/widget/v1/sessions`, {
      body: { inboxKey: s.inbox.publicKey, name: HOSTILE.slice(0, 200) },
    });
    expect(session.status).toBe(200);
    const chat = await api(`${s.url}/widget/v1/messages`, {
      token: session.body.visitorToken,
      body: { text: HOSTILE },
    });
    expect(chat.status).toBe(201);
    const email = await ingestInbound(s.rt.core, s.workspaceId, {
      channel: "email",
      channelAccountId: s.inbox.id,
      externalId: `xss-${crypto.randomUUID()}`,
      from: { kind: "email", value: `xss-${crypto.randomUUID().slice(0, 8)}@example.test`, displayName: TRICKS[0] },
      // The HTML as a hostile sender wrote it, not even sanitized: the inbox must show it inert.
      html: `<p>${HOSTILE}</p>`,
      data: { subject: HOSTILE, from: TRICKS[9] },
    });
    const editor = await s.signInAs("admin");
    const articleId = await publish(editor, "Inbox preview", ARTICLE);

    const { page, dialogs, close } = await trappedPage();
    await signIn(page, s.url, s.admin.email, s.admin.password);
    for (const conversationId of [chat.body.conversationId as string, email.conversation.id]) {
      await page.goto(`${s.url}/app/#/inbox/all/${conversationId}`);
      // The chat message's text, the email's subject: shown as written.
      await page.getByTestId("timeline-item").filter({ hasText: "<svg onload=\"alert('svg')\">" }).first().waitFor();
      expect(await page.evaluate(dangerIn, { selector: "[data-testid=conversation]" })).toEqual({
        found: [],
        roots: 1,
        xss: 0,
      });
      expect(await page.evaluate(dangerIn, { selector: "[data-testid=conversation-list]" })).toEqual({
        found: [],
        roots: 1,
        xss: 0,
      });
    }
    // The article editor's preview is the one place the inbox shows HTML.
    await page.goto(`${s.url}/app/#/knowledge/${articleId}`);
    await page.getByTestId("kb-preview").locator("h1", { hasText: "Returns" }).waitFor();
    expect(await page.evaluate(dangerIn, { selector: "[data-testid=kb-preview]" })).toEqual({
      found: [],
      roots: 1,
      xss: 0,
    });
    expect(dialogs).toEqual([]);
    await close();
  });

  it("widget: hostile agent replies, agent names and article titles show as text", async () => {
    const editor = await s.signInAs("admin");
    await publish(editor, `Parcel tracking ${TRICKS[0]}`, `Track your parcel. ${HOSTILE}`);
    const agent = await s.signInAs("admin", TRICKS[1]);
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey, { initScript: TRAP });
    const dialogs: string[] = [];
    visitor.page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const conversationId = await visitor.send("hello, where is my parcel?");
    const reply = await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, {
      token: agent,
      body: { text: `${HOSTILE} https://example.com/ok` },
    });
    expect(reply.status).toBe(201);
    await visitor.messages().filter({ hasText: "alert('img')" }).first().waitFor();
    // Article suggestions while the visitor types.
    await visitor.page.getByTestId("switchboard-input").pressSequentially("parcel", { delay: 20 });
    await visitor.page.getByTestId("switchboard-article").first().waitFor();
    const danger = await visitor.page.evaluate(dangerIn, {
      selector: "[data-testid=switchboard-panel]",
      shadowHost: "switchboard-widget",
    });
    expect(danger).toEqual({ found: [], roots: 1, xss: 0 });
    expect(dialogs).toEqual([]);
    await visitor.close();
  });
});
