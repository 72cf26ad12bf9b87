import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { slaClocks } from "../../db/schema/index.ts";
import { until } from "../../test/poll.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../test/server.ts";

let s: TestServer;
let admin: string;
let supervisor: string;

beforeAll(async () => {
  s = await startTestServer({ env: { SLA_SWEEP_MS: "100" } });
  admin = await s.login(s.admin.email, s.admin.password);
  supervisor = await s.signInAs("supervisor", "Sue Supervisor");
}, 60_000);
afterAll(async () => {
  await s.stop();
});
// Every policy applies to the whole workspace: each test starts without any.
afterEach(async () => {
  const { body } = await api(`${s.url}/api/v1/sla-policies`, { token: admin });
  for (const p of body.items) await api(`${s.url}/api/v1/sla-policies/${p.id}`, { token: admin, method: "DELETE" });
  await api(`${s.url}/api/v1/workspace/calendar`, { token: admin, method: "PUT", body: null });
});

async function policy(body: Record<string, unknown>) {
  const res = await api(`${s.url}/api/v1/sla-policies`, { token: admin, body: { name: crypto.randomUUID(), ...body } });
  expect(res.status).toBe(201);
  return res.body as { id: string };
}

/** A widget visitor writes; returns the conversation's id and the visitor's token. */
async function visitorWrites(text: string, visitorToken?: string) {
  const token =
    visitorToken ??
    (await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } })).body.visitorToken;
  const sent = await api(`${s.url}/widget/v1/messages`, { token, body: { text } });
  expect(sent.status).toBe(201);
  return { id: sent.body.conversationId as string, visitorToken: token as string };
}

const conversation = (id: string) => api(`${s.url}/api/v1/conversations/${id}`, { token: admin });
const slaWhen = (id: string, ok: (sla: any) => boolean) =>
  until(
    async () => (await conversation(id)).body.sla,
    (sla) => !!sla && ok(sla),
  );
const clocksOf = (id: string) => s.rt.core.db.select().from(slaClocks).where(eq(slaClocks.conversationId, id));

