import { afterAll, beforeAll, expect, it } from "bun:test";
import type { Browser } from "playwright-core";
import { launchChromium, signIn } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

let s: TestServer;
let browser: Browser;
let admin: string;
const SETUP_MS = 60_000;

beforeAll(async () => {
  s = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  browser = await launchChromium();
}, SETUP_MS);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, SETUP_MS);

/** A visitor's chat, assigned to Ann, resolved, then rated from the widget. */
async function ratedChat(rating: number, comment?: string) {
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  const token = session.body.visitorToken as string;
  const sent = await api(`${s.url}/widget/v1/messages`, { token, body: { text: "help" } });
  const id = sent.body.conversationId as string;
  await api(`${s.url}/api/v1/conversations/${id}/assign`, { token: admin, body: { assigneeId: s.agent.id } });
  await api(`${s.url}/api/v1/conversations/${id}/status`, { token: admin, body: { status: "resolved" } });
  expect((await api(`${s.url}/widget/v1/csat`, { token, body: { rating, comment } })).status).toBe(201);
  return id;
}

it("shows a supervisor the answers and the per-agent table, the rating in the conversation header, and the inbox's survey card", async () => {
  const first = await ratedChat(5, "很专业");
  await ratedChat(2);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);

  await page.goto(`${s.url}/app/#/admin/csat`);
  const responses = page.getByTestId("csat-responses");
  await responses.getByText("很专业").waitFor();
  expect(await responses.locator("tbody tr").count()).toBe(2);
  const byAgent = page.getByTestId("csat-by-agent");
  const annRow = byAgent.locator("tbody tr").filter({ hasText: "Agent Ann" });
  expect(await annRow.locator("td").allTextContents()).toEqual(["Agent Ann", "2", "3.50", "50%"]);

  await page.goto(`${s.url}/app/#/inbox/all/${first}`);
  const badge = page.getByTestId("conversation-csat");
  await badge.waitFor();
  expect(await badge.textContent()).toContain("Rated 5/5");

  await page.goto(`${s.url}/app/#/admin/inboxes`);
  const card = page.locator(`[data-inbox-id="${s.inbox.id}"]`);
  await card.getByTestId("csat-settings").click();
  const form = card.getByTestId("csat-settings-form");
  await form.locator('input[name="enabled"]').check();
  await form.locator('select[name="scale"]').selectOption("thumbs");
  await form.locator('input[name="questionZh"]').fill("这次服务怎么样？");
  await form.locator('input[name="delayMinutes"]').fill("15");
  await form.getByRole("button", { name: "Save survey" }).click();
  await form.getByText("Survey saved.").waitFor();
  const saved = await api(`${s.url}/api/v1/inboxes/${s.inbox.id}/csat`, { token: admin });
  expect(saved.body).toMatchObject({
    enabled: true,
    scale: "thumbs",
    question: { "zh-CN": "这次服务怎么样？" },
    delayMinutes: 15,
  });
  await page.context().close();
});
