import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { validateInbound } from "../../conversations/ingest.ts";
import { ingestBatch } from "../../conversations/inbound-queue.ts";
import { workItems } from "../../db/schema/index.ts";
import { createQueue } from "../../routing/queue.ts";
import { api, type TestServer } from "../../test/server.ts";
import { startTwoWorkspaces, type TwoWorkspaces } from "../../test/two-workspaces.ts";

let workspaces: TwoWorkspaces;
let s: TestServer;
let other: TestServer;
let admin: string;
let agent: string;
let member: TwoWorkspaces["member"];
const tag = () => crypto.randomUUID().slice(0, 8);

beforeAll(async () => {
  workspaces = await startTwoWorkspaces();
  ({ s, other, admin, agent, member } = workspaces);
});
afterAll(() => workspaces.stop());

describe("GET /queues/history", () => {
  it("charts what waits per queue, ending now", async () => {
    const queue = await createQueue(s.rt.core.db, s.workspaceId, { name: `Chart ${tag()}` });
    const [stored] = await ingestBatch(s.rt.core, s.workspaceId, [
      validateInbound({
        channel: "webchat",
        channelAccountId: s.inbox.id,
        externalId: `chart-${tag()}`,
        from: { kind: "visitor", value: `chart-${tag()}` },
        text: "hi",
      }),
    ]);
    await s.rt.core.db.insert(workItems).values({
      workspaceId: s.workspaceId,
      conversationId: stored!.conversation.id,
      queueId: queue.id,
      channel: "webchat",
      state: "abandoned",
      enqueuedAt: new Date(Date.now() - 150_000),
      endedAt: new Date(Date.now() + 3_600_000),
    });
    const chart = await api(`${s.url}/api/v1/queues/history?minutes=5&step=60`, { token: admin });
    expect(chart.status).toBe(200);
    expect(chart.body.step).toBe(60);
    expect(chart.body.points).toHaveLength(6);
    expect(chart.body.points.map((p: { waiting: Record<string, number> }) => p.waiting[queue.id])).toEqual([
      0, 0, 0, 1, 1, 1,
    ]);
    const last = Date.parse(chart.body.points[5].at);
    expect(Math.abs(last - Date.now())).toBeLessThan(10_000);
    expect(last - Date.parse(chart.body.points[0].at)).toBe(300_000);

    const byDefault = await api(`${s.url}/api/v1/queues/history`, { token: admin });
    expect(byDefault.body.step).toBe(60);
    expect(byDefault.body.points).toHaveLength(61);
    // Another workspace never sees this queue.
    const otherAdmin = await other.login(other.admin.email, other.admin.password);
    const elsewhere = await api(`${other.url}/api/v1/queues/history?minutes=5`, { token: otherAdmin });
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body.points.every((p: { waiting: Record<string, number> }) => !(queue.id in p.waiting))).toBe(
      true,
    );
  });

  it("refuses bad ranges naming the field, and agents", async () => {
    const cases: [string, string][] = [
      ["minutes=4", "minutes"],
      ["minutes=1441", "minutes"],
      ["minutes=ten", "minutes"],
      ["step=9", "step"],
      ["step=3601", "step"],
      ["minutes=1440&step=10", "step"],
    ];
    for (const [query, field] of cases) {
      const res = await api(`${s.url}/api/v1/queues/history?${query}`, { token: admin });
      expect(res.status).toBe(400);
      expect(res.body.error.field).toBe(field);
    }
    expect(
      (await api(`${s.url}/api/v1/queues/history?minutes=1440&step=180`, { token: admin })).body.points,
    ).toHaveLength(481);
    expect((await api(`${s.url}/api/v1/queues/history`, { token: agent })).status).toBe(403);
    const supervisor = await member("supervisor");
    expect((await api(`${s.url}/api/v1/queues/history`, { token: supervisor.token })).status).toBe(200);
  });
});
