import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

/**
 * Settings → Inboxes → New, for SMS, WhatsApp, Slack, Telegram and API inboxes: each created through
 * its form, a bad field shown where it belongs, and the list with the URLs to paste into the provider.
 */

const hex = (n: number) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => (b % 16).toString(16)).join("");
const upper = (n: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"[b % 34]).join("");
/** Routing keys are unique across workspaces of the shared test database: fresh ids for each run. */
const ACCOUNT = `AC${hex(32)}`;
const SMS_NUMBER = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
const WHATSAPP_NUMBER = `+1415${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
const TEAM = `T${upper(9)}`;
const AUTH_TOKEN = "twilio-auth-token-0123456789";

/** Twilio's number list as inbox creation asks it: this account holds SMS_NUMBER only. */
const twilioAsked: { path: string; number: string | null; auth: string | null }[] = [];
const twilio = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req) {
    const url = new URL(req.url);
    const number = url.searchParams.get("PhoneNumber");
    twilioAsked.push({ path: url.pathname, number, auth: req.headers.get("authorization") });
    if (req.headers.get("authorization") !== `Basic ${btoa(`${ACCOUNT}:${AUTH_TOKEN}`)}`)
      return Response.json({ code: 20003, message: "Authenticate" }, { status: 401 });
    if (url.pathname !== `/2010-04-01/Accounts/${ACCOUNT}/IncomingPhoneNumbers.json`)
      return Response.json({ code: 20404 }, { status: 404 });
    const held = number === SMS_NUMBER ? [{ phone_number: SMS_NUMBER, sid: `PN${hex(32)}` }] : [];
    return Response.json({ incoming_phone_numbers: held });
  },
});

/** Slack's Web API as inbox creation calls it: auth.test names the team and bot user of a bot token. */
const SLACK_BOT_TOKEN = "xoxb-1234-5678-abcdef";
const slackAsked: { method: string; auth: string | null }[] = [];
const slack = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req) {
    const method = new URL(req.url).pathname.replace(/^\/api\//, "");
    slackAsked.push({ method, auth: req.headers.get("authorization") });
    if (req.headers.get("authorization") !== `Bearer ${SLACK_BOT_TOKEN}`)
      return Response.json({ ok: false, error: "invalid_auth" });
    if (method === "auth.test")
      return Response.json({ ok: true, team_id: TEAM, user_id: "U0BOT0001", bot_id: "B0BOT" });
    return Response.json({ ok: false, error: "unknown_method" });
  },
});

/** Telegram's Bot API as inbox creation calls it (getMe, setWebhook), recorded. */
const telegramAsked: { method: string; body: any }[] = [];
const telegram = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const method = new URL(req.url).pathname.split("/").at(-1) ?? "";
    const text = await req.text();
    let body: any = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = Object.fromEntries(new URLSearchParams(text));
    }
    telegramAsked.push({ method, body });
    if (method === "getMe")
      return Response.json({
        ok: true,
        result: { id: 123456, username: "demo_bot", is_bot: true, first_name: "Demo" },
      });
    return Response.json({ ok: true, result: true });
  },
});

let s: TestServer;
let admin: string;
let browser: Browser;

beforeAll(async () => {
  s = await startTestServer({
    env: {
      TWILIO_API_BASE: `http://127.0.0.1:${twilio.port}`,
      TELEGRAM_API_BASE: `http://127.0.0.1:${telegram.port}`,
      SLACK_API_BASE: `http://127.0.0.1:${slack.port}`,
    },
  });
  admin = await s.login(s.admin.email, s.admin.password);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
  twilio.stop(true);
  telegram.stop(true);
  slack.stop(true);
}, 60_000);

async function newInboxForm(locale: "en" | "zh-CN", channel: string): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript(
    ([t, l]) => (localStorage.setItem("sb.token", t!), localStorage.setItem("sb.locale", l!)),
    [admin, locale],
  );
  const page = await context.newPage();
  await page.goto(`${s.url}/app/#/admin/inboxes`);
  await page.getByTestId("add-messaging-inbox").click();
  await page.getByTestId("messaging-channel").selectOption(channel);
  return page;
}

async function listed(name: string) {
  const items = (await api(`${s.url}/api/v1/inboxes`, { token: admin })).body.items as any[];
  const found = items.find((i) => i.name === name);
  expect(found).toBeDefined();
  return found;
}

