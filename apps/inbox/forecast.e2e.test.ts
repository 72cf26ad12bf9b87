import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { agentStateSpans, interactions, workspaceSettings } from "../../db/schema/index.ts";
import { agentsFor } from "../../routing/erlang.ts";
import { agentsForErlangA } from "../../reports/erlang-a.ts";
import { createQueue } from "../../routing/queue.ts";
import { api, startTestServer, type TestServer } from "../../test/server.ts";

let s: TestServer;
let supervisor: string;
let agent: string;
let queueId: string;
let otherQueueId: string;
let conversationId: string;

const MIN = 60_000;
const WEEK = 7 * 24 * 60 * MIN;
// Monday 2026-11-02 00:00 in Shanghai (UTC+8, no daylight saving).
const FROM = Date.parse("2026-11-02T00:00:00+08:00");
const MONDAY_10 = FROM + 10 * 60 * MIN;
const TUESDAY_14 = FROM + (24 + 14) * 60 * MIN;

type Fixture = { at: number; queue?: string; outcome?: string; waitS?: number; handleS?: number; agentId?: string };

async function insert(rows: Fixture[]) {
  const db = s.rt.core.db;
  await db.insert(interactions).values(
    rows.map((r) => ({
      id: crypto.randomUUID(),
      workspaceId: s.workspaceId,
      conversationId,
      contactId: crypto.randomUUID(),
      channel: "voice",
      queueId: r.queue ?? queueId,
      agentId: r.outcome === "abandoned" ? null : (r.agentId ?? s.agent.id),
      offeredAt: new Date(r.at),
      answeredAt: r.outcome === "abandoned" ? null : new Date(r.at + (r.waitS ?? 5) * 1000),
      endedAt: new Date(r.at + ((r.waitS ?? 5) + (r.outcome === "abandoned" ? 0 : (r.handleS ?? 300))) * 1000),
      outcome: r.outcome ?? "answered",
      waitS: r.waitS ?? 5,
      handleS: r.outcome === "abandoned" ? null : (r.handleS ?? 300),
      serviceLevelS: 20,
      answeredInSl: r.outcome === "abandoned" ? false : (r.waitS ?? 5) <= 20,
    })),
  );
}

beforeAll(async () => {
  s = await startTestServer({ demo: false });
  supervisor = await s.signInAs("supervisor", "Sue");
  agent = await s.login(s.agent.email, s.agent.password);
  const db = s.rt.core.db;
  await db
    .insert(workspaceSettings)
    .values({ workspaceId: s.workspaceId, timeZone: "Asia/Shanghai" })
    .onConflictDoUpdate({ target: workspaceSettings.workspaceId, set: { timeZone: "Asia/Shanghai" } });
  queueId = (await createQueue(db, s.workspaceId, { name: "Phones", serviceLevelSeconds: 20 })).id;
  otherQueueId = (await createQueue(db, s.workspaceId, { name: "Billing" })).id;
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  const sent = await api(`${s.url}/widget/v1/messages`, {
    token: session.body.visitorToken,
    body: { text: "hello" },
  });
  conversationId = sent.body.conversationId;

  // Four weeks before FROM: six calls every Monday 10:00–10:30 (nine in the last week), two every
  // Tuesday 14:00; then the forecast week itself, which has happened: eight on its Monday.
  const rows: Fixture[] = [];
  for (let w = -4; w <= 0; w++) {
    const mondays = w === -1 ? 9 : w === 0 ? 8 : 6;
    for (let i = 0; i < mondays; i++) rows.push({ at: MONDAY_10 + w * WEEK + i * 3 * MIN });
    if (w < 0) for (let i = 0; i < 2; i++) rows.push({ at: TUESDAY_14 + w * WEEK + i * 5 * MIN });
  }
  await insert(rows);
});
afterAll(() => s.stop());

const get = (query: string, token = supervisor) => api(`${s.url}/api/v1/forecast?${query}`, { token });

