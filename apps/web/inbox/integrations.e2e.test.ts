import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../../../test/browser.ts";
import { until } from "../../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

/** Settings → API keys and Settings → Webhooks in the browser, against a receiver that checks signatures. */

type Received = { body: { id: string; type: string; data: any }; verified: boolean; answered: number };

/** An integration's endpoint: verifies `X-Switchboard-Signature` with the secret the screen showed once. */
const hook = { status: 200, secret: "", got: [] as Received[] };
const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const raw = await req.text();
    if (new URL(req.url).pathname !== "/hook") return new Response("ok");
    const timestamp = req.headers.get("x-switchboard-timestamp") ?? "";
    const given = req.headers.get("x-switchboard-signature") ?? "";
    const expected = `sha256=${createHmac("sha256", hook.secret).update(`${timestamp}.${raw}`).digest("hex")}`;
    const verified =
      given.length === expected.length &&
      timingSafeEqual(Buffer.from(given), Buffer.from(expected)) &&
      Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
    const answered = verified ? hook.status : 401;
    hook.got.push({ body: JSON.parse(raw), verified, answered });
    return new Response(answered < 300 ? "ok" : "no", { status: answered });
  },
});
const receiverUrl = `http://127.0.0.1:${receiver.port}`;

let s: TestServer;
let admin: string;
let browser: Browser;

beforeAll(async () => {
  s = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
  receiver.stop(true);
}, 60_000);

async function pageAs(token: string, locale: "en" | "zh-CN"): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript(
    ([t, l]) => (localStorage.setItem("sb.token", t!), localStorage.setItem("sb.locale", l!)),
    [token, locale],
  );
  return context.newPage();
}

