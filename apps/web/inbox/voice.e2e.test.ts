import { afterAll, beforeAll, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import type { Browser } from "playwright-core";
import { calls } from "../../../db/schema/index.ts";
import { launchChromium, signIn } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { startTwilioNumberList, startVoice, until } from "../../../test/voice.ts";

let s: TestServer;
let v: Awaited<ReturnType<typeof startVoice>>;
let browser: Browser;
const SETUP_MS = 60_000;
// A phone line added in Settings is checked with Twilio's number list first: here every account holds it.
const numberList = startTwilioNumberList();

beforeAll(async () => {
  s = await startTestServer({ env: { TWILIO_API_BASE_URL: `http://127.0.0.1:${numberList.port}` } });
  v = await startVoice(s);
  browser = await launchChromium();
}, SETUP_MS);

afterAll(async () => {
  await browser?.close();
  v?.stop();
  numberList.stop(true);
  await s?.stop();
}, SETUP_MS);

it("an agent takes a phone call from the offer, holds and hangs up in the softphone; the call item shows it; a supervisor listens in from the wallboard", async () => {
  const agent = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await signIn(agent, s.url, s.agent.email, s.agent.password);
  // The demo-style line is simulated: the topbar says so (no Voice SDK is loaded for it).
  await agent.getByTestId("phone-state").waitFor();
  expect(await agent.getByTestId("phone-state").getAttribute("data-state")).toBe("simulated");
  await agent.getByTestId("presence-select").selectOption("available");
  await until(
    async () =>
      (await api(`${s.url}/api/v1/me/presence`, { token: await s.login(s.agent.email, s.agent.password) })).body
        .presence === "available",
    5000,
    "available",
  );

  const leg = await v.sim.placeCall({ from: "+8613800000077", to: v.number, callerName: "李雷" });
  await v.sim.say(leg, "我想退款");
  // Screen pop: the offer names the caller before the agent answers.
  const offer = agent.getByTestId("offer");
  await offer.filter({ hasText: "李雷" }).waitFor();
  await offer.getByTestId("offer-accept").click();

  const card = agent.getByTestId("call-card");
  await until(
    async () => (await v.sim.settle(), (await card.getAttribute("data-status").catch(() => null)) === "connected"),
    10_000,
    "connected card",
  );
  await card.getByTestId("call-hold").click();
  await until(
    async () => (await v.sim.settle(), (await card.getAttribute("data-status")) === "on_hold"),
    5000,
    "on hold",
  );
  await card.getByTestId("call-hold").click();
  await until(
    async () => (await v.sim.settle(), (await card.getAttribute("data-status")) === "connected"),
    5000,
    "resumed",
  );

  // The supervisor sees the live call on the wallboard and listens in.
  const sup = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const supervisorEmail = `sup-${crypto.randomUUID()}@example.test`;
  const { createAgent } = await import("../../../routing/agent.ts");
  await createAgent(s.rt.core.db, {
    workspaceId: s.workspaceId,
    email: supervisorEmail,
    name: "Sue",
    role: "supervisor",
    password: "pw-sue-1234",
  });
  await signIn(sup, s.url, supervisorEmail, "pw-sue-1234");
  await sup.goto(`${s.url}/app/#/wallboard`);
  const row = sup.getByTestId("live-call").filter({ hasText: "+8613800000077" });
  await row.waitFor();
  await row.getByTestId("monitor-listen").click();
  await until(
    async () => {
      const [c] = await s.rt.core.db.select().from(calls).where(eq(calls.externalId, leg.sid));
      return c!.monitors.length === 1 && c!.monitors[0]!.mode === "listen";
    },
    5000,
    "supervisor leg",
  );

  await card.getByTestId("call-hangup").click();
  await until(async () => (await v.sim.settle(), !(await card.isVisible())), 8000, "card gone");
  // The conversation's timeline has the call item with how it went.
  const item = agent.getByTestId("call-item");
  await until(
    async () => (await item.getAttribute("data-status").catch(() => null)) === "completed",
    8000,
    "completed item",
  );
  expect(await item.textContent()).toContain("+8613800000077");
  expect(leg.status).toBe("completed");
  await sup.context().close();
  await agent.context().close();
});

it("an admin adds a phone line and edits its IVR; a broken flow is refused naming the node", async () => {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);
  await page.goto(`${s.url}/app/#/admin/inboxes`);
  const form = page.getByTestId("phone-form");
  await form.getByLabel("Inbox name").fill("售后热线 After-sales");
  await form.getByLabel("Phone number (E.164)").fill("+15005550199");
  await form.getByLabel("Twilio Account SID").fill(`AC${"a".repeat(32)}`);
  await form.getByLabel("Twilio auth token").fill("a-long-enough-auth-token");
  await form.getByRole("button").click();
  expect(await page.getByTestId("phone-webhooks").textContent()).toContain("/webhooks/twilio/voice");
  const card = page.getByTestId("inbox-list").locator("li").filter({ hasText: "售后热线 After-sales" });
  await card.getByTestId("ivr-editor").locator("summary").click();
  const editor = card.getByTestId("ivr-json");
  // The saved flow (none yet) has loaded into the editor before the admin types.
  await until(async () => (await editor.inputValue()).includes('"nodes"'), 5000, "flow loaded");
  await editor.fill(JSON.stringify({ start: "hi", nodes: { hi: { type: "say", text: "你好", next: "menu" } } }));
  await card.getByTestId("ivr-save").click();
  expect(await card.locator("[role=alert]").getAttribute("data-field")).toBe("flow.nodes.hi.next");
  await editor.fill(
    JSON.stringify({
      start: "hi",
      nodes: { hi: { type: "say", text: "你好", next: "q" }, q: { type: "enqueue", queueId: v.queues.general } },
    }),
  );
  await card.getByTestId("ivr-save").click();
  await card.getByRole("status").waitFor();
  const inbox = (
    await api(`${s.url}/api/v1/inboxes`, { token: await s.login(s.admin.email, s.admin.password) })
  ).body.items.find((i: { name: string }) => i.name === "售后热线 After-sales");
  const saved = await api(`${s.url}/api/v1/inboxes/${inbox.id}/ivr-flow`, {
    token: await s.login(s.admin.email, s.admin.password),
  });
  expect(saved.body.flow.nodes.q.queueId).toBe(v.queues.general);
  await page.context().close();
});
