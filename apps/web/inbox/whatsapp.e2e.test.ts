import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { and, eq } from "drizzle-orm";
import type { Browser, Page } from "playwright-core";
import type { ChannelAdapter, OutboundMessage } from "../../../conversations/channel.ts";
import { createInbox } from "../../../conversations/inbox.ts";
import { ingestInbound } from "../../../conversations/ingest.ts";
import { contactIdentities, timelineItems } from "../../../db/schema/index.ts";
import { launchChromium } from "../../../test/browser.ts";
import { until } from "../../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

/**
 * The composer with SMS and WhatsApp, in Chinese: reply via WhatsApp inside the 24-hour window, the
 * template picker once it has closed, the SMS segment count, and an opted-out number that cannot be chosen.
 * Inboxes are made directly and messages ingested as the gateway would; sends go to a recording adapter.
 */

const HOUR = 3_600_000;
const ORDER = {
  name: "order_update",
  contentSid: "HX0123456789abcdef0123456789abcdef",
  language: "zh_CN",
  body: "{{1}}您好，您的订单 {{2}} 已发货。",
};

const sent: OutboundMessage[] = [];
const recorder = (channel: "sms" | "whatsapp"): ChannelAdapter => ({
  channel,
  capabilities: { text: true, media: true, voice: false, typing: false, readReceipts: true, editWindow: 0 },
  async send(outbound) {
    sent.push(outbound);
    return { externalId: `SM${crypto.randomUUID().replaceAll("-", "")}`, status: "sent" };
  },
});

