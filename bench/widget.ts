import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../test/browser.ts";
import { buildWidget } from "../apps/web/widget/build.ts";
import { percentile } from "./harness/stats.ts";

/**
 * The chat widget's weight and its time to first render on a blank page: from navigation start to
 * the host element's data-state="ready" (the session exists and the first render is done), as the
 * widget records it in `window.__switchboardReadyAt` (performance.now(), i.e. since navigation start).
 */

const RUNS = 10;
type Target = {
  server: "real" | "stub";
  pageUrl: string;
  /** Makes `pageUrl` answer with the blank page in this browser page. */
  prepare(page: Page): Promise<void>;
  stop(): Promise<void>;
};

export type WidgetBenchResult = {
  server: Target["server"];
  runs: number;
  rawBytes: number;
  gzipBytes: number;
  firstRenderMs: { median: number; p90: number; min: number; max: number };
};

function blankPage(inboxKey: string) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>blank</title></head><body><script src="/widget.js" data-inbox="${inboxKey}" async></script></body></html>`;
}

/** The real server (test/server.ts); the blank page is served at its origin so the API is same-origin. */
async function realServer(): Promise<Target | null> {
  let modules;
  try {
    modules = await Promise.all([import("../test/server.ts"), import("../test/db.ts")]);
  } catch {
    return null;
  }
  const [{ startTestServer }, { closeTestDatabase }] = modules;
  const s = await startTestServer();
  const pageUrl = `${s.url}/bench/blank`;
  return {
    server: "real",
    pageUrl,
    async prepare(page) {
      await page.route(pageUrl, (route) =>
        route.fulfill({ contentType: "text/html", body: blankPage(s.inbox.publicKey) }),
      );
    },
    async stop() {
      await s.stop();
      await closeTestDatabase();
    },
  };
}

/** Only when the real server cannot be imported: the blank page, widget.js and a canned session. */
function stubServer(js: string): Target {
  const session = {
    visitorToken: "bench",
    conversationId: null,
    contact: { id: "bench", name: null },
    inbox: { name: "Bench", preChatForm: false, agentsOnline: true, greeting: null, color: null },
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const { pathname } = new URL(req.url);
      if (pathname === "/") return new Response(blankPage("bench"), { headers: { "content-type": "text/html" } });
      if (pathname === "/widget.js") return new Response(js, { headers: { "content-type": "application/javascript" } });
      if (pathname === "/widget/v1/sessions" && req.method === "POST") return Response.json(session);
      return new Response(null, { status: 404 });
    },
  });
  return {
    server: "stub",
    pageUrl: `http://127.0.0.1:${server.port}/`,
    prepare: async () => {},
    stop: () => server.stop(true),
  };
}

/** One first visit: a fresh context, so no stored visitor token and no cached widget.js. */
async function firstRender(browser: Browser, target: Target): Promise<number> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await target.prepare(page);
    await page.goto(target.pageUrl);
    await page.waitForSelector("switchboard-widget[data-state=ready]", { state: "attached" });
    return await page.evaluate(() => (window as unknown as { __switchboardReadyAt: number }).__switchboardReadyAt);
  } finally {
    await context.close();
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

export async function benchWidget(opts: { json: boolean }): Promise<WidgetBenchResult> {
  const js = await buildWidget();
  const target = (await realServer()) ?? stubServer(js);
  const browser = await launchChromium();
  const times: number[] = [];
  try {
    // One unmeasured visit, so the server's first-request costs (JIT, first queries) are not counted.
    await firstRender(browser, target);
    for (let i = 0; i < RUNS; i++) times.push(await firstRender(browser, target));
  } finally {
    await browser.close();
    await target.stop();
  }
  const result: WidgetBenchResult = {
    server: target.server,
    runs: RUNS,
    rawBytes: Buffer.byteLength(js),
    gzipBytes: Bun.gzipSync(js).length,
    firstRenderMs: {
      median: round(percentile(times, 50)),
      p90: round(percentile(times, 90)),
      min: round(percentile(times, 0)),
      max: round(percentile(times, 100)),
    },
  };
  if (opts.json) console.log(JSON.stringify(result));
  else printTable(result);
  return result;
}

function printTable(r: WidgetBenchResult) {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB (${bytes} B)`;
  const { median, p90, min, max } = r.firstRenderMs;
  const rows: [string, string][] = [
    ["widget.js raw", kb(r.rawBytes)],
    ["widget.js gzipped", kb(r.gzipBytes)],
    [`first render median (${r.runs} runs, ${r.server} server)`, `${median} ms`],
    ["first render p90", `${p90} ms`],
    ["first render min / max", `${min} / ${max} ms`],
  ];
  const width = Math.max(...rows.map(([m]) => m.length), "metric".length);
  console.log(`${"metric".padEnd(width)} | value`);
  console.log(`${"-".repeat(width)}-|-${"-".repeat(24)}`);
  for (const [metric, value] of rows) console.log(`${metric.padEnd(width)} | ${value}`);
}
