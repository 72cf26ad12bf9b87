import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { sql } from "drizzle-orm";
import { rowsOf } from "../db/connect.ts";
import {
  agentStateSpans,
  calls,
  contacts,
  conversations,
  csatResponses,
  interactions,
  queues,
  slaClocks,
  timelineItems,
  workItems,
} from "../db/schema/index.ts";
import { createAgent } from "../routing/agent.ts";
import { api, startTestServer, type TestServer } from "../test/server.ts";
import { deriveInteractions } from "./interaction.ts";

/**
 * Hand-computed fixtures: source rows written directly (work items, timelines, calls, answers, clocks,
 * presence spans), derived into facts, and every figure of the summary checked against the numbers in
 * the comments. The period straddles midnight in Shanghai (UTC+8): 15:50Z is 23:50 on the 9th there.
 */
let s: TestServer;
let token: string;
let ann: string;
let bob: string;
let queueId: string;
const T = (hms: string, day = "2026-03-09") => new Date(`${day}T${hms}Z`);

async function seqs(n: number) {
  const [row] = rowsOf<{ seq: string }>(
    await s.rt.core.db.execute(
      sql`UPDATE workspace_counters SET seq = seq + ${n} WHERE workspace_id = ${s.workspaceId} RETURNING seq`,
    ),
  );
  return Number(row!.seq) - n + 1;
}

async function conversation(channel: "webchat" | "voice" | "email" = "webchat") {
  const db = s.rt.core.db;
  const [contact] = await db.insert(contacts).values({ workspaceId: s.workspaceId, name: "C" }).returning();
  const [c] = await db
    .insert(conversations)
    .values({ workspaceId: s.workspaceId, contactId: contact!.id, inboxId: s.inbox.id, channel, status: "resolved" })
    .returning();
  return c!;
}

type Item = { at: Date; dir?: "in" | "out"; event?: string; data?: Record<string, unknown>; by?: string };
async function timeline(conversationId: string, items: Item[]) {
  const first = await seqs(items.length);
  await s.rt.core.db.insert(timelineItems).values(
    items.map((i, n) => ({
      workspaceId: s.workspaceId,
      conversationId,
      seq: first + n,
      type: i.event ? ("event" as const) : ("message" as const),
      direction: i.event ? null : i.dir!,
      senderType: i.event ? ("system" as const) : i.dir === "in" ? ("contact" as const) : ("agent" as const),
      senderId: i.dir === "out" ? (i.by ?? ann) : null,
      text: i.event ? null : "text",
      eventType: i.event ?? null,
      data: i.data ?? {},
      createdAt: i.at,
    })),
  );
}

type Work = Partial<typeof workItems.$inferInsert> & { conversationId: string; enqueuedAt: Date };
async function work(w: Work) {
  const [row] = await s.rt.core.db
    .insert(workItems)
    .values({ workspaceId: s.workspaceId, queueId, channel: "webchat", state: "done", ...w })
    .returning();
  return row!;
}

const ids: string[] = [];

