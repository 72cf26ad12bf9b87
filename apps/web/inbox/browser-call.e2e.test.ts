import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { launchChromium, openWidget, signIn } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { startVoice } from "../../../test/voice.ts";

let s: TestServer;
let browser: Browser;
let adminToken: string;
const SETUP_MS = 60_000;

/**
 * Keeps every RTCPeerConnection a page makes reachable from the test, so it can read the real
 * connection state and getStats() without the product exposing anything for tests.
 */
const CAPTURE_PEERS = `(() => {
  const Native = window.RTCPeerConnection;
  window.__peers = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); window.__peers.push(this); }
  };
})();`;

beforeAll(async () => {
  s = await startTestServer();
  adminToken = await s.login(s.admin.email, s.admin.password);
  browser = await launchChromium({ fakeMedia: true });
}, SETUP_MS);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, SETUP_MS);

async function agentPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript(CAPTURE_PEERS);
  const page = await context.newPage();
  await signIn(page, s.url, s.agent.email, s.agent.password);
  return page;
}

/** The newest peer connection of a page: its state and the audio bytes it has received and sent. */
function peerStats(page: Page) {
  return page.evaluate(async () => {
    const peers = (window as unknown as { __peers: RTCPeerConnection[] }).__peers;
    const pc = peers[peers.length - 1];
    if (!pc) return { state: "none", received: 0, sent: 0 };
    let received = 0;
    let sent = 0;
    (await pc.getStats()).forEach((r: { type: string; kind?: string; bytesReceived?: number; bytesSent?: number }) => {
      if (r.type === "inbound-rtp" && r.kind === "audio") received += r.bytesReceived ?? 0;
      if (r.type === "outbound-rtp" && r.kind === "audio") sent += r.bytesSent ?? 0;
    });
    return { state: pc.connectionState, received, sent };
  });
}

/** Waits until both browsers' peer connections are up and audio has flowed both ways. */
async function expectAudioBothWays(agent: Page, visitor: Page) {
  let a = await peerStats(agent);
  let v = await peerStats(visitor);
  for (
    let i = 0;
    i < 100 && !(a.received > 0 && v.received > 0 && a.state === "connected" && v.state === "connected");
    i++
  ) {
    await Bun.sleep(100);
    [a, v] = [await peerStats(agent), await peerStats(visitor)];
  }
  expect(a.state).toBe("connected");
  expect(v.state).toBe("connected");
  expect(a.received).toBeGreaterThan(0);
  expect(v.received).toBeGreaterThan(0);
  expect(a.sent).toBeGreaterThan(0);
  expect(v.sent).toBeGreaterThan(0);
}

async function calls(conversationId: string) {
  const timeline = await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token: adminToken });
  return (timeline.body.items as any[]).filter((i) => i.type === "call");
}

