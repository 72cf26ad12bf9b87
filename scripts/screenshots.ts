/**
 * `bun run screenshots`: starts Switchboard with the demo data in a temporary directory, plays a few
 * customers and agents in Chromium, and saves the main screens to docs/screenshots/ (shown in the
 * README and docs/inbox.md). Run it again after changing the UI.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { openWidget, launchChromium } from "../test/browser.ts";
import { parseConfig } from "../platform/config.ts";
import { seedDemo } from "../apps/demo/seed.ts";
import { createRuntime } from "../apps/server/runtime.ts";
import { createApp, serve } from "../apps/server/app.ts";

const OUT = join(import.meta.dir, "../docs/screenshots");
const DESKTOP = { width: 1280, height: 800 };

const dataDir = mkdtempSync(join(tmpdir(), "switchboard-shots-"));
const rt = await createRuntime(
  parseConfig({ DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "warn", SWITCHBOARD_DEMO: "1" }),
);
const demo = await seedDemo(rt);
const server = serve(rt, createApp(rt), 0, "127.0.0.1");
rt.outbox.start();
rt.router.start();
const url = `http://127.0.0.1:${server.port}`;
mkdirSync(OUT, { recursive: true });
const browser = await launchChromium();

async function token(email: string) {
  const res = await fetch(`${url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: "demo" }),
  });
  return ((await res.json()) as { token: string }).token;
}
async function call(t: string, path: string, body?: unknown, method = body === undefined ? "GET" : "POST") {
  const res = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${t}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.json() as Promise<any>;
}
async function tab(b: Browser, email: string, viewport = DESKTOP, locale = "en"): Promise<Page> {
  const t = await token(email);
  const context = await b.newContext({ viewport, deviceScaleFactor: 1 });
  await context.addInitScript(
    ([tk, l]) => (localStorage.setItem("sb.token", tk!), localStorage.setItem("sb.locale", l!)),
    [t, locale],
  );
  return context.newPage();
}
const shot = (page: Page, name: string) => page.screenshot({ path: join(OUT, `${name}.png`) });

try {
  const login = await (await browser.newContext({ viewport: DESKTOP })).newPage();
  await login.goto(`${url}/app/`);
  await shot(login, "login");

  // Customers write in through the widget.
  const li = await openWidget(browser, url, demo.widgetKey!);
  const liId = await li.send("我要退款，订单 #20391 收到的杯子是碎的 😢");
  const mark = await openWidget(browser, url, demo.widgetKey!);
  await mark.send("Hi, my package arrived damaged. Can I get a replacement?");
  const sara = await openWidget(browser, url, demo.widgetKey!);
  const saraId = await sara.send("Do you ship to Singapore? 请问可以寄到新加坡吗？");

  const admin = await token("admin@demo.test");
  const sara360 = await call(admin, `/conversations/${saraId}`);
  await call(
    admin,
    `/contacts/${sara360.contact.id}`,
    { name: "Sara Tan", attributes: { vip: true, plan: "Business", city: "Singapore" } },
    "PATCH",
  );
  await call(admin, `/contacts/${sara360.contact.id}/identities`, { kind: "email", value: "sara.tan@example.com" });
  await call(admin, `/contacts/${sara360.contact.id}/notes`, { text: "Orders for her whole team; prefers English." });
  await call(admin, `/conversations/${saraId}/messages`, {
    text: "Hi Sara! Yes, we ship to Singapore in 3–5 working days.",
  });
  await call(admin, `/conversations/${saraId}/messages`, {
    text: "VIP — offer free express shipping if she orders today.",
    private: true,
  });
  await call(admin, `/conversations/${saraId}/labels`, { labels: ["shipping", "vip"] }, "PUT");
  await call(admin, "/canned-responses", {
    shortcut: "ship",
    title: "Shipping times",
    body: "Hi {{contact.name}}, orders ship within 24 hours and arrive in 3–5 working days.",
  });
  await sara.send("Great, thank you! 谢谢");

  const inbox = await tab(browser, "admin@demo.test");
  await inbox.goto(`${url}/app/#/inbox/all/${saraId}`);
  await inbox.getByTestId("timeline-item").filter({ hasText: "谢谢" }).waitFor();
  await inbox.getByTestId("contact-panel").waitFor();
  await inbox.getByTestId("composer-input").fill("/sh");
  await inbox.getByTestId("canned-list").waitFor();
  await shot(inbox, "inbox");

  const lina = await tab(browser, "lina@demo.test", DESKTOP, "zh-CN");
  await lina.goto(`${url}/app/#/inbox/all/${liId}`);
  await lina.getByTestId("timeline-item").filter({ hasText: "杯子" }).waitFor();
  await lina.getByTestId("composer-input").fill("您好，非常抱歉！我马上为您办理退款。");
  await shot(lina, "inbox-zh-CN");

  // Li's refund request becomes a ticket for the back office, with a comment for 李娜.
  const ticket = await call(admin, `/conversations/${liId}/tickets`, {
    title: "退款：订单 #20391 杯子破损",
    type: "refund",
    priority: "high",
  });
  await call(admin, `/tickets/${ticket.id}`, { status: "open" }, "PATCH");
  await call(admin, `/tickets/${ticket.id}/comments`, { body: "@李娜 请今天内完成退款并通知客户" });
  const tickets = await tab(browser, "admin@demo.test", DESKTOP, "zh-CN");
  await tickets.goto(`${url}/app/#/tickets/all/${ticket.id}`);
  await tickets.getByTestId("ticket-entry").filter({ hasText: "请今天内" }).waitFor();
  await tickets.getByTestId("ticket-row").first().waitFor();
  await shot(tickets, "tickets-zh-CN");

  // Agents come online: the queues start offering work.
  await call(await token("tom@demo.test"), "/me/presence", { presence: "available" }, "PUT");
  await lina.getByTestId("presence-select").selectOption("available");
  await lina.getByTestId("offer").first().waitFor({ timeout: 15_000 });
  await shot(lina, "offer-zh-CN");

  const sup = await tab(browser, "supervisor@demo.test");
  await sup.goto(`${url}/app/#/wallboard`);
  await sup.getByTestId("wall-chart").locator("svg").waitFor();
  await sup.locator("[data-testid=wall-agents] tbody tr").first().waitFor();
  await shot(sup, "wallboard");

  const settings = await tab(browser, "admin@demo.test");
  await settings.goto(`${url}/app/#/admin/queues`);
  await settings.getByTestId("queue-table").waitFor();
  await settings.getByTestId("queue-table").locator("button").first().click();
  await shot(settings, "admin-queues");
  await settings.goto(`${url}/app/#/admin/inboxes`);
  await settings.getByTestId("embed-snippet").first().waitFor();
  await shot(settings, "admin-inboxes");

  const phone = await tab(browser, "admin@demo.test", { width: 390, height: 844 });
  await phone.goto(`${url}/app/#/inbox/all/${saraId}`);
  await phone.getByTestId("timeline-item").filter({ hasText: "谢谢" }).waitFor();
  await shot(phone, "phone");
  console.log(`screenshots saved to ${OUT}`);
} finally {
  await browser.close();
  server.stop(true);
  await rt.close();
  rmSync(dataDir, { recursive: true, force: true });
}
