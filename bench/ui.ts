import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../test/browser.ts";
import { onEachDriver, type Target } from "./harness/database.ts";
import { startServer } from "./harness/server.ts";
import { summarize } from "./harness/stats.ts";
import { createVisitors, sendMessage } from "./harness/visitors.ts";

/**
 * The agent inbox in Chromium against the product running in its own process (`bun apps/server/main.ts`):
 *  - paint latency: a widget message POSTed by a visitor → its timeline item painted in an agent tab
 *    that has the conversation open (200 messages, one every 50 ms so each is measured on its own);
 *  - the conversation list's time to interactive with 10,000 conversations in the database: from
 *    navigation start until the first page of rows is painted and a key press (j) has moved the
 *    selection, i.e. the page answers input. Five cold loads, each in a fresh browser context.
 * Clocks: both sides use performance.timeOrigin + performance.now() (the same system clock).
 */

const MESSAGES = 200;
// One visitor writes them all, and the widget lets one visitor send 2 messages/s after a burst.
const SPACING_MS = 550;
const CONVERSATIONS = 10_000;
const LOADS = 5;
const SEND_CONCURRENCY = 32;

export async function benchUi({ json, only }: { json: boolean; only?: "paint" | "list" }) {
  const report = await onEachDriver((target) => measure(target, only));
  if (json) console.log(JSON.stringify(report));
  else console.log(JSON.stringify(report, null, 2));
}

const now = () => performance.timeOrigin + performance.now();

async function measure(target: Target, only?: "paint" | "list") {
  const server = await startServer(target);
  const browser = await launchChromium();
  try {
    const paint =
      only === "list" ? undefined : await paintLatency(browser, server.url, server.inboxKey, server.agentToken);
    if (only === "paint") return { paint };
    const seeded = await seed(server.url, server.inboxKey);
    const list = await listInteractive(browser, server.url, server.agentToken);
    return { paint, seeded, list };
  } finally {
    await browser.close();
    await server.stop();
  }
}

/** An agent tab signed in with `token`, on `hash`. */
async function agentTab(browser: Browser, url: string, token: string, hash: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript((t) => localStorage.setItem("sb.token", t), token);
  const page = await context.newPage();
  await page.goto(`${url}/app/${hash}`);
  return page;
}

async function paintLatency(browser: Browser, url: string, inboxKey: string, token: string) {
  const [visitor] = await createVisitors(url, inboxKey, 1);
  const { conversationId } = (await (
    await fetch(`${url}/widget/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${visitor}` },
      body: JSON.stringify({ text: "ui-bench-start" }),
    })
  ).json()) as { conversationId: string };
  const page = await agentTab(browser, url, token, `#/inbox/all/${conversationId}`);
  await page.getByTestId("timeline-item").filter({ hasText: "ui-bench-start" }).waitFor();
  // Records when each new timeline item is on screen: the task after the frame that drew it.
  await page.evaluate(() => {
    const w = window as unknown as { painted: Record<string, number> };
    w.painted = {};
    new MutationObserver((records) => {
      for (const r of records)
        for (const n of r.addedNodes) {
          const text = n instanceof HTMLElement ? n.querySelector("[data-testid=item-text]")?.textContent : undefined;
          if (text?.startsWith("ui-bench-"))
            requestAnimationFrame(() =>
              setTimeout(() => (w.painted[text] = performance.timeOrigin + performance.now()), 0),
            );
        }
    }).observe(document.querySelector("[data-testid=timeline]")!, { childList: true });
  });
  const sentAt = new Map<string, number>();
  const sends: Promise<boolean>[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const text = `ui-bench-${i}`;
    sentAt.set(text, now());
    sends.push(sendMessage(url, visitor!, text));
    await Bun.sleep(SPACING_MS);
  }
  const rejected = (await Promise.all(sends)).filter((ok) => !ok).length;
  const deadline = Date.now() + 10_000;
  let painted: Record<string, number> = {};
  while (Date.now() < deadline) {
    painted = await page.evaluate(() => (window as unknown as { painted: Record<string, number> }).painted);
    if (Object.keys(painted).length >= MESSAGES) break;
    await Bun.sleep(100);
  }
  await page.context().close();
  const latencies = [...sentAt].flatMap(([text, at]) => (painted[text] ? [painted[text]! - at] : []));
  return { messages: MESSAGES, rejected, painted: latencies.length, ...rounded(summarize(latencies)) };
}

