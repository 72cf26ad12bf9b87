import { afterAll, beforeAll, expect, it } from "bun:test";
import { and, eq } from "drizzle-orm";
import { agentStates, workItems } from "../db/schema/index.ts";
import { createAgent } from "./agent.ts";
import { expireOffers } from "./offer.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../test/server.ts";
import { until } from "../test/voice.ts";

let s: TestServer;
let admin: string;
let ann: string;
let bob: string;
let bobId: string;

beforeAll(async () => {
  s = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  ann = await s.login(s.agent.email, s.agent.password);
  const bobUser = await createAgent(s.rt.core.db, {
    workspaceId: s.workspaceId,
    email: `bob-${crypto.randomUUID()}@example.test`,
    name: "Bob",
    role: "agent",
    password: "pw-bob-123",
  });
  bobId = bobUser.id;
  bob = await s.login(bobUser.email, "pw-bob-123");
  await api(`${s.url}/api/v1/skills`, { token: admin, body: { name: "billing" } });
  await api(`${s.url}/api/v1/agents/${s.agent.id}`, {
    method: "PATCH",
    token: admin,
    body: { skills: [{ skill: "billing", level: 4 }] },
  });
  await api(`${s.url}/api/v1/agents/${bobId}`, {
    method: "PATCH",
    token: admin,
    body: { skills: [{ skill: "billing", level: 2 }] },
  });
  const queue = await api(`${s.url}/api/v1/queues`, {
    token: admin,
    body: { name: "Billing", requiredSkills: [{ skill: "billing", minLevel: 2 }] },
  });
  await api(`${s.url}/api/v1/entry-rules`, {
    method: "PUT",
    token: admin,
    body: { rules: [{ queueId: queue.body.id, conditions: { keywords: ["退款", "refund"] } }] },
  });
});
afterAll(() => s.stop());

async function customerWrites(text: string) {
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  const sent = await api(`${s.url}/widget/v1/messages`, { token: session.body.visitorToken, body: { text } });
  return sent.body.conversationId as string;
}

it("queues a refund chat by its entry rule and offers it to the best-skilled agent; a refusal passes it on", async () => {
  const annSocket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${ann}`);
  const bobSocket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${bob}`);
  await Promise.all([annSocket.waitFor((f) => f.type === "hello"), bobSocket.waitFor((f) => f.type === "hello")]);
  await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "available" } });
  await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: bob, body: { presence: "available" } });

  const conversationId = await customerWrites("你好，我要退款");
  const offer = await annSocket.waitFor((f) => f.type === "offer.created" && f.conversationId === conversationId);
  expect(offer.offer).toMatchObject({ agentId: s.agent.id, state: "reserved", channel: "webchat" });
  expect((await api(`${s.url}/api/v1/me/offers`, { token: ann })).body.items.map((o: any) => o.conversationId)).toEqual(
    [conversationId],
  );
  // Only Ann is told; Bob cannot take what was offered to her.
  await Bun.sleep(100);
  expect(bobSocket.frames.some((f) => f.type === "offer.created")).toBe(false);
  const stolen = await api(`${s.url}/api/v1/offers/${offer.offer.workItemId}/accept`, { token: bob, body: {} });
  expect(stolen.status).toBe(409);
  expect(stolen.body.error.code).toBe("not_yours");

  expect((await api(`${s.url}/api/v1/offers/${offer.offer.workItemId}/reject`, { token: ann, body: {} })).status).toBe(
    200,
  );
  expect((await api(`${s.url}/api/v1/me/presence`, { token: ann })).body).toMatchObject({
    presence: "away",
    reason: "missed offer",
  });
  const second = await bobSocket.waitFor((f) => f.type === "offer.created" && f.conversationId === conversationId);
  const accepted = await api(`${s.url}/api/v1/offers/${second.offer.workItemId}/accept`, { token: bob, body: {} });
  expect(accepted.status).toBe(200);
  expect(accepted.body.state).toBe("assigned");
  const late = await api(`${s.url}/api/v1/offers/${offer.offer.workItemId}/accept`, { token: ann, body: {} });
  expect(late.status).toBe(409);

  const conversation = await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: admin });
  expect(conversation.body).toMatchObject({ assigneeId: bobId });
  // The supervisor's per-agent view: Bob is busy with one of his three chats.
  const bobNow = (await api(`${s.url}/api/v1/agents`, { token: admin })).body.items.find((a: any) => a.id === bobId);
  expect(bobNow).toMatchObject({ presence: "busy", work: [{ conversationId, state: "assigned", channel: "webchat" }] });
  expect(bobNow.occupancy).toBeCloseTo(1 / 3);
  expect(bobNow.timeInStateS).toBeGreaterThanOrEqual(0);
  const timeline = await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token: admin });
  expect(timeline.body.items.filter((i: any) => i.type === "event").map((i: any) => i.eventType)).toEqual([
    "queued",
    "offer_missed",
    "assigned",
  ]);
  // Queued first in line with two agents of 3 chats each: the estimate given is kept on the work item.
  const queued = timeline.body.items.find((i: any) => i.eventType === "queued");
  expect(queued.data).toMatchObject({ queueName: "Billing", position: 1, estimatedWaitS: 30 });
  const [item] = await s.rt.core.db.select().from(workItems).where(eq(workItems.conversationId, conversationId));
  expect(item!.estimatedWaitSeconds).toBe(30);
  annSocket.close();
  bobSocket.close();
});