describe("the public contract", () => {
  // Fractional minutes as the contract allows (0.5 there; 0.1 here, to wait 6 s rather than 30).
  it("breaches a 0.1-minute first response: sla.breached with its seq reaches a supervisor's socket", async () => {
    const socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${supervisor}`);
    const p = await policy({ firstResponseMinutes: 0.1, resolutionMinutes: 60 });
    const { id } = await visitorWrites("我的订单还没到");
    const sla = await slaWhen(id, (x) => !!x.firstResponseDueAt && !!x.resolutionDueAt);
    expect(sla).toMatchObject({ policyId: p.id, nextResponseDueAt: null, breached: [] });
    const created = Date.parse((await conversation(id)).body.createdAt);
    expect(Date.parse(sla.firstResponseDueAt) - created).toBeGreaterThanOrEqual(5_000);
    expect(Date.parse(sla.firstResponseDueAt) - created).toBeLessThanOrEqual(7_000);
    expect(Date.parse(sla.resolutionDueAt) - created).toBe(3_600_000);
    // The list's slaDueAt is the nearest due time.
    const listed = (await api(`${s.url}/api/v1/conversations?status=open`, { token: admin })).body.items.find(
      (c: { id: string }) => c.id === id,
    );
    expect(listed.slaDueAt).toBe(sla.firstResponseDueAt);
    expect(listed.sla.firstResponseDueAt).toBe(sla.firstResponseDueAt);

    const breach = await socket.waitFor((f) => f.type === "sla.breached" && f.conversationId === id, 45_000);
    expect(breach).toMatchObject({ metric: "first_response", policyId: p.id, ticketId: null });
    expect(typeof breach.seq).toBe("number");
    expect((await conversation(id)).body.sla.breached).toEqual(["first_response"]);
    socket.close();
  }, 60_000);
});

describe("clocks", () => {
  it("meets the first response with an agent's reply: no breach; a note does not count", async () => {
    await policy({ firstResponseMinutes: 0.05 });
    const answered = await visitorWrites("hello?");
    const ignored = await visitorWrites("anyone?");
    await slaWhen(answered.id, (x) => !!x.firstResponseDueAt);
    const note = await api(`${s.url}/api/v1/conversations/${answered.id}/messages`, {
      token: admin,
      body: { text: "checking", private: true },
    });
    expect(note.status).toBe(201);
    const reply = await api(`${s.url}/api/v1/conversations/${answered.id}/messages`, {
      token: admin,
      body: { text: "Hi, how can I help?" },
    });
    expect(reply.status).toBe(201);
    await slaWhen(answered.id, (x) => x.firstResponseDueAt === null);
    // The unanswered one breaches after 3 s: by then the answered one would have too.
    await slaWhen(ignored.id, (x) => x.breached.includes("first_response"));
    expect((await conversation(answered.id)).body.sla.breached).toEqual([]);
    const [clock] = await clocksOf(answered.id);
    expect(clock!.stoppedAt).not.toBeNull();
    expect(clock!.breachedAt).toBeNull();
  }, 30_000);

  it("starts a next response on the customer's message after a reply", async () => {
    await policy({ firstResponseMinutes: 10, nextResponseMinutes: 20 });
    const v = await visitorWrites("first");
    await slaWhen(v.id, (x) => !!x.firstResponseDueAt);
    await api(`${s.url}/api/v1/conversations/${v.id}/messages`, { token: admin, body: { text: "answer" } });
    await slaWhen(v.id, (x) => x.firstResponseDueAt === null);
    await visitorWrites("one more thing", v.visitorToken);
    const sla = await slaWhen(v.id, (x) => !!x.nextResponseDueAt);
    expect(sla.firstResponseDueAt).toBeNull();
  }, 30_000);

  it("pauses while the conversation is pending and re-plans from what was left on reopening", async () => {
    await policy({ resolutionMinutes: 60 });
    const { id } = await visitorWrites("pause me");
    const running = await slaWhen(id, (x) => !!x.resolutionDueAt);
    const status = (to: string) =>
      api(`${s.url}/api/v1/conversations/${id}/status`, { token: admin, body: { status: to } });
    expect((await status("pending")).status).toBe(200);
    await slaWhen(id, (x) => x.resolutionDueAt === null);
    const [paused] = await clocksOf(id);
    expect(paused!.pausedAt).not.toBeNull();
    expect(paused!.remainingMs).toBeGreaterThan(3_500_000);
    expect((await status("open")).status).toBe(200);
    const resumed = await slaWhen(id, (x) => !!x.resolutionDueAt);
    // Due later than first planned by about the time it waited (never earlier).
    expect(Date.parse(resumed.resolutionDueAt)).toBeGreaterThanOrEqual(Date.parse(running.resolutionDueAt));
    expect((await status("resolved")).status).toBe(200);
    await until(
      () => clocksOf(id),
      (cs) => cs.every((c) => c.stoppedAt !== null),
    );
  }, 30_000);

  it("runs business-hours clocks on the queue's hours once it has a queue, else on the workspace calendar", async () => {
    const allWeek = Object.fromEntries(
      ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((d) => [d, [["00:00", "24:00"]]]),
    );
    const cal = await api(`${s.url}/api/v1/workspace/calendar`, {
      token: admin,
      method: "PUT",
      body: { timeZone: "Asia/Shanghai", weekly: allWeek, holidays: [] },
    });
    expect(cal.status).toBe(200);
    expect((await api(`${s.url}/api/v1/workspace/calendar`, { token: admin })).body.timeZone).toBe("Asia/Shanghai");
    await policy({ resolutionMinutes: 60, businessHours: true });
    const { id } = await visitorWrites("business hours");
    const onCalendar = await slaWhen(id, (x) => !!x.resolutionDueAt);
    const created = Date.parse((await conversation(id)).body.createdAt);
    expect(Date.parse(onCalendar.resolutionDueAt) - created).toBe(3_600_000);

    // A queue open one hour a week, on the weekday three days from now: the hour comes days later.
    const day = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][(new Date().getUTCDay() + 3) % 7]!;
    const queue = await api(`${s.url}/api/v1/queues`, {
      token: admin,
      body: {
        name: `Back office ${crypto.randomUUID().slice(0, 6)}`,
        businessHours: { timeZone: "UTC", weekly: { [day]: [["10:00", "11:00"]] }, holidays: [] },
      },
    });
    expect(queue.status).toBe(201);
    const moved = await api(`${s.url}/api/v1/conversations/${id}/transfer`, {
      token: admin,
      body: { queueId: queue.body.id },
    });
    expect(moved.status).toBe(200);
    const onQueue = await slaWhen(id, (x) => Date.parse(x.resolutionDueAt) > created + 24 * 3_600_000);
    expect(new Date(onQueue.resolutionDueAt).getUTCHours()).toBe(11);
  }, 30_000);

  it("chooses between policies by conditions: VIP first, the one without conditions for the rest", async () => {
    const vip = await policy({ firstResponseMinutes: 1, conditions: [{ field: "vip", op: "equals", value: true }] });
    const rest = await policy({ firstResponseMinutes: 30 });
    const normal = await visitorWrites("normal customer");
    const important = await visitorWrites("vip customer");
    const contactId = (await conversation(important.id)).body.contact.id;
    const patched = await api(`${s.url}/api/v1/contacts/${contactId}`, {
      token: admin,
      method: "PATCH",
      body: { attributes: { vip: true } },
    });
    expect(patched.status).toBe(200);
    // The policy is chosen again at the conversation's next event.
    await visitorWrites("still waiting", important.visitorToken);
    expect((await slaWhen(normal.id, (x) => !!x.firstResponseDueAt)).policyId).toBe(rest.id);
    const vipSla = await slaWhen(important.id, (x) => x.policyId === vip.id);
    const created = Date.parse((await conversation(important.id)).body.createdAt);
    expect(Date.parse(vipSla.firstResponseDueAt) - created).toBeLessThan(2 * 60_000);
  }, 30_000);
});

describe("tickets", () => {
  it("runs a ticket's first response until it leaves new, and keeps its dueAt; a breach names the ticket", async () => {
    const socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${supervisor}`);
    const p = await policy({
      firstResponseMinutes: 0.05,
      resolutionMinutes: 120,
      conditions: [{ field: "kind", op: "equals", value: "ticket" }],
    });
    const quick = await api(`${s.url}/api/v1/tickets`, { token: admin, body: { title: "Refund for order 1042" } });
    expect(quick.status).toBe(201);
    const slow = await api(`${s.url}/api/v1/tickets`, { token: admin, body: { title: "Broken kettle" } });
    const ticket = (id: string) => api(`${s.url}/api/v1/tickets/${id}`, { token: admin });
    const first = await until(
      async () => (await ticket(quick.body.id)).body,
      // The ticket and its clocks are read one after the other: wait for both.
      (t) => !!t.sla?.firstResponseDueAt && t.dueAt === t.sla.firstResponseDueAt,
    );
    expect(first.sla.policyId).toBe(p.id);
    expect(first.dueAt).toBe(first.sla.firstResponseDueAt);
    const opened = await api(`${s.url}/api/v1/tickets/${quick.body.id}`, {
      token: admin,
      method: "PATCH",
      body: { status: "open" },
    });
    expect(opened.status).toBe(200);
    const met = await until(
      async () => (await ticket(quick.body.id)).body,
      // The ticket and its clocks are read one after the other: wait for both.
      (t) => t.sla?.firstResponseDueAt === null && t.dueAt === t.sla.resolutionDueAt,
    );
    expect(met.dueAt).toBe(met.sla.resolutionDueAt);
    const breach = await socket.waitFor((f) => f.type === "sla.breached" && f.ticketId === slow.body.id, 15_000);
    expect(breach).toMatchObject({ conversationId: null, metric: "first_response", policyId: p.id });
    expect(typeof breach.seq).toBe("number");
    expect((await ticket(quick.body.id)).body.sla.breached).toEqual([]);
    // Pending on the customer pauses the resolution clock.
    await api(`${s.url}/api/v1/tickets/${quick.body.id}`, {
      token: admin,
      method: "PATCH",
      body: { status: "pending_customer" },
    });
    await until(
      async () => (await ticket(quick.body.id)).body,
      (t) => t.sla?.resolutionDueAt === null && t.dueAt === null,
    );
    socket.close();
  }, 30_000);
});