describe("chat → voice in two browsers", () => {
  it("lets a chatting visitor call with one click: the agent answers in the inbox, audio flows both ways, and the call lands completed in the chat's conversation", async () => {
    const agent = await agentPage();
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey, { initScript: CAPTURE_PEERS });
    const conversationId = await visitor.send("Can we talk on the phone instead?");
    await api(`${s.url}/api/v1/conversations/${conversationId}/assign`, {
      token: adminToken,
      body: { assigneeId: s.agent.id },
    });
    await agent.goto(`${s.url}/app/#/inbox/mine/${conversationId}`);
    await agent.getByTestId("timeline-item").filter({ hasText: "Can we talk on the phone instead?" }).waitFor();

    await visitor.page.getByTestId("switchboard-call-start").click();
    await visitor.page.waitForSelector("switchboard-widget[data-call-status=ringing]", { state: "attached" });
    await agent.getByTestId("browser-call-ringing").waitFor();
    await agent.getByTestId("browser-call-answer").click();

    await agent.locator("[data-testid=browser-call][data-peer-state=connected]").waitFor();
    await visitor.page.waitForSelector("switchboard-widget[data-peer-state=connected]", { state: "attached" });
    await expectAudioBothWays(agent, visitor.page);

    // The call item sits in the same conversation, below the chat, and shows it is live.
    await agent.locator("[data-testid=browser-call][data-call-status=connected]").waitFor();
    const callItem = agent.locator("[data-testid=timeline-item][data-type=call]");
    await callItem.locator("[data-testid=call-item][data-status=connected]").waitFor();
    const chatSeq = Number(
      await agent
        .getByTestId("timeline-item")
        .filter({ hasText: "Can we talk on the phone instead?" })
        .getAttribute("data-seq"),
    );
    expect(Number(await callItem.getAttribute("data-seq"))).toBeGreaterThan(chatSeq);
    await visitor.page.getByTestId("switchboard-call").filter({ hasText: "Agent Ann" }).waitFor();
    // One strip for the call: the Twilio softphone leaves browser calls alone.
    expect(await agent.getByTestId("softphone").count()).toBe(0);

    await Bun.sleep(1200);
    await visitor.page.getByTestId("switchboard-call-hangup").click();
    // Hanging up on one side ends both.
    await agent.getByTestId("browser-call").waitFor({ state: "detached" });
    await callItem.locator("[data-testid=call-item][data-status=completed]").waitFor();
    expect(await callItem.getByTestId("call-agent").textContent()).toBe("Taken by Agent Ann");
    await visitor.page.waitForSelector("switchboard-widget[data-last-call-status=completed][data-call-status=none]", {
      state: "attached",
    });
    expect(await peerStats(visitor.page)).toMatchObject({ state: "closed" });
    expect(await peerStats(agent)).toMatchObject({ state: "closed" });

    const [call] = await calls(conversationId);
    expect(call).toMatchObject({
      direction: "in",
      data: { provider: "webrtc", status: "completed", agentId: s.agent.id },
    });
    expect(call.data.durationS).toBeGreaterThan(0);
    await visitor.close();
    await agent.context().close();
  }, 60_000);

  it("lets a supervisor listen in from the wallboard, barge in (the visitor hears them) and whisper (only the agent does), then leave", async () => {
    const agent = await agentPage();
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey, { initScript: CAPTURE_PEERS });
    const conversationId = await visitor.send("Please call me");
    await api(`${s.url}/api/v1/conversations/${conversationId}/assign`, {
      token: adminToken,
      body: { assigneeId: s.agent.id },
    });
    await visitor.page.getByTestId("switchboard-call-start").click();
    await agent.getByTestId("browser-call-answer").click();
    await agent.locator("[data-testid=browser-call][data-call-status=connected]").waitFor();

    const supContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await supContext.addInitScript(CAPTURE_PEERS);
    const sup = await supContext.newPage();
    const supervisor = await api(`${s.url}/api/v1/agents`, {
      token: adminToken,
      body: {
        email: `sue-${crypto.randomUUID()}@example.test`,
        name: "Sue",
        role: "supervisor",
        password: s.agent.password,
      },
    });
    await signIn(sup, s.url, supervisor.body.email, s.agent.password);
    await sup.goto(`${s.url}/app/#/wallboard`);
    const row = sup.locator("[data-testid=live-call][data-provider=webrtc][data-status=connected]");
    await row.getByTestId("monitor-listen").click();
    await sup.locator("[data-testid=live-call][data-monitor-state=connected]").waitFor();
    await agent.getByTestId("browser-call-monitor").filter({ hasText: "Sue is listening" }).waitFor();
    // The supervisor hears the call (the agent's tab sends the visitor and the agent, mixed).
    for (let i = 0; i < 50 && (await peerStats(sup)).received === 0; i++) await Bun.sleep(100);
    expect((await peerStats(sup)).received).toBeGreaterThan(0);

    // What the agent's tab sends the visitor: its microphone, or a mix with the supervisor in it.
    const visitorTrack = () =>
      agent.evaluate(() => {
        const pc = (window as unknown as { __peers: RTCPeerConnection[] }).__peers[0]!;
        const sent = pc.getSenders().find((x) => x.track)?.track;
        return { label: sent?.label ?? "", fromMic: !!sent && sent.label !== "MediaStreamAudioDestinationNode" };
      });
    expect((await visitorTrack()).fromMic).toBe(true);
    await row.getByTestId("monitor-barge").click();
    await agent.locator("[data-testid=browser-call-monitor][data-mode=barge]").waitFor();
    for (let i = 0; i < 50 && (await visitorTrack()).fromMic; i++) await Bun.sleep(100);
    expect((await visitorTrack()).fromMic).toBe(false);
    await row.getByTestId("monitor-whisper").click();
    await agent.getByTestId("browser-call-monitor").filter({ hasText: "Sue is whispering to you" }).waitFor();
    for (let i = 0; i < 50 && !(await visitorTrack()).fromMic; i++) await Bun.sleep(100);
    expect((await visitorTrack()).fromMic).toBe(true);
    // The visitor's browser was never part of it: still one peer connection there.
    expect(await visitor.page.evaluate(() => (window as unknown as { __peers: unknown[] }).__peers.length)).toBe(1);

    await row.getByTestId("monitor-leave").click();
    await agent.getByTestId("browser-call-monitor").waitFor({ state: "detached" });
    await row.getByTestId("monitor-leave").waitFor({ state: "detached" });
    await visitor.page.getByTestId("switchboard-call-hangup").click();
    await agent.getByTestId("browser-call").waitFor({ state: "detached" });
    await supContext.close();
    await visitor.close();
    await agent.context().close();
  }, 90_000);

  it("lets the agent invite the visitor to a call from the conversation: the widget rings, the visitor accepts, and the agent's hang-up ends it for both", async () => {
    const agent = await agentPage();
    const visitor = await openWidget(browser, s.url, s.inbox.publicKey, { initScript: CAPTURE_PEERS });
    const conversationId = await visitor.send("I have a question about my invoice");
    await agent.goto(`${s.url}/app/#/inbox/unassigned/${conversationId}`);
    await agent.getByTestId("timeline-item").filter({ hasText: "I have a question about my invoice" }).waitFor();

    await agent.getByTestId("invite-to-call").click();
    await agent.locator("[data-testid=browser-call][data-call-status=ringing]").waitFor();
    await visitor.page.getByTestId("switchboard-call").filter({ hasText: "Agent Ann" }).waitFor();
    await visitor.page.getByTestId("switchboard-call-accept").click();

    await agent.locator("[data-testid=browser-call][data-peer-state=connected]").waitFor();
    await visitor.page.waitForSelector("switchboard-widget[data-peer-state=connected]", { state: "attached" });
    await expectAudioBothWays(agent, visitor.page);
    await agent
      .locator("[data-testid=timeline-item][data-type=call] [data-testid=call-item][data-status=connected]")
      .waitFor();

    await Bun.sleep(1200);
    await agent.getByTestId("browser-call-hangup").click();
    await visitor.page.waitForSelector("switchboard-widget[data-last-call-status=completed][data-call-status=none]", {
      state: "attached",
    });
    await agent
      .locator("[data-testid=timeline-item][data-type=call] [data-testid=call-item][data-status=completed]")
      .waitFor();

    const [call] = await calls(conversationId);
    expect(call).toMatchObject({
      direction: "out",
      data: { provider: "webrtc", status: "completed", agentId: s.agent.id },
    });
    expect(call.data.durationS).toBeGreaterThan(0);
    // Inviting took the unassigned chat.
    expect((await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: adminToken })).body.assigneeId).toBe(
      s.agent.id,
    );
    await visitor.close();
    await agent.context().close();
  }, 60_000);

  it("calls a web chat customer back on their phone from the chat, and the phone call lands in the same conversation", async () => {
    const voice = await startVoice(s);
    try {
      const visitor = await openWidget(browser, s.url, s.inbox.publicKey);
      const conversationId = await visitor.send("Please ring me on my mobile");
      const conversation = await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: adminToken });
      await api(`${s.url}/api/v1/contacts/${conversation.body.contact.id}/identities`, {
        token: adminToken,
        body: { kind: "phone", value: "+8613800000088" },
      });
      const agent = await agentPage();
      await agent.goto(`${s.url}/app/#/inbox/unassigned/${conversationId}`);
      // The conversation header's Call (the voice inbox's click-to-call) works in a web chat too.
      await agent.getByTestId("dial").click();
      await agent.locator("[data-testid=timeline-item][data-type=call]").waitFor();
      const [call] = await calls(conversationId);
      expect(call).toMatchObject({
        direction: "out",
        channel: "voice",
        data: { provider: "twilio", to: "+8613800000088", agentId: s.agent.id },
      });
      expect(
        voice.sim.requests.some((r) => r.path.endsWith("/Calls.json") && r.form.To === `client:agent-${s.agent.id}`),
      ).toBe(true);
      await api(`${s.url}/api/v1/calls/${call.data.callId}/hangup`, { token: adminToken, body: {} });
      await visitor.close();
      await agent.context().close();
    } finally {
      voice.stop();
    }
  }, 60_000);
});