it("leaves a chat no entry rule matches for agents to pick by hand", async () => {
  const conversationId = await customerWrites("just saying hello");
  await Bun.sleep(100);
  const items = await s.rt.core.db.select().from(workItems).where(eq(workItems.conversationId, conversationId));
  expect(items).toEqual([]);
  expect((await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: admin })).body.assigneeId).toBeNull();
});

it("takes back an offer nobody answers in time and marks the agent away", async () => {
  await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "available" } });
  const conversationId = await customerWrites("refund please");
  let offered: typeof workItems.$inferSelect | undefined;
  for (let i = 0; i < 50 && !offered; i++, await Bun.sleep(20))
    [offered] = await s.rt.core.db
      .select()
      .from(workItems)
      .where(and(eq(workItems.conversationId, conversationId), eq(workItems.state, "reserved")));
  expect(offered).toBeDefined();
  const who = offered!.agentId === s.agent.id ? ann : bob;
  await expireOffers(s.rt.core, new Date(Date.now() + 60_000));
  expect((await api(`${s.url}/api/v1/me/presence`, { token: who })).body).toMatchObject({
    presence: "away",
    reason: "missed offer",
  });
  const expired = await api(`${s.url}/api/v1/offers/${offered!.id}/accept`, { token: who, body: {} });
  expect(expired.status).toBe(409);
  expect(expired.body.error.code).toBe("expired");
});

it("frees the agent's capacity when the conversation is resolved", async () => {
  const [held] = await s.rt.core.db
    .select()
    .from(workItems)
    .where(and(eq(workItems.agentId, bobId), eq(workItems.state, "assigned")));
  expect(held).toBeDefined();
  await api(`${s.url}/api/v1/conversations/${held!.conversationId}/status`, {
    token: admin,
    body: { status: "resolved" },
  });
  let state = held!.state as string;
  for (let i = 0; i < 50 && state !== "done"; i++, await Bun.sleep(20))
    state = (await s.rt.core.db.select().from(workItems).where(eq(workItems.id, held!.id)))[0]!.state;
  expect(state).toBe("done");
  // No wrap-up for chat: Bob stays busy only while he still holds other work.
  const bobAfter = async () =>
    (await api(`${s.url}/api/v1/agents`, { token: admin })).body.items.find((a: any) => a.id === bobId);
  let after = await bobAfter();
  for (let i = 0; i < 50 && after.presence !== (after.work.length ? "busy" : "available"); i++, await Bun.sleep(20))
    after = await bobAfter();
  expect(after.presence).toBe(after.work.length ? "busy" : "available");
  expect(after.work.map((w: any) => w.conversationId)).not.toContain(held!.conversationId);
});

