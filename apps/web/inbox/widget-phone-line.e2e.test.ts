import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import type { Browser } from "playwright-core";
import { calls } from "../../../db/schema/index.ts";
import { launchChromium, openWidget, signIn } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { startVoice, until } from "../../../test/voice.ts";

let s: TestServer;
let v: Awaited<ReturnType<typeof startVoice>>;
let browser: Browser;
let adminToken: string;
const SETUP_MS = 60_000;

/**
 * Twilio's cloud is out of reach here, so the page gets a stand-in for the Voice SDK's Device (the
 * same `window.Twilio.Device` the served SDK defines): it records what the widget hands it and lets
 * the test play the SDK's events. Twilio's side of the call is then played by the simulator with
 * exactly the parameters the widget passed.
 */
const FAKE_SDK = `(() => {
  const sdk = window.__sdk = { devices: [], calls: [], failConnect: false };
  class Call {
    constructor(params) { this.params = params; this.listeners = {}; this.muted = false; this.disconnected = false; sdk.calls.push(this); }
    on(event, fn) { (this.listeners[event] ??= []).push(fn); }
    emit(event) { for (const fn of this.listeners[event] ?? []) fn(); }
    mute(m) { this.muted = m; }
    disconnect() { this.disconnected = true; this.emit("disconnect"); }
  }
  class Device {
    constructor(token, options) { this.token = token; this.options = options; this.destroyed = false; sdk.devices.push(this); }
    on() {}
    async connect({ params }) { if (sdk.failConnect) throw new Error("offline"); return new Call(params); }
    destroy() { this.destroyed = true; }
  }
  window.Twilio = { Device };
})();`;

type Sdk = {
  devices: { token: string; destroyed: boolean }[];
  calls: { params: Record<string, string>; muted: boolean; disconnected: boolean }[];
};

beforeAll(async () => {
  s = await startTestServer();
  v = await startVoice(s, { apiKey: true });
  adminToken = await s.login(s.admin.email, s.admin.password);
  const linked = await api(`${s.url}/api/v1/inboxes/${s.inbox.id}/call-line`, {
    method: "PUT",
    token: adminToken,
    body: { voiceInboxId: v.inbox.id, queueId: v.queues.general },
  });
  expect(linked.status).toBe(200);
  browser = await launchChromium({ fakeMedia: true });
}, SETUP_MS);

afterAll(async () => {
  await browser?.close();
  v?.stop();
  await s?.stop();
}, SETUP_MS);

