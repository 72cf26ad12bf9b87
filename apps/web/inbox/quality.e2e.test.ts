import { afterAll, beforeAll, expect, it } from "bun:test";
import type { Browser } from "playwright-core";
import { launchChromium, signIn } from "../../../test/browser.ts";
import { until } from "../../../test/poll.ts";
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

/** A chat Ann answers without a greeting, and whose customer then threatens to complain. */
async function complainingChat() {
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  const token = session.body.visitorToken as string;
  const sent = await api(`${s.url}/widget/v1/messages`, { token, body: { text: "退货怎么办" } });
  const id = sent.body.conversationId as string;
  await api(`${s.url}/api/v1/conversations/${id}/assign`, { token: admin, body: { assigneeId: s.agent.id } });
  const ann = await s.login(s.agent.email, s.agent.password);
  await api(`${s.url}/api/v1/conversations/${id}/messages`, { token: ann, body: { text: "订单号" } });
  await api(`${s.url}/widget/v1/messages`, { token, body: { text: "再不处理我就投诉" } });
  return id;
}

it("alerts a supervisor live, shows the QA panel on the conversation, and reviews findings in the queue", async () => {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);
  const id = await complainingChat();

  // The live toast for the critical finding.
  const toast = page.getByTestId("qa-alert");
  await toast.getByText("再不处理我就投诉").waitFor({ timeout: 10_000 });
  expect(await toast.textContent()).toContain("Critical QA finding: Complaint");

  // The conversation's panel: score, findings, an excerpt that leads to its message.
  await page.goto(`${s.url}/app/#/inbox/all/${id}`);
  const score = page.getByTestId("qa-score");
  await score.getByText("QA 60").waitFor();
  await page.getByTestId("qa-toggle").click();
  const findings = page.getByTestId("qa-finding");
  // Greeting (10), complaint (20), the customer's sentiment (10).
  expect(await findings.count()).toBe(3);
  await findings.filter({ hasText: "Greeting" }).getByTestId("qa-excerpt").click();
  await page.locator(".qa-highlight").getByText("订单号").waitFor();

  // The review queue: confirm the complaint with a note, dismiss the greeting.
  await page.goto(`${s.url}/app/#/admin/qa`);
  const complaint = page
    .getByTestId("qa-queue-finding")
    .filter({ hasText: "Complaint" })
    .filter({ hasText: "再不处理我就投诉" });
  // Put down to the agent the customer was talking to.
  expect(await complaint.textContent()).toContain("Agent Ann");
  await complaint.getByTestId("qa-note").fill("先安抚客户");
  await complaint.getByTestId("qa-save-note").click();
  await complaint.getByTestId("qa-confirm").click();
  const greeting = page.getByTestId("qa-queue-finding").filter({ hasText: "订单号" });
  await greeting.getByTestId("qa-dismiss").click();
  await greeting.waitFor({ state: "detached" });
  const qa = await until(
    () => api(`${s.url}/api/v1/conversations/${id}/qa`, { token: admin }),
    (r) => r.body.score === 70,
    5000,
  );
  const byRule = Object.fromEntries((qa.body.findings as any[]).map((f) => [f.rule, f]));
  expect(byRule.Complaint).toMatchObject({ status: "confirmed", coachingNote: "先安抚客户" });
  expect(byRule.Greeting.status).toBe("dismissed");

  // The scorecard editor in Chinese: switch the greeting rule off.
  await page.getByTestId("locale").selectOption("zh-CN");
  await page.goto(`${s.url}/app/#/admin/scorecard`);
  const rule = page.getByTestId("qa-rule").filter({ has: page.locator('input[value="Greeting"]') });
  await rule.getByTestId("qa-rule-enabled").uncheck();
  await rule.getByTestId("qa-rule-save").click();
  await rule.getByText("规则已保存。").waitFor();
  const rules = await api(`${s.url}/api/v1/qa/rules`, { token: admin });
  expect(rules.body.items.find((r: any) => r.name === "Greeting").enabled).toBe(false);
  await page.context().close();
});