describe("tickets' next response", () => {
  it("runs from the customer's message into the ticket after its first response, met by an agent's reply", async () => {
    await policy({
      firstResponseMinutes: 60,
      nextResponseMinutes: 30,
      conditions: [{ field: "kind", op: "equals", value: "ticket" }],
    });
    const v = await visitorWrites("The kettle leaks");
    const made = await api(`${s.url}/api/v1/conversations/${v.id}/tickets`, {
      token: admin,
      body: { title: "Leaking kettle" },
    });
    expect(made.status).toBe(201);
    const ticket = async () => (await api(`${s.url}/api/v1/tickets/${made.body.id}`, { token: admin })).body;
    await until(ticket, (t) => !!t.sla?.firstResponseDueAt);
    await api(`${s.url}/api/v1/tickets/${made.body.id}`, { token: admin, method: "PATCH", body: { status: "open" } });
    const answered = await until(ticket, (t) => t.sla?.firstResponseDueAt === null);
    expect(answered.sla.nextResponseDueAt).toBeNull();

    // The customer writes again: the next response is due in 30 minutes from then.
    await visitorWrites("Any news?", v.visitorToken);
    const waiting = await until(ticket, (t) => !!t.sla?.nextResponseDueAt && t.dueAt === t.sla.nextResponseDueAt);
    const due = Date.parse(waiting.sla.nextResponseDueAt) - Date.now();
    expect(due).toBeGreaterThan(25 * 60_000);
    expect(due).toBeLessThanOrEqual(30 * 60_000);
    expect(waiting.dueAt).toBe(waiting.sla.nextResponseDueAt);

    // An agent answers on the conversation: met.
    const reply = await api(`${s.url}/api/v1/conversations/${v.id}/messages`, {
      token: admin,
      body: { text: "A new one is on its way" },
    });
    expect(reply.status).toBe(201);
    const met = await until(ticket, (t) => t.sla?.nextResponseDueAt === null);
    expect(met.sla.breached).toEqual([]);
  }, 30_000);
});

