import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

let s: TestServer;
let browser: Browser;
let agentToken: string;
/** Starting the server migrates a fresh database, which takes longer than bun's default hook timeout. */
const SETUP_MS = 60_000;

beforeAll(async () => {
  s = await startTestServer();
  agentToken = await s.login(s.agent.email, s.agent.password);
  browser = await launchChromium();
}, SETUP_MS);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, SETUP_MS);

/** With its key: without one, /demo shows the oldest web chat inbox of the shared test database. */
function demoUrl(server: TestServer) {
  return `${server.url}/demo?key=${server.inbox.publicKey}`;
}

async function whenReady(page: Page) {
  await page.waitForSelector("switchboard-widget[data-state=ready]", { state: "attached" });
}

/** The texts of the widget's messages, as the visitor sees them, with their direction. */
function messages(page: Page) {
  return page
    .getByTestId("switchboard-message")
    .evaluateAll((els) => els.map((el) => [el.getAttribute("data-direction"), el.querySelector(".text")?.textContent]));
}

/** A 1×1 PNG. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);

async function reply(conversationId: string, text: string) {
  const r = await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, {
    token: agentToken,
    body: { text },
  });
  expect(r.status).toBe(201);
}

/**
 * The open conversation whose last message is `text`. The widget shows a message as soon as it is
 * sent, so the server may still be storing it: ask again for a few seconds.
 */
async function openConversationWith(url: string, token: string, text: string) {
  type Row = { id: string; contact: { name: string }; lastMessage: { text: string | null } };
  for (let i = 0; i < 50; i++, await Bun.sleep(100)) {
    const list = await api(`${url}/api/v1/conversations?status=open`, { token });
    const found = (list.body.items as Row[]).find((c) => c.lastMessage.text === text);
    if (found) return found;
  }
  return undefined;
}

