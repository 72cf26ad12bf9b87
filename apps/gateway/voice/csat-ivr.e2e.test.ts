import { afterAll, beforeAll, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { calls, type Call } from "../../../db/schema/index.ts";
import { csatResponses } from "../../../db/schema/service.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { startVoice, until } from "../../../test/voice.ts";

let s: TestServer;
let v: Awaited<ReturnType<typeof startVoice>>;
let ann: string;
let admin: string;

beforeAll(async () => {
  s = await startTestServer();
  v = await startVoice(s);
  ann = await s.login(s.agent.email, s.agent.password);
  admin = await s.login(s.admin.email, s.admin.password);
});
afterAll(async () => {
  v.stop();
  await s.stop();
});

const reload = async (call: Call) => (await s.rt.core.db.select().from(calls).where(eq(calls.id, call.id)))[0]!;
const presence = (p: "available" | "away") =>
  api(`${s.url}/api/v1/me/presence`, {
    method: "PUT",
    token: ann,
    body: p === "away" ? { presence: p, reason: "test" } : { presence: p },
  });

/** A caller put through to Ann via the general queue (press 0), connected. */
async function connectedCall(from: string) {
  await presence("away");
  const leg = await v.sim.placeCall({ from, to: v.number });
  await v.sim.press(leg, "0");
  const call = await until(
    async () => (await s.rt.core.db.select().from(calls).where(eq(calls.externalId, leg.sid)))[0],
    5000,
    "call",
  );
  await presence("available");
  const offer = await until(
    async () => (await api(`${s.url}/api/v1/me/offers`, { token: ann })).body.items[0],
    5000,
    "offer",
  );
  expect((await api(`${s.url}/api/v1/offers/${offer.workItemId}/accept`, { token: ann, body: {} })).status).toBe(200);
  await until(async () => (await v.sim.settle(), (await reload(call)).status === "connected"), 8000, "connected");
  const agentLeg = [...v.sim.legs.values()].find(
    (l) => l.to === `client:agent-${s.agent.id}` && l.status !== "completed",
  )!;
  return { leg, call, agentLeg };
}

it("asks the caller to press 1 to 5 after the agent hangs up when the queue enables it; pressing 3 records 3", async () => {
  const put = await api(`${s.url}/api/v1/queues/${v.queues.general}`, {
    method: "PUT",
    token: admin,
    body: { name: `General ${v.number}`, channels: ["voice"], csatIvr: true },
  });
  expect(put.status).toBe(200);
  expect(put.body.csatIvr).toBe(true);

  const { leg, call, agentLeg } = await connectedCall("+8613800000071");
  await v.sim.hangup(agentLeg);
  await until(async () => (await v.sim.settle(), leg.pending?.kind === "gather"), 5000, "the question");
  expect(leg.heard.join(" ")).toContain("请按1到5键评分");
  await v.sim.press(leg, "3");
  expect(leg.heard.join(" ")).toContain("感谢您的评价");
  expect(leg.status).toBe("completed");
  const [row] = await s.rt.core.db
    .select()
    .from(csatResponses)
    .where(eq(csatResponses.conversationId, call.conversationId));
  expect(row).toMatchObject({ rating: 3, channel: "voice", agentId: s.agent.id, queueId: v.queues.general });
  await until(async () => (await v.sim.settle(), (await reload(call)).status === "completed"), 5000, "completed");
  const list = await api(`${s.url}/api/v1/csat`, { token: admin });
  expect(
    list.body.items.find((i: { conversationId: string }) => i.conversationId === call.conversationId),
  ).toMatchObject({
    rating: 3,
    channel: "voice",
  });
  await presence("available");
});

it("hangs up on the caller as before when the queue does not ask", async () => {
  await api(`${s.url}/api/v1/queues/${v.queues.general}`, {
    method: "PUT",
    token: admin,
    body: { name: `General ${v.number}`, channels: ["voice"], csatIvr: false },
  });
  const { leg, call, agentLeg } = await connectedCall("+8613800000072");
  await v.sim.hangup(agentLeg);
  await until(async () => (await v.sim.settle(), (await reload(call)).status === "completed"), 5000, "completed");
  expect(leg.heard.join(" ")).not.toContain("请按1到5键评分");
  const rows = await s.rt.core.db
    .select()
    .from(csatResponses)
    .where(eq(csatResponses.conversationId, call.conversationId));
  expect(rows).toHaveLength(0);
});