describe("bad input", () => {
  it("names the field: unknown condition, minutes out of range, a taken name, an unknown time zone", async () => {
    const bad = async (body: unknown, field: string, status = 400) => {
      const res = await api(`${s.url}/api/v1/sla-policies`, { token: admin, body });
      expect(res.status).toBe(status);
      expect(res.body.error.field).toBe(field);
    };
    await bad(
      { name: "x", firstResponseMinutes: 5, conditions: [{ field: "colour", op: "equals", value: 1 }] },
      "conditions.0.field",
    );
    await bad({ name: "x", firstResponseMinutes: 0 }, "firstResponseMinutes");
    await bad({ name: "x", resolutionMinutes: 600_000 }, "resolutionMinutes");
    await policy({ name: "Gold", firstResponseMinutes: 5 });
    await bad({ name: "Gold", firstResponseMinutes: 5 }, "name", 409);
    const tz = await api(`${s.url}/api/v1/workspace/calendar`, {
      token: admin,
      method: "PUT",
      body: { timeZone: "Mars/Olympus", weekly: {}, holidays: [] },
    });
    expect(tz.status).toBe(400);
    expect(tz.body.error.field).toBe("timeZone");
    // Nothing half-applied: only Gold exists.
    const names = (await api(`${s.url}/api/v1/sla-policies`, { token: admin })).body.items.map((p: any) => p.name);
    expect(names).toEqual(["Gold"]);
    // Agents may not manage policies.
    const agent = await s.login(s.agent.email, s.agent.password);
    expect((await api(`${s.url}/api/v1/sla-policies`, { token: agent })).status).toBe(403);
  });

  it("orders policies: the first that matches wins", async () => {
    const a = await policy({ firstResponseMinutes: 5 });
    const b = await policy({ firstResponseMinutes: 7 });
    const ordered = await api(`${s.url}/api/v1/sla-policies/order`, {
      token: admin,
      method: "PUT",
      body: { ids: [b.id, a.id] },
    });
    expect(ordered.body.items.map((p: any) => p.id)).toEqual([b.id, a.id]);
    const { id } = await visitorWrites("which one?");
    expect((await slaWhen(id, (x) => !!x.firstResponseDueAt)).policyId).toBe(b.id);
    const partial = await api(`${s.url}/api/v1/sla-policies/order`, {
      token: admin,
      method: "PUT",
      body: { ids: [a.id] },
    });
    expect(partial.status).toBe(400);
    expect(partial.body.error.field).toBe("ids");
  }, 30_000);
});