describe("chat widget in a browser", () => {
  it("sends text literally, shows agent replies live, counts unread and restores history on reload", async () => {
    const page = await browser.newPage();
    await page.goto(demoUrl(s));
    await whenReady(page);
    await page.evaluate(() => {
      const w = window as unknown as {
        Switchboard: { on(e: string, fn: (arg: unknown) => void): void };
        seen: unknown[];
      };
      w.seen = [];
      w.Switchboard.on("unread", (n) => w.seen.push(n));
      w.Switchboard.on("message", (item) => w.seen.push((item as { text: string }).text));
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

    const typed = await api(`${s.url}/api/v1/conversations/${conversationId}/typing`, {
      token: agentToken,
      body: { typing: true },
    });
    expect(typed.status).toBeLessThan(300);
    const typing = page.getByText("Agent Ann is typing…");
    await typing.waitFor();

    await reply(conversationId, "hi from agent");
    const agentMessage = page.getByTestId("switchboard-message").filter({ hasText: "hi from agent" });
    await agentMessage.waitFor();
    expect(await agentMessage.getAttribute("data-direction")).toBe("out");
    expect(await agentMessage.textContent()).toContain("Agent Ann");
    expect(await typing.isVisible()).toBe(false);
    expect(await page.getByTestId("switchboard-unread").isVisible()).toBe(false);

    // Now that there is a conversation, agents hear the visitor typing.
    const [typingSent] = await Promise.all([
      page.waitForRequest((r) => r.url().endsWith("/widget/v1/typing")),
      input.pressSequentially("s"),
    ]);
    expect(typingSent.postDataJSON()).toEqual({ typing: true });
    await input.fill("");

    await page.getByTestId("switchboard-bubble").click();
    await page.getByTestId("switchboard-panel").waitFor({ state: "hidden" });
    await reply(conversationId, "still there?");
    const badge = page.getByTestId("switchboard-unread");
    await badge.waitFor({ state: "visible" });
    expect(await badge.textContent()).toBe("1");
    // Each message once (the visitor's own despite its socket echo), and the unread count as it changed.
    expect(await page.evaluate(() => (window as unknown as { seen: unknown[] }).seen)).toEqual([
      "hello <script>x</script>",
      "hi from agent",
      "still there?",
      1,
    ]);
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

    const conversation = await openConversationWith(s.url, agentToken, "第一行\n第二行");
    expect(conversation?.contact.name).toBe("Li Lei");
    await page.close();
  });

  it("catches up on what it missed while its socket was down, without repeats", async () => {
    const page = await browser.newPage();
    // Keep a handle on the widget's sockets so the test can cut the connection.
    await page.addInitScript(() => {
      const Native = WebSocket;
      const w = window as unknown as { sockets: WebSocket[] };
      w.sockets = [];
      window.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols);
          w.sockets.push(this);
        }
      };
    });
    await page.goto(demoUrl(s));
    await whenReady(page);
    await page.getByTestId("switchboard-bubble").click();
    const input = page.getByTestId("switchboard-input");
    await input.fill("first");
    const [posted] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/widget/v1/messages") && r.request().method() === "POST"),
      input.press("Enter"),
    ]);
    const { conversationId } = (await posted.json()) as { conversationId: string };
    await page.getByTestId("switchboard-message").filter({ hasText: "first" }).waitFor();

    const reconnected = page.waitForEvent("websocket");
    await page.evaluate(() => (window as unknown as { sockets: WebSocket[] }).sockets.at(-1)?.close());
    // The widget waits at least half a second before reconnecting: this reply lands in the gap.
    await reply(conversationId, "sent while you were away");
    expect((await reconnected).url()).toMatch(/[?&]after=\d+/);
    await page.getByTestId("switchboard-message").filter({ hasText: "sent while you were away" }).waitFor();
    expect(await messages(page)).toEqual([
      ["in", "first"],
      ["out", "sent while you were away"],
    ]);
    await page.close();
  });

  it("uploads an image, shows it as a thumbnail, and explains a refused file", async () => {
    const page = await browser.newPage();
    await page.goto(demoUrl(s));
    await whenReady(page);
    await page.getByTestId("switchboard-bubble").click();
    const file = page.locator("switchboard-widget input[type=file]");

    const [sent] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/widget/v1/messages") && r.request().method() === "POST"),
      file.setInputFiles({ name: "dot.png", mimeType: "image/png", buffer: PNG }),
    ]);
    expect(sent.status()).toBe(201);
    // Give the socket's echo of the message time to arrive: it must not lose the attachment.
    await page.waitForTimeout(300);
    const thumbnail = page.getByTestId("switchboard-message").locator("img[alt='dot.png']");
    await thumbnail.waitFor({ timeout: 1000 });
    // Loaded through the visitor token in the URL, since an <img> cannot send a bearer header.
    expect(await thumbnail.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(1);

    await file.setInputFiles({ name: "tool.exe", mimeType: "application/x-msdownload", buffer: Buffer.from("MZ") });
    await page.getByText("That file type isn't allowed.").waitFor();
    await page.close();
  });

  it("offers to leave an email while no agent is online, and still lets the visitor write", async () => {
    const page = await browser.newPage();
    await page.goto(demoUrl(s));
    await whenReady(page);
    await page.getByTestId("switchboard-bubble").click();
    await page.getByText("Away", { exact: true }).waitFor();
    const email = page.getByRole("textbox", { name: "Email" });
    await email.fill("visitor@example.test");
    const [saved] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/widget/v1/contact")),
      page.getByRole("button", { name: "Notify me" }).click(),
    ]);
    expect(saved.status()).toBe(200);
    await page.getByText("Thanks! We'll reply to visitor@example.test.").waitFor();
    expect(await email.isVisible()).toBe(false);
    expect(await page.getByTestId("switchboard-input").isVisible()).toBe(true);
    await page.close();
  });

  it("tells a queued visitor where they stand, and stops once an agent answers", async () => {
    const queued = await startTestServer();
    try {
      const admin = await queued.login(queued.admin.email, queued.admin.password);
      const queue = await api(`${queued.url}/api/v1/queues`, { token: admin, body: { name: "Everyone" } });
      await api(`${queued.url}/api/v1/entry-rules`, {
        method: "PUT",
        token: admin,
        body: { rules: [{ queueId: queue.body.id }] },
      });
      const page = await browser.newPage();
      await page.goto(demoUrl(queued));
      await whenReady(page);
      await page.getByTestId("switchboard-bubble").click();
      const input = page.getByTestId("switchboard-input");
      await input.fill("anyone there?");
      await input.press("Enter");
      // Nobody who could take it is signed in: a place in line, no made-up wait.
      await page.getByText("You are number 1 in line. We'll be with you as soon as we can.").waitFor();
      const conversation = await openConversationWith(queued.url, admin, "anyone there?");
      await api(`${queued.url}/api/v1/conversations/${conversation!.id}/messages`, {
        token: admin,
        body: { text: "Hi, I'm here" },
      });
      await page.getByTestId("switchboard-message").filter({ hasText: "Hi, I'm here" }).waitFor();
      await page.getByText("You are number 1 in line").waitFor({ state: "hidden" });
      await page.close();
    } finally {
      await queued.stop();
    }
  });

  it("asks for name and email before the first message when the inbox wants it", async () => {
    const forms = await startTestServer({ inboxSettings: { preChatForm: true } });
    try {
      const page = await browser.newPage();
      await page.goto(demoUrl(forms));
      await whenReady(page);
      await page.getByTestId("switchboard-bubble").click();
      const input = page.getByTestId("switchboard-input");
      expect(await input.isVisible()).toBe(false);
      // One form at a time: the pre-chat form asks for the email the offline form would.
      expect(await page.getByRole("button", { name: "Notify me" }).isVisible()).toBe(false);

      await page.getByRole("textbox", { name: "Name" }).fill("Wang Fang");
      await page.getByRole("textbox", { name: "Email" }).fill("fang@example.test");
      await page.getByRole("button", { name: "Start chat" }).click();
      await input.waitFor({ state: "visible" });
      await input.fill("where is my parcel?");
      await input.press("Enter");
      await page.getByTestId("switchboard-message").filter({ hasText: "where is my parcel?" }).waitFor();

      const token = await forms.login(forms.admin.email, forms.admin.password);
      const conversation = await openConversationWith(forms.url, token, "where is my parcel?");
      expect(conversation?.contact.name).toBe("Wang Fang");
      await page.close();
    } finally {
      await forms.stop();
    }
  });
});
