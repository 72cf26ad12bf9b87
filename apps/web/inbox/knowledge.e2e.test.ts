import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { eq } from "drizzle-orm";
import { ingestInbound } from "../../../conversations/ingest.ts";
import { workspaces } from "../../../db/schema/index.ts";
import { launchChromium, openWidget, signIn } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

let s: TestServer;
let browser: Browser;
const SETUP_MS = 60_000;

beforeAll(async () => {
  // Help-center readers are told apart by address (behind a proxy here): one view per reader and window.
  s = await startTestServer({ env: { TRUST_PROXY: "1" } });
  browser = await launchChromium();
}, SETUP_MS);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, SETUP_MS);

async function pageAs(email: string) {
  const page: Page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await signIn(page, s.url, email, s.admin.password);
  return page;
}

describe("knowledge base in the browser", () => {
  it("lets an editor write an article with a live preview, save with Ctrl+S, and restore an old version", async () => {
    const page = await pageAs(s.admin.email);
    await page.getByRole("link", { name: "Knowledge" }).click();
    await page.getByTestId("kb-new").click();
    await page.getByTestId("kb-title").fill("Exchange a wrong size");
    await page.getByTestId("kb-summary").fill("Exchange within 30 days.");
    await page.getByTestId("kb-body").fill("## Exchanges\n\nSend it back **unworn** <script>alert(1)</script>");
    await page.getByTestId("kb-preview").locator("strong", { hasText: "unworn" }).waitFor();
    expect(await page.getByTestId("kb-preview").innerHTML()).not.toContain("<script>");
    await page.getByTestId("kb-status").selectOption("published");
    await page.getByTestId("kb-body").press("Control+s");
    await page.getByText("Saved as version 1.").waitFor();
    await page.waitForURL(/#\/knowledge\/[0-9a-f-]{36}$/);

    await page.getByTestId("kb-title").fill("Exchange a wrong size or colour");
    await page.getByTestId("kb-save").click();
    await page.getByText("Saved as version 2.").waitFor();
    await page.getByTestId("kb-restore-1").click();
    await page.getByText("Version 1 restored as a new version.").waitFor();
    expect(await page.getByTestId("kb-title").inputValue()).toBe("Exchange a wrong size");
    await page.getByTestId("kb-version").nth(2).waitFor();
    expect(await page.getByTestId("kb-version").count()).toBe(3);
    await page.context().close();
  });

  it("lets an editor build the category tree — add, rename, move, delete — and file an article in it", async () => {
    const page = await pageAs(s.admin.email);
    page.on("dialog", (d) => void d.accept());
    await page.goto(`${s.url}/app/#/knowledge/categories`);
    const tree = page.getByTestId("kb-categories");
    const add = async (name: string, slug: string, parent?: string) => {
      await tree.getByTestId("kb-cat-name").fill(name);
      await tree.getByTestId("kb-cat-slug").fill(slug);
      await tree.getByTestId("kb-cat-parent").selectOption(parent ? { label: parent } : { value: "" });
      await tree.getByTestId("kb-cat-add").click();
      await tree.locator(`[data-testid=kb-category][data-name="${name}"]`).waitFor();
    };
    const item = (name: string) => tree.locator(`[data-testid=kb-category][data-name="${name}"]`);
    await add("Shipping", "ui-shipping");
    await add("Billing", "ui-billing");
    await add("Refunds", "ui-refunds", "Billing");
    expect(await item("Refunds").getAttribute("aria-level")).toBe("2");

    await item("Refunds").getByTestId("kb-cat-rename").click();
    await tree.getByTestId("kb-cat-rename-input").fill("Refunds and returns");
    await tree.getByTestId("kb-cat-rename-input").press("Enter");
    await item("Refunds and returns").waitFor();
    // A category's own subtree is not offered as its new parent.
    const moveBilling = item("Billing").getByTestId("kb-cat-move");
    expect(await moveBilling.locator("option").allTextContents()).not.toContain("\u00a0\u00a0Refunds and returns");
    await item("Refunds and returns").getByTestId("kb-cat-move").selectOption({ label: "Shipping" });
    await page.waitForFunction(
      () =>
        document
          .querySelector('[data-testid=kb-category][data-name="Refunds and returns"]')
          ?.getAttribute("aria-level") === "2" &&
        document
          .querySelector('[data-testid=kb-category][data-name="Refunds and returns"]')
          ?.previousElementSibling?.getAttribute("data-name") === "Shipping",
    );

    await item("Billing").getByTestId("kb-cat-delete").click();
    await item("Billing").waitFor({ state: "detached" });
    expect(await tree.getByTestId("kb-category").count()).toBe(2);

    // Filing an article: the editor's category picker shows the tree.
    await page.getByTestId("kb-new").click();
    await page.getByTestId("kb-title").fill("Return labels");
    await page.getByTestId("kb-body").fill("Print the label from your order page.");
    await page.getByTestId("kb-category-select").selectOption({ label: "\u00a0\u00a0Refunds and returns" });
    await page.getByTestId("kb-save").click();
    await page.getByText("Saved as version 1.").waitFor();
    const id = page.url().split("/").pop()!;
    const token = await s.signInAs("knowledge_editor");
    const article = await api(`${s.url}/api/v1/knowledge/articles/${id}`, { token });
    const categories = (await api(`${s.url}/api/v1/knowledge/categories`, { token })).body.items;
    expect(categories.find((c: any) => c.id === article.body.categoryId)?.name).toBe("Refunds and returns");
    await page.context().close();
  });

  it("shows what changed between a version and the current one, or any two, and restores from there", async () => {
    const token = await s.signInAs("knowledge_editor");
    const created = await api(`${s.url}/api/v1/knowledge/articles`, {
      token,
      body: { title: "Opening hours", body: "Mon–Fri 9–17\nSat closed\nSun closed", locale: "en" },
    });
    const id = created.body.id;
    await api(`${s.url}/api/v1/knowledge/articles/${id}`, {
      method: "PUT",
      token,
      body: { body: "Mon–Fri 9–18\nSat closed\nSun closed" },
    });
    await api(`${s.url}/api/v1/knowledge/articles/${id}`, {
      method: "PUT",
      token,
      body: { title: "Opening hours and holidays", body: "Mon–Fri 9–18\nSat 10–14\nSun closed" },
    });
    const page = await pageAs(s.admin.email);
    await page.goto(`${s.url}/app/#/knowledge/${id}`);
    await page.getByTestId("kb-compare-1").click();
    const diff = page.getByTestId("kb-diff");
    await diff.getByText("Changes from version 1 to version 3").waitFor();
    expect(await diff.getByTestId("kb-diff-remove").allTextContents()).toEqual(["- Mon–Fri 9–17\n", "- Sat closed\n"]);
    expect(await diff.getByTestId("kb-diff-add").allTextContents()).toEqual(["+ Mon–Fri 9–18\n", "+ Sat 10–14\n"]);
    expect(await diff.getByTestId("kb-diff-title").innerText()).toContain("Opening hours and holidays");
    expect(await diff.locator("ins").count()).toBeGreaterThan(0);

    // Two old versions against each other.
    await page.getByTestId("kb-diff-to").selectOption("2");
    await diff.getByText("Changes from version 1 to version 2").waitFor();
    expect(await diff.getByTestId("kb-diff-add").allTextContents()).toEqual(["+ Mon–Fri 9–18\n"]);
    expect(await diff.getByTestId("kb-diff-title").count()).toBe(0);

    // Restoring version 1 makes it current: compared with the new current version, nothing differs.
    await page.getByTestId("kb-compare-1").click();
    await page.getByTestId("kb-restore-1").click();
    await page.getByText("Version 1 restored as a new version.").waitFor();
    await diff.getByText("Changes from version 1 to version 4").waitFor();
    await diff.getByText("No differences.").waitFor();
    expect(await page.getByTestId("kb-body").inputValue()).toBe("Mon–Fri 9–17\nSat closed\nSun closed");
    await page.context().close();
  });

  it("shows an agent suggested articles for the customer's message and inserts the summary into the reply", async () => {
    const editor = await s.signInAs("knowledge_editor");
    await api(`${s.url}/api/v1/knowledge/articles`, {
      token: editor,
      body: {
        title: "如何申请退款",
        summary: "签收后 30 天内可申请退款。",
        body: "在订单详情页点击申请退款。",
        locale: "zh-CN",
        status: "published",
      },
    });
    const r = await ingestInbound(s.rt.core, s.workspaceId, {
      channel: "webchat",
      channelAccountId: s.inbox.id,
      externalId: "kb-ui-1",
      from: { kind: "visitor", value: "kb-ui" },
      text: "我想申请退款",
    });
    const page = await pageAs(s.agent.email);
    await page.goto(`${s.url}/app/#/inbox/all/${r.conversation.id}`);
    const panel = page.getByTestId("kb-suggestions");
    await panel.getByText("如何申请退款").waitFor();
    await panel.getByTestId("kb-insert-summary").first().click();
    await page.waitForFunction(() =>
      (document.querySelector("[data-testid=composer-input]") as HTMLTextAreaElement | null)?.value.includes(
        "签收后 30 天内可申请退款",
      ),
    );
    await page.context().close();
  });

  it("shows a visitor public articles while they type in the widget, never agents-only ones", async () => {
    const editor = await s.signInAs("knowledge_editor");
    await api(`${s.url}/api/v1/knowledge/articles`, {
      token: editor,
      body: {
        title: "Battery care tips",
        body: "Charge the battery to 80 percent.",
        locale: "en",
        status: "published",
      },
    });
    await api(`${s.url}/api/v1/knowledge/articles`, {
      token: editor,
      body: {
        title: "Battery recall (internal)",
        body: "Battery recall steps for agents.",
        locale: "en",
        status: "published",
        visibility: "agents",
      },
    });
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey);
    await visitor.page.getByTestId("switchboard-input").pressSequentially("battery", { delay: 20 });
    const link = visitor.page.getByTestId("switchboard-article");
    await link.first().waitFor();
    expect(await link.allTextContents()).toEqual(["Battery care tips"]);
    expect(await link.first().getAttribute("href")).toMatch(/\/help\/[a-z0-9-]+\/articles\/[0-9a-f-]{36}$/);
    // Sending the message clears the suggestions.
    await visitor.page.getByTestId("switchboard-input").press("Enter");
    await visitor.page.getByTestId("switchboard-articles").waitFor({ state: "hidden" });
    await visitor.close();
  });

  it("lets an agent suggest an edit that editors see on the article, and shows editors the gaps and what readers did", async () => {
    const admin = await api(`${s.url}/api/v1/auth/login`, {
      body: { email: s.admin.email, password: s.admin.password },
    });
    const token = admin.body.token as string;
    const made = await api(`${s.url}/api/v1/knowledge/articles`, {
      token,
      body: {
        title: "Track a parcel",
        body: "Use the tracking number from your email.",
        locale: "en",
        status: "published",
      },
    });
    expect(made.status).toBe(201);
    const [ws] = await s.rt.core.db
      .select({ slug: workspaces.slug })
      .from(workspaces)
      .where(eq(workspaces.id, s.workspaceId));
    // Readers: two readers' views of the article in the help center (the first reader's second view in
    // the same window does not count), one helpful vote, and a search that finds nothing.
    for (const reader of ["203.0.113.1", "203.0.113.2", "203.0.113.1"]) {
      const view = await fetch(`${s.url}/help/${ws!.slug}/articles/${made.body.id}`, {
        headers: { "x-forwarded-for": reader },
      });
      expect(view.status).toBe(200);
    }
    await fetch(`${s.url}/help/${ws!.slug}/articles/${made.body.id}/vote`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "helpful=yes",
      redirect: "manual",
    });
    await fetch(`${s.url}/help/${ws!.slug}/search?q=${encodeURIComponent("发票抬头怎么改")}`);

    const agent = await pageAs(s.agent.email);
    await agent.goto(`${s.url}/app/#/knowledge/${made.body.id}`);
    await agent.getByTestId("kb-suggest-text").fill("Mention that tracking starts a day after shipping.");
    await agent.getByTestId("kb-suggest-send").click();
    await agent.getByText("Sent to the knowledge editors.").waitFor();
    // Agents have no insights screen.
    expect(await agent.getByTestId("kb-insights-link").count()).toBe(0);
    await agent.context().close();

    const editor = await pageAs(s.admin.email);
    await editor.goto(`${s.url}/app/#/knowledge/${made.body.id}`);
    const suggestion = editor.getByTestId("kb-edit-suggestion");
    await suggestion.filter({ hasText: "Mention that tracking starts a day after shipping." }).waitFor();
    expect(await suggestion.textContent()).toContain("Agent Ann");
    expect(await editor.getByTestId("kb-suggest").count()).toBe(0);

    await editor.getByTestId("kb-insights-link").click();
    await editor
      .getByTestId("kb-gap")
      .filter({ hasText: "发票抬头怎么改" })
      .filter({ hasText: "Search found nothing" })
      .waitFor();
    const row = editor.locator(`[data-testid=kb-report-row][data-article-id="${made.body.id}"]`);
    await row.waitFor();
    expect(await row.locator("[data-column=view]").textContent()).toBe("2");
    expect(await row.locator("[data-column=vote_up]").textContent()).toBe("1");
    await editor.getByTestId("kb-insights-period").selectOption("7");
    await row.waitFor();
    await editor.context().close();
  });

  it("lets an editor translate an article: a linked draft in the other language, and each lists the other", async () => {
    const token = (
      await api(`${s.url}/api/v1/auth/login`, { body: { email: s.admin.email, password: s.admin.password } })
    ).body.token as string;
    const made = await api(`${s.url}/api/v1/knowledge/articles`, {
      token,
      body: {
        title: "Change your delivery address",
        body: "Open the order and choose Edit address.",
        locale: "en",
        status: "published",
      },
    });
    const page = await pageAs(s.admin.email);
    await page.goto(`${s.url}/app/#/knowledge/${made.body.id}`);
    await page.getByTestId("kb-translate-zh-CN").click();
    await page.waitForURL((u) => /#\/knowledge\/[0-9a-f-]{36}$/.test(u.hash) && !u.hash.endsWith(made.body.id));
    await page.getByTestId("kb-translation").filter({ hasText: "Change your delivery address" }).waitFor();
    expect(await page.getByTestId("kb-locale").inputValue()).toBe("zh-CN");
    expect(await page.getByTestId("kb-status").inputValue()).toBe("draft");
    // Already translated both ways: no button for a language it has.
    expect(await page.getByTestId("kb-translate-en").count()).toBe(0);
    await page.getByTestId("kb-title").fill("修改收货地址");
    await page.getByTestId("kb-save").click();
    await page.getByText("Saved as version 2.").waitFor();
    await page.goto(`${s.url}/app/#/knowledge/${made.body.id}`);
    await page.getByTestId("kb-translation").filter({ hasText: "修改收货地址" }).waitFor();
    expect(await page.getByTestId("kb-translate-zh-CN").count()).toBe(0);
    await page.context().close();
  });
});