let s: TestServer;
let admin: string;
let browser: Browser;
let whatsapp: { id: string };
let sms: { id: string };
const ACCOUNT = `AC${"1".repeat(24)}${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
const number = () => `+8613${String(Math.floor(Math.random() * 1e9)).padStart(9, "0")}`;

beforeAll(async () => {
  s = await startTestServer({ adapters: { whatsapp: recorder("whatsapp"), sms: recorder("sms") } });
  admin = await s.login(s.admin.email, s.admin.password);
  whatsapp = await createInbox(s.rt.core.db, s.rt.keyring, {
    workspaceId: s.workspaceId,
    channel: "whatsapp",
    name: "WhatsApp 客服",
    settings: { phoneNumber: number(), accountSid: ACCOUNT, templates: [ORDER] },
    credentials: { authToken: "whatsapp-browser-auth-token" },
  });
  sms = await createInbox(s.rt.core.db, s.rt.keyring, {
    workspaceId: s.workspaceId,
    channel: "sms",
    name: "短信客服",
    settings: { phoneNumber: number(), accountSid: ACCOUNT },
    credentials: { authToken: "sms-browser-auth-token-12" },
  });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, 60_000);

/** A page signed in as the admin with the UI in Chinese. */
async function chinesePage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(
    ([token]) => (localStorage.setItem("sb.token", token!), localStorage.setItem("sb.locale", "zh-CN")),
    [admin],
  );
  return context.newPage();
}

/** A WhatsApp message from `from`, as the gateway ingests it; the conversation and contact ids. */
async function fromWhatsapp(from: string, text: string) {
  const stored = await ingestInbound(s.rt.core, s.workspaceId, {
    channel: "whatsapp",
    channelAccountId: whatsapp.id,
    externalId: `SM${crypto.randomUUID().replaceAll("-", "")}`,
    from: { kind: "whatsapp", value: from, displayName: "王芳" },
    text,
    data: { from },
  });
  return { id: stored.conversation.id, contactId: stored.contactId };
}

const addIdentity = (contactId: string, kind: string, value: string) =>
  api(`${s.url}/api/v1/contacts/${contactId}/identities`, { token: admin, body: { kind, value } });

describe("WhatsApp and SMS in the composer (zh-CN)", () => {
  it("replies on WhatsApp inside the 24-hour window", async () => {
    const c = await fromWhatsapp(number(), "我的订单到哪了？");
    const page = await chinesePage();
    await page.goto(`${s.url}/app/#/inbox/all/${c.id}`);
    const via = page.getByTestId("reply-via-toggle");
    await via.waitFor();
    expect(await via.innerText()).toContain("WhatsApp 客服");
    expect(await via.innerText()).toMatch(/窗口 2[34] 小时后关闭/);
    expect(await page.getByTestId("template-picker").count()).toBe(0);
    await page.getByTestId("composer-input").fill("已经发货了，明天送到。");
    await page.getByTestId("composer-input").press("Enter");
    await page.getByTestId("timeline-item").filter({ hasText: "已经发货了，明天送到。" }).waitFor();
    const out = await until(
      async () => sent.find((m) => m.conversationId === c.id),
      (m) => !!m,
    );
    expect(out?.inbox.channel).toBe("whatsapp");
    await page.context().close();
  }, 60_000);

  it("after 24 hours shows why, and sends an approved template with its variables filled in", async () => {
    const c = await fromWhatsapp(number(), "好的，谢谢");
    await s.rt.core.db
      .update(timelineItems)
      .set({ createdAt: new Date(Date.now() - 25 * HOUR) })
      .where(and(eq(timelineItems.conversationId, c.id), eq(timelineItems.direction, "in")));
    const page = await chinesePage();
    await page.goto(`${s.url}/app/#/inbox/all/${c.id}`);
    const picker = page.getByTestId("template-picker");
    await picker.waitFor();
    expect(await page.getByTestId("template-reason").innerText()).toBe(
      "超过 24 小时后，WhatsApp 只允许企业使用已审核的模板发起对话。",
    );
    expect(await page.getByTestId("reply-via-toggle").innerText()).toContain("窗口已关闭");
    expect(await page.getByTestId("composer-input").isHidden()).toBe(true);
    const send = page.getByTestId("send");
    expect(await send.innerText()).toBe("发送模板");

    // The only template is chosen already; it needs both variables before it can go.
    expect(await page.getByTestId("template-select").inputValue()).toBe(ORDER.contentSid);
    expect(await send.isDisabled()).toBe(true);
    await page.getByLabel("{{1}} 的内容").fill("王女士");
    expect(await page.getByTestId("template-preview").innerText()).toBe("王女士您好，您的订单 {{2}} 已发货。");
    expect(await send.isDisabled()).toBe(true);
    await page.getByLabel("{{2}} 的内容").fill("#4411");
    expect(await page.getByTestId("template-preview").innerText()).toBe("王女士您好，您的订单 #4411 已发货。");
    await send.click();
    await page.getByTestId("timeline-item").filter({ hasText: "王女士您好，您的订单 #4411 已发货。" }).waitFor();
    const out = await until(
      async () => sent.find((m) => m.conversationId === c.id),
      (m) => !!m,
    );
    expect(out?.channelData?.template).toMatchObject({
      contentSid: ORDER.contentSid,
      variables: { "1": "王女士", "2": "#4411" },
    });

    // Notes still go as text.
    await page.getByTestId("mode-note").click();
    expect(await page.getByTestId("composer-input").isVisible()).toBe(true);
    await page.getByTestId("composer-input").fill("客户超过 24 小时未回复，已发模板。");
    await page.getByTestId("composer-input").press("Enter");
    await page.getByTestId("timeline-item").filter({ hasText: "已发模板" }).waitFor();
    await page.context().close();
  }, 60_000);

  it("counts SMS segments under the draft, and an opted-out number cannot be chosen", async () => {
    const phone = number();
    const c = await fromWhatsapp(phone, "可以发短信给我");
    expect((await addIdentity(c.contactId, "phone", phone)).status).toBe(201);
    const page = await chinesePage();
    await page.goto(`${s.url}/app/#/inbox/all/${c.id}`);

    await page.getByTestId("reply-via-toggle").click();
    const options = page.getByTestId("reply-option");
    expect(await options.count()).toBe(2);
    await page.locator(`[data-testid=reply-option][data-inbox="${sms.id}"]`).click();
    expect(await page.getByTestId("reply-via-toggle").innerText()).toContain("短信客服");
    const count = page.getByTestId("sms-segments");
    await page.getByTestId("composer-input").fill("您好，您的包裹已到达");
    expect(await count.innerText()).toBe("1 条短信 · 10/70 · Unicode 编码");
    await page.getByTestId("composer-input").fill("a".repeat(287));
    expect(await count.innerText()).toBe("2 条短信 · 134/153");
    await page.getByTestId("composer-input").fill("您好".repeat(40));
    expect(await count.innerText()).toBe("2 条短信 · 13/67 · Unicode 编码");
    await page.getByTestId("composer-input").fill("包裹已到，请查收");
    await page.getByTestId("composer-input").press("Enter");
    await page.getByTestId("timeline-item").filter({ hasText: "包裹已到，请查收" }).waitFor();
    const out = await until(
      async () => sent.find((m) => m.conversationId === c.id && m.inbox.channel === "sms"),
      (m) => !!m,
    );
    expect(out?.text).toBe("包裹已到，请查收");

    // The customer texts STOP: the SMS option is shown, disabled, with the day and what lifts it.
    await s.rt.core.db
      .update(contactIdentities)
      .set({ optedOutAt: new Date("2026-11-30T10:00:00Z") })
      .where(and(eq(contactIdentities.contactId, c.contactId), eq(contactIdentities.kind, "phone")));
    await page.reload();
    await page.getByTestId("reply-via-toggle").click();
    const stopped = page.locator(`[data-testid=reply-option][data-inbox="${sms.id}"]`);
    await stopped.waitFor();
    expect(await stopped.getAttribute("data-state")).toBe("opted_out");
    expect(await stopped.locator("input").isDisabled()).toBe(true);
    expect(await stopped.innerText()).toContain("已退订");
    expect(await stopped.innerText()).toContain("在对方发送 START 之前无法发送任何消息");
    expect(await stopped.innerText()).toContain("2026");

    // The contact panel shows both numbers with their channel, the stopped one marked.
    const identities = page.getByTestId("identities");
    await identities.locator("li[data-kind=whatsapp]").waitFor();
    expect(await identities.locator("li[data-kind=phone]").getByTestId("opted-out-badge").innerText()).toContain(
      "已退订",
    );
    expect(await identities.locator("li[data-kind=whatsapp]").getByTestId("opted-out-badge").count()).toBe(0);
    await page.context().close();
  }, 60_000);
});
