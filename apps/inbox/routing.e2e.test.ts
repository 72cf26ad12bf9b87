import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { users } from "../../db/schema/index.ts";
import { markDisconnectedOffline } from "../../routing/presence.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../test/server.ts";

let s: TestServer;
let admin: string;
let agent: string;

beforeAll(async () => {
  s = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  agent = await s.login(s.agent.email, s.agent.password);
});
afterAll(() => s.stop());

describe("presence", () => {
  it("lets an agent go available and away with a reason, and tells supervisors live", async () => {
    const supervisor = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${admin}`);
    await supervisor.waitFor((f) => f.type === "hello");
    expect((await api(`${s.url}/api/v1/me/presence`, { token: agent })).body).toMatchObject({
      presence: "offline",
      capacity: { voice: 1, chat: 3, email: 5, messaging: 4 },
    });
    const available = await api(`${s.url}/api/v1/me/presence`, {
      method: "PUT",
      token: agent,
      body: { presence: "available" },
    });
    expect(available.body.presence).toBe("available");
    const away = await api(`${s.url}/api/v1/me/presence`, {
      method: "PUT",
      token: agent,
      body: { presence: "away", reason: "午餐 lunch" },
    });
    expect(away.body).toMatchObject({ presence: "away", reason: "午餐 lunch" });
    const frame = await supervisor.waitFor((f) => f.type === "agent.presence" && f.agent.presence === "away");
    expect(frame.agent).toMatchObject({ userId: s.agent.id, reason: "午餐 lunch" });
    expect(frame.previous).toBe("available");
    supervisor.close();
  });

  it("refuses states the system owns and reasons outside away", async () => {
    const busy = await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: agent, body: { presence: "busy" } });
    expect(busy.status).toBe(400);
    expect(busy.body.error.field).toBe("presence");
    const reason = await api(`${s.url}/api/v1/me/presence`, {
      method: "PUT",
      token: agent,
      body: { presence: "available", reason: "why" },
    });
    expect(reason.status).toBe(400);
    expect(reason.body.error.field).toBe("reason");
  });

  it("takes an agent whose socket is gone past the grace period offline", async () => {
    await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: agent, body: { presence: "available" } });
    await s.rt.core.db
      .update(users)
      .set({ lastSeenAt: new Date(Date.now() - 10 * 60_000) })
      .where(eq(users.id, s.agent.id));
    expect(await markDisconnectedOffline(s.rt.core, 90_000)).toBeGreaterThanOrEqual(1);
    expect((await api(`${s.url}/api/v1/me/presence`, { token: agent })).body).toMatchObject({
      presence: "offline",
      reason: "disconnected",
    });
  });
});

describe("routing admin", () => {
  it("manages skills, agent levels and capacity, and rejects what cannot be", async () => {
    expect((await api(`${s.url}/api/v1/skills`, { token: admin, body: { name: "退款 refunds" } })).status).toBe(201);
    const patched = await api(`${s.url}/api/v1/agents/${s.agent.id}`, {
      method: "PATCH",
      token: admin,
      body: { capacity: { chat: 5 }, skills: [{ skill: "退款 refunds", level: 4 }] },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      capacity: { voice: 1, chat: 5, email: 5, messaging: 4 },
      skills: [{ skill: "退款 refunds", level: 4 }],
    });
    const negative = await api(`${s.url}/api/v1/agents/${s.agent.id}`, {
      method: "PATCH",
      token: admin,
      body: { capacity: { chat: -1 } },
    });
    expect(negative.status).toBe(400);
    expect(negative.body.error.field).toBe("capacity.chat");
    const unknown = await api(`${s.url}/api/v1/agents/${s.agent.id}`, {
      method: "PATCH",
      token: admin,
      body: { skills: [{ skill: "juggling", level: 2 }] },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain("juggling");
    const list = await api(`${s.url}/api/v1/agents`, { token: admin });
    expect(list.body.items.find((a: any) => a.id === s.agent.id)).toMatchObject({
      capacity: { chat: 5 },
      skills: [{ skill: "退款 refunds", level: 4 }],
    });
    expect((await api(`${s.url}/api/v1/agents`, { token: agent })).status).toBe(403);
  });

  it("creates queues and entry rules that name only what exists, with no overflow loop", async () => {
    await api(`${s.url}/api/v1/skills`, { token: admin, body: { name: "billing" } });
    const vip = await api(`${s.url}/api/v1/queues`, {
      token: admin,
      body: {
        name: "VIP billing",
        channels: ["webchat", "voice"],
        requiredSkills: [{ skill: "billing", minLevel: 3 }],
        priorityRules: [{ attribute: "vip", equals: true, priority: 10 }],
        businessHours: { timeZone: "Asia/Shanghai", weekly: { mon: [["09:00", "18:00"]] }, holidays: ["2026-10-01"] },
        serviceLevelSeconds: 15,
      },
    });
    expect(vip.status).toBe(201);
    const backup = await api(`${s.url}/api/v1/queues`, {
      token: admin,
      body: { name: "Backup", overflow: [{ afterSeconds: 60, action: "move_queue", queueId: vip.body.id }] },
    });
    expect(backup.status).toBe(201);
    // VIP → Backup → VIP would bounce work for ever.
    const loop = await api(`${s.url}/api/v1/queues/${vip.body.id}`, {
      method: "PUT",
      token: admin,
      body: { ...vip.body, overflow: [{ afterSeconds: 45, action: "move_queue", queueId: backup.body.id }] },
    });
    expect(loop.status).toBe(400);
    expect(loop.body.error).toMatchObject({ field: "overflow", message: expect.stringContaining("loop") });
    const unknownSkill = await api(`${s.url}/api/v1/queues`, {
      token: admin,
      body: { name: "X", requiredSkills: [{ skill: "nope", minLevel: 1 }] },
    });
    expect(unknownSkill.status).toBe(400);
    expect(unknownSkill.body.error.message).toContain("nope");
    const badZone = await api(`${s.url}/api/v1/queues`, {
      token: admin,
      body: { name: "Y", businessHours: { timeZone: "Mars/Olympus", weekly: {} } },
    });
    expect(badZone.body.error.field).toBe("businessHours.timeZone");
    const duplicate = await api(`${s.url}/api/v1/queues`, { token: admin, body: { name: "VIP billing" } });
    expect(duplicate.status).toBe(409);
    expect((await api(`${s.url}/api/v1/queues/${vip.body.id}`, { method: "DELETE", token: admin })).status).toBe(409);

    const rules = await api(`${s.url}/api/v1/entry-rules`, {
      method: "PUT",
      token: admin,
      body: {
        rules: [
          { queueId: vip.body.id, conditions: { keywords: ["退款", "refund"], attributes: { vip: true } } },
          { queueId: backup.body.id },
        ],
      },
    });
    expect(rules.status).toBe(200);
    expect(rules.body.items.map((r: any) => [r.position, r.queueId])).toEqual([
      [0, vip.body.id],
      [1, backup.body.id],
    ]);
    const badRule = await api(`${s.url}/api/v1/entry-rules`, {
      method: "PUT",
      token: admin,
      body: { rules: [{ queueId: crypto.randomUUID() }] },
    });
    expect(badRule.status).toBe(400);
    expect(badRule.body.error.field).toBe("rules.0.queueId");
    // The rejected replacement left the rules as they were.
    expect((await api(`${s.url}/api/v1/entry-rules`, { token: admin })).body.items).toHaveLength(2);
    expect((await api(`${s.url}/api/v1/queues`, { token: agent, body: { name: "Mine" } })).status).toBe(403);
  });
});
