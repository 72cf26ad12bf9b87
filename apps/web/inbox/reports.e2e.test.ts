import { afterAll, beforeAll, expect, it } from "bun:test";
import { readFile } from "node:fs/promises";
import type { Browser } from "playwright-core";
import { contacts, conversations, interactions, reportSchedules } from "../../../db/schema/index.ts";
import { eq } from "drizzle-orm";
import { launchChromium, signIn } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

let s: TestServer;
let browser: Browser;
let admin: string;
const SETUP_MS = 60_000;
const DAY = 86_400_000;
// The workspace has no time zone of its own: UTC, so "yesterday" is the UTC day before today.
const yesterday = new Date(Math.floor(Date.now() / DAY) * DAY - DAY);
const day = yesterday.toISOString().slice(0, 10);

beforeAll(async () => {
  s = await startTestServer();
  browser = await launchChromium();
  admin = await s.login(s.admin.email, s.admin.password);
  const queue = await api(`${s.url}/api/v1/queues`, { token: admin, body: { name: "Billing" } });
  expect(queue.status).toBe(201);
  const db = s.rt.core.db;
  const [contact] = await db.insert(contacts).values({ workspaceId: s.workspaceId, name: "Carol" }).returning();
  const [conversation] = await db
    .insert(conversations)
    .values({ workspaceId: s.workspaceId, contactId: contact!.id, inboxId: s.inbox.id, channel: "webchat" })
    .returning();
  const at = (hour: number, minute: number) => new Date(yesterday.getTime() + (hour * 60 + minute) * 60_000);
  const fact = (offeredAt: Date, f: Partial<typeof interactions.$inferInsert>) => ({
    id: crypto.randomUUID(),
    workspaceId: s.workspaceId,
    conversationId: conversation!.id,
    contactId: contact!.id,
    channel: "webchat",
    queueId: queue.body.id as string,
    offeredAt,
    serviceLevelS: 20,
    ...f,
  });
  // Yesterday: 3 offered (two at 09:00, one at 14:00), 2 answered by Ann in 10 s and 30 s, handled in
  // 100 s and 200 s; one abandoned. ASA 0:20, AHT 2:30, service level 1 of 3 = 33%.
  await db.insert(interactions).values([
    fact(at(9, 10), {
      outcome: "answered",
      agentId: s.agent.id,
      answeredAt: at(9, 11),
      waitS: 10,
      handleS: 100,
      answeredInSl: true,
    }),
    fact(at(9, 40), {
      outcome: "answered",
      agentId: s.agent.id,
      answeredAt: at(9, 41),
      waitS: 30,
      handleS: 200,
      answeredInSl: false,
    }),
    fact(at(14, 20), { outcome: "abandoned", waitS: 45, answeredInSl: false }),
  ]);
}, SETUP_MS);

afterAll(async () => {
  await s?.rt.core.db.delete(reportSchedules).where(eq(reportSchedules.workspaceId, s.workspaceId));
  await browser?.close();
  await s?.stop();
}, SETUP_MS);

it("shows a supervisor yesterday's figures, the heat map, another grouping, a CSV download and a new schedule", async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);
  await page.getByRole("link", { name: "Reports" }).click();
  await page.getByTestId("report-preset").selectOption("yesterday");

  const byDay = page.getByTestId("report-group-table");
  const row = byDay.locator("tbody tr").filter({ hasText: day });
  await row.waitFor();
  // Offered, answered, abandoned, service level, ASA, AHT, first response (avg, p90), resolution,
  // transferred, FCR, CSAT: figures without data read "—".
  expect(await row.locator("th, td").allTextContents()).toEqual([
    day,
    "3",
    "2",
    "1",
    "33%",
    "0:20",
    "2:30",
    "—",
    "—",
    "—",
    "0%",
    "—",
    "—",
  ]);
  const queueRow = page.getByTestId("report-queue-table").locator("tbody tr").filter({ hasText: "Billing" });
  expect(await queueRow.locator("td").first().textContent()).toBe("3");

  // Yesterday's weekday has offered work at 09:00 (2) and 14:00 (1): two cells, drawn as SVG.
  const heat = page.getByTestId("report-heatmap");
  await heat.locator("svg").waitFor();
  expect(await heat.getAttribute("data-cells")).toBe("2");
  await page.getByTestId("report-volume").locator("svg").waitFor();

  await page.getByTestId("report-group").selectOption("agent");
  const ann = byDay.locator("tbody tr").filter({ hasText: "Agent Ann" });
  await ann.waitFor();
  expect(await ann.locator("td").nth(0).textContent()).toBe("2");
  expect(await byDay.locator("thead th").first().textContent()).toBe("Agent");
  expect(await byDay.locator("tbody tr").filter({ hasText: day }).count()).toBe(0);

  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("csv-group").click()]);
  expect(download.suggestedFilename()).toBe("report-agent.csv");
  const csv = (await readFile((await download.path())!, "utf8")).trim().split("\r\n");
  expect(csv[0]!.split(",").slice(0, 4)).toEqual(["key", "name", "offered", "answered"]);
  expect(csv.some((l) => l.startsWith(`${s.agent.id},Agent Ann,2,2,`))).toBe(true);

  const form = page.getByTestId("schedule-form");
  await form.locator('input[name="name"]').fill("Daily by agent");
  await form.locator('select[name="groupBy"]').selectOption("agent");
  await form.locator('input[name="recipients"]').fill("lead@example.test, ops@example.test");
  await form.getByRole("button", { name: "Add schedule" }).click();
  const scheduled = page.getByTestId("schedule-list").locator("tbody tr").filter({ hasText: "Daily by agent" });
  await scheduled.waitFor();
  expect(await scheduled.textContent()).toContain("lead@example.test, ops@example.test");
  await scheduled.getByRole("button", { name: "Edit" }).click();
  await form.locator('select[name="hour"]').selectOption("9");
  await form.getByRole("button", { name: "Save" }).click();
  await scheduled.getByText("Daily at 9:00").waitFor();
  const [saved] = (await api(`${s.url}/api/v1/reports/schedules`, { token: admin })).body.items;
  expect(saved).toMatchObject({ name: "Daily by agent", groupBy: "agent", hour: 9 });
  await context.close();
}, 60_000);
