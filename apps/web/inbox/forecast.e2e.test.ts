import { afterAll, beforeAll, expect, it } from "bun:test";
import type { Browser } from "playwright-core";
import { agentStateSpans, interactions } from "../../../db/schema/index.ts";
import { createQueue } from "../../../routing/queue.ts";
import { launchChromium, signIn } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

let s: TestServer;
let browser: Browser;
const SETUP_MS = 60_000;
const MIN = 60_000;
const WEEK = 7 * 24 * 60 * MIN;
// Monday 2026-11-02, in the workspace's default zone (UTC).
const FROM = Date.parse("2026-11-02T00:00:00Z");
// A Wednesday morning replayed by the what-if: a call every 3 minutes, 10 minutes each.
const WHAT_IF = Date.parse("2026-09-02T01:00:00Z");

beforeAll(async () => {
  s = await startTestServer({ demo: false });
  const db = s.rt.core.db;
  const queueId = (await createQueue(db, s.workspaceId, { name: "Phones" })).id;
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  const sent = await api(`${s.url}/widget/v1/messages`, { token: session.body.visitorToken, body: { text: "hi" } });
  const at: number[] = [];
  // Four weeks of Mondays 10:00 with six calls (nine in the last), then the forecast week's eight.
  for (let w = -4; w <= 0; w++) {
    const n = w === -1 ? 9 : w === 0 ? 8 : 6;
    for (let i = 0; i < n; i++) at.push(FROM + w * WEEK + 10 * 60 * MIN + i * 3 * MIN);
  }
  for (let i = 0; i < 40; i++) at.push(WHAT_IF + i * 3 * MIN);
  await db.insert(interactions).values(
    at.map((t) => {
      const handleS = t >= WHAT_IF && t < WHAT_IF + 3 * 60 * MIN ? 600 : 300;
      return {
        id: crypto.randomUUID(),
        workspaceId: s.workspaceId,
        conversationId: sent.body.conversationId as string,
        contactId: crypto.randomUUID(),
        channel: "voice",
        queueId,
        agentId: s.agent.id,
        offeredAt: new Date(t),
        answeredAt: new Date(t + 30_000),
        endedAt: new Date(t + 30_000 + handleS * 1000),
        outcome: "answered",
        waitS: 30,
        handleS,
        serviceLevelS: 20,
        answeredInSl: false,
      };
    }),
  );
  await db.insert(agentStateSpans).values(
    [s.agent.id, s.admin.id].map((userId) => ({
      workspaceId: s.workspaceId,
      userId,
      presence: "available",
      startedAt: new Date(WHAT_IF - 10 * MIN),
      endedAt: new Date(WHAT_IF + 3 * 60 * MIN),
    })),
  );
  browser = await launchChromium();
}, SETUP_MS);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, SETUP_MS);

it("draws a queue's forecast against the actual with the held-out error, and a what-if's before and after", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: "UTC" });
  const page = await context.newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);

  await page.getByRole("link", { name: "Forecast" }).click();
  await page.getByTestId("forecast-form").waitFor();
  await page.getByTestId("forecast-from").fill("2026-11-02");
  await page.getByTestId("forecast-show").click();
  const chart = page.getByTestId("forecast-chart");
  // ECharts has drawn the lines and bars as SVG.
  await chart.locator("svg path").first().waitFor({ state: "attached" });
  expect(await chart.locator("svg").count()).toBe(1);
  expect(await chart.locator("svg path").count()).toBeGreaterThan(20);
  // Held out: three weeks, one Monday off by three of 21 calls: 3/21 = 14%.
  expect(await page.getByTestId("forecast-wape").textContent()).toBe("14%");
  expect(await page.getByTestId("forecast-totals").textContent()).toContain("6 arrivals");
  expect(await page.getByTestId("forecast-staffing").textContent()).toContain("Erlang C");

  await page.getByRole("link", { name: "What-if" }).click();
  await page.getByTestId("whatif-from").fill("2026-09-02T01:00");
  await page.getByTestId("whatif-to").fill("2026-09-02T03:00");
  await page.getByTestId("whatif-add-interval").click();
  await page.getByTestId("whatif-interval-agents").fill("6");
  const json = JSON.parse((await page.getByTestId("whatif-json").textContent())!);
  expect(json).toEqual({
    agentsPerInterval: [{ start: "2026-09-02T01:00:00.000Z", end: "2026-09-02T03:00:00.000Z", agents: 6 }],
  });
  await page.getByTestId("whatif-run").click();
  const level = page.getByTestId("whatif.serviceLevel");
  await level.waitFor();
  // Six agents answer every call at once; the two really on duty fell behind.
  expect(await level.getByTestId("after").textContent()).toBe("100%");
  expect(Number.parseInt((await level.getByTestId("before").textContent())!)).toBeLessThan(50);
  await page.getByTestId("whatif-chart").locator("svg path").first().waitFor({ state: "attached" });

  await page.getByTestId("locale").selectOption("zh-CN");
  await page.getByRole("heading", { name: "假设模拟" }).waitFor();
  expect(await page.getByTestId("whatif-results").locator("th").first().textContent()).toBe("指标");
  await context.close();
});