beforeAll(async () => {
  s = await startTestServer();
  token = await s.login(s.admin.email, s.admin.password);
  const db = s.rt.core.db;
  ann = s.agent.id;
  bob = (
    await createAgent(db, {
      workspaceId: s.workspaceId,
      email: `bob-${crypto.randomUUID()}@example.test`,
      name: "Bob",
      role: "agent",
    })
  ).id;
  await db.execute(
    sql`INSERT INTO workspace_settings (workspace_id, time_zone) VALUES (${s.workspaceId}, 'Asia/Shanghai')
        ON CONFLICT (workspace_id) DO UPDATE SET time_zone = 'Asia/Shanghai'`,
  );
  const [q] = await db
    .insert(queues)
    .values({ workspaceId: s.workspaceId, name: "Support", serviceLevelSeconds: 20 })
    .returning();
  queueId = q!.id;

  // c1: offered 15:50:00 (23:50 in Shanghai), answered by Ann after 10 s, ended 16:10 (a resolution of
  // 1200 s, handled 1190 s). First reply after 30 s; two later turns answered in 45 s and 15 s (next
  // response 30 s on average). 30 s announced, 10 s waited: an estimate 20 s off. CSAT 4; a breached clock.
  const c1 = await conversation();
  await work({
    conversationId: c1.id,
    enqueuedAt: T("15:50:00"),
    answeredAt: T("15:50:10"),
    endedAt: T("16:10:00"),
    agentId: ann,
    estimatedWaitSeconds: 30,
  });
  await timeline(c1.id, [
    { at: T("15:49:59"), dir: "in" },
    { at: T("15:50:30"), dir: "out" },
    { at: T("15:52:00"), dir: "in" },
    { at: T("15:52:45"), dir: "out" },
    { at: T("15:55:00"), dir: "in" },
    { at: T("15:55:15"), dir: "out" },
  ]);
  await db.insert(csatResponses).values({
    workspaceId: s.workspaceId,
    conversationId: c1.id,
    rating: 4,
    channel: "webchat",
    agentId: ann,
    createdAt: T("16:11:00"),
  });
  await db.insert(slaClocks).values({
    workspaceId: s.workspaceId,
    conversationId: c1.id,
    metric: "first_response",
    targetMs: 60_000,
    startedAt: T("15:49:59"),
    breachedAt: T("15:50:59"),
    stoppedAt: T("15:51:00"),
  });

  // c2: offered 16:05:00, answered by Bob after 40 s (outside the 20 s target), transferred at 16:07,
  // ended 16:15 (resolution 600 s, handle 560 s), first reply 50 s. Reopened at 16:30: offered again,
  // answered by Ann after 5 s, replied after 20 s, ended 16:40 (resolution 600 s, handle 595 s).
  const c2 = await conversation();
  await work({
    conversationId: c2.id,
    enqueuedAt: T("16:05:00"),
    answeredAt: T("16:05:40"),
    endedAt: T("16:15:00"),
    agentId: bob,
  });
  await work({
    conversationId: c2.id,
    enqueuedAt: T("16:30:00"),
    answeredAt: T("16:30:05"),
    endedAt: T("16:40:00"),
    agentId: ann,
  });
  await timeline(c2.id, [
    { at: T("16:04:59"), dir: "in" },
    { at: T("16:05:50"), dir: "out", by: bob },
    { at: T("16:07:00"), event: "transferred", data: { agentId: bob } },
    { at: T("16:15:00"), event: "status_changed", data: { from: "open", to: "resolved" } },
    { at: T("16:29:59"), event: "status_changed", data: { from: "resolved", to: "open" } },
    { at: T("16:30:20"), dir: "out" },
  ]);

  // c3: offered 16:20:00, the customer left at 16:21:30 unanswered: abandoned after 90 s.
  const c3 = await conversation();
  await work({ conversationId: c3.id, enqueuedAt: T("16:20:00"), endedAt: T("16:21:30"), state: "abandoned" });

  // c4: a call queued 16:00:10, answered by Ann after 15 s, 300 s connected of which 60 s on hold
  // (talk 240 s), then 30 s of wrap-up: handle 240 + 60 + 30 = 330 s; resolution 315 s.
  const c4 = await conversation("voice");
  await work({
    conversationId: c4.id,
    channel: "voice",
    enqueuedAt: T("16:00:10"),
    answeredAt: T("16:00:25"),
    endedAt: T("16:05:25"),
    agentId: ann,
  });
  const [callItem] = await seqs(1).then((seq) =>
    db
      .insert(timelineItems)
      .values({
        workspaceId: s.workspaceId,
        conversationId: c4.id,
        seq,
        type: "call",
        senderType: "contact",
        createdAt: T("16:00:00"),
      })
      .returning(),
  );
  await db.insert(calls).values({
    workspaceId: s.workspaceId,
    conversationId: c4.id,
    inboxId: s.inbox.id,
    timelineItemId: callItem!.id,
    provider: "twilio",
    externalId: `CA${crypto.randomUUID()}`,
    direction: "in",
    status: "completed",
    agentId: ann,
    startedAt: T("16:00:00"),
    enqueuedAt: T("16:00:10"),
    answeredAt: T("16:00:25"),
    endedAt: T("16:05:25"),
    holdSeconds: 60,
  });
  await db.insert(agentStateSpans).values([
    {
      workspaceId: s.workspaceId,
      userId: ann,
      presence: "available",
      startedAt: T("15:00:00"),
      endedAt: T("16:00:25"),
    },
    { workspaceId: s.workspaceId, userId: ann, presence: "busy", startedAt: T("16:00:25"), endedAt: T("16:05:25") },
    { workspaceId: s.workspaceId, userId: ann, presence: "wrap_up", startedAt: T("16:05:25"), endedAt: T("16:05:55") },
    {
      workspaceId: s.workspaceId,
      userId: ann,
      presence: "away",
      reason: "lunch",
      startedAt: T("16:05:55"),
      endedAt: T("17:05:55"),
    },
    { workspaceId: s.workspaceId, userId: ann, presence: "offline", startedAt: T("17:05:55"), endedAt: null },
  ]);

  // c5: an email assigned by hand to Bob at 17:00 without a queue (offered and answered at once),
  // replied at 17:10 (first response 600 s), resolved 17:30 (resolution and handle 1800 s).
  const c5 = await conversation("email");
  await timeline(c5.id, [
    { at: T("16:59:00"), dir: "in" },
    { at: T("17:00:00"), event: "assigned", data: { assigneeId: bob, previousAssigneeId: null } },
    { at: T("17:10:00"), dir: "out", by: bob },
    { at: T("17:30:00"), event: "status_changed", data: { from: "open", to: "resolved" } },
  ]);

  // c6: offered 16:50 and still waiting: past the 20 s target, so it counts against the service level.
  const c6 = await conversation();
  await work({ conversationId: c6.id, enqueuedAt: T("16:50:00"), state: "waiting" });

  ids.push(c1.id, c2.id, c3.id, c4.id, c5.id, c6.id);
  expect(await deriveInteractions(db, ids)).toBe(7);
});
afterAll(() => s.stop());

