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

async function visitorMessage(text: string) {
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  const sent = await api(`${s.url}/widget/v1/messages`, { token: session.body.visitorToken, body: { text } });
  return sent.body.conversationId as string;
}

it("builds a rule in the editor, dry-runs it, saves it, and the rule labels the next conversation", async () => {
  const earlier = await visitorMessage("请帮我开发票");
  await visitorMessage("where is my parcel");
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);
  await page.goto(`${s.url}/app/#/admin/automations`);
  await page.getByTestId("rule-new").click();
  const editor = page.getByTestId("rule-editor");
  await editor.getByTestId("rule-name").fill("Invoices");
  await editor.getByTestId("add-condition").click();
  await editor.getByTestId("condition-0-value").fill("发票");
  await editor.getByTestId("action-0-value").fill("invoice");
  await editor.getByTestId("rule-dry-run").click();
  const result = page.getByTestId("dry-run-result");
  await result.getByText("请帮我开发票").waitFor();
  expect(await result.locator("li").count()).toBe(1);
  expect(await result.locator("a").getAttribute("href")).toBe(`#/conversations/${earlier}`);

  await editor.getByTestId("rule-save").click();
  await page.getByTestId("rule-item").filter({ hasText: "Invoices" }).waitFor();
  const rules = (await api(`${s.url}/api/v1/automations`, { token: admin })).body.items;
  expect(rules).toEqual([
    expect.objectContaining({
      name: "Invoices",
      event: "conversation.created",
      conditions: [{ field: "text", op: "contains", value: "发票" }],
      actions: [{ type: "label", value: "invoice" }],
    }),
  ]);
  const next = await visitorMessage("发票抬头写错了");
  const labelled = await until(
    async () => (await api(`${s.url}/api/v1/conversations/${next}`, { token: admin })).body,
    (c) => c.labels.includes("invoice"),
  );
  expect(labelled.labels).toEqual(["invoice"]);
  await page.context().close();
});

it("applies a macro from the composer's / list, the timeline naming it", async () => {
  const macro = await api(`${s.url}/api/v1/macros`, {
    token: admin,
    body: { name: "Refund approved", actions: [{ type: "label", value: "refund" }, { type: "close" }] },
  });
  expect(macro.status).toBe(201);
  const id = await visitorMessage("我要退款");
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);
  await page.goto(`${s.url}/app/#/inbox/all/${id}`);
  const composer = page.getByTestId("composer-input");
  await composer.fill("/refund");
  await page.getByTestId("macro-option").filter({ hasText: "Refund approved" }).click();
  const done = await until(
    async () => (await api(`${s.url}/api/v1/conversations/${id}`, { token: admin })).body,
    (c) => c.status === "resolved",
  );
  expect(done.labels).toEqual(["refund"]);
  await page.getByText("via macro “Refund approved”").first().waitFor();

  // The header's Macros menu applies one too.
  const other = await visitorMessage("refund for order 2");
  await page.goto(`${s.url}/app/#/inbox/all/${other}`);
  await page.getByTestId("macro-menu").selectOption({ label: "Refund approved" });
  await page.getByTestId("macro-menu-status").getByText("Macro “Refund approved” applied").waitFor();
  const second = await until(
    async () => (await api(`${s.url}/api/v1/conversations/${other}`, { token: admin })).body,
    (c) => c.status === "resolved",
  );
  expect(second.labels).toEqual(["refund"]);
  await page.context().close();
});

it("names the rule on a note it wrote, and the macro on a note an agent's macro wrote", async () => {
  const rule = await api(`${s.url}/api/v1/automations`, {
    token: admin,
    body: {
      name: "Note on orders",
      event: "conversation.created",
      conditions: [{ field: "text", op: "contains", value: "订单 A-77" }],
      actions: [{ type: "note", body: "Order questions: check the warehouse first" }],
    },
  });
  expect(rule.status).toBe(201);
  const macro = await api(`${s.url}/api/v1/macros`, {
    token: admin,
    body: { name: "Warehouse asked", actions: [{ type: "note", body: "Asked the warehouse" }] },
  });
  expect(macro.status).toBe(201);
  const id = await visitorMessage("订单 A-77 在哪里？");
  await until(
    async () => (await api(`${s.url}/api/v1/conversations/${id}/timeline`, { token: admin })).body.items,
    (items: { type: string }[]) => items.some((i) => i.type === "note"),
  );
  expect(
    (await api(`${s.url}/api/v1/conversations/${id}/macros/${macro.body.id}`, { token: admin, body: {} })).status,
  ).toBe(200);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);
  await page.goto(`${s.url}/app/#/inbox/all/${id}`);
  const byRule = page.getByTestId("timeline-item").filter({ hasText: "Order questions: check the warehouse first" });
  await byRule.locator(".sender").getByText("rule “Note on orders”").waitFor();
  const byMacro = page.getByTestId("timeline-item").filter({ hasText: "Asked the warehouse" });
  await byMacro.getByText("via macro “Warehouse asked”").waitFor();
  await page.context().close();
});
