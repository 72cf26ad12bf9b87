import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createHash } from "node:crypto";
import { and, eq } from "drizzle-orm";
import type { Browser, Page } from "playwright-core";
import { ingestInbound } from "../../../conversations/ingest.ts";
import { timelineItems } from "../../../db/schema/index.ts";
import { launchChromium } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { startVoice, until } from "../../../test/voice.ts";

/** The agent inbox with WeChat, in Chinese: Settings, a pushed message, replies, failures, the 48-hour window. */

const TOKEN = "web-wechat-token";
const APP_ID = "wx0011223344556677";
const AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

/** WeChat's Official Account API as replies use it, recorded; `failNext` makes custom/send refuse once. */
type Sent = { path: string; body: any };
const recorded: Sent[] = [];
let failNext: { errcode: number; errmsg: string } | null = null;
const wechatApi = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const url = new URL(req.url);
    const body = req.method === "POST" ? await req.json().catch(() => undefined) : undefined;
    recorded.push({ path: url.pathname, body });
    if (url.pathname === "/cgi-bin/token" || url.pathname === "/cgi-bin/stable_token")
      return Response.json({ access_token: "stand-in-token", expires_in: 7200 });
    if (url.pathname === "/cgi-bin/message/custom/send" && failNext) {
      const refusal = failNext;
      failNext = null;
      return Response.json(refusal);
    }
    return Response.json({ errcode: 0, errmsg: "ok" });
  },
});

let s: TestServer;
let admin: string;
let inboxId: string;
let browser: Browser;

beforeAll(async () => {
  s = await startTestServer({ env: { WECHAT_API_BASE: `http://127.0.0.1:${wechatApi.port}` } });
  admin = await s.login(s.admin.email, s.admin.password);
  const created = await api(`${s.url}/api/v1/inboxes`, {
    token: admin,
    body: {
      name: "服务号",
      channel: "wechat",
      token: TOKEN,
      appId: APP_ID,
      appSecret: "s3cret",
      encodingAesKey: AES_KEY,
    },
  });
  expect(created.status).toBe(201);
  inboxId = created.body.id;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
  wechatApi.stop(true);
}, 60_000);

/** A page signed in as the admin with the UI in Chinese, as a Chinese-speaking team runs it. */
async function chinesePage(): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript(
    ([token]) => (localStorage.setItem("sb.token", token!), localStorage.setItem("sb.locale", "zh-CN")),
    [admin],
  );
  return context.newPage();
}

const sha1 = (parts: string[]) =>
  createHash("sha1")
    .update([...parts].sort().join(""))
    .digest("hex");

/** A plaintext push signed as WeChat signs it (sha1 of the sorted token, timestamp and nonce). */
async function push(openId: string, text: string) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = String(Math.floor(Math.random() * 1e10));
  const msgId = String(Math.floor(Math.random() * 1e15) + 1e18);
  const xml =
    `<xml><ToUserName><![CDATA[gh_web]]></ToUserName><FromUserName><![CDATA[${openId}]]></FromUserName>` +
    `<CreateTime>${timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>` +
    `<Content><![CDATA[${text}]]></Content><MsgId>${msgId}</MsgId></xml>`;
  const signature = sha1([TOKEN, timestamp, nonce]);
  const res = await fetch(
    `${s.url}/webhooks/wechat/${inboxId}?signature=${signature}&timestamp=${timestamp}&nonce=${nonce}&openid=${openId}`,
    { method: "POST", headers: { "content-type": "text/xml" }, body: xml },
  );
  expect(await res.text()).toBe("success");
  const list = await api(`${s.url}/api/v1/conversations?channel=wechat&q=${openId}`, { token: admin });
  expect(list.body.items).toHaveLength(1);
  return list.body.items[0] as { id: string; contact: { id: string } };
}

const PNG_1X1 = Uint8Array.from(
  atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="),
  (c) => c.charCodeAt(0),
);