describe("Settings → Inboxes → New (zh-CN)", () => {
  it("refuses a number the Twilio account does not hold at its field, then creates the SMS inbox", async () => {
    const page = await newInboxForm("zh-CN", "sms");
    await page.getByRole("button", { name: "添加短信、WhatsApp、Slack、Telegram 或 API 收件箱" }).waitFor();
    const form = page.getByTestId("messaging-form");
    await form.getByLabel("收件箱名称").fill("短信客服");
    await form.getByLabel("电话号码（E.164 格式）").fill("+15550000000");
    await form.getByLabel("账户 SID（Account SID）").fill(ACCOUNT);
    await form.getByLabel("认证令牌（Auth Token）").fill(AUTH_TOKEN);
    await form.getByRole("button", { name: "创建短信收件箱" }).click();
    const refusal = form.locator("[data-testid=field-error][data-field=phoneNumber]");
    await refusal.waitFor();
    expect(await refusal.innerText()).toBe(
      "请以 E.164 格式填写号码，如 +8613800000000；短信号码必须属于该 Twilio 账户。",
    );
    expect(await form.getByLabel("电话号码（E.164 格式）").getAttribute("aria-invalid")).toBe("true");

    await form.getByLabel("电话号码（E.164 格式）").fill(SMS_NUMBER);
    await form.getByRole("button", { name: "创建短信收件箱" }).click();
    await page.getByText("短信收件箱「短信客服」已创建。").waitFor();
    expect(twilioAsked.at(-1)).toEqual({
      path: `/2010-04-01/Accounts/${ACCOUNT}/IncomingPhoneNumbers.json`,
      number: SMS_NUMBER,
      auth: `Basic ${btoa(`${ACCOUNT}:${AUTH_TOKEN}`)}`,
    });

    const inbox = await listed("短信客服");
    expect(inbox).toMatchObject({ channel: "sms", phoneNumber: SMS_NUMBER, accountSid: ACCOUNT });
    const card = page.locator(`[data-inbox-id="${inbox.id}"]`);
    await card.getByTestId("messaging-inbox").waitFor();
    expect(await card.getByTestId("inbox-webhook-url").innerText()).toBe(`${s.url}/webhooks/twilio/messaging`);
    expect(await card.getByTestId("inbox-status-callback-url").innerText()).toBe(
      `${s.url}/webhooks/twilio/messaging/status`,
    );
    const text = await card.innerText();
    for (const label of ["短信", "电话号码（E.164 格式）", "接收消息的 Webhook", "状态回调地址", "A message comes in"])
      expect(text).toContain(label);
    expect(await card.getByRole("button", { name: "复制" }).count()).toBe(2);
    // The auth token went to the server sealed and is shown nowhere.
    expect(await page.content()).not.toContain(AUTH_TOKEN);
    expect(JSON.stringify(inbox)).not.toContain(AUTH_TOKEN);
    await page.context().close();
  }, 60_000);

  it("creates a Telegram inbox with a generated secret token shown once, and its greeting", async () => {
    const page = await newInboxForm("zh-CN", "telegram");
    const form = page.getByTestId("messaging-form");
    await form.getByLabel("收件箱名称").fill("电报客服");
    await form.getByLabel("机器人令牌").fill("not-a-token");
    await form.getByRole("button", { name: "创建Telegram收件箱" }).click();
    const refusal = form.locator("[data-testid=field-error][data-field=botToken]");
    await refusal.waitFor();
    expect(await refusal.innerText()).toContain("Telegram 为 123456:ABC…");

    const botToken = `${Math.floor(Math.random() * 1e9)}:AAH${hex(30)}`;
    await form.getByLabel("机器人令牌").fill(botToken);
    await form.getByLabel("/start 问候语（中文）").fill("您好！请问有什么可以帮您？");
    await form.getByLabel("/start 问候语（英文）").fill("Hello! How can we help?");
    await form.getByRole("button", { name: "创建Telegram收件箱" }).click();
    const shown = page.getByTestId("inbox-shown");
    await shown.waitFor();
    expect(await shown.innerText()).toContain("请现在复制：之后不会再显示");
    const secret = await page.getByTestId("inbox-shown-secretToken").innerText();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{16,256}$/);

    const inbox = await listed("电报客服");
    expect(inbox).toMatchObject({
      channel: "telegram",
      botId: botToken.split(":")[0],
      greeting: { en: "Hello! How can we help?", "zh-CN": "您好！请问有什么可以帮您？" },
    });
    const webhookUrl = `${s.url}/webhooks/telegram/${inbox.id}`;
    const card = page.locator(`[data-inbox-id="${inbox.id}"]`);
    expect(await card.getByTestId("inbox-webhook-url").innerText()).toBe(webhookUrl);
    expect(await card.innerText()).toContain("机器人 ID");
    // Telegram was told the URL and the secret shown once; getMe named the bot.
    expect(telegramAsked.find((c) => c.method === "setWebhook")?.body).toMatchObject({
      url: webhookUrl,
      secret_token: secret,
    });
    expect(await card.getByTestId("inbox-botUsername").innerText()).toBe("demo_bot");

    await page.getByTestId("inbox-shown-done").click();
    await shown.waitFor({ state: "detached" });
    expect(await page.content()).not.toContain(secret);
    expect(await page.content()).not.toContain(botToken);
    await page.context().close();
  }, 60_000);
});