/** 10,000 visitors each open a conversation through the widget API, as real traffic would. */
async function seed(url: string, inboxKey: string) {
  const started = performance.now();
  const visitors = await createVisitors(url, inboxKey, CONVERSATIONS);
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: SEND_CONCURRENCY }, async () => {
      while (next < visitors.length) {
        const i = next++;
        if (!(await sendMessage(url, visitors[i]!, `seeded conversation ${i} 订单 ${i}`))) failed++;
      }
    }),
  );
  return { conversations: CONVERSATIONS - failed, seconds: Math.round((performance.now() - started) / 100) / 10 };
}

async function listInteractive(browser: Browser, url: string, token: string) {
  const api = async (path: string) => {
    const t0 = performance.now();
    const res = await fetch(`${url}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { items: unknown[] };
    return { ms: performance.now() - t0, rows: body.items.length };
  };
  // One unmeasured load warms the server (first queries, JIT) and the bundle build.
  await coldLoad(browser, url, token);
  const loads: { paintedMs: number; interactiveMs: number }[] = [];
  for (let i = 0; i < LOADS; i++) loads.push(await coldLoad(browser, url, token));
  const listApi = [];
  const searchApi = [];
  for (let i = 0; i < LOADS; i++) {
    listApi.push((await api("/conversations?status=open,pending&limit=50")).ms);
    searchApi.push((await api(`/conversations?status=open,pending&limit=50&q=${encodeURIComponent("订单 9999")}`)).ms);
  }
  return {
    loads: LOADS,
    firstRowsPaintedMs: rounded(summarize(loads.map((l) => l.paintedMs))),
    interactiveMs: rounded(summarize(loads.map((l) => l.interactiveMs))),
    listApiMs: rounded(summarize(listApi)),
    searchApiMs: rounded(summarize(searchApi)),
  };
}

/** A fresh context (no cache): navigation start → rows painted → a key press answered. */
async function coldLoad(browser: Browser, url: string, token: string) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript((t) => {
    localStorage.setItem("sb.token", t);
    const w = window as unknown as { rowsPaintedAt?: number };
    new MutationObserver((_, observer) => {
      if (w.rowsPaintedAt === undefined && document.querySelector("[data-testid=conversation-row]")) {
        observer.disconnect();
        requestAnimationFrame(() => setTimeout(() => (w.rowsPaintedAt = performance.now()), 0));
      }
    }).observe(document, { childList: true, subtree: true });
  }, token);
  const page = await context.newPage();
  try {
    await page.goto(`${url}/app/#/inbox/all`);
    await page.waitForFunction(
      () => (window as unknown as { rowsPaintedAt?: number }).rowsPaintedAt !== undefined,
      undefined,
      { timeout: 30_000 },
    );
    await page.keyboard.press("j");
    await page
      .locator("[data-testid=conversation-row][data-index='1'][data-selected=true]")
      .waitFor({ timeout: 10_000 });
    const interactiveMs = await page.evaluate(
      () =>
        new Promise<number>((resolve) => requestAnimationFrame(() => setTimeout(() => resolve(performance.now()), 0))),
    );
    const paintedMs = await page.evaluate(() => (window as unknown as { rowsPaintedAt: number }).rowsPaintedAt);
    return { paintedMs, interactiveMs };
  } finally {
    await context.close();
  }
}

function rounded(s: Record<string, number>) {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Math.round(v * 10) / 10]));
}