describe("Settings → API keys (zh-CN)", () => {
  it("creates a key shown once, lists only its prefix, and revokes it: the key works until then", async () => {
    const page = await pageAs(admin, "zh-CN");
    await page.goto(`${s.url}/app/#/admin/inboxes`);
    await page.getByRole("link", { name: "API 密钥" }).click();
    const form = page.getByTestId("api-key-form");
    await form.getByRole("button", { name: "创建 API 密钥" }).click();
    // An empty name is refused by the server, shown at the field in Chinese.
    const refusal = form.locator("[data-testid=field-error][data-field=name]");
    await refusal.waitFor();
    expect(await refusal.innerText()).toBe("请为密钥命名（最多 100 个字符）。");

    await form.getByLabel("名称").fill("CRM 同步");
    await form.getByLabel("写入").check();
    expect(await form.getByLabel("读取").isChecked()).toBe(true);
    await form.getByRole("button", { name: "创建 API 密钥" }).click();
    const shown = page.getByTestId("api-key-shown");
    await shown.waitFor();
    expect(await shown.innerText()).toContain("请现在复制：之后不会再显示");
    await shown.getByRole("button", { name: "复制" }).waitFor();
    const key = await page.getByTestId("api-key-shown-key").innerText();
    expect(key).toMatch(/^sbk_/);

    const row = page.getByTestId("api-key-row").filter({ hasText: "CRM 同步" });
    await row.waitFor();
    expect(await row.innerText()).toContain("读取, 写入");
    expect(await row.getByTestId("api-key-status").innerText()).toBe("有效");
    expect(await row.innerText()).toContain("尚未使用");

    // The key is a real one: the API accepts it.
    const read = await api(`${s.url}/api/v1/conversations`, { token: key });
    expect(read.status).toBe(200);

    await page.reload();
    await row.waitFor();
    expect(await page.getByTestId("api-key-shown").count()).toBe(0);
    expect(await page.content()).not.toContain(key);
    const prefix = (await row.getByTestId("api-key-prefix").innerText()).replace(/…$/, "");
    expect(prefix.length).toBeGreaterThan(4);
    expect(key.startsWith(prefix)).toBe(true);
    // Used a moment ago: the list says when, instead of "not yet".
    expect(await row.innerText()).not.toContain("尚未使用");

    let asked = "";
    page.once("dialog", (d) => ((asked = d.message()), void d.accept()));
    await row.getByRole("button", { name: "吊销" }).click();
    await page.locator("[data-testid=api-key-row][data-status=revoked]", { hasText: "CRM 同步" }).waitFor();
    expect(asked).toBe("吊销 API 密钥「CRM 同步」？使用它的集成将立即停止工作。");
    expect(await row.getByTestId("api-key-status").innerText()).toStartWith("已吊销");
    expect(await row.getByRole("button", { name: "吊销" }).count()).toBe(0);
    expect((await api(`${s.url}/api/v1/conversations`, { token: key })).status).toBe(401);
    await page.context().close();
  }, 60_000);

  it("sets an expiry date, as the end of that day", async () => {
    const page = await pageAs(admin, "en");
    await page.goto(`${s.url}/app/#/admin/apiKeys`);
    const form = page.getByTestId("api-key-form");
    await form.getByLabel("Name").fill("Nightly export");
    await form.getByLabel("Expires on (optional)").fill("2099-03-31");
    await form.getByRole("button", { name: "Create API key" }).click();
    await page.getByTestId("api-key-shown").waitFor();
    const listed = (await api(`${s.url}/api/v1/api-keys`, { token: admin })).body.items.find(
      (k: { name: string }) => k.name === "Nightly export",
    );
    expect(listed.scopes).toEqual(["read"]);
    const expires = new Date(listed.expiresAt);
    expect([expires.getFullYear(), expires.getMonth(), expires.getDate(), expires.getHours()]).toEqual([
      2099, 2, 31, 23,
    ]);
    await page.getByTestId("api-key-shown-done").click();
    expect(await page.getByTestId("api-key-shown").count()).toBe(0);
    await page.context().close();
  }, 60_000);

  it("is not offered to supervisors (Settings they see) nor to agents", async () => {
    const page = await pageAs(await s.signInAs("supervisor"), "en");
    await page.goto(`${s.url}/app/#/admin/apiKeys`);
    await page.getByTestId("admin-tab-canned").waitFor();
    expect(await page.getByTestId("admin-tab-apiKeys").count()).toBe(0);
    expect(await page.getByTestId("admin-tab-webhooks").count()).toBe(0);
    expect(await page.getByTestId("api-key-form").count()).toBe(0);
    await page.context().close();
    const agentPage = await pageAs(await s.login(s.agent.email, s.agent.password), "en");
    await agentPage.goto(`${s.url}/app/#/admin/apiKeys`);
    await agentPage.getByTestId("sign-out").waitFor();
    expect(await agentPage.getByTestId("admin-tab-apiKeys").count()).toBe(0);
    expect(await agentPage.getByTestId("api-key-form").count()).toBe(0);
    await agentPage.context().close();
  }, 60_000);
});