describe("the widget's call button through the inbox's Twilio phone line", () => {
  it("places the call with Twilio's SDK and the server's ticket; the call waits in the queue inside the chat's conversation", async () => {
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey, { initScript: FAKE_SDK });
    const conversationId = await visitor.send("能打电话吗？");
    await visitor.page.getByTestId("switchboard-call-start").click();
    const sdk = async () => visitor.page.evaluate(() => (window as unknown as { __sdk: Sdk }).__sdk);
    const placed = await until(async () => (await sdk()).calls[0], 5000, "SDK call");
    expect(placed.params).toEqual({ To: v.number, conversationId });
    const [device] = (await sdk()).devices;
    const identity = JSON.parse(Buffer.from(device!.token.split(".")[1]!, "base64url").toString()).grants.identity;
    await visitor.page.waitForSelector("switchboard-widget[data-call-status=connecting]", { state: "attached" });

    // Twilio's side: the TwiML app's voice URL, from the identity in the token, with the SDK's params.
    const leg = await v.sim.placeCall({
      from: `client:${identity}`,
      to: placed.params.To!,
      params: { conversationId: placed.params.conversationId! },
    });
    const [call] = await s.rt.core.db.select().from(calls).where(eq(calls.externalId, leg.sid));
    expect(call).toMatchObject({ conversationId, status: "queued" });
    await visitor.page.evaluate(() =>
      (window as unknown as { __sdk: { calls: { emit(e: string): void }[] } }).__sdk.calls[0]!.emit("accept"),
    );
    await visitor.page.waitForSelector("switchboard-widget[data-call-status=connected]", { state: "attached" });
    await visitor.page.getByTestId("switchboard-call").filter({ hasText: "On the line" }).waitFor();

    await visitor.page.getByTestId("switchboard-call").getByRole("button", { name: "Mute" }).click();
    expect((await sdk()).calls[0]!.muted).toBe(true);
    await visitor.page.getByTestId("switchboard-call-hangup").click();
    await visitor.page.waitForSelector("switchboard-widget[data-last-call-status=completed][data-call-status=none]", {
      state: "attached",
    });
    const after = await sdk();
    expect(after.calls[0]!.disconnected).toBe(true);
    // The device holds the microphone and a socket to Twilio: it goes with the call.
    expect(after.devices[0]!.destroyed).toBe(true);
    // The call button is back for another call.
    await visitor.page.getByTestId("switchboard-call-start").waitFor();
    await v.sim.hangup(leg);
    await visitor.close();
  }, 60_000);

  it("tells the visitor when the call cannot be placed", async () => {
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey, {
      initScript: `${FAKE_SDK}; window.__sdk.failConnect = true;`,
    });
    await visitor.send("call please");
    await visitor.page.getByTestId("switchboard-call-start").click();
    await visitor.page
      .getByTestId("switchboard-call")
      .filter({ hasText: "The call could not be connected." })
      .waitFor();
    await visitor.page.waitForSelector("switchboard-widget[data-last-call-status=failed]", { state: "attached" });
    await visitor.close();
  }, 60_000);

  it("with Twilio's real SDK: loads it from this server, the SDK takes the token and dials Twilio (unreachable here), and the visitor is told", async () => {
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey);
    const sockets: string[] = [];
    visitor.page.on("websocket", (ws) => sockets.push(ws.url()));
    await visitor.send("call me on the line");
    const [sdk] = await Promise.all([
      visitor.page.waitForResponse((r) => r.url() === `${s.url}/widget/voice-sdk.js`),
      visitor.page.getByTestId("switchboard-call-start").click(),
    ]);
    expect(sdk.status()).toBe(200);
    await visitor.page.waitForSelector("switchboard-widget[data-last-call-status=failed]", {
      state: "attached",
      timeout: 20_000,
    });
    await visitor.page
      .getByTestId("switchboard-call")
      .filter({ hasText: "The call could not be connected." })
      .waitFor();
    // The SDK got as far as Twilio's signalling server: it accepted the token and the call's parameters.
    expect(sockets.some((u) => u.startsWith("wss://") && u.includes("twilio.com"))).toBe(true);
    await visitor.close();
  }, 60_000);

  it("serves Twilio's own browser SDK, which defines the Device the widget uses", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${s.url}/healthz`);
    await page.addScriptTag({ url: `${s.url}/widget/voice-sdk.js` });
    expect(
      await page.evaluate(() => typeof (window as unknown as { Twilio?: { Device?: unknown } }).Twilio?.Device),
    ).toBe("function");
    await context.close();
  }, 60_000);

  it("lets an admin choose, in Settings → Inboxes, whether the widget calls in the browser or through a phone line and queue", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, s.url, s.admin.email, s.admin.password);
    await page.goto(`${s.url}/app/#/admin/inboxes`);
    const picker = page.locator(`[data-inbox-id="${s.inbox.id}"]`).getByTestId("call-line");
    const via = picker.getByLabel("Calls from the chat widget");
    expect(await via.inputValue()).toBe(v.inbox.id);
    const saved = () =>
      api(`${s.url}/api/v1/inboxes/${s.inbox.id}/call-line`, { token: adminToken }).then(
        (r) => r.body as { voiceInboxId: string | null; queueId: string | null },
      );
    await via.selectOption({ label: "In the browser (WebRTC, no Twilio)" });
    await until(async () => (await saved()).voiceInboxId === null, 5000, "browser calls saved");
    await picker.getByRole("status").waitFor();
    // A line needs a queue: nothing is saved until one is chosen.
    await via.selectOption(v.inbox.id);
    await Bun.sleep(300);
    expect((await saved()).voiceInboxId).toBeNull();
    await picker.getByLabel("Calls wait in").selectOption(v.queues.refunds);
    await until(async () => (await saved()).queueId === v.queues.refunds, 5000, "line and queue saved");
    expect(await saved()).toEqual({ voiceInboxId: v.inbox.id, queueId: v.queues.refunds });
    // The phone line form takes the API key and TwiML app that softphones and widget calls need.
    for (const label of ["API key SID (softphones, widget calls)", "API key secret", "TwiML app SID (widget calls)"])
      await page.getByTestId("phone-form").getByLabel(label).waitFor();
    await context.close();
  }, 60_000);
});
