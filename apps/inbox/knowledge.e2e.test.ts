import { afterAll, beforeAll, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { workspaces } from "../../db/schema/index.ts";
import { api, startTestServer, type TestServer } from "../../test/server.ts";

let s: TestServer;
let admin: string;
let agent: string;
let editor: string;
let slug: string;

beforeAll(async () => {
  s = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  agent = await s.login(s.agent.email, s.agent.password);
  editor = await s.signInAs("knowledge_editor");
  const [ws] = await s.rt.core.db
    .select({ slug: workspaces.slug })
    .from(workspaces)
    .where(eq(workspaces.id, s.workspaceId));
  slug = ws!.slug!;
}, 60_000);
afterAll(async () => {
  await s.stop();
});

const url = (path: string) => `${s.url}/api/v1/knowledge${path}`;
const publish = (token: string, a: Record<string, unknown>) =>
  api(url("/articles"), { token, body: { status: "published", locale: "en", ...a } });
const html = async (path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${s.url}${path}`, { headers });
  return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
};

it("lets editors and admins create articles ({title, body, locale, status} → {id}) and agents search them", async () => {
  const created = await publish(editor, {
    title: "Refund within 30 days",
    body: "Ask for a **refund** from your order page.",
    locale: "en",
  });
  expect(created.status).toBe(201);
  expect(created.body.id).toMatch(/^[0-9a-f-]{36}$/);
  const zh = await publish(admin, { title: "如何申请退款", body: "在订单详情页点击申请退款。", locale: "zh-CN" });
  expect(zh.status).toBe(201);

  const found = await api(url(`/search?q=${encodeURIComponent("退款")}`), { token: agent });
  expect(found.status).toBe(200);
  expect(found.body.items[0]).toMatchObject({
    id: zh.body.id,
    title: "如何申请退款",
    snippet: expect.any(String),
    score: expect.any(Number),
  });
  const en = await api(url("/search?q=refunds&locale=en"), { token: agent });
  expect(en.body.items.map((i: any) => i.id)).toEqual([created.body.id]);
});

it("refuses writes from agents and anonymous callers, and names the bad field", async () => {
  expect((await publish(agent, { title: "x", body: "y" })).status).toBe(403);
  expect((await api(url("/articles"), { body: { title: "x", body: "y", locale: "en", status: "draft" } })).status).toBe(
    401,
  );
  expect((await api(url("/search?q=refund"))).status).toBe(401);
  const noTitle = await publish(editor, { body: "y" });
  expect(noTitle).toMatchObject({ status: 400, body: { error: { code: "invalid", field: "title" } } });
  const badStatus = await publish(editor, { title: "t", body: "y", status: "live" });
  expect(badStatus).toMatchObject({ status: 400, body: { error: { field: "status" } } });
  const badLocale = await publish(editor, { title: "t", body: "y", locale: "english!" });
  expect(badLocale).toMatchObject({ status: 400, body: { error: { field: "locale" } } });
});

it("keeps the search limit between 1 and 50, 10 by default, best first", async () => {
  for (let i = 0; i < 12; i++)
    await publish(editor, { title: `Shipping times ${i}`, body: `Parcels ship within ${i + 1} days.` });
  expect((await api(url("/search?q=shipping"), { token: agent })).body.items.length).toBe(10);
  expect((await api(url("/search?q=shipping&limit=3"), { token: agent })).body.items.length).toBe(3);
  const many = await api(url("/search?q=shipping&limit=500"), { token: agent });
  expect(many.status).toBe(200);
  expect(many.body.items.length).toBe(12);
  const scores = many.body.items.map((i: any) => i.score);
  expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  expect((await api(url("/search?q=shipping&limit=abc"), { token: agent })).body.error.field).toBe("limit");
});

it("answers 1-character, 10,000-character and syntax-laden queries without an error", async () => {
  expect((await api(url("/search?q=r"), { token: agent })).body).toEqual({ items: [] });
  const long = await api(url(`/search?q=${"refund%20".repeat(1400).slice(0, 10_000)}`), { token: agent });
  expect(long.status).toBe(200);
  const odd = await api(url(`/search?q=${encodeURIComponent("refund') & !(:* | <->")}`), { token: agent });
  expect(odd.status).toBe(200);
  expect(odd.body.items.length).toBeGreaterThan(0);
  expect((await api(url(`/search?q=${"x".repeat(10_001)}`), { token: agent })).body.error.field).toBe("q");
});

it("sanitizes scripts in bodies and refuses a body over the size limit with 413", async () => {
  const a = await publish(editor, {
    title: "Scripted",
    body: "Hello <script>alert(1)</script> [x](javascript:alert(2))",
  });
  const got = await api(url(`/articles/${a.body.id}`), { token: agent });
  expect(got.body.bodyHtml).not.toMatch(/<script|javascript:/);
  const page = await html(`/help/${slug}/articles/${a.body.id}`);
  expect(page.text).not.toContain("<script>alert(1)");
  expect(page.text).toContain("&#60;script&#62;");
  const huge = await publish(editor, { title: "Huge", body: "x".repeat(1024 * 1024) });
  expect(huge).toMatchObject({ status: 413, body: { error: { code: "too_large" } } });
  const large = await publish(editor, { title: "Large", body: "word ".repeat(110_000) });
  expect(large.status).toBe(400);
  expect(large.body.error.field).toBe("body");
});

it("saves every change as a version, diffs two versions and restores an old one as a new version", async () => {
  const a = await publish(editor, { title: "Return policy", body: "Returns within 14 days.\nKeep the receipt." });
  const id = a.body.id;
  const v2 = await api(url(`/articles/${id}`), {
    method: "PUT",
    token: editor,
    body: { body: "Returns within 30 days.\nKeep the receipt.", note: "longer window" },
  });
  // A save names only what changed: the rest (published, locale) stays as it was.
  expect(v2).toMatchObject({
    status: 200,
    body: { version: 2, status: "published", locale: "en", title: "Return policy" },
  });
  expect((await api(url(`/articles/${id}`), { method: "PUT", token: agent, body: { title: "hacked" } })).status).toBe(
    403,
  );
  const versions = await api(url(`/articles/${id}/versions`), { token: agent });
  expect(versions.body.items.map((v: any) => [v.version, v.note])).toEqual([
    [2, "longer window"],
    [1, null],
  ]);
  const diff = await api(url(`/articles/${id}/diff?from=1&to=2`), { token: editor });
  expect(diff.body.body).toEqual([
    { op: "remove", text: "Returns within 14 days." },
    { op: "add", text: "Returns within 30 days." },
    { op: "same", text: "Keep the receipt." },
  ]);
  const restored = await api(url(`/articles/${id}/versions/1/restore`), { method: "POST", token: editor });
  expect(restored).toMatchObject({
    status: 200,
    body: { version: 3, body: "Returns within 14 days.\nKeep the receipt." },
  });
  expect((await api(url(`/articles/${id}/versions`), { token: editor })).body.items[0]).toMatchObject({
    version: 3,
    note: "Restored version 1",
  });
  // The search index follows the restore: 30 is gone, 14 is back.
  const hits = await api(url("/search?q=returns"), { token: agent });
  expect(hits.body.items.find((i: any) => i.id === id).snippet).toContain("14 days");
  expect((await api(url(`/articles/${id}/versions/9/restore`), { method: "POST", token: editor })).status).toBe(404);
});

it("brings an article's category back with a restored version, unless that category is gone", async () => {
  const shipping = await api(url("/categories"), {
    token: editor,
    body: { name: "Shipping", slug: `ship-${crypto.randomUUID().slice(0, 6)}` },
  });
  const billing = await api(url("/categories"), {
    token: editor,
    body: { name: "Billing", slug: `bill-${crypto.randomUUID().slice(0, 6)}` },
  });
  const a = await publish(editor, { title: "Delivery times", body: "Two to five days.", categoryId: shipping.body.id });
  const id = a.body.id;
  await api(url(`/articles/${id}`), { method: "PUT", token: editor, body: { categoryId: billing.body.id } });
  const back = await api(url(`/articles/${id}/versions/1/restore`), { method: "POST", token: editor });
  expect(back.body).toMatchObject({ version: 3, categoryId: shipping.body.id });
  // The version's category deleted since: the article stays in the one it has.
  await api(url(`/articles/${id}`), { method: "PUT", token: editor, body: { categoryId: billing.body.id } });
  expect((await api(url(`/categories/${shipping.body.id}`), { method: "DELETE", token: editor })).status).toBe(200);
  const kept = await api(url(`/articles/${id}/versions/1/restore`), { method: "POST", token: editor });
  expect(kept).toMatchObject({ status: 200, body: { categoryId: billing.body.id, body: "Two to five days." } });
});

it("keeps a category tree: editors rename, move (never into a loop) and delete, and nothing in a deleted category is lost", async () => {
  const make = (body: object) => api(url("/categories"), { token: editor, body });
  const billing = await make({ name: "Billing", slug: "cat-billing" });
  const refunds = await make({ name: "Refunds", slug: "cat-refunds", parentId: billing.body.id });
  const cards = await make({ name: "Cards", slug: "cat-cards", parentId: refunds.body.id });
  expect([billing.status, refunds.status, cards.status]).toEqual([201, 201, 201]);
  expect((await api(url("/categories"), { token: agent, body: { name: "X", slug: "cat-x" } })).status).toBe(403);

  const renamed = await api(url(`/categories/${refunds.body.id}`), {
    method: "PATCH",
    token: editor,
    body: { name: "Refunds and returns" },
  });
  expect(renamed.body).toMatchObject({ name: "Refunds and returns", parentId: billing.body.id });
  const loop = await api(url(`/categories/${billing.body.id}`), {
    method: "PATCH",
    token: editor,
    body: { parentId: cards.body.id },
  });
  expect(loop.status).toBe(400);
  expect(loop.body.error.field).toBe("parentId");
  const taken = await api(url(`/categories/${cards.body.id}`), {
    method: "PATCH",
    token: editor,
    body: { slug: "cat-billing" },
  });
  expect(taken.body.error.field).toBe("slug");
  const empty = await api(url(`/categories/${cards.body.id}`), { method: "PATCH", token: editor, body: {} });
  expect(empty.status).toBe(400);
  expect(
    (await api(url(`/categories/${cards.body.id}`), { method: "PATCH", token: editor, body: { name: "" } })).body.error
      .field,
  ).toBe("name");
  const moved = await api(url(`/categories/${cards.body.id}`), {
    method: "PATCH",
    token: editor,
    body: { parentId: null },
  });
  expect(moved.body.parentId).toBeNull();
  expect(
    (await api(url(`/categories/${cards.body.id}`), { method: "PATCH", token: agent, body: { name: "Mine" } })).status,
  ).toBe(403);

  const article = await publish(editor, {
    title: "Partial refund for a damaged item",
    body: "We refund part of the price.",
    categoryId: refunds.body.id,
  });
  const inCategory = (id: string) =>
    api(url(`/search?q=partial+refund&categoryId=${id}`), { token: agent }).then((r) =>
      r.body.items.map((i: any) => i.id),
    );
  expect(await inCategory(refunds.body.id)).toEqual([article.body.id]);
  // Its articles and subcategories move up to the parent, the search index with them.
  await make({ name: "Chargebacks", slug: "cat-chargebacks", parentId: refunds.body.id });
  expect((await api(url(`/categories/${refunds.body.id}`), { method: "DELETE", token: editor })).status).toBe(200);
  const all = (await api(url("/categories"), { token: agent })).body.items;
  expect(all.find((c: any) => c.id === refunds.body.id)).toBeUndefined();
  expect(all.find((c: any) => c.slug === "cat-chargebacks").parentId).toBe(billing.body.id);
  expect((await api(url(`/articles/${article.body.id}`), { token: agent })).body.categoryId).toBe(billing.body.id);
  expect(await inCategory(billing.body.id)).toEqual([article.body.id]);
  expect(await inCategory(refunds.body.id)).toEqual([]);
  expect((await api(url(`/categories/${refunds.body.id}`), { method: "DELETE", token: editor })).status).toBe(404);
});

it("links translations of one article", async () => {
  const en = await publish(editor, { title: "Gift cards", body: "Gift cards never expire." });
  const zh = await publish(editor, {
    title: "礼品卡",
    body: "礼品卡永久有效。",
    locale: "zh-CN",
    translationOf: en.body.id,
  });
  const got = await api(url(`/articles/${en.body.id}`), { token: agent });
  expect(got.body.translations).toEqual([
    { id: zh.body.id, locale: "zh-CN", title: "礼品卡", status: "published", visibility: "public" },
  ]);
});

it("serves the help center: only published public articles in search, article pages with votes, a sitemap", async () => {
  const pub = await publish(editor, {
    title: "Warranty claims",
    summary: "Two years of warranty.",
    body: "Every device has a two-year warranty.",
  });
  const internal = await publish(editor, {
    title: "Warranty exceptions for agents",
    body: "Agents may extend the warranty.",
    visibility: "agents",
  });
  const draft = await publish(editor, { title: "Warranty draft", body: "Draft warranty text.", status: "draft" });

  const search = await html(`/help/${slug}/search?q=warranty`);
  expect(search.status).toBe(200);
  expect(search.type).toContain("text/html");
  expect(search.text).toContain(`/help/${slug}/articles/${pub.body.id}`);
  expect(search.text).not.toContain(internal.body.id);
  expect(search.text).not.toContain(draft.body.id);
  expect(search.text).toContain("<mark>");
  expect(search.text).toContain('rel="canonical"');
  // Agents see both through the API.
  const agentHits = (await api(url("/search?q=warranty"), { token: agent })).body.items.map((i: any) => i.id);
  expect(agentHits).toEqual(expect.arrayContaining([pub.body.id, internal.body.id]));

  expect((await html(`/help/${slug}/articles/${internal.body.id}`)).status).toBe(404);
  const article = await html(`/help/${slug}/articles/${pub.body.id}`);
  expect(article.text).toContain("<title>Warranty claims");
  expect(article.text).toContain('<meta name="description" content="Two years of warranty.">');

  const vote = await fetch(`${s.url}/help/${slug}/articles/${pub.body.id}/vote`, {
    method: "POST",
    body: new URLSearchParams({ helpful: "yes" }),
    redirect: "manual",
  });
  expect(vote.status).toBe(303);
  const after = await api(url(`/articles/${pub.body.id}`), { token: editor });
  expect(after.body).toMatchObject({ views: 1, helpfulYes: 1, helpfulNo: 0 });

  const zhHome = await html(`/help/${slug}`, { "accept-language": "zh-CN,zh;q=0.9" });
  expect(zhHome.text).toContain("帮助中心");
  const sitemap = await html(`/help/${slug}/sitemap.xml`);
  expect(sitemap.type).toContain("xml");
  expect(sitemap.text).toContain(`/help/${slug}/articles/${pub.body.id}`);
  expect(sitemap.text).not.toContain(internal.body.id);
  expect((await html(`/help/no-such-workspace/search?q=x`)).status).toBe(404);
  expect((await html(`/help/${slug}/search?q=${encodeURIComponent("<script>x</script>")}`)).text).not.toContain(
    "<script>x",
  );
});

it("answers help-center addresses that lead nowhere with a localized HTML 404 page, home link and search box; the API keeps JSON", async () => {
  const draft = await api(url("/articles"), {
    token: editor,
    body: { title: "Unpublished plans", body: "Soon.", locale: "en" },
  });
  const cases = [
    { path: `/help/${slug}/articles/${draft.body.id}`, en: "This article does not exist", zh: "该文章不存在" },
    { path: `/help/${slug}/articles/not-a-uuid`, en: "This article does not exist", zh: "该文章不存在" },
    { path: `/help/${slug}/categories/no-such-category`, en: "This category does not exist", zh: "该分类不存在" },
    { path: `/help/${slug}/no/such/page`, en: "There is no page at this address", zh: "这个地址没有页面" },
  ];
  for (const { path, en, zh } of cases) {
    const page = await html(path);
    expect(page.status).toBe(404);
    expect(page.type).toContain("text/html");
    expect(page.text).toContain(en);
    expect(page.text).toContain('<html lang="en">');
    expect(page.text).toContain(`<a href="/help/${slug}?lang=en">Back to the help center home</a>`);
    expect(page.text).toMatch(new RegExp(`<form class="search" action="/help/${slug}/search"[^>]*>`));
    const chinese = await html(path, { "accept-language": "zh-CN,zh;q=0.9" });
    expect(chinese.status).toBe(404);
    expect(chinese.text).toContain(zh);
    expect(chinese.text).toContain("返回帮助中心首页");
    expect(chinese.text).toContain('placeholder="搜索文章…"');
  }
  const vote = await fetch(`${s.url}/help/${slug}/articles/${draft.body.id}/vote`, {
    method: "POST",
    body: new URLSearchParams({ helpful: "yes" }),
    redirect: "manual",
  });
  expect(vote.status).toBe(404);
  expect(vote.headers.get("content-type")).toContain("text/html");

  const unknown = await html("/help/no-such-help-center?lang=zh-CN");
  expect(unknown.status).toBe(404);
  expect(unknown.type).toContain("text/html");
  expect(unknown.text).toContain("这个地址没有帮助中心");
  expect(unknown.text).toContain('<a href="/">');
  expect((await html("/help/no-such-help-center/articles/00000000-0000-0000-0000-000000000000")).text).toContain(
    "There is no help center at this address",
  );

  // The API under /api keeps its JSON errors.
  const apiMissing = await api(url("/articles/00000000-0000-0000-0000-000000000000"), { token: agent });
  expect(apiMissing.status).toBe(404);
  expect(apiMissing.body.error.code).toBe("not_found");
});

it("lists searches that found nothing as knowledge gaps, with counts, for editors", async () => {
  await html(`/help/${slug}/search?q=${encodeURIComponent("Cancel subscription")}`);
  await html(`/help/${slug}/search?q=${encodeURIComponent("cancel subscription ")}`);
  await api(url("/search?q=cancel%20subscription"), { token: agent });
  const gaps = await api(url("/gaps"), { token: editor });
  expect(gaps.body.items).toContainEqual(
    expect.objectContaining({ query: "cancel subscription", kind: "search_empty", count: 3 }),
  );
  expect((await api(url("/gaps"), { token: agent })).status).toBe(403);
});

it("suggests articles for the customer's latest messages and records an insertion of summary or link", async () => {
  const { ingestInbound } = await import("../../conversations/ingest.ts");
  const a = await publish(editor, {
    title: "Lost parcel claims",
    summary: "File a claim if the parcel is lost.",
    body: "If your parcel is lost in transit, file a claim from your order page.",
  });
  const r = await ingestInbound(s.rt.core, s.workspaceId, {
    channel: "webchat",
    channelAccountId: s.inbox.id,
    externalId: `kb-${Date.now()}`,
    from: { kind: "visitor", value: "kb-visitor" },
    text: "Hi, my parcel seems lost, what can I do?",
  });
  const sug = await api(`${s.url}/api/v1/conversations/${r.conversation.id}/knowledge`, { token: agent });
  expect(sug.status).toBe(200);
  expect(sug.body.question).toContain("parcel seems lost");
  expect(sug.body.items[0]).toMatchObject({ id: a.body.id, title: "Lost parcel claims" });

  const summary = await api(url(`/articles/${a.body.id}/insertions`), {
    token: agent,
    body: { conversationId: r.conversation.id, as: "summary" },
  });
  expect(summary.body.text).toBe("File a claim if the parcel is lost.");
  const link = await api(url(`/articles/${a.body.id}/insertions`), {
    token: agent,
    body: { conversationId: r.conversation.id, as: "link" },
  });
  expect(link.body.text).toBe(`Lost parcel claims: ${s.url}/help/${slug}/articles/${a.body.id}`);
  const report = await api(url("/report"), { token: editor });
  expect(report.body.articles.find((x: any) => x.articleId === a.body.id).counts.insert).toBe(2);
  // Knowledge editors see no conversations (no conversations.read), so they get no suggestions for one.
  expect((await api(`${s.url}/api/v1/conversations/${r.conversation.id}/knowledge`, { token: editor })).status).toBe(
    403,
  );
});

it("lets agents suggest an edit that editors read, and nobody but editors change the article", async () => {
  const a = await publish(editor, { title: "Opening hours", body: "We answer 9–17." });
  expect(
    (
      await api(url(`/articles/${a.body.id}/suggestions`), {
        token: agent,
        body: { text: "We now answer until 20:00 on weekdays." },
      })
    ).status,
  ).toBe(201);
  expect(
    (await api(url(`/articles/${a.body.id}/suggestions`), { token: agent, body: { text: "  " } })).body.error.field,
  ).toBe("text");
  const list = await api(url(`/articles/${a.body.id}/suggestions`), { token: editor });
  expect(list.body.items.map((i: any) => i.detail)).toEqual(["We now answer until 20:00 on weekdays."]);
  expect((await api(url(`/articles/${a.body.id}/suggestions`), { token: agent })).status).toBe(403);
});
