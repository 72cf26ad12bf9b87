import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

/** Debian's chromium; tests never download a browser. */
const CHROMIUM = {
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
};

let s: TestServer;
let browser: Browser;
let agentToken: string;
/** Starting the server migrates a fresh database, which takes longer than bun's default hook timeout. */
const SETUP_MS = 60_000;

beforeAll(async () => {
  s = await startTestServer();
  agentToken = await s.login(s.agent.email, s.agent.password);
  browser = await chromium.launch(CHROMIUM);
}, SETUP_MS);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, SETUP_MS);

async function whenReady(page: Page) {
  await page.waitForSelector("switchboard-widget[data-state=ready]", { state: "attached" });
}

/** The texts of the widget's messages, as the visitor sees them, with their direction. */
function messages(page: Page) {
  return page.getByTestId("switchboard-message").evaluateAll((els) => els.map((el) => [el.getAttribute("data-direction"), el.querySelector(".text")?.textContent]));
}

async function reply(conversationId: string, text: string) {
  const r = await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, { token: agentToken, body: { text } });
  expect(r.status).toBe(201);
}

describe("chat widget in a browser", () => {
  it("sends text literally, shows agent replies live, counts unread and restores history on reload", async () => {
    const page = await browser.newPage();
    await page.goto(`${s.url}/demo`);
    await whenReady(page);
    await page.evaluate(() => {
      const w = window as unknown as { Switchboard: { on(e: string, fn: (n: unknown) => void): void }; unreadSeen: unknown[] };
      w.unreadSeen = [];
      w.Switchboard.on("unread", (n) => w.unreadSeen.push(n));
    });

    await page.getByTestId("switchboard-bubble").click();
    await page.getByTestId("switchboard-panel").waitFor({ state: "visible" });
    const input = page.getByTestId("switchboard-input");
    await input.fill("hello <script>x</script>");
    const [posted] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/widget/v1/messages") && r.request().method() === "POST"),
      input.press("Enter"),
    ]);
    const { conversationId } = (await posted.json()) as { conversationId: string };
    const mine = page.getByTestId("switchboard-message").filter({ hasText: "hello <script>x</script>" });
    await mine.waitFor();
    expect(await mine.getAttribute("data-direction")).toBe("in");
    expect(await mine.locator("script").count()).toBe(0);
    expect(await input.inputValue()).toBe("");

    await reply(conversationId, "hi from agent");
    const agentMessage = page.getByTestId("switchboard-message").filter({ hasText: "hi from agent" });
    await agentMessage.waitFor();
    expect(await agentMessage.getAttribute("data-direction")).toBe("out");
    expect(await agentMessage.textContent()).toContain("Agent Ann");
    expect(await page.getByTestId("switchboard-unread").isVisible()).toBe(false);

    await page.getByTestId("switchboard-bubble").click();
    await page.getByTestId("switchboard-panel").waitFor({ state: "hidden" });
    await reply(conversationId, "still there?");
    const badge = page.getByTestId("switchboard-unread");
    await badge.waitFor({ state: "visible" });
    expect(await badge.textContent()).toBe("1");
    expect(await page.evaluate(() => (window as unknown as { unreadSeen: unknown[] }).unreadSeen)).toEqual([1]);
    // The socket's echo of the visitor's own message and the POST response made one row, not two.
    expect(await messages(page)).toEqual([
      ["in", "hello <script>x</script>"],
      ["out", "hi from agent"],
      ["out", "still there?"],
    ]);

    await page.reload();
    await whenReady(page);
    expect(await messages(page)).toEqual([
      ["in", "hello <script>x</script>"],
      ["out", "hi from agent"],
      ["out", "still there?"],
    ]);
    await page.close();
  });

  it("replays queued host calls, verifies the user, and keeps the host page's styles out", async () => {
    const hash = createHmac("sha256", s.inbox.secret).update("customer-7").digest("hex");
    const user = { id: "customer-7", name: "Li Lei", hash };
    const html = `<!doctype html><html><head><style>* { color: red !important; font-family: serif !important } textarea { display: none !important }</style></head>
<body><script>window.Switchboard = [["setLocale", "zh-CN"], ["setUser", ${JSON.stringify(user)}], ["open"]];</script>
<script src="/widget.js" data-inbox="${s.inbox.publicKey}" data-locale="en" async></script></body></html>`;
    const page = await browser.newPage();
    // Served from the server's origin: the page is a fixture, the widget and API are real.
    await page.route(`${s.url}/embed`, (route) => route.fulfill({ contentType: "text/html", body: html }));
    await page.goto(`${s.url}/embed`);
    await whenReady(page);

    const input = page.getByTestId("switchboard-input");
    await input.waitFor({ state: "visible" });
    expect(await input.getAttribute("placeholder")).toBe("输入消息…");
    expect(await input.evaluate((el) => getComputedStyle(el).color)).not.toBe("rgb(255, 0, 0)");

    await input.fill("第一行");
    await input.press("Shift+Enter");
    await input.pressSequentially("第二行");
    await page.getByTestId("switchboard-send").click();
    await page.getByTestId("switchboard-message").filter({ hasText: "第二行" }).waitFor();
    expect(await messages(page)).toEqual([["in", "第一行\n第二行"]]);

    const list = await api(`${s.url}/api/v1/conversations?status=open`, { token: agentToken });
    const conversation = (list.body.items as { contact: { name: string }; lastMessage: { text: string } }[]).find((c) => c.lastMessage?.text === "第一行\n第二行");
    expect(conversation?.contact.name).toBe("Li Lei");
    await page.close();
  });
});