describe("GET /api/v1/forecast", () => {
  it("forecasts each half-hour in the workspace's time zone, with agents needed, actuals and the held-out error", async () => {
    const r = await get(`queueId=${queueId}&weeks=1&from=${encodeURIComponent("2026-11-02T00:00:00+08:00")}`);
    expect(r.status).toBe(200);
    expect(r.body.timeZone).toBe("Asia/Shanghai");
    expect(r.body.intervals).toHaveLength(336);
    expect(r.body.method.historyWeeks).toBe(4);
    // Every week's Monday had the same count until the last: all α fit equally, the smallest wins.
    expect(r.body.method.alpha).toBe(0.1);
    const monday = r.body.intervals[20];
    expect(monday.start).toBe("2026-11-02T02:00:00.000Z");
    expect(monday.arrivals).toBe(6.3);
    expect(monday.ahtS).toBe(300);
    expect(monday.agents).toBe(
      agentsFor({ arrivalsPerHour: 12.6, ahtSeconds: 300, targetServiceLevel: 0.8, targetSeconds: 20 }),
    );
    expect(monday.actual).toBe(8);
    const tuesday = r.body.intervals[48 + 28];
    expect(tuesday.arrivals).toBe(2);
    expect(tuesday.actual).toBe(0);
    expect(r.body.intervals[0].arrivals).toBe(0);
    expect(r.body.intervals[0].agents).toBe(0);
    expect(r.body.staffing).toMatchObject({ model: "erlang_c", serviceLevel: 0.8, targetSeconds: 20, patienceS: null });
    // Held out: weeks 2–4, each from the weeks before it; only the last Monday missed (6 for 9).
    expect(r.body.error.weeks).toBe(3);
    expect(r.body.error.wape).toBeCloseTo(3 / 27, 10);
    expect(r.body.error.mae).toBeCloseTo(3 / (3 * 336), 10);
    expect(r.body.error.naiveWape).toBeCloseTo(3 / 27, 10);
  });

  it("forecasts the weeks ahead without actuals, and grosses agents up for shrinkage", async () => {
    const from = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const r = await get(`queueId=${queueId}&weeks=2&from=${encodeURIComponent(from)}&shrinkage=0.5`);
    expect(r.status).toBe(200);
    expect(r.body.intervals).toHaveLength(672);
    expect(r.body.intervals.every((i: { actual?: number }) => i.actual === undefined)).toBe(true);
    expect(r.body.staffing.shrinkage).toBe(0.5);
  });

  it("staffs by Erlang A where the history shows how long customers wait before hanging up", async () => {
    const sales = (await createQueue(s.rt.core.db, s.workspaceId, { name: "Sales", serviceLevelSeconds: 30 })).id;
    const rows: Fixture[] = [];
    // Three Mondays at 10:00: four callers hang up after 40 s, four are answered after 20 s.
    for (let w = -3; w < 0; w++)
      for (let i = 0; i < 8; i++)
        rows.push({
          at: MONDAY_10 + w * WEEK + i * MIN,
          queue: sales,
          outcome: i < 4 ? "abandoned" : "answered",
          waitS: i < 4 ? 40 : 20,
        });
    await insert(rows);
    const r = await get(`queueId=${sales}&from=${encodeURIComponent("2026-11-02T00:00:00+08:00")}`);
    expect(r.status).toBe(200);
    // Waited in all: 12 × 40 + 12 × 20 = 720 s over 12 hang-ups.
    expect(r.body.staffing).toMatchObject({ model: "erlang_a", patienceS: 60, targetSeconds: 30 });
    const monday = r.body.intervals[20];
    expect(monday.arrivals).toBe(8);
    expect(monday.agents).toBe(
      agentsForErlangA({
        arrivalsPerHour: 16,
        ahtSeconds: 300,
        patienceSeconds: 60,
        targetSeconds: 30,
        targetServiceLevel: 0.8,
      }),
    );
  });

  it("refuses bad input naming the field, an unknown queue, and an agent without reports.read", async () => {
    expect((await get(`queueId=${queueId}&weeks=5`)).body.error.field).toBe("weeks");
    expect((await get(`queueId=${queueId}&weeks=0`)).status).toBe(400);
    expect((await get("queueId=nope")).body.error.field).toBe("queueId");
    expect((await get(`queueId=${queueId}&from=yesterday`)).body.error.field).toBe("from");
    expect((await get(`queueId=${queueId}&serviceLevel=1`)).body.error.field).toBe("serviceLevel");
    const unknown = await get(`queueId=${crypto.randomUUID()}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.field).toBe("queueId");
    expect((await get(`queueId=${queueId}`, agent)).status).toBe(403);
  });
});

describe("POST /api/v1/what-if", () => {
  // Two hours of calls every 3 minutes, each handled for 10 minutes: four agents answer every call at
  // once (600 / 180 rounded up); the two who were really on duty fall further behind with every call.
  const START = Date.parse("2026-10-07T01:00:00Z");
  const period = { from: "2026-10-07T01:00:00Z", to: "2026-10-07T03:00:00Z" };

  beforeAll(async () => {
    const rows: Fixture[] = [];
    for (let i = 0; i < 40; i++) rows.push({ at: START + i * 3 * MIN, queue: otherQueueId, handleS: 600, waitS: 30 });
    await insert(rows);
    await s.rt.core.db.insert(agentStateSpans).values(
      [s.agent.id, s.admin.id].map((userId) => ({
        workspaceId: s.workspaceId,
        userId,
        presence: "available",
        startedAt: new Date(START - 10 * MIN),
        endedAt: new Date(START + 3 * 60 * MIN),
      })),
    );
  });

  const whatIf = (body: unknown, token = supervisor) => api(`${s.url}/api/v1/what-if`, { token, body });

  it("replays the period as staffed and with more agents: before, after, the actual and the change", async () => {
    const change = { agentsPerInterval: [{ start: period.from, end: period.to, agents: 6 }] };
    const r = await whatIf({ ...period, queueIds: [otherQueueId], change });
    expect(r.status).toBe(200);
    expect(r.body.arrivals).toBe(40);
    expect(r.body.change).toEqual(change);
    expect(r.body.actual).toMatchObject({ offered: 40, answered: 40, abandoned: 0, serviceLevel: 0, asaS: 30 });
    expect(r.body.before.offered).toBe(40);
    expect(r.body.before.answered).toBe(40);
    expect(r.body.before.serviceLevel).toBeLessThan(0.5);
    expect(r.body.after).toMatchObject({ offered: 40, answered: 40, serviceLevel: 1, asaS: 0, abandonment: 0 });
    expect(r.body.after.intervals[0].agents).toBe(6);
    expect(r.body.before.intervals[0].agents).toBe(2);
    expect(Object.keys(r.body.after.queues)).toEqual([otherQueueId]);
  });

  it("adds agents to every interval with agentsDelta, and changes a queue's skills", async () => {
    const more = await whatIf({ ...period, change: { agentsDelta: 2 } });
    expect(more.status).toBe(200);
    expect(more.body.after.serviceLevel).toBe(1);
    const same = await whatIf({ ...period, change: { agentsPerInterval: { delta: 2 } } });
    expect(same.body.after).toEqual(more.body.after);
    // Nobody holds "mandarin": the queue's calls wait until the replay gives up on them.
    const skills = [{ skill: "mandarin", minLevel: 3 }];
    const none = await whatIf({
      ...period,
      queueIds: [otherQueueId],
      change: { queues: [{ id: otherQueueId, skills }] },
    });
    expect(none.body.after.answered).toBe(0);
    expect(none.body.after.abandonment).toBe(1);
  });

  it("refuses an invalid change with a 400 naming the field", async () => {
    const field = async (body: unknown) => {
      const r = await whatIf(body);
      expect(r.status).toBe(400);
      return r.body.error.field;
    };
    const interval = { start: period.from, end: period.to, agents: 3 };
    expect(await field({ ...period, change: { agentsPerInterval: [{ ...interval, agents: -1 }] } })).toBe(
      "change.agentsPerInterval.0.agents",
    );
    expect(
      await field({ ...period, change: { agentsPerInterval: [interval, { ...interval, end: period.from }] } }),
    ).toBe("change.agentsPerInterval.1.end");
    expect(
      await field({ ...period, change: { agentsPerInterval: [{ ...interval, start: "2026-09-01T00:00:00Z" }] } }),
    ).toBe("change.agentsPerInterval.0.start");
    expect(await field({ from: period.to, to: period.from })).toBe("to");
    expect(await field({ from: "2026-09-01T00:00:00Z", to: "2026-10-07T00:00:00Z" })).toBe("to");
    expect(await field({ ...period, queueIds: [crypto.randomUUID()] })).toBe("queueIds.0");
    expect(await field({ ...period, change: { queues: [{ id: crypto.randomUUID() }] } })).toBe("change.queues.0.id");
    const move = [{ afterSeconds: 30, action: "move_queue", queueId: crypto.randomUUID() }];
    expect(await field({ ...period, change: { queues: [{ id: queueId, overflow: move }] } })).toBe(
      "change.queues.0.overflow.0.queueId",
    );
    expect(await field({ ...period, change: { priority: [{ queueId, priority: 1000 }] } })).toBe(
      "change.priority.0.priority",
    );
    expect(await field({ ...period, change: { agentsDelta: 1.5 } })).toBe("change.agentsDelta");
    expect(await field({ ...period, change: { agentsPerInterval: { delta: "two" } } })).toBe(
      "change.agentsPerInterval",
    );
    expect((await whatIf({ ...period }, agent)).status).toBe(403);
  });
});