const get = (query: string) => api(`${s.url}/api/v1/reports/summary?${query}`, { token });
const PERIOD = "from=2026-03-09T15:00:00Z&to=2026-03-10T00:00:00Z";

describe("GET /reports/summary", () => {
  it("splits the day at midnight in the workspace's zone, with every figure as computed by hand", async () => {
    const res = await get(`${PERIOD}&groupBy=day`);
    expect(res.status).toBe(200);
    expect(res.body.tz).toBe("Asia/Shanghai");
    const [d9, d10] = res.body.rows;
    expect(d9).toMatchObject({
      key: "2026-03-09",
      offered: 1,
      answered: 1,
      abandoned: 0,
      firstResponseS: { avg: 30, p50: 30, p90: 30 },
      nextResponseS: 30,
      resolutionS: { avg: 1200 },
      asaS: 10,
      ahtS: 1190,
      serviceLevel: 1,
      transfers: 0,
      fcrRate: 1,
      slaBreaches: 1,
      csat: { avg: 4, responses: 1 },
      ewt: { announced: 1, avgAnnouncedS: 30, avgErrorS: 20 },
    });
    // The 10th: c2 twice, c3, c4, c5, c6 = 6 offered; answered c2, c2 again, c4, c5 = 4; c3 abandoned.
    expect(d10).toMatchObject({ key: "2026-03-10", offered: 6, answered: 4, abandoned: 1, waiting: 1 });
    // First responses 50, 20, 600 (calls have none): avg 223.33; p50 50; p90 = 50 + 0.8 × 550 = 490.
    expect(d10.firstResponseS.avg).toBeCloseTo(670 / 3, 6);
    expect(d10.firstResponseS.p50).toBeCloseTo(50, 6);
    expect(d10.firstResponseS.p90).toBeCloseTo(490, 6);
    // Resolution (600 + 600 + 315 + 1800) / 4; ASA (40 + 5 + 15 + 0) / 4; AHT (560 + 595 + 330 + 1800) / 4.
    expect(d10.resolutionS.avg).toBeCloseTo(828.75, 6);
    expect(d10.asaS).toBeCloseTo(15, 6);
    expect(d10.ahtS).toBeCloseTo(821.25, 6);
    // Within 20 s: the reopened c2 (5 s) and the call (15 s) of c2 (40 s), c2 again, the call, the
    // abandoned c3 and the overdue c6; c5 had no queue, so no target: 2 / 5.
    expect(d10.serviceLevel).toBeCloseTo(0.4, 6);
    expect(d10).toMatchObject({ transfers: 1, transferRate: 0.25, reopened: 1, abandonS: 90, nextResponseS: null });
    // FCR: c2's first contact came back (reopened); c2's second, the call and c5 did not: 3 / 4.
    expect(d10.fcrRate).toBeCloseTo(0.75, 6);
    expect(d10.csat).toEqual({ avg: null, responses: 0 });
    expect(res.body.total).toMatchObject({ offered: 7, answered: 5, abandoned: 1 });
  });

  it("groups by agent and queue with names, and by hour in a half-hour zone", async () => {
    const byAgent = (await get(`${PERIOD}&groupBy=agent`)).body.rows;
    const annRow = byAgent.find((r: { key: string }) => r.key === ann);
    const bobRow = byAgent.find((r: { key: string }) => r.key === bob);
    // Ann: c1, c2 again and the call; ASA (10 + 5 + 15) / 3. Bob: c2 and c5; AHT (560 + 1800) / 2.
    expect(annRow).toMatchObject({ name: "Agent Ann", offered: 3, answered: 3, asaS: 10 });
    expect(bobRow).toMatchObject({ name: "Bob", offered: 2, answered: 2, ahtS: 1180 });
    expect(byAgent.at(-1)).toMatchObject({ key: null, offered: 2, answered: 0 });
    const byQueue = (await get(`${PERIOD}&groupBy=queue`)).body.rows;
    expect(byQueue[0]).toMatchObject({ key: queueId, name: "Support", offered: 6 });
    // India is UTC+5:30: 15:50Z is 21:20 there, in the hour that began at 21:00 = 15:30Z.
    const byHour = (await get(`${PERIOD}&groupBy=hour&tz=Asia/Kolkata`)).body.rows;
    expect(byHour.map((r: { key: string; offered: number }) => [r.key, r.offered])).toEqual([
      ["2026-03-09T15:30:00Z", 4],
      ["2026-03-09T16:30:00Z", 3],
    ]);
  });

  it("filters by agent and channel, comma lists included", async () => {
    const calls = (await get(`${PERIOD}&groupBy=channel&channel=voice`)).body.rows;
    expect(calls).toEqual([expect.objectContaining({ key: "voice", offered: 1, ahtS: 330 })]);
    const both = (await get(`${PERIOD}&groupBy=channel&agentId=${ann},${bob}`)).body.rows;
    expect(both.map((r: { key: string; offered: number }) => [r.key, r.offered])).toEqual([
      ["email", 1],
      ["voice", 1],
      ["webchat", 3],
    ]);
  });

  it("answers a CSV with a header row", async () => {
    const res = await fetch(`${s.url}/api/v1/reports/summary?${PERIOD}&groupBy=agent&format=csv`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/csv");
    const lines = (await res.text()).trimEnd().split("\r\n");
    expect(lines[0]).toStartWith("key,name,offered,answered,abandoned,");
    expect(lines[0]).toContain("firstResponseS.p90");
    expect(lines).toHaveLength(4);
  });

  it("refuses bad input naming the field", async () => {
    const cases: [string, string][] = [
      ["from=2026-03-10T00:00:00Z&to=2026-03-09T00:00:00Z", "to"],
      ["from=2025-01-01T00:00:00Z&to=2026-03-09T00:00:00Z", "to"],
      ["from=yesterday&to=2026-03-09T00:00:00Z", "from"],
      ["to=2026-03-09T00:00:00Z", "from"],
      [`${PERIOD}&groupBy=planet`, "groupBy"],
      [`${PERIOD}&tz=Mars/Olympus`, "tz"],
      [`${PERIOD}&format=xlsx`, "format"],
      [`${PERIOD}&queueId=nope`, "queueId"],
    ];
    for (const [query, field] of cases) {
      const res = await get(query);
      expect([query, res.status, res.body.error?.field]).toEqual([query, 400, field]);
    }
  });

  it("is for those with reports.read", async () => {
    const agentToken = await s.login(s.agent.email, s.agent.password);
    const res = await api(`${s.url}/api/v1/reports/summary?${PERIOD}`, { token: agentToken });
    expect(res.status).toBe(403);
  });
});

describe("GET /reports/agents", () => {
  it("adds up state time within the period, occupancy and utilisation", async () => {
    const res = await api(`${s.url}/api/v1/reports/agents?from=2026-03-09T15:30:00Z&to=2026-03-09T17:00:00Z`, {
      token,
    });
    expect(res.status).toBe(200);
    const row = res.body.rows.find((r: { key: string }) => r.key === ann);
    // From 15:30: available 30:25 (1825 s), busy 300 s, wrap-up 30 s, away (lunch) to 17:00 = 3245 s.
    expect(row.states).toEqual([
      { presence: "available", reason: null, seconds: 1825 },
      { presence: "away", reason: "lunch", seconds: 3245 },
      { presence: "busy", reason: null, seconds: 300 },
      { presence: "wrap_up", reason: null, seconds: 30 },
    ]);
    // Occupancy 330 / (1825 + 330); utilisation 330 / 5400 (every second of the period signed in).
    expect(row.occupancy).toBeCloseTo(330 / 2155, 6);
    expect(row.utilisation).toBeCloseTo(330 / 5400, 6);
    // Ann answered c1, c2's second offer and the call in the period: AHT (1190 + 595 + 330) / 3.
    expect(row).toMatchObject({ name: "Agent Ann", answered: 3, csat: { avg: 4, responses: 1 } });
    expect(row.ahtS).toBeCloseTo(2115 / 3, 6);
  });
});

describe("GET /reports/interactions", () => {
  it("streams one CSV line per interaction, in offer order", async () => {
    const res = await fetch(`${s.url}/api/v1/reports/interactions?${PERIOD}&format=csv`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const lines = (await res.text()).trimEnd().split("\r\n");
    expect(lines[0]).toStartWith("id,conversation_id,call_id,channel,");
    expect(lines).toHaveLength(8);
    expect(lines[1]).toContain("2026-03-09T15:50:00.000000Z");
    const stored = await s.rt.core.db.select({ id: interactions.id }).from(interactions);
    expect(stored.length).toBeGreaterThanOrEqual(7);
  });
});
