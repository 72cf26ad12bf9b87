import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { ingestInbound } from "../../../conversations/conversation.ts";
import { launchChromium, openWidget, signIn } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

let s: TestServer;
let browser: Browser;
const SETUP_MS = 60_000;

beforeAll(async () => {
  s = await startTestServer();
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

  it("shows an agent suggested articles for the customer's message and inserts the summary into the reply", async () => {
    const editor = await s.signInAs("knowledge_editor");
    await api(`${s.url}/api/v1/knowledge/articles`, { token: editor, body: { title: "如何申请退款", summary: "签收后 30 天内可申请退款。", body: "在订单详情页点击申请退款。", locale: "zh-CN", status: "published" } });
    const r = await ingestInbound(s.rt.core, s.workspaceId, { channel: "webchat", channelAccountId: s.inbox.id, externalId: "kb-ui-1", from: { kind: "visitor", value: "kb-ui" }, text: "我想申请退款" });
    const page = await pageAs(s.agent.email);
    await page.goto(`${s.url}/app/#/inbox/all/${r.conversation.id}`);
    const panel = page.getByTestId("kb-suggestions");
    await panel.getByText("如何申请退款").waitFor();
    await panel.getByTestId("kb-insert-summary").first().click();
    await page.waitForFunction(() => (document.querySelector("[data-testid=composer-input]") as HTMLTextAreaElement | null)?.value.includes("签收后 30 天内可申请退款"));
    await page.context().close();
  });

  it("shows a visitor public articles while they type in the widget, never agents-only ones", async () => {
    const editor = await s.signInAs("knowledge_editor");
    await api(`${s.url}/api/v1/knowledge/articles`, { token: editor, body: { title: "Battery care tips", body: "Charge the battery to 80 percent.", locale: "en", status: "published" } });
    await api(`${s.url}/api/v1/knowledge/articles`, { token: editor, body: { title: "Battery recall (internal)", body: "Battery recall steps for agents.", locale: "en", status: "published", visibility: "agents" } });
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
});