/** A mono 8 kHz 16-bit WAV of silence: what a WeChat voice note becomes once decoded. */
function silentWav(seconds: number) {
  const samples = Math.round(8000 * seconds);
  const out = new DataView(new ArrayBuffer(44 + samples * 2));
  const text = (at: number, s: string) => [...s].forEach((c, i) => out.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF");
  out.setUint32(4, 36 + samples * 2, true);
  text(8, "WAVEfmt ");
  out.setUint32(16, 16, true);
  out.setUint16(20, 1, true);
  out.setUint16(22, 1, true);
  out.setUint32(24, 8000, true);
  out.setUint32(28, 16000, true);
  out.setUint16(32, 2, true);
  out.setUint16(34, 16, true);
  text(36, "data");
  out.setUint32(40, samples * 2, true);
  return new Uint8Array(out.buffer);
}

const openIdNew = () => `oWeb${crypto.randomUUID().replaceAll("-", "").slice(0, 22)}`;

describe("Settings → Inboxes → WeChat (zh-CN)", () => {
  it("shows a bad AppID at its field, then creates the inbox and shows the URL for WeChat's console", async () => {
    const page = await chinesePage();
    await page.goto(`${s.url}/app/#/admin/inboxes`);
    await page.getByRole("button", { name: "添加微信收件箱" }).click();
    const form = page.getByTestId("wechat-form");
    await form.getByLabel("收件箱名称").fill("客服公众号");
    await form.getByLabel("开发者ID (AppID)").fill("wx123");
    await form.getByLabel("开发者密码 (AppSecret)").fill("top-secret-app-secret");
    for (const field of ["令牌 (Token)", "消息加解密密钥 (EncodingAESKey)"])
      await form.locator("label.field", { hasText: field }).getByRole("button", { name: "随机生成" }).click();
    expect(await form.getByLabel("消息加解密密钥 (EncodingAESKey)").inputValue()).toMatch(/^[A-Za-z0-9]{43}$/);
    await form.getByLabel("消息加解密方式").selectOption({ label: "安全模式（推荐）" });
    await form.getByRole("button", { name: "创建微信收件箱" }).click();

    const refusal = form.locator("[data-testid=field-error][data-field=appId]");
    await refusal.waitFor();
    expect(await refusal.innerText()).toContain("AppID 须为 wx 加 16 位十六进制字符");
    expect(await form.getByLabel("开发者ID (AppID)").getAttribute("aria-invalid")).toBe("true");

    await form.getByLabel("开发者ID (AppID)").fill("wx00112233445566aa");
    await form.getByRole("button", { name: "创建微信收件箱" }).click();
    await page.getByTestId("wechat-created").and(page.getByText("微信收件箱「客服公众号」已创建。")).waitFor();

    const listed = (await api(`${s.url}/api/v1/inboxes`, { token: admin })).body.items.find(
      (i: any) => i.name === "客服公众号",
    );
    expect(listed).toMatchObject({ channel: "wechat", kind: "official", appId: "wx00112233445566aa", mode: "safe" });
    const card = page.locator(`[data-inbox-id="${listed.id}"]`);
    await card.getByTestId("wechat-webhook").waitFor();
    expect(await card.getByTestId("embed-snippet").innerText()).toBe(`${s.url}/webhooks/wechat/${listed.id}`);
    expect(await card.getByTestId("wechat-kind-label").innerText()).toBe("公众号");
    const howto = await card.getByTestId("wechat-webhook").innerText();
    expect(howto).toContain("设置与开发 → 基本配置 → 服务器配置");
    expect(howto).toContain("安全模式（推荐）");
    await card.getByRole("button", { name: "复制" }).waitFor();
    // The secret went to the server sealed and is not shown back anywhere.
    expect(await page.content()).not.toContain("top-secret-app-secret");
    await page.context().close();
  }, 60_000);

  it("names WeCom's refused field in Chinese too", async () => {
    const page = await chinesePage();
    await page.goto(`${s.url}/app/#/admin/inboxes`);
    await page.getByRole("button", { name: "添加微信收件箱" }).click();
    const form = page.getByTestId("wechat-form");
    await form.getByTestId("wechat-kind").selectOption({ label: "微信客服" });
    await form.getByLabel("收件箱名称").fill("微信客服");
    await form.getByLabel("企业ID (CorpID)").fill("not-a-corp");
    await form.getByLabel("微信客服 Secret").fill("x");
    await form.getByRole("button", { name: "创建微信收件箱" }).click();
    const refusal = form.locator("[data-testid=field-error][data-field=corpId]");
    await refusal.waitFor();
    expect(await refusal.innerText()).toContain("企业ID 须为 ww 加 16 位字母或数字");
    await page.context().close();
  }, 60_000);

  it("shows a Wechaty bot's state, its login QR while it waits for a scan, and starts and stops it", async () => {
    const created = await api(`${s.url}/api/v1/inboxes`, {
      token: admin,
      body: { name: "微信小助手", channel: "wechat", kind: "wechaty", puppet: "wechaty-puppet-mock" },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    // The bot's side is another part's (its own tests run a mock puppet): here the screen meets the
    // API's answers, played by the browser's router, and what it asks of the API is recorded.
    let state: Record<string, unknown> = { status: "stopped", stopped: true };
    const asked: string[] = [];
    const page = await chinesePage();
    await page.route(`**/api/v1/inboxes/${id}/wechaty**`, (route) => {
      const path = new URL(route.request().url()).pathname;
      if (route.request().method() === "POST") {
        asked.push(path.split("/").pop()!);
        // Stopping answers at once with `stopped`; the node running the bot updates its status later.
        state = path.endsWith("/start")
          ? {
              status: "scan",
              stopped: false,
              qrImage: `data:image/png;base64,${btoa(String.fromCharCode(...PNG_1X1))}`,
              qrcode: "https://login.weixin.qq.com/l/x",
            }
          : { ...state, stopped: true };
        return route.fulfill({ json: state });
      }
      return route.fulfill({ json: state });
    });
    await page.goto(`${s.url}/app/#/admin/inboxes`);
    const card = page.locator(`[data-inbox-id="${id}"]`);
    const bot = card.getByTestId("wechaty-bot");
    await bot.locator("[data-testid=wechaty-status]", { hasText: "已停止" }).waitFor();
    expect(await card.getByTestId("wechat-kind-label").innerText()).toBe("微信机器人");
    expect(await card.getByTestId("wechat-webhook").count()).toBe(0);

    await bot.getByRole("button", { name: "启动机器人" }).click();
    await bot.getByRole("img", { name: "微信登录二维码" }).waitFor();
    expect(await bot.getByTestId("wechaty-status").innerText()).toBe("等待扫码登录");
    expect(asked).toEqual(["start"]);

    // Scanned on the phone: the next poll shows who is logged in, and the QR goes.
    state = { status: "logged_in", stopped: false, user: { name: "小助手" } };
    await bot.locator("[data-testid=wechaty-status]", { hasText: "已登录：小助手" }).waitFor({ timeout: 5000 });
    expect(await bot.getByTestId("wechaty-qr").count()).toBe(0);
    expect(await bot.getByRole("button", { name: "启动机器人" }).isDisabled()).toBe(true);

    // A puppet that fails says why (never a secret: the server keeps only the error's text).
    state = { status: "error", stopped: false, lastError: "puppet token rejected" };
    await bot.getByText("出错 — puppet token rejected").waitFor({ timeout: 5000 });

    await bot.getByRole("button", { name: "停止机器人" }).click();
    await bot.locator("[data-testid=wechaty-status]", { hasText: "已停止" }).waitFor();
    expect(asked).toEqual(["start", "stop"]);
    expect(await bot.getByRole("button", { name: "启动机器人" }).isDisabled()).toBe(false);
    await page.context().close();
  }, 60_000);
});

describe("a WeChat conversation in the inbox (zh-CN)", () => {
  it("shows a pushed message with the WeChat badge and its kind; the reply goes out through custom/send", async () => {
    const openId = openIdNew();
    const conversation = await push(openId, "我的订单什么时候发货？");
    const page = await chinesePage();
    await page.goto(`${s.url}/app/#/inbox/all`);
    const row = page.getByTestId("conversation-row").filter({ hasText: "我的订单什么时候发货？" });
    await row.getByRole("img", { name: "微信 · 公众号" }).waitFor();
    await row.click();
    await page.getByTestId("channel-kind").and(page.getByText("公众号")).waitFor();
    await page
      .getByTestId("timeline-item")
      .filter({ hasText: "我的订单什么时候发货？" })
      .getByRole("img", { name: "微信 · 公众号" })
      .waitFor();

    await page.getByTestId("composer-input").fill("今天下午发货。");
    await page.getByTestId("composer-input").press("Enter");
    const sent = await until(
      () =>
        recorded.find((r) => r.path === "/cgi-bin/message/custom/send" && r.body?.text?.content === "今天下午发货。"),
      10_000,
      "custom/send",
    );
    expect(sent.body).toMatchObject({ touser: openId, msgtype: "text" });
    const delivery = page.getByTestId("timeline-item").filter({ hasText: "今天下午发货。" }).getByTestId("delivery");
    await delivery.and(page.locator("[data-status=sent], [data-status=delivered]")).waitFor();
    expect(conversation.id).toBeTruthy();
    await page.context().close();
  }, 60_000);

  it("plays a voice note and shows an image inline", async () => {
    const openId = openIdNew();
    const { contact } = await push(openId, "我发张图片给你");
    const store = async (name: string, contentType: string, bytes: Uint8Array) =>
      (
        await s.rt.files.saveStream(
          s.rt.core.db,
          s.workspaceId,
          { contactId: contact.id },
          { name, contentType },
          (async function* () {
            yield bytes;
          })(),
          1 << 20,
        )
      ).id;
    const image = await store("photo.png", "image/png", PNG_1X1);
    const voice = await store("voice.wav", "audio/wav", silentWav(0.5));
    const { conversation } = await ingestInbound(s.rt.core, s.workspaceId, {
      channel: "wechat",
      channelAccountId: inboxId,
      externalId: `media-${openId}`,
      from: { kind: "wechat", value: openId },
      text: "这是照片和语音",
      attachments: [image, voice],
    });
    const page = await chinesePage();
    await page.goto(`${s.url}/app/#/inbox/all/${conversation.id}`);
    const item = page.getByTestId("timeline-item").filter({ hasText: "这是照片和语音" });
    const img = item.locator("img.attachment-image[alt='photo.png']");
    await img.waitFor();
    await until(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth === 1), 10_000, "image");
    const audio = item.locator("audio[controls]");
    await audio.waitFor();
    // The browser read the file as playable audio: half a second of it.
    const duration = await until(
      () => audio.evaluate((el: HTMLAudioElement) => (el.readyState >= 1 ? el.duration : 0)),
      10_000,
      "audio metadata",
    );
    expect(duration).toBeCloseTo(0.5, 1);
    await page.context().close();
  }, 60_000);

  it("shows WeChat's refusal on the message with its code, and Retry sends it again", async () => {
    const openId = openIdNew();
    const conversation = await push(openId, "还没收到货");
    const page = await chinesePage();
    await page.goto(`${s.url}/app/#/inbox/all/${conversation.id}`);
    await page.getByTestId("timeline-item").filter({ hasText: "还没收到货" }).waitFor();
    failNext = { errcode: 45047, errmsg: "out of response count limit" };
    await page.getByTestId("composer-input").fill("我们马上查一下。");
    await page.getByTestId("composer-input").press("Enter");
    const delivery = page.getByTestId("timeline-item").filter({ hasText: "我们马上查一下。" }).getByTestId("delivery");
    await delivery.and(page.locator("[data-status=failed]")).waitFor();
    expect(await delivery.innerText()).toContain("WeChat 45047");
    expect(await delivery.innerText()).toContain("发送失败");

    await delivery.getByRole("button", { name: "重试" }).click();
    await delivery.and(page.locator("[data-status=sent], [data-status=delivered]")).waitFor();
    const attempts = recorded.filter(
      (r) => r.path === "/cgi-bin/message/custom/send" && r.body?.text?.content === "我们马上查一下。",
    );
    expect(attempts).toHaveLength(2);
    await page.context().close();
  }, 60_000);

  it("past 48 hours: says why the reply cannot go, still takes notes, and offers email and a callback", async () => {
    const voice = await startVoice(s);
    const email = await api(`${s.url}/api/v1/inboxes`, {
      token: admin,
      body: {
        name: "邮件客服",
        channel: "email",
        email: {
          address: `help-${crypto.randomUUID().slice(0, 8)}@acme.test`,
          smtp: { host: "127.0.0.1", port: 9, security: "none" },
        },
      },
    });
    expect(email.status).toBe(201);
    const openId = openIdNew();
    const conversation = await push(openId, "上周买的东西坏了");
    for (const identity of [
      { kind: "email", value: "wang@example.test" },
      { kind: "phone", value: "+8613800138000" },
    ]) {
      const added = await api(`${s.url}/api/v1/contacts/${conversation.contact.id}/identities`, {
        token: admin,
        body: identity,
      });
      expect(added.status).toBe(201);
    }
    // The customer wrote 49 hours ago.
    await s.rt.core.db
      .update(timelineItems)
      .set({ createdAt: new Date(Date.now() - 49 * 3_600_000) })
      .where(and(eq(timelineItems.conversationId, conversation.id), eq(timelineItems.direction, "in")));

    const page = await chinesePage();
    await page.goto(`${s.url}/app/#/inbox/all/${conversation.id}`);
    const notice = page.getByTestId("reply-window-closed");
    await notice.waitFor();
    expect(await notice.innerText()).toContain("客户最后一条消息已超过 48 小时，微信不再允许回复。");
    const send = page.getByTestId("send");
    expect(await send.isDisabled()).toBe(true);
    const before = recorded.length;
    await page.getByTestId("composer-input").fill("您好，在吗？");
    await page.getByTestId("composer-input").press("Enter");

    // A private note still goes in.
    await page.getByTestId("mode-note").click();
    expect(await send.isDisabled()).toBe(false);
    await page.getByTestId("composer-input").fill("客户超过 48 小时未回复，改为电话联系。");
    await page.getByTestId("composer-input").press("Enter");
    await page.getByTestId("timeline-item").filter({ hasText: "改为电话联系" }).waitFor();
    await page.getByTestId("mode-reply").click();
    await notice.waitFor();
    expect(await page.getByTestId("timeline-item").filter({ hasText: "您好，在吗？" }).count()).toBe(0);
    expect(recorded.slice(before).filter((r) => r.path === "/cgi-bin/message/custom/send")).toHaveLength(0);

    // Email opens the new-email form to the address; a callback rings through the phone line.
    await notice.getByRole("button", { name: "发邮件至 wang@example.test" }).click();
    const form = page.getByTestId("new-email-form");
    await form.waitFor();
    expect(await form.locator("select[name=to]").inputValue()).toBe("wang@example.test");
    await notice.getByRole("button", { name: "回电 +8613800138000" }).click();
    await page.getByTestId("reply-window-calling").waitFor();
    await page.getByTestId("call-item").first().waitFor();
    await page.context().close();
    voice.stop();
  }, 60_000);

  it("shows the server's refusal in Chinese when the window closes between reading and sending", async () => {
    const conversation = await push(openIdNew(), "在吗");
    const page = await chinesePage();
    await page.goto(`${s.url}/app/#/inbox/all/${conversation.id}`);
    await page.getByTestId("timeline-item").filter({ hasText: "在吗" }).waitFor();
    expect(await page.getByTestId("reply-window-closed").count()).toBe(0);
    await s.rt.core.db
      .update(timelineItems)
      .set({ createdAt: new Date(Date.now() - 49 * 3_600_000) })
      .where(eq(timelineItems.conversationId, conversation.id));
    await page.getByTestId("composer-input").fill("在的，请讲。");
    await page.getByTestId("composer-input").press("Enter");
    await page.getByRole("alert").and(page.getByText("微信 48 小时回复窗口已关闭，这条回复没有发出。")).waitFor();
    await page.getByTestId("reply-window-closed").waitFor();
    await page.context().close();
  }, 60_000);

  it("shows the hint in the window's last hours", async () => {
    const conversation = await push(openIdNew(), "明天再说");
    await s.rt.core.db
      .update(timelineItems)
      .set({ createdAt: new Date(Date.now() - 43 * 3_600_000) })
      .where(eq(timelineItems.conversationId, conversation.id));
    const page = await chinesePage();
    await page.goto(`${s.url}/app/#/inbox/all/${conversation.id}`);
    const hint = page.getByTestId("reply-window-hint");
    await hint.waitFor();
    expect(await hint.innerText()).toContain("微信回复窗口将在 5 小时后关闭");
    expect(await page.getByTestId("send").isDisabled()).toBe(false);
    await page.context().close();
  }, 60_000);
});
