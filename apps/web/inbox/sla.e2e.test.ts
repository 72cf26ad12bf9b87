import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Browser } from "playwright-core";
import { launchChromium, signIn } from "../../../test/browser.ts";
import { until } from "../../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

let s: TestServer;
let browser: Browser;
let adminToken: string;
const SETUP_MS = 60_000;

beforeAll(async () => {
  s = await startTestServer({ env: { SLA_SWEEP_MS: "100" } });
  adminToken = await s.login(s.admin.email, s.admin.password);
  browser = await launchChromium();
}, SETUP_MS);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, SETUP_MS);

describe("SLA in a browser", () => {
  it("creates a policy in Settings; a conversation's clock shows in the list, then turns breached with an alert", async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await signIn(page, s.url, s.admin.email, s.admin.password);
    await page.goto(`${s.url}/app/#/admin/sla`);
    await page.getByTestId("sla-new-policy").click();
    const form = page.getByTestId("sla-policy-form");
    await form.getByLabel("Name").fill("快速 Quick");
    await form.getByLabel("First response (minutes)").fill("0.05");
    await form.getByTestId("sla-save-policy").click();
    await page.getByTestId("sla-policy").filter({ hasText: "快速 Quick" }).waitFor();
    const saved = (await api(`${s.url}/api/v1/sla-policies`, { token: adminToken })).body.items;
    expect(saved).toMatchObject([{ name: "快速 Quick", firstResponseMinutes: 0.05, conditions: [] }]);

    const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
    const sent = await api(`${s.url}/widget/v1/messages`, {
      token: session.body.visitorToken,
      body: { text: "等了好久 still waiting" },
    });
    expect(sent.status).toBe(201);
    // Clocks start just after the message (a listener on the bus); the list shows them once loaded after that.
    await until(
      async () => (await api(`${s.url}/api/v1/conversations/${sent.body.conversationId}`, { token: adminToken })).body,
      (c) => !!c.sla?.firstResponseDueAt,
    );
    await page.goto(`${s.url}/app/#/inbox/all`);
    const row = page.locator(`[data-conversation-id="${sent.body.conversationId}"]`);
    const clock = row.getByTestId("sla-clock");
    await clock.waitFor({ timeout: 15_000 });
    await page.waitForFunction(
      (id) =>
        document
          .querySelector(`[data-conversation-id="${id}"] [data-testid="sla-clock"]`)
          ?.getAttribute("data-state") === "breached",
      sent.body.conversationId,
      { timeout: 20_000 },
    );
    expect(await clock.textContent()).toContain("overdue");
    // The warning may arrive in the same sweep as the breach, and either may be listed first.
    await page.locator('[data-testid="sla-alert"][data-type="sla.breached"]').first().waitFor({ timeout: 15_000 });
    await page.context().close();
  }, 60_000);
});