describe("Settings → Webhooks", () => {
  it("registers a webhook, shows its signed deliveries, a failure with its code, and a resend", async () => {
    const page = await pageAs(admin, "en");
    await page.goto(`${s.url}/app/#/admin/webhooks`);
    const form = page.getByTestId("webhook-form");
    await form.getByLabel("URL").fill("ftp://example.com/hook");
    await form.getByRole("button", { name: "Add webhook" }).click();
    await form.locator("[data-testid=field-error][data-field=url]").waitFor();

    await form.getByLabel("URL").fill(`${receiverUrl}/hook`);
    expect(await form.getByLabel("Conversation created").isChecked()).toBe(true);
    expect(await form.getByLabel("Message created").isChecked()).toBe(true);
    await form.getByLabel("Conversation resolved").check();
    await form.getByRole("button", { name: "Add webhook" }).click();
    await page.getByTestId("webhook-shown").waitFor();
    expect(await page.getByTestId("webhook-shown").innerText()).toContain("you will not see it again");
    hook.secret = await page.getByTestId("webhook-shown-secret").innerText();
    expect(hook.secret.length).toBeGreaterThan(20);
    const listed = page.getByTestId("webhook").filter({ hasText: `${receiverUrl}/hook` });
    expect(await listed.innerText()).toContain("Conversation created · Conversation resolved · Message created");

    // A customer writes through an API inbox: a new conversation and its first message.
    const inbox = await api(`${s.url}/api/v1/inboxes`, {
      token: admin,
      body: { name: "Shop app", channel: "api", callbackUrl: `${receiverUrl}/callback` },
    });
    expect(inbox.status).toBe(201);
    const contact = { identifier: `shopper-${crypto.randomUUID()}`, name: "Shopper" };
    const first = await api(`${s.url}/api/v1/inboxes/${inbox.body.id}/messages`, {
      token: inbox.body.token,
      body: { contact, text: "Where is my parcel?", externalId: crypto.randomUUID() },
    });
    expect(first.status).toBe(201);

    const log = listed.getByTestId("webhook-deliveries");
    const delivered = log.locator("[data-testid=delivery][data-status=delivered]");
    await until(
      () => delivered.count(),
      (n) => n >= 2,
    );
    expect(await delivered.count()).toBe(2);
    for (const row of await delivered.all()) {
      expect(await row.getByTestId("delivery-code").innerText()).toBe("200");
      expect(await row.getByTestId("delivery-status").innerText()).toBe("Delivered");
    }
    expect(await log.innerText()).toContain("conversation.created");
    expect(await log.innerText()).toContain("message.created");
    expect(
      hook.got
        .filter((g) => g.verified)
        .map((g) => g.body.type)
        .sort(),
    ).toEqual(["conversation.created", "message.created"]);

    // The receiver breaks: the next message's delivery is retried, then fails, with the code it got.
    hook.status = 500;
    const second = await api(`${s.url}/api/v1/inboxes/${inbox.body.id}/messages`, {
      token: inbox.body.token,
      body: { contact, text: "Hello?", externalId: crypto.randomUUID() },
    });
    expect(second.status).toBe(201);
    const broken = log.locator("[data-testid=delivery]:is([data-status=failed],[data-status=retrying])");
    await broken.first().waitFor();
    expect(await broken.count()).toBe(1);
    expect(await broken.getByTestId("delivery-code").innerText()).toBe("500");
    const brokenId = (await broken.getAttribute("data-delivery-id"))!;
    await log.locator(`[data-delivery-id="${brokenId}"][data-status=failed]`).waitFor();
    expect(await log.locator(`[data-delivery-id="${brokenId}"]`).innerText()).toContain("Failed");
    expect(
      Number(await log.locator(`[data-delivery-id="${brokenId}"]`).getByTestId("delivery-attempts").innerText()),
    ).toBeGreaterThan(1);
    const failedPosts = hook.got.filter((g) => g.body.id === brokenId);
    expect(failedPosts.every((g) => g.verified && g.answered === 500)).toBe(true);

    // Mended: Resend delivers it now, as a new attempt with the same delivery id.
    hook.status = 200;
    await log.locator(`[data-delivery-id="${brokenId}"]`).getByRole("button", { name: "Resend" }).click();
    const resent = log.locator(`[data-delivery-id="${brokenId}"][data-status=delivered]`);
    await resent.waitFor();
    expect(await resent.getByTestId("delivery-code").innerText()).toBe("200");
    const posts = hook.got.filter((g) => g.body.id === brokenId);
    expect(posts.length).toBe(failedPosts.length + 1);
    expect(posts.at(-1)).toMatchObject({ verified: true, answered: 200, body: { type: "message.created" } });
    await page.context().close();
  }, 60_000);

  it("deletes a webhook after asking, in Chinese", async () => {
    const made = await api(`${s.url}/api/v1/webhooks`, {
      token: admin,
      body: { url: `${receiverUrl}/other`, events: ["contact.updated"] },
    });
    expect(made.status).toBe(201);
    const page = await pageAs(admin, "zh-CN");
    await page.goto(`${s.url}/app/#/admin/webhooks`);
    const card = page.getByTestId("webhook").filter({ hasText: `${receiverUrl}/other` });
    expect(await card.innerText()).toContain("联系人已更新");
    await card.getByRole("button", { name: "投递记录" }).click();
    await card.getByText("还没有投递。").waitFor();
    page.once("dialog", (d) => void d.accept());
    await card.getByRole("button", { name: "删除" }).click();
    await card.waitFor({ state: "detached" });
    const left = (await api(`${s.url}/api/v1/webhooks`, { token: admin })).body.items;
    expect(left.some((w: { id: string }) => w.id === made.body.id)).toBe(false);
    await page.context().close();
  }, 60_000);
});
