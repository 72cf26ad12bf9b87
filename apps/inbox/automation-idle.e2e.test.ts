import { afterAll, beforeAll, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { automationRuns } from "../../db/schema/index.ts";
import { until } from "../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../test/server.ts";

let s: TestServer;
let admin: string;
beforeAll(async () => {
  s = await startTestServer({ env: { AUTOMATION_SWEEP_MS: "100" } });
  admin = await s.login(s.admin.email, s.admin.password);
}, 60_000);
afterAll(() => s?.stop());

const v1 = (path: string) => `${s.url}/api/v1${path}`;

it("fires a time-based rule once per idle period while its conditions hold", async () => {
  const created = await api(v1("/automations"), {
    token: admin,
    body: {
      name: "Nudge",
      event: "conversation.idle",
      afterMinutes: 0.01,
      conditions: [{ field: "status", op: "equals", value: "pending" }],
      actions: [{ type: "note", body: "idle nudge" }],
    },
  });
  expect(created.status).toBe(201);
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  const sent = await api(`${s.url}/widget/v1/messages`, { token: session.body.visitorToken, body: { text: "hi" } });
  const id = sent.body.conversationId as string;
  const notes = async () =>
    ((await api(v1(`/conversations/${id}/timeline`), { token: admin })).body.items as any[]).filter(
      (i) => i.type === "note",
    );
  // Open, not pending: idle but its conditions do not hold.
  await Bun.sleep(1500);
  expect(await notes()).toEqual([]);
  await api(v1(`/conversations/${id}/status`), { token: admin, body: { status: "pending" } });
  const fired = await until(notes, (n) => n.length === 1);
  expect(fired[0]).toMatchObject({ text: "idle nudge", data: { rule: { name: "Nudge" } } });
  // The same idle period never fires again.
  await Bun.sleep(1000);
  expect(await notes()).toHaveLength(1);
  const runs = await s.rt.core.db.select().from(automationRuns).where(eq(automationRuns.ruleId, created.body.id));
  expect(runs).toHaveLength(1);
  expect(runs[0]!.eventKey).toStartWith(`${id}:`);
});
