import { afterAll, beforeAll, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import type { Browser, Page } from "playwright-core";
import { csatResponses, csatSurveys } from "../../../db/schema/service.ts";
import { launchChromium } from "../../../test/browser.ts";
import { until } from "../../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

let s: TestServer;
let browser: Browser;
let admin: string;
const SETUP_MS = 60_000;

beforeAll(async () => {
  s = await startTestServer({ env: { CSAT_SWEEP_MS: "100" } });
  admin = await s.login(s.admin.email, s.admin.password);
  browser = await launchChromium();
}, SETUP_MS);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, SETUP_MS);

const configure = (scale: "stars" | "thumbs", question: { en?: string; "zh-CN"?: string }) =>
  api(`${s.url}/api/v1/inboxes/${s.inbox.id}/csat`, {
    method: "PUT",
    token: admin,
    body: { enabled: true, scale, question, delayMinutes: 0 },
  });

/** A new visitor writes once in a fresh browser; returns the page and their conversation. */
async function visitorWrites(text: string) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${s.url}/demo?key=${s.inbox.publicKey}`);
  await page.waitForSelector("switchboard-widget[data-state=ready]", { state: "attached" });
  await page.getByTestId("switchboard-bubble").click();
  const input = page.getByTestId("switchboard-input");
  await input.fill(text);
  const [posted] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/widget/v1/messages") && r.request().method() === "POST"),
    input.press("Enter"),
  ]);
  return { page, conversationId: ((await posted.json()) as { conversationId: string }).conversationId };
}

const resolve = async (conversationId: string) =>
  expect(
    (
      await api(`${s.url}/api/v1/conversations/${conversationId}/status`, {
        token: admin,
        body: { status: "resolved" },
      })
    ).status,
  ).toBe(200);

const ratingOf = (conversationId: string) =>
  until(
    () => s.rt.core.db.select().from(csatResponses).where(eq(csatResponses.conversationId, conversationId)),
    (rows) => rows.length > 0,
  );

async function submit(page: Page) {
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/widget/v1/csat") && r.request().method() === "POST"),
    page.getByTestId("switchboard-survey").getByRole("button", { name: "Send rating" }).click(),
  ]);
  await page.getByTestId("switchboard-survey").getByText("Thank you for your feedback!").waitFor();
}

it("shows the stars survey inline when the conversation is resolved and sends the rating and comment", async () => {
  expect((await configure("stars", { en: "How did Ann do?" })).status).toBe(200);
  const { page, conversationId } = await visitorWrites("where is my order?");
  await resolve(conversationId);
  const survey = page.getByTestId("switchboard-survey");
  await survey.getByText("How did Ann do?").waitFor();
  await survey.getByRole("button", { name: "4 of 5 stars" }).click();
  expect(await survey.getByRole("button", { name: "3 of 5 stars" }).getAttribute("aria-pressed")).toBe("true");
  expect(await survey.getByRole("button", { name: "5 of 5 stars" }).getAttribute("aria-pressed")).toBe("false");
  await survey.locator("textarea").fill("fast <b>help</b>");
  await submit(page);
  expect((await ratingOf(conversationId))[0]).toMatchObject({ rating: 4, comment: "fast <b>help</b>" });
  await page.context().close();
});

it("shows a thumbs survey that waited while the visitor was away, on load, and records thumbs down as 1", async () => {
  expect((await configure("thumbs", {})).status).toBe(200);
  const { page, conversationId } = await visitorWrites("refund please");
  await page.close();
  const context = page.context();
  await resolve(conversationId);
  // The sweep sends it while no widget is open; the next page load asks for it.
  await until(
    () => s.rt.core.db.select().from(csatSurveys).where(eq(csatSurveys.conversationId, conversationId)),
    (rows) => rows[0]?.status === "sent",
  );
  const again = await context.newPage();
  const asked = again.waitForResponse(
    async (r) => r.url().endsWith("/widget/v1/csat") && r.request().method() === "GET" && (await r.text()) !== "null",
  );
  await again.goto(`${s.url}/demo?key=${s.inbox.publicKey}`);
  await again.waitForSelector("switchboard-widget[data-state=ready]", { state: "attached" });
  await again.getByTestId("switchboard-bubble").click();
  const survey = again.getByTestId("switchboard-survey");
  await survey.getByText("How satisfied are you with our help?").waitFor();
  await asked;
  await survey.getByRole("button", { name: "Bad" }).click();
  await submit(again);
  expect((await ratingOf(conversationId))[0]).toMatchObject({ rating: 1, comment: null });
  await context.close();
});
