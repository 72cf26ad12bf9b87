import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { launchChromium, openWidget, signIn } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

let s: TestServer;
let browser: Browser;
let adminToken: string;
const SETUP_MS = 60_000;

beforeAll(async () => {
  s = await startTestServer();
  adminToken = await s.login(s.admin.email, s.admin.password);
  browser = await launchChromium();
}, SETUP_MS);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, SETUP_MS);

async function agentPage(viewport = { width: 1280, height: 800 }) {
  const page = await (await browser.newContext({ viewport })).newPage();
  await signIn(page, s.url, s.agent.email, s.agent.password);
  return page;
}

const row = (page: Page, text: string) => page.getByTestId("conversation-row").filter({ hasText: text });
const item = (page: Page, text: string) => page.getByTestId("timeline-item").filter({ hasText: text });

describe("agent inbox in a browser", () => {
  it("shows a widget message live, replies to the widget, keeps private notes private, and resolves", async () => {
    const page = await agentPage();
    await page.getByTestId("view-unassigned").click();
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey);

    const conversationId = await visitor.send("Hello from the widget 你好");
    await row(page, "Hello from the widget 你好").waitFor();
    await row(page, "Hello from the widget 你好").click();
    await item(page, "Hello from the widget 你好").waitFor();
    expect(await page.getByTestId("conversation").getAttribute("data-conversation-id")).toBe(conversationId);

    // A second message lands in the open timeline without a reload.
    await visitor.send("Where is my order?");
    await item(page, "Where is my order?").waitFor();

    const composer = page.getByTestId("composer-input");
    await composer.fill("Let me check that for you");
    await composer.press("Enter");
    await item(page, "Let me check that for you").waitFor();
    await visitor.messages().filter({ hasText: "Let me check that for you" }).waitFor();
    expect(
      await visitor.messages().filter({ hasText: "Let me check that for you" }).getAttribute("data-direction"),
    ).toBe("out");
    await page.getByTestId("delivery").last().and(page.locator("[data-status=sent],[data-status=delivered]")).waitFor();

    await page.getByTestId("mode-note").click();
    await composer.fill("VIP customer, be nice (internal)");
    await composer.press("Enter");
    const note = item(page, "VIP customer, be nice (internal)");
    await note.waitFor();
    expect(await note.getAttribute("data-type")).toBe("note");
    // Another public reply after the note: once it shows in the widget, the note had its chance.
    await page.getByTestId("mode-reply").click();
    await composer.fill("Found it: it ships today");
    await composer.press("Enter");
    await visitor.messages().filter({ hasText: "Found it: it ships today" }).waitFor();
    expect(await visitor.messages().filter({ hasText: "VIP customer" }).count()).toBe(0);
    await visitor.page.reload();
    await visitor.page.getByTestId("switchboard-bubble").click();
    await visitor.messages().filter({ hasText: "Found it: it ships today" }).waitFor();
    expect(await visitor.messages().filter({ hasText: "VIP customer" }).count()).toBe(0);

    await page.getByTestId("resolve").click();
    await page.locator("[data-testid=conversation][data-status=resolved]").waitFor();
    const stored = await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: adminToken });
    expect(stored.body.status).toBe("resolved");
    await visitor.close();
    await page.context().close();
  });

  it("renders customers' markup, scripts, RTL text, emoji and long messages as inert text", async () => {
    const page = await agentPage();
    await page.getByTestId("view-unassigned").click();
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey);
    const payloads = [
      `<img src=x onerror="window.__pwned='img'">`,
      `<script>window.__pwned='script'</script>`,
      "مرحبا، أين طلبي؟ 😀👍🏽",
      `long ${"很长的消息 ".repeat(800)}end`,
    ];
    for (const p of payloads) await visitor.send(p);
    await row(page, "long").first().click();
    for (const p of payloads) {
      const text = item(page, p.slice(0, 30)).getByTestId("item-text");
      await text.waitFor();
      expect(await text.textContent()).toBe(p);
    }
    const timeline = page.getByTestId("timeline");
    expect(await timeline.locator("img[src=x], script").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
    // The long message wraps inside the pane instead of widening the page.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    await visitor.close();
    await page.context().close();
  });

  it("moves with j / k and Enter, replies with r and resolves with e", async () => {
    const page = await agentPage();
    await page.getByTestId("view-unassigned").click();
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey);
    await visitor.send("keyboard user here");
    await row(page, "keyboard user here").waitFor();
    // The newest conversation is first: k to the top, Enter opens it.
    await page.locator("body").click({ position: { x: 700, y: 400 } });
    await page.keyboard.press("j");
    await page.keyboard.press("k");
    await page.keyboard.press("Enter");
    await item(page, "keyboard user here").waitFor();
    await page.keyboard.press("r");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("composer-input");
    await page.keyboard.type("typed after r");
    await page.keyboard.press("Escape");
    await page.keyboard.press("e");
    await page.locator("[data-testid=conversation][data-status=resolved]").waitFor();
    await visitor.close();
    await page.context().close();
  });

  it("switches the whole UI to Chinese and remembers it", async () => {
    const page = await agentPage();
    await page.locator("#locale").selectOption("zh-CN");
    await page.getByRole("link", { name: "收件箱" }).waitFor();
    await page.getByTestId("view-mine").and(page.getByText("我的")).waitFor();
    expect(await page.getByTestId("sign-out").textContent()).toBe("退出登录");
    expect(await page.evaluate(() => document.documentElement.lang)).toBe("zh-CN");
    await page.reload();
    await page.getByTestId("view-unassigned").and(page.getByText("未分配")).waitFor();
    await page.getByTestId("sign-out").click();
    await page.getByRole("button", { name: "登录" }).waitFor();
    await page.context().close();
  });

  it("returns to sign-in when the session expires and keeps the typed draft", async () => {
    const page = await agentPage();
    await page.getByTestId("view-unassigned").click();
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey);
    const conversationId = await visitor.send("draft keeper");
    await row(page, "draft keeper").click();
    await page.getByTestId("composer-input").fill("half-written answer 半句话");
    // The session ends on the server (expired, or signed out elsewhere).
    const token = await page.evaluate(() => localStorage.getItem("sb.token"));
    expect((await api(`${s.url}/api/v1/auth/logout`, { token: token!, body: {} })).status).toBe(200);
    // The next request finds out (a background one may be first: then sign-in is already showing).
    await page.evaluate(() => (location.hash = "#/inbox/all"));
    await page.getByText("Your session has ended").waitFor();
    await page.getByLabel("Email").fill(s.agent.email);
    await page.getByLabel("Password").fill(s.agent.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.goto(`${s.url}/app/#/inbox/all/${conversationId}`);
    await item(page, "draft keeper").waitFor();
    expect(await page.getByTestId("composer-input").inputValue()).toBe("half-written answer 半句话");
    await visitor.close();
    await page.context().close();
  });

  it("fits a 390 px phone screen: list first, then the conversation with a way back", async () => {
    const page = await agentPage({ width: 390, height: 844 });
    await page.getByTestId("view-unassigned").click();
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey);
    await visitor.send("from my phone");
    await row(page, "from my phone").click();
    await item(page, "from my phone").waitFor();
    expect(await page.getByTestId("conversation-list").isVisible()).toBe(false);
    expect(await page.getByTestId("composer-input").isVisible()).toBe(true);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.getByRole("link", { name: "Back to the list" }).click();
    await page.getByTestId("conversation-list").waitFor({ state: "visible" });
    await visitor.close();
    await page.context().close();
  });

  it("counts unread messages on a conversation that is not open", async () => {
    const page = await agentPage();
    await page.getByTestId("view-unassigned").click();
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey);
    await visitor.send("unread one");
    await row(page, "unread one").waitFor();
    await visitor.send("unread two");
    await row(page, "unread two")
      .getByTestId("unread")
      .and(page.getByText("2", { exact: true }))
      .waitFor();
    await row(page, "unread two").click();
    await item(page, "unread two").waitFor();
    expect(await row(page, "unread two").getByTestId("unread").count()).toBe(0);
    // The server knows it was read: a fresh list shows no badge either.
    await page.reload();
    await row(page, "unread two").waitFor();
    expect(await row(page, "unread two").getByTestId("unread").count()).toBe(0);
    await visitor.close();
    await page.context().close();
  });

  it("finds conversations by contact name, identity or message text, in Chinese too", async () => {
    const page = await agentPage();
    await page.getByTestId("view-all").click();
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey);
    const conversationId = await visitor.send("我想申请退款，商品坏了");
    const other = await openWidget(browser, s.url, s.inbox.publicKey);
    await other.send("Just browsing, thanks");
    await row(page, "Just browsing").waitFor();
    const contact = (await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: adminToken })).body.contact;
    await api(`${s.url}/api/v1/contacts/${contact.id}`, { token: adminToken, method: "PATCH", body: { name: "周杰" } });

    const search = page.getByTestId("conversation-search");
    await search.fill("退款");
    await row(page, "商品坏了").waitFor();
    await expectOnlyRows(page, 1);
    await search.fill("周杰");
    await row(page, "商品坏了").waitFor();
    await expectOnlyRows(page, 1);
    await search.fill("");
    await row(page, "Just browsing").waitFor();
    await visitor.close();
    await other.close();
    await page.context().close();
  });

  it("inserts a canned response with / and fills its variables", async () => {
    const created = await api(`${s.url}/api/v1/canned-responses`, {
      token: adminToken,
      body: { shortcut: "thanks", title: "Thank the customer", body: "Thank you {{contact.name}}! — {{ agent.name }}" },
    });
    expect(created.status).toBe(201);
    const page = await agentPage();
    await page.getByTestId("view-unassigned").click();
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey);
    const conversationId = await visitor.send("canned please");
    const contact = (await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: adminToken })).body.contact;
    await api(`${s.url}/api/v1/contacts/${contact.id}`, {
      token: adminToken,
      method: "PATCH",
      body: { name: "Li Lei" },
    });
    await row(page, "canned please").click();
    await item(page, "canned please").waitFor();
    const composer = page.getByTestId("composer-input");
    await composer.pressSequentially("/tha");
    await page.getByTestId("canned-list").getByText("/thanks").waitFor();
    await composer.press("Enter");
    expect(await composer.inputValue()).toBe("Thank you Li Lei! — Agent Ann");
    await composer.press("Enter");
    await visitor.messages().filter({ hasText: "Thank you Li Lei! — Agent Ann" }).waitFor();
    await visitor.close();
    await page.context().close();
  });

  it("edits the contact: name, VIP, a note, another identity, and merges a duplicate", async () => {
    const page = await agentPage();
    await page.getByTestId("view-unassigned").click();
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey);
    const conversationId = await visitor.send("contact panel check");
    const duplicate = await openWidget(browser, s.url, s.inbox.publicKey);
    const duplicateConversation = await duplicate.send("same person, other browser");
    const dupContact = (await api(`${s.url}/api/v1/conversations/${duplicateConversation}`, { token: adminToken })).body
      .contact;
    await api(`${s.url}/api/v1/contacts/${dupContact.id}`, {
      token: adminToken,
      method: "PATCH",
      body: { name: "Zhang Wei (dup)" },
    });

    await row(page, "contact panel check").click();
    const panel = page.getByTestId("contact-panel");
    // Wide screens open the panel by default; narrower ones need the button.
    if ((await page.getByTestId("toggle-contact").getAttribute("aria-pressed")) !== "true")
      await page.getByTestId("toggle-contact").click();
    await panel.waitFor();
    await page.getByTestId("contact-name").fill("Zhang Wei 张伟");
    await panel.getByRole("button", { name: "Save" }).first().click();
    await page.locator(".conversation-header h2").and(page.getByText("Zhang Wei 张伟")).waitFor();
    await page.getByTestId("vip").check();
    await panel.getByPlaceholder("Add a note about this contact").fill("Prefers phone calls after 18:00");
    await panel
      .getByPlaceholder("Add a note about this contact")
      .locator("xpath=..")
      .getByRole("button", { name: "Add" })
      .click();
    await page.getByTestId("contact-notes").getByText("Prefers phone calls after 18:00").waitFor();
    await panel.getByLabel("Kind").selectOption("email");
    await panel.getByPlaceholder("Phone, email, ID…").fill("Zhang.Wei@Example.com");
    await panel.getByPlaceholder("Phone, email, ID…").locator("xpath=..").getByRole("button", { name: "Add" }).click();
    await page.getByTestId("identities").getByText("zhang.wei@example.com").waitFor();

    // Merging is a supervisor's or admin's (contacts.merge): the agent's panel offers none, and shows
    // the merge an admin made.
    expect(await page.getByTestId("merge-search").count()).toBe(0);
    const contact = (await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: adminToken })).body.contact;
    expect(
      (
        await api(`${s.url}/api/v1/contacts/${contact.id}/merge`, {
          token: adminToken,
          body: { mergeId: dupContact.id },
        })
      ).status,
    ).toBe(200);
    await page
      .getByTestId("contact-history")
      .locator("a[href$='" + duplicateConversation + "']")
      .waitFor();

    const profile = (await api(`${s.url}/api/v1/contacts/${contact.id}`, { token: adminToken })).body;
    expect(profile.name).toBe("Zhang Wei 张伟");
    expect(profile.attributes.vip).toBe(true);
    expect(profile.notes.map((n: { text: string }) => n.text)).toContain("Prefers phone calls after 18:00");
    expect(profile.identities.map((i: { value: string }) => i.value)).toContain("zhang.wei@example.com");
    expect(profile.conversations.map((c: { id: string }) => c.id)).toContain(duplicateConversation);
    await visitor.close();
    await duplicate.close();
    await page.context().close();
  });

  // Last: it turns on routing for the test workspace, which the tests above do not expect.
  it("pops a reservation with a countdown; accepting opens the conversation, resolving starts wrap-up", async () => {
    // The chats the tests above left open would be queued too under a catch-all rule (the router's sweep
    // queues open conversations nobody has): resolve them first, so the one offer is this test's chat.
    const left = await api(`${s.url}/api/v1/conversations?status=open,pending&limit=100`, { token: adminToken });
    for (const c of left.body.items as { id: string }[])
      await api(`${s.url}/api/v1/conversations/${c.id}/status`, { token: adminToken, body: { status: "resolved" } });
    const queue = await api(`${s.url}/api/v1/queues`, {
      token: adminToken,
      body: { name: "Chat", channels: ["webchat"], offerTimeoutSeconds: 60, wrapUpSeconds: 30 },
    });
    expect(queue.status).toBe(201);
    expect(
      (
        await api(`${s.url}/api/v1/entry-rules`, {
          token: adminToken,
          method: "PUT",
          body: { rules: [{ queueId: queue.body.id, conditions: {} }] },
        })
      ).status,
    ).toBe(200);
    const page = await agentPage();
    await page.getByTestId("presence-select").selectOption("available");
    await page.locator("[data-testid=presence][data-presence=available]").waitFor();

    const visitor = await openWidget(browser, s.url, s.inbox.publicKey);
    const conversationId = await visitor.send("please route me");
    const offer = page.getByTestId("offer");
    await offer.waitFor({ timeout: 15_000 });
    const countdown = Number(/\d+/.exec((await page.getByTestId("offer-countdown").textContent()) ?? "")?.[0]);
    expect(countdown).toBeGreaterThan(0);
    expect(countdown).toBeLessThanOrEqual(60);
    await page.getByTestId("offer-accept").click();
    await page.locator(`[data-testid=conversation][data-conversation-id="${conversationId}"]`).waitFor();
    await item(page, "please route me").waitFor();
    expect(await offer.count()).toBe(0);
    const assigned = await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: adminToken });
    expect(assigned.body.assigneeId).toBe(s.agent.id);
    expect(await page.getByTestId("assignee").inputValue()).toBe(s.agent.id);

    await page.getByTestId("resolve").click();
    await page.getByTestId("wrap-up").waitFor();
    expect(await page.getByTestId("wrap-up").textContent()).toMatch(/Wrap-up 0:(2\d|30)/);
    await page.getByTestId("wrap-up").getByRole("button").click();
    await page.locator("[data-testid=presence][data-presence=available]").waitFor();
    await visitor.close();
    await page.context().close();
  });
});

async function expectOnlyRows(page: Page, n: number) {
  // The list settles after the debounced search answers: wait for it to stop changing.
  await page.waitForFunction((want) => document.querySelectorAll("[data-testid=conversation-row]").length === want, n);
}