it("shows supervisors each queue live: waiting, longest wait, service level, ASA, agents available", async () => {
  await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "offline" } });
  await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: bob, body: { presence: "offline" } });
  const waitingSession = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  await api(`${s.url}/widget/v1/messages`, { token: waitingSession.body.visitorToken, body: { text: "退款还没到账" } });
  // With nobody signed in who could take it, the widget says where the visitor stands, not a made-up wait.
  // Queueing follows the conversation's creation (the router hears the event), so ask until it shows.
  let place = await api(`${s.url}/widget/v1/queue`, { token: waitingSession.body.visitorToken });
  for (let i = 0; i < 50 && !place.body.queued; i++, await Bun.sleep(20))
    place = await api(`${s.url}/widget/v1/queue`, { token: waitingSession.body.visitorToken });
  expect(place.body).toMatchObject({ queued: true, estimatedWaitS: null });
  expect(place.body.position).toBeGreaterThanOrEqual(1);
  const live = await api(`${s.url}/api/v1/queues/live`, { token: admin });
  expect(live.status).toBe(200);
  expect(Array.isArray(live.body)).toBe(true);
  const billing = live.body.find((q: any) => q.name === "Billing");
  expect(billing).toMatchObject({ agentsAvailable: 0, answered: 1 });
  expect(billing.waiting).toBeGreaterThanOrEqual(1);
  expect(billing.longestWaitS).toBeGreaterThanOrEqual(0);
  expect(billing.serviceLevel).toBeGreaterThanOrEqual(0);
  expect(billing.asaS).toBeGreaterThanOrEqual(0);
  await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "available" } });
  const withAnn = (await api(`${s.url}/api/v1/queues/live`, { token: admin })).body.find(
    (q: any) => q.name === "Billing",
  );
  expect(withAnn.agentsAvailable).toBe(1);
  // A customer arriving now would be told a wait: Ann's 3 chat seats turn over at the queue's handle time.
  expect(withAnn.estimatedWaitS).toBeGreaterThan(0);
  expect(billing.estimatedWaitS).toBeNull();
  // Offered to Ann now: the visitor is next.
  let next = place.body;
  for (let i = 0; i < 50 && next.position !== 0; i++, await Bun.sleep(20))
    next = (await api(`${s.url}/widget/v1/queue`, { token: waitingSession.body.visitorToken })).body;
  expect(next).toMatchObject({ queued: true, position: 0, estimatedWaitS: 0 });
  expect((await api(`${s.url}/api/v1/queues/live`, { token: ann })).status).toBe(403);
});