describe("Settings → Inboxes → New", () => {
  it("creates a WhatsApp inbox with a template; a bad Content SID is shown at its template", async () => {
    const page = await newInboxForm("en", "whatsapp");
    const form = page.getByTestId("messaging-form");
    await form.getByLabel("Inbox name").fill("WhatsApp orders");
    await form.getByLabel("Phone number (E.164)").fill(`whatsapp:${WHATSAPP_NUMBER}`);
    await form.getByLabel("Account SID").fill(ACCOUNT);
    await form.getByLabel("Auth token").fill(AUTH_TOKEN);
    await form.getByRole("button", { name: "Add template" }).click();
    const template = form.getByTestId("whatsapp-template");
    // WhatsApp's own variable syntax is shown as it is typed, not eaten as a placeholder of the UI's texts.
    expect(await form.getByTestId("whatsapp-templates").innerText()).toContain("the text with {{1}}, {{2}}…");
    expect(await template.getByLabel("Text").getAttribute("placeholder")).toBe(
      "Hello {{1}}, your order {{2}} has shipped.",
    );
    await template.getByLabel("Template name").fill("order_shipped");
    await template.getByLabel("Content SID").fill("HX123");
    await template.getByLabel("Language").fill("en");
    await template.getByLabel("Text").fill("Hello {{1}}, your order {{2}} has shipped.");
    await form.getByRole("button", { name: "Create WhatsApp inbox" }).click();
    const refusal = template.locator("[data-testid=field-error][data-field='templates.0.contentSid']");
    await refusal.waitFor();
    expect(await refusal.innerText()).toContain("must be a Twilio Content SID");

    const sid = `HX${hex(32)}`;
    await template.getByLabel("Content SID").fill(sid);
    await form.getByRole("button", { name: "Create WhatsApp inbox" }).click();
    await page.getByText("WhatsApp inbox “WhatsApp orders” created.").waitFor();
    const inbox = await listed("WhatsApp orders");
    expect(inbox).toMatchObject({
      channel: "whatsapp",
      phoneNumber: WHATSAPP_NUMBER,
      templates: [
        { name: "order_shipped", contentSid: sid, language: "en", body: "Hello {{1}}, your order {{2}} has shipped." },
      ],
    });
    const card = page.locator(`[data-inbox-id="${inbox.id}"]`);
    expect(await card.getByTestId("inbox-templates").innerText()).toBe("Templates: order_shipped");
    expect(await card.getByTestId("inbox-webhook-url").innerText()).toBe(`${s.url}/webhooks/twilio/messaging`);
    expect(await card.getByTestId("inbox-status-callback-url").innerText()).toBe(
      `${s.url}/webhooks/twilio/messaging/status`,
    );
    await page.context().close();
  }, 60_000);

  it("creates a Slack inbox; a bad team id is shown at its field", async () => {
    const page = await newInboxForm("en", "slack");
    const form = page.getByTestId("messaging-form");
    await form.getByLabel("Inbox name").fill("Slack Connect");
    // Switching channels keeps the name only: a token typed for one provider is not sent to another.
    await page.getByTestId("messaging-channel").selectOption("telegram");
    await form.getByLabel("Bot token").fill("123456:ABCDEFGHIJKLMNOP");
    await page.getByTestId("messaging-channel").selectOption("slack");
    expect(await form.getByLabel("Bot token").inputValue()).toBe("");
    expect(await form.getByLabel("Inbox name").inputValue()).toBe("Slack Connect");
    await form.getByLabel("Slack team ID").fill("acme");
    await form.getByLabel("Bot token").fill(SLACK_BOT_TOKEN);
    await form.getByLabel("Signing secret").fill("8f742231b10e8888abcd99yyyzzz85a5");
    await form.getByLabel("Bot user ID").fill("U0OTHER01");
    await form.getByLabel("Alert channel for agents (optional)").fill("C0ALERTS1");
    await form.getByRole("button", { name: "Create Slack inbox" }).click();
    const refusal = form.locator("[data-testid=field-error][data-field=teamId]");
    await refusal.waitFor();
    expect(await refusal.innerText()).toContain("must be a Slack team id");
    // The other fields keep what was typed: only the bad one needs fixing.
    expect(await form.getByLabel("Bot user ID").inputValue()).toBe("U0OTHER01");

    // Slack says whose bot the token is: a bot user id that is not it is refused at its field.
    await form.getByLabel("Slack team ID").fill(TEAM);
    await form.getByRole("button", { name: "Create Slack inbox" }).click();
    const wrongBot = form.locator("[data-testid=field-error][data-field=botUserId]");
    await wrongBot.waitFor();
    expect(await wrongBot.innerText()).toContain("U0BOT0001");
    expect(await form.getByLabel("Slack team ID").getAttribute("aria-invalid")).toBeNull();
    expect(slackAsked.at(-1)).toEqual({ method: "auth.test", auth: `Bearer ${SLACK_BOT_TOKEN}` });

    await form.getByLabel("Bot user ID").fill("U0BOT0001");
    await form.getByRole("button", { name: "Create Slack inbox" }).click();
    await page.getByText("Slack inbox “Slack Connect” created.").waitFor();
    const inbox = await listed("Slack Connect");
    expect(inbox).toMatchObject({ channel: "slack", teamId: TEAM, botUserId: "U0BOT0001", alertChannel: "C0ALERTS1" });
    const card = page.locator(`[data-inbox-id="${inbox.id}"]`);
    expect(await card.getByTestId("inbox-webhook-url").innerText()).toBe(`${s.url}/webhooks/slack/events`);
    expect(await card.getByTestId("inbox-teamId").innerText()).toBe(TEAM);
    expect(await card.innerText()).toContain("Event Subscriptions Request URL");
    expect(await page.content()).not.toContain("8f742231b10e8888abcd99yyyzzz85a5");
    await page.context().close();
  }, 60_000);

  it("creates an API inbox: its token and secret shown once work, and the messages URL is listed", async () => {
    const page = await newInboxForm("en", "api");
    const form = page.getByTestId("messaging-form");
    await form.getByLabel("Inbox name").fill("Mobile app");
    await form.getByLabel("Callback URL").fill("ftp://example.com/replies");
    await form.getByRole("button", { name: "Create API inbox" }).click();
    await form.locator("[data-testid=field-error][data-field=callbackUrl]").waitFor();

    await form.getByLabel("Callback URL").fill(`http://127.0.0.1:${twilio.port}/replies`);
    await form.getByRole("button", { name: "Create API inbox" }).click();
    const shown = page.getByTestId("inbox-shown");
    await shown.waitFor();
    expect(await shown.innerText()).toContain("you will not see it again");
    const token = await page.getByTestId("inbox-shown-token").innerText();
    const secret = await page.getByTestId("inbox-shown-secret").innerText();
    expect(token).toMatch(/^sbi_/);
    expect(secret).toMatch(/^sbs_/);

    const inbox = await listed("Mobile app");
    const messagesUrl = `${s.url}/api/v1/inboxes/${inbox.id}/messages`;
    expect(await page.getByTestId("created-webhook-url").innerText()).toBe(messagesUrl);
    const card = page.locator(`[data-inbox-id="${inbox.id}"]`);
    expect(await card.getByTestId("inbox-webhook-url").innerText()).toBe(messagesUrl);
    expect(await card.getByTestId("inbox-callbackUrl").innerText()).toBe(`http://127.0.0.1:${twilio.port}/replies`);
    const posted = await api(messagesUrl, {
      token,
      body: { contact: { identifier: "app-user-1", name: "App User" }, text: "Hi from the app", externalId: "m-1" },
    });
    expect(posted.status).toBe(201);

    await page.reload();
    await page.locator(`[data-inbox-id="${inbox.id}"]`).getByTestId("inbox-webhook-url").waitFor();
    expect(await page.content()).not.toContain(token);
    expect(await page.content()).not.toContain(secret);
    await page.context().close();
  }, 60_000);
});
