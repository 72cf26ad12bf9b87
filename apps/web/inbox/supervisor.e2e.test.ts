import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Browser } from "playwright-core";
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

async function adminPage() {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);
  return page;
}

describe("supervisor and admin screens in a browser", () => {
  it("creates a web chat inbox and shows the snippet that embeds it", async () => {
    const page = await adminPage();
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByTestId("admin-tab-inboxes").click();
    await page.getByTestId("inbox-form").getByLabel("Inbox name").fill("帮助中心 Help chat");
    await page.getByTestId("inbox-form").getByRole("button").click();
    const card = page.getByTestId("inbox-list").locator("li").filter({ hasText: "帮助中心 Help chat" });
    await card.waitFor();
    const snippet = await card.getByTestId("embed-snippet").textContent();
    const listed = (await api(`${s.url}/api/v1/inboxes`, { token: adminToken })).body.items.find(
      (i: { name: string }) => i.name === "帮助中心 Help chat",
    );
    expect(snippet).toContain("/widget.js");
    expect(snippet).toContain(listed.publicKey);
    // The snippet really embeds the widget: the new inbox answers a visitor.
    const visitor = await openWidget(browser, s.url, listed.publicKey);
    const conversationId = await visitor.send("hello new inbox");
    const c = await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: adminToken });
    expect(c.body.inboxId).toBe(listed.id);
    // Done with it: an open chat left behind would be queued (by the reconciliation) once a later test
    // adds a queue, and offered next to that test's own.
    const resolved = await api(`${s.url}/api/v1/conversations/${conversationId}/status`, {
      token: adminToken,
      body: { status: "resolved" },
    });
    expect(resolved.status).toBe(200);
    await visitor.close();
    await page.context().close();
  });

  it("invites a teammate who sets a password from the link and lands in the inbox", async () => {
    const page = await adminPage();
    await page.goto(`${s.url}/app/#/admin/agents`);
    const form = page.getByTestId("invite-form");
    const email = `new-${crypto.randomUUID().slice(0, 8)}@example.test`;
    await form.getByLabel("Name").fill("Wang Fang 王芳");
    await form.getByLabel("Email").fill(email);
    await form.getByLabel("Role").selectOption("agent");
    await form.getByRole("button", { name: "Invite" }).click();
    const link = (await page.locator(".notice [data-testid=embed-snippet]").textContent())!;
    expect(link).toContain("/app/#/invite/");
    await page.getByTestId("agent-table").getByText(email).waitFor();

    const invited = await (await browser.newContext()).newPage();
    await invited.goto(link.replace(/^https?:\/\/[^/]+/, s.url));
    await invited.getByLabel("New password").fill("a-long-new-password");
    await invited.getByRole("button", { name: "Set password and sign in" }).click();
    await invited.getByText("Wang Fang 王芳 · Agent").waitFor();
    expect((await api(`${s.url}/api/v1/auth/login`, { body: { email, password: "a-long-new-password" } })).status).toBe(
      200,
    );
    await invited.context().close();
    await page.context().close();
  });

  it("shows queues, agents and alerts live, draws the last hour, and reassigns work", async () => {
    const queue = await api(`${s.url}/api/v1/queues`, {
      token: adminToken,
      body: { name: "Wallboard queue", channels: ["webchat"], maxWaitSeconds: 1 },
    });
    expect(queue.status).toBe(201);
    await api(`${s.url}/api/v1/entry-rules`, {
      token: adminToken,
      method: "PUT",
      body: { rules: [{ queueId: queue.body.id, conditions: {} }] },
    });
    const page = await adminPage();
    await page.goto(`${s.url}/app/#/wallboard`);
    const queueRow = page.locator(`[data-testid=wall-queues] tr[data-queue-id="${queue.body.id}"]`);
    await queueRow.waitFor();
    expect(await queueRow.getByTestId("queue-waiting").textContent()).toBe("0");

    // A customer waits with nobody available: the count rises live and the wait passes the 1 s limit.
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey);
    const conversationId = await visitor.send("anyone there?");
    await queueRow
      .getByTestId("queue-waiting")
      .and(page.getByText("1", { exact: true }))
      .waitFor({ timeout: 15_000 });
    await page.getByTestId("wall-alert").filter({ hasText: "Wallboard queue" }).waitFor({ timeout: 15_000 });
    await page.getByTestId("wall-chart").locator("svg").waitFor();

    // The agent takes it; the supervisor moves it to themselves from the agent's row.
    const agentToken = await s.login(s.agent.email, s.agent.password);
    await api(`${s.url}/api/v1/me/presence`, { token: agentToken, method: "PUT", body: { presence: "available" } });
    let offerId: string | undefined;
    for (let i = 0; i < 50 && !offerId; i++, await Bun.sleep(200))
      offerId = (await api(`${s.url}/api/v1/me/offers`, { token: agentToken })).body.items[0]?.workItemId;
    expect((await api(`${s.url}/api/v1/offers/${offerId}/accept`, { token: agentToken, body: {} })).status).toBe(200);
    const agentRow = page.locator(`[data-testid=wall-agents] tr[data-agent-id="${s.agent.id}"]`);
    await agentRow.getByTestId("reassign").waitFor({ timeout: 10_000 });
    await agentRow.getByTestId("reassign").selectOption(s.admin.id);
    for (let i = 0; i < 50; i++, await Bun.sleep(100))
      if (
        (await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: adminToken })).body.assigneeId ===
        s.admin.id
      )
        break;
    expect((await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: adminToken })).body.assigneeId).toBe(
      s.admin.id,
    );
    await visitor.close();
    await page.context().close();
  });

  it("keeps agents out of the wallboard and settings", async () => {
    const page = await (await browser.newContext()).newPage();
    await signIn(page, s.url, s.agent.email, s.agent.password);
    expect(await page.getByRole("link", { name: "Wallboard" }).count()).toBe(0);
    expect(await page.getByRole("link", { name: "Settings" }).count()).toBe(0);
    await page.goto(`${s.url}/app/#/admin/agents`);
    await page.getByTestId("conversation-list").waitFor();
    expect(await page.getByTestId("invite-form").count()).toBe(0);
    await page.context().close();
  });
});
