import { afterAll, beforeAll, expect, it } from "bun:test";
import { and, eq, isNull } from "drizzle-orm";
import { agentStateSpans, interactions } from "../db/schema/index.ts";
import { until } from "../test/poll.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../test/server.ts";

/**
 * The facts written as the real product runs: a widget chat queued, offered, accepted, answered twice
 * and resolved; another given up before anyone took it; the first customer coming back. The
 * listener derives them from the bus, and the sweep rebuilds what a lost message left out.
 */
let s: TestServer;
let admin: string;
let ann: string;
let socket: Awaited<ReturnType<typeof openSocket>>;
const started = new Date(Date.now() - 60_000);
const period = () => `from=${started.toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`;

beforeAll(async () => {
  s = await startTestServer({ env: { REPORTS_SWEEP_MS: "200" } });
  admin = await s.login(s.admin.email, s.admin.password);
  ann = await s.login(s.agent.email, s.agent.password);
  const queue = await api(`${s.url}/api/v1/queues`, { token: admin, body: { name: "Everyone" } });
  await api(`${s.url}/api/v1/entry-rules`, {
    method: "PUT",
    token: admin,
    body: { rules: [{ queueId: queue.body.id, conditions: {} }] },
  });
  socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${ann}`);
  await socket.waitFor((f) => f.type === "hello");
});
afterAll(async () => {
  socket.close();
  await s.stop();
});

async function customerWrites(text: string, token?: string) {
  const visitorToken =
    token ?? (await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } })).body.visitorToken;
  const sent = await api(`${s.url}/widget/v1/messages`, { token: visitorToken, body: { text } });
  return { conversationId: sent.body.conversationId as string, token: visitorToken as string };
}
const reply = (conversationId: string, text: string) =>
  api(`${s.url}/api/v1/conversations/${conversationId}/messages`, { token: ann, body: { text } });
const resolve = (conversationId: string) =>
  api(`${s.url}/api/v1/conversations/${conversationId}/status`, { token: admin, body: { status: "resolved" } });
const total = async () => (await api(`${s.url}/api/v1/reports/summary?${period()}&groupBy=day`, { token: admin })).body;

it("derives an answered chat, one abandoned before any offer, and the customer coming back, as they happen", async () => {
  await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "available" } });
  const first = await customerWrites("hello, where is my parcel?");
  const offer = await socket.waitFor((f) => f.type === "offer.created" && f.conversationId === first.conversationId);
  expect((await api(`${s.url}/api/v1/offers/${offer.offer.workItemId}/accept`, { token: ann, body: {} })).status).toBe(
    200,
  );
  expect((await reply(first.conversationId, "Let me look")).status).toBe(201);
  await customerWrites("it was due Monday", first.token);
  expect((await reply(first.conversationId, "It arrives tomorrow")).status).toBe(201);
  expect((await resolve(first.conversationId)).status).toBe(200);

  // Nobody to offer it to: the customer's chat is closed unanswered, an abandonment.
  await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "away", reason: "lunch" } });
  const second = await customerWrites("anyone there?");
  await until(
    () => s.rt.core.db.select().from(interactions).where(eq(interactions.conversationId, second.conversationId)),
    (rows) => rows.length === 1,
  );
  expect((await resolve(second.conversationId)).status).toBe(200);

  const report = await until(total, (b) => b.total?.answered === 1 && b.total?.abandoned === 1);
  expect(report.total).toMatchObject({ offered: 2, answered: 1, abandoned: 1, waiting: 0, transfers: 0 });
  // Ann accepted within seconds of the offer; answered first and next turns both have a time.
  expect(report.total.asaS).toBeGreaterThanOrEqual(0);
  expect(report.total.firstResponseS.avg).toBeGreaterThan(0);
  expect(report.total.nextResponseS).toBeGreaterThan(0);
  expect(report.total.ahtS).toBeGreaterThan(0);
  expect(report.total.fcrRate).toBe(1);
  const [fact] = await s.rt.core.db
    .select()
    .from(interactions)
    .where(eq(interactions.conversationId, first.conversationId));
  expect(fact).toMatchObject({ outcome: "answered", agentId: s.agent.id, nextResponseCount: 1, reopened: false });

  // The customer writes again after it was resolved: a new chat, so the first contact did not resolve it.
  await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "available" } });
  await customerWrites("it did not arrive", first.token);
  const after = await until(total, (b) => b.total?.offered === 3 && b.total?.fcrRate === 0);
  expect(after.total).toMatchObject({ offered: 3, fcrRate: 0 });
});

it("records presence as spans and reports the agent's state time", async () => {
  const spans = await s.rt.core.db
    .select()
    .from(agentStateSpans)
    .where(eq(agentStateSpans.userId, s.agent.id))
    .orderBy(agentStateSpans.startedAt);
  // available → busy (accepted) → … → away (lunch) → …: whether the release after resolving comes
  // before the agent's own "away" depends on timing, so the order is checked, not every step.
  const steps = spans.map((x) => `${x.presence}${x.reason ? `:${x.reason}` : ""}`);
  expect(steps.slice(0, 2)).toEqual(["available", "busy"]);
  expect(steps.indexOf("away:lunch")).toBeGreaterThan(1);
  // One after another without gaps or overlaps: each span ends when the next begins.
  for (let i = 1; i < spans.length; i++) expect(spans[i - 1]!.endedAt).toEqual(spans[i]!.startedAt);
  const open = await s.rt.core.db
    .select()
    .from(agentStateSpans)
    .where(and(eq(agentStateSpans.userId, s.agent.id), isNull(agentStateSpans.endedAt)));
  expect(open).toHaveLength(1);
  const res = await api(`${s.url}/api/v1/reports/agents?${period()}`, { token: admin });
  const row = res.body.rows.find((r: { key: string }) => r.key === s.agent.id);
  expect(row.states.map((x: { presence: string }) => x.presence)).toEqual(
    expect.arrayContaining(["available", "busy", "away"]),
  );
  expect(row.occupancy).toBeGreaterThan(0);
  expect(row.utilisation).toBeGreaterThan(0);
  expect(row.answered).toBeGreaterThanOrEqual(1);
});

it("rebuilds facts a lost bus message left out in the sweep", async () => {
  // As if the bus had lost every message: the sweep (every 200 ms here) re-derives what changed lately.
  await s.rt.core.db.delete(interactions).where(eq(interactions.workspaceId, s.workspaceId));
  const back = await until(total, (b) => b.total?.offered === 3);
  expect(back.total).toMatchObject({ offered: 3, answered: 1, abandoned: 1, fcrRate: 0 });
});