it("pushes the live view to supervisors every few seconds, with an alert when work waits too long", async () => {
  const strict = await api(`${s.url}/api/v1/queues`, { token: admin, body: { name: "Strict", maxWaitSeconds: 1 } });
  const rules = (await api(`${s.url}/api/v1/entry-rules`, { token: admin })).body.items;
  await api(`${s.url}/api/v1/entry-rules`, {
    method: "PUT",
    token: admin,
    body: {
      rules: [
        ...rules.map((r: any) => ({ queueId: r.queueId, conditions: r.conditions })),
        { queueId: strict.body.id, conditions: { keywords: ["urgent"] } },
      ],
    },
  });
  await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "offline" } });
  await customerWrites("urgent: where is my order?");
  const supervisor = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${admin}`);
  const frame = await supervisor.waitFor(
    (f) =>
      f.type === "queues.live" &&
      f.queues.some((q: any) => q.name === "Strict" && q.alerts.some((a: any) => a.kind === "longest_wait")),
    8000,
  );
  const live = frame.queues.find((q: any) => q.name === "Strict");
  expect(live).toMatchObject({ waiting: 1, alerts: [{ kind: "longest_wait", threshold: 1 }] });
  supervisor.close();
});

it("transfers a conversation to another queue, or to one agent who must accept it", async () => {
  // Bob is signed in but away: no routed work reaches him, a transfer does.
  await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: bob, body: { presence: "away" } });
  await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "offline" } });
  const conversationId = await customerWrites("refund for order 42");
  const queues = (await api(`${s.url}/api/v1/queues`, { token: admin })).body.items;
  const strict = queues.find((q: any) => q.name === "Strict");
  const moved = await api(`${s.url}/api/v1/conversations/${conversationId}/transfer`, {
    token: admin,
    body: { queueId: strict.id, note: "needs a fast answer" },
  });
  expect(moved.status).toBe(200);
  expect(moved.body.offer).toMatchObject({ queueId: strict.id, state: "waiting" });
  const toBob = await api(`${s.url}/api/v1/conversations/${conversationId}/transfer`, {
    token: admin,
    body: { agentId: bobId, note: "you know this customer" },
  });
  expect(toBob.body.offer).toMatchObject({ agentId: bobId, state: "reserved" });
  const accepted = await api(`${s.url}/api/v1/offers/${toBob.body.offer.workItemId}/accept`, { token: bob, body: {} });
  expect(accepted.status).toBe(200);
  expect((await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: admin })).body.assigneeId).toBe(bobId);
  const timeline = await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token: admin });
  expect(timeline.body.items.filter((i: any) => i.eventType === "transferred").map((i: any) => i.data.note)).toEqual([
    "needs a fast answer",
    "you know this customer",
  ]);

  const both = await api(`${s.url}/api/v1/conversations/${conversationId}/transfer`, {
    token: admin,
    body: { queueId: strict.id, agentId: bobId },
  });
  expect(both.status).toBe(400);
  const nobody = await api(`${s.url}/api/v1/conversations/${conversationId}/transfer`, {
    token: admin,
    body: { agentId: crypto.randomUUID() },
  });
  expect(nobody.status).toBe(404);
  expect(nobody.body.error.field).toBe("agentId");
  // Queued work offered to someone signed out would be withdrawn at once: refused instead.
  const waiting = await customerWrites("refund for order 43");
  await until(
    async () => (await s.rt.core.db.select().from(workItems).where(eq(workItems.conversationId, waiting)))[0],
    5000,
    "queue entry",
  );
  const signedOutAgent = await api(`${s.url}/api/v1/conversations/${waiting}/transfer`, {
    token: admin,
    body: { agentId: s.agent.id },
  });
  expect(signedOutAgent.status).toBe(409);
  expect(signedOutAgent.body.error.field).toBe("agentId");
});

it("withdraws a signed-out agent's open offer at once and leaves them offline, not away", async () => {
  await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: bob, body: { presence: "offline" } });
  await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "offline" } });
  const cat = await createAgent(s.rt.core.db, {
    workspaceId: s.workspaceId,
    email: `cat-${crypto.randomUUID()}@example.test`,
    name: "Cat",
    role: "agent",
    password: "pw-cat-123",
  });
  const catToken = await s.login(cat.email, "pw-cat-123");
  await api(`${s.url}/api/v1/agents/${cat.id}`, {
    method: "PATCH",
    token: admin,
    body: { skills: [{ skill: "billing", level: 5 }] },
  });
  // Signed in with the inbox open (without a socket she would soon count as disconnected).
  const catSocket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${catToken}`);
  await catSocket.waitFor((f) => f.type === "hello");
  await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: catToken, body: { presence: "available" } });
  await customerWrites("refund, and quickly");
  // Cat is offered what waits (the oldest first, up to her three chats).
  const offersOfCat = () =>
    s.rt.core.db
      .select()
      .from(workItems)
      .where(and(eq(workItems.agentId, cat.id), eq(workItems.state, "reserved")));
  const offered = await until(async () => (await offersOfCat()).length > 0 && offersOfCat(), 5000, "Cat's offers");

  expect((await api(`${s.url}/api/v1/auth/logout`, { token: catToken, body: {} })).status).toBe(200);
  // Back in the queue well before the offers' 20 s are up, and Cat is offline, not marked away.
  await until(async () => (await offersOfCat()).length === 0, 5000, "offers withdrawn");
  const [back] = await s.rt.core.db.select().from(workItems).where(eq(workItems.id, offered[0]!.id));
  expect(back).toMatchObject({ state: "waiting", agentId: null });
  const [state] = await s.rt.core.db.select().from(agentStates).where(eq(agentStates.userId, cat.id));
  expect(state).toMatchObject({ presence: "offline", reason: "signed out" });
  const timeline = (await api(`${s.url}/api/v1/conversations/${back!.conversationId}/timeline`, { token: admin })).body
    .items;
  expect(timeline.filter((i: any) => i.eventType === "offer_missed").at(-1).data).toMatchObject({
    agentId: cat.id,
    reason: "withdrawn",
  });
  catSocket.close();
});

it("refuses with 409, not a 500, to delete a queue that has handled work; an unused one goes", async () => {
  const old = await api(`${s.url}/api/v1/queues`, { token: admin, body: { name: "Old" } });
  const unused = await api(`${s.url}/api/v1/queues`, { token: admin, body: { name: "Unused" } });
  const conversationId = await customerWrites("moving this one");
  expect(
    (
      await api(`${s.url}/api/v1/conversations/${conversationId}/transfer`, {
        token: admin,
        body: { queueId: old.body.id },
      })
    ).status,
  ).toBe(200);
  await api(`${s.url}/api/v1/conversations/${conversationId}/status`, { token: admin, body: { status: "resolved" } });
  await until(
    async () =>
      (
        await s.rt.core.db
          .select()
          .from(workItems)
          .where(and(eq(workItems.queueId, old.body.id), eq(workItems.state, "abandoned")))
      )[0],
    5000,
    "history",
  );
  const refused = await api(`${s.url}/api/v1/queues/${old.body.id}`, { method: "DELETE", token: admin });
  expect(refused.status).toBe(409);
  expect(refused.body.error).toMatchObject({ code: "conflict", field: "id" });
  expect((await api(`${s.url}/api/v1/queues/${unused.body.id}`, { method: "DELETE", token: admin })).status).toBe(200);
});
