import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { and, eq } from "drizzle-orm";
import { automationRuns, events, webhookDeliveries } from "../../db/schema/index.ts";
import type { DomainEvent } from "../../conversations/event.ts";
import { createTeam } from "../../routing/agent.ts";
import { until } from "../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../test/server.ts";

let s: TestServer;
let other: TestServer;
let admin: string;
let supervisor: string;
let agent: string;

beforeAll(async () => {
  s = await startTestServer();
  // A second node on the same database (its own workspace): it may hear and repeat the first's events.
  other = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  agent = await s.login(s.agent.email, s.agent.password);
  supervisor = await s.signInAs("supervisor");
}, 60_000);
afterAll(async () => {
  await s?.stop();
  await other?.stop();
});

const v1 = (path: string) => `${s.url}/api/v1${path}`;

async function visitorMessage(text: string) {
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  const sent = await api(`${s.url}/widget/v1/messages`, { token: session.body.visitorToken, body: { text } });
  expect(sent.status).toBe(201);
  return sent.body.conversationId as string;
}
const conversation = async (id: string) => (await api(v1(`/conversations/${id}`), { token: admin })).body;
const timeline = async (id: string) =>
  (await api(v1(`/conversations/${id}/timeline?limit=200`), { token: admin })).body.items as any[];
const rule = (body: Record<string, unknown>, token = admin) => api(v1("/automations"), { token, body });
const deactivate = (id: string) =>
  api(v1(`/automations/${id}`), { method: "PATCH", token: admin, body: { active: false } });

describe("automation rules", () => {
  it("labels a new conversation whose first customer message mentions 发票, by rule, on the timeline", async () => {
    const created = await rule({
      name: "Invoices",
      event: "conversation.created",
      conditions: [{ field: "text", op: "contains", value: "发票" }],
      actions: [{ type: "label", value: "invoice" }],
    });
    expect(created.status).toBe(201);
    const ruleId = created.body.id as string;
    expect({ ...created.body }).toMatchObject({ id: expect.any(String), name: "Invoices", active: true, position: 0 });

    const id = await visitorMessage("你好，我需要开发票");
    const plain = await visitorMessage("hello, where is my parcel?");
    const labelled = await until(
      () => conversation(id),
      (c) => c.labels.includes("invoice"),
    );
    expect(labelled.labels).toEqual(["invoice"]);
    const change = (await timeline(id)).find((i) => i.eventType === "labels_changed");
    expect(change.data.rule).toMatchObject({ id: ruleId, name: "Invoices" });

    const runs = await until(
      async () => (await api(v1(`/automations/${ruleId}/runs`), { token: admin })).body.items,
      (items: any[]) => items.length >= 1,
    );
    expect(runs).toEqual([expect.objectContaining({ conversationId: id, depth: 0 })]);
    expect((await conversation(plain)).labels).toEqual([]);
    await deactivate(ruleId);
  });

  it("runs a rule once per event, however often and on however many nodes the event arrives", async () => {
    const created = await rule({
      name: "Once",
      event: "message.created",
      conditions: [{ field: "text", op: "contains", value: "once-only" }],
      actions: [{ type: "note", body: "seen once" }],
    });
    const id = await visitorMessage("once-only please");
    await until(timeline.bind(null, id), (items) => items.some((i) => i.type === "note"));
    const [row] = await s.rt.core.db
      .select()
      .from(events)
      .where(and(eq(events.conversationId, id), eq(events.type, "item.created")))
      .limit(1);
    const event: DomainEvent = { ...row!, payload: row!.payload as DomainEvent["payload"] };
    // Delivered again here and on the other node: the claim in automation_runs says it has run.
    expect(await s.rt.automation.handle(event)).toBe(0);
    expect(await other.rt.automation.handle(event)).toBe(0);
    await Promise.all([s.rt.automation.handle(event), other.rt.automation.handle(event)]);
    expect((await timeline(id)).filter((i) => i.type === "note")).toHaveLength(1);
    const runs = await s.rt.core.db.select().from(automationRuns).where(eq(automationRuns.ruleId, created.body.id));
    expect(runs).toHaveLength(1);
    await deactivate(created.body.id);
  });

  it("runs matching rules in their order, and in the new order after PUT /automations/order", async () => {
    const first = await rule({
      name: "First",
      event: "conversation.created",
      conditions: [{ field: "text", op: "contains", value: "order-test" }],
      actions: [{ type: "note", body: "first" }],
    });
    const second = await rule({
      name: "Second",
      event: "conversation.created",
      conditions: [{ field: "text", op: "regex", value: "order-te.t" }],
      actions: [{ type: "note", body: "second" }],
    });
    const notes = async (id: string) =>
      (await until(timeline.bind(null, id), (items) => items.filter((i) => i.type === "note").length === 2))
        .filter((i) => i.type === "note")
        .map((i) => i.text);
    expect(await notes(await visitorMessage("order-test one"))).toEqual(["first", "second"]);

    const all = (await api(v1("/automations"), { token: admin })).body.items.map((r: any) => r.id) as string[];
    const reordered = [second.body.id, ...all.filter((i) => i !== second.body.id)];
    const put = await api(v1("/automations/order"), { method: "PUT", token: admin, body: { ids: reordered } });
    expect(put.status).toBe(200);
    expect(put.body.items.map((r: any) => r.id)).toEqual(reordered);
    expect(await notes(await visitorMessage("order-test two"))).toEqual(["second", "first"]);
    expect(
      (await api(v1("/automations/order"), { method: "PUT", token: admin, body: { ids: [first.body.id] } })).body,
    ).toMatchObject({ error: { field: "ids" } });
    await deactivate(first.body.id);
    await deactivate(second.body.id);
  });

  it("refuses bad rules with a 400 naming the field, storing nothing", async () => {
    const before = (await api(v1("/automations"), { token: admin })).body.items.length;
    const unknownQueue = await rule({
      name: "Bad queue",
      event: "conversation.created",
      conditions: [],
      actions: [{ type: "assign_queue", queueId: crypto.randomUUID() }],
    });
    expect(unknownQueue.status).toBe(400);
    expect(unknownQueue.body.error.field).toBe("actions.0.queueId");
    // Another workspace's queue is as unknown as a made-up one.
    const otherAdmin = await other.login(other.admin.email, other.admin.password);
    const foreign = await api(`${other.url}/api/v1/queues`, { token: otherAdmin, body: { name: "Theirs" } });
    expect(
      (
        await rule({
          name: "Foreign",
          event: "conversation.created",
          actions: [
            { type: "label", value: "x" },
            { type: "assign_queue", queueId: foreign.body.id },
          ],
        })
      ).body.error.field,
    ).toBe("actions.1.queueId");
    const unknownField = await rule({
      name: "Bad field",
      event: "conversation.created",
      conditions: [{ field: "mood", op: "equals", value: "angry" }],
      actions: [{ type: "label", value: "x" }],
    });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.error.field).toBe("conditions.0.field");
    const loop = await rule({
      name: "Loop",
      event: "conversation.updated",
      conditions: [{ field: "labels", op: "contains", value: "vip" }],
      actions: [{ type: "label", value: "seen" }],
    });
    expect(loop.status).toBe(400);
    expect(loop.body.error.field).toBe("actions.0");
    const timed = await rule({ name: "Idle", event: "conversation.idle", actions: [{ type: "close" }] });
    expect(timed.body.error.field).toBe("afterMinutes");
    expect(
      (await rule({ name: "Agent", event: "conversation.created", actions: [{ type: "close" }] }, agent)).status,
    ).toBe(403);
    expect((await api(v1("/automations"), { token: admin })).body.items.length).toBe(before);
  });

  it("stops a chain of rules that trigger each other at depth 3", async () => {
    const ping = await rule({
      name: "Ping",
      event: "conversation.updated",
      conditions: [{ field: "labels", op: "contains", value: "ping" }],
      actions: [
        { type: "remove_label", value: "ping" },
        { type: "label", value: "pong" },
      ],
    });
    const pong = await rule({
      name: "Pong",
      event: "conversation.updated",
      conditions: [{ field: "labels", op: "contains", value: "pong" }],
      actions: [
        { type: "remove_label", value: "pong" },
        { type: "label", value: "ping" },
      ],
    });
    expect([ping.status, pong.status]).toEqual([201, 201]);
    const id = await visitorMessage("chain");
    await api(v1(`/conversations/${id}/labels`), { method: "PUT", token: admin, body: { labels: ["ping"] } });
    const runsOf = async (ruleId: string) =>
      s.rt.core.db.select().from(automationRuns).where(eq(automationRuns.ruleId, ruleId));
    // Ping (depth 0), Pong (1), Ping (2); Pong's next turn would be depth 3: stopped.
    await until(
      () => runsOf(ping.body.id),
      (r) => r.length === 2,
    );
    await Bun.sleep(300);
    expect((await runsOf(ping.body.id)).map((r) => r.depth).sort()).toEqual([0, 2]);
    expect((await runsOf(pong.body.id)).map((r) => r.depth)).toEqual([1]);
    expect((await conversation(id)).labels).toEqual(["pong"]);
    const byRule = (await timeline(id)).filter((i) => i.eventType === "labels_changed" && i.data.rule);
    expect(byRule.map((i) => i.data.rule.name)).toEqual(["Ping", "Ping", "Pong", "Pong", "Ping", "Ping"]);
    await deactivate(ping.body.id);
    await deactivate(pong.body.id);
  });

  it("does every action type, all in one transaction", async () => {
    const team = await createTeam(s.rt.core.db, s.workspaceId, `Billing ${crypto.randomUUID().slice(0, 4)}`);
    const queue = await api(v1("/queues"), { token: admin, body: { name: "Finance", channels: ["webchat"] } });
    const canned = await api(v1("/canned-responses"), {
      token: admin,
      body: { shortcut: "inv", title: "Invoice", body: "您好 {{contact.name}}，发票将在 3 日内寄出。" },
    });
    const hook = await api(v1("/webhooks"), {
      token: admin,
      body: { url: "http://127.0.0.1:9/hook", events: ["contact.updated"] },
    });
    const everything = await rule({
      name: "Everything",
      event: "message.created",
      conditions: [{ field: "text", op: "contains", value: "all-actions" }],
      actions: [
        { type: "label", value: "a" },
        { type: "label", value: "b" },
        { type: "remove_label", value: "a" },
        { type: "set_priority", value: "urgent" },
        { type: "assign_queue", queueId: queue.body.id },
        { type: "assign_team", teamId: team.id },
        { type: "assign_agent", userId: s.agent.id },
        { type: "reply", cannedId: canned.body.id },
        { type: "reply", body: "Thanks!" },
        { type: "note", body: "handled by automation" },
        { type: "create_ticket", title: "Invoice request", priority: "high", teamId: team.id },
        { type: "webhook", webhookId: hook.body.id },
        { type: "close" },
      ],
    });
    expect(everything.status).toBe(201);
    const id = await visitorMessage("all-actions: 我要发票");
    const done = await until(
      () => conversation(id),
      (c) => c.status === "resolved",
    );
    expect(done).toMatchObject({
      status: "resolved",
      labels: ["b"],
      priority: 20,
      queueId: queue.body.id,
      teamId: team.id,
      assigneeId: s.agent.id,
    });
    const items = await timeline(id);
    const out = items.filter((i) => i.direction === "out").map((i) => i.text);
    expect(out).toEqual([expect.stringContaining("发票将在 3 日内寄出"), "Thanks!"]);
    expect(items.filter((i) => i.direction === "out").every((i) => i.data.rule?.name === "Everything")).toBe(true);
    expect(items.find((i) => i.type === "note")).toMatchObject({ text: "handled by automation" });
    expect(items.find((i) => i.eventType === "status_changed").data).toMatchObject({ to: "resolved" });
    const tickets = (await api(v1(`/tickets?teamId=${team.id}`), { token: admin })).body.items;
    expect(tickets).toEqual([expect.objectContaining({ title: "Invoice request", priority: "high" })]);
    expect(tickets[0].source).toMatchObject({ kind: "rule", ruleId: everything.body.id });
    const deliveries = await s.rt.core.db
      .select()
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.webhookId, hook.body.id));
    expect(deliveries).toEqual([
      expect.objectContaining({
        type: "automation.rule",
        payload: expect.objectContaining({ conversationId: id, rule: expect.objectContaining({ name: "Everything" }) }),
      }),
    ]);
    await deactivate(everything.body.id);
  });

  it("takes back every action of a run when one fails", async () => {
    const team = await createTeam(s.rt.core.db, s.workspaceId, `Gone ${crypto.randomUUID().slice(0, 4)}`);
    const failing = await rule({
      name: "Half",
      event: "conversation.created",
      conditions: [{ field: "text", op: "contains", value: "half-applied" }],
      actions: [
        { type: "label", value: "half" },
        { type: "assign_team", teamId: team.id },
      ],
    });
    await api(v1(`/teams/${team.id}`), { method: "DELETE", token: admin });
    const id = await visitorMessage("half-applied?");
    const runs = await until(
      async () => (await api(v1(`/automations/${failing.body.id}/runs`), { token: admin })).body.items,
      (items: any[]) => items.length === 1,
    );
    expect(runs[0].outcome.error).toEqual(expect.any(String));
    expect((await conversation(id)).labels).toEqual([]);
    await deactivate(failing.body.id);
  });

  it("sets a ticket's status on ticket.created", async () => {
    const triage = await rule({
      name: "Triage",
      event: "ticket.created",
      conditions: [{ field: "text", op: "contains", value: "triage" }],
      actions: [{ type: "set_ticket_status", value: "open" }],
    });
    expect(triage.status).toBe(201);
    const id = await visitorMessage("ticket please");
    const ticket = await api(v1(`/conversations/${id}/tickets`), { token: admin, body: { title: "Needs triage" } });
    expect(ticket.status).toBe(201);
    const seen = await until(
      async () => (await api(v1(`/tickets/${ticket.body.id}`), { token: admin })).body,
      (t) => t.status === "open",
    );
    expect(seen.status).toBe("open");
    await deactivate(triage.body.id);
  });

  it("answers a dry run with the recent conversations the rule would have matched, changing nothing", async () => {
    const a = await visitorMessage("dry-run 退款 please");
    const b = await visitorMessage("dry-run something else");
    const before = await conversation(a);
    const res = await api(v1("/automations/dry-run"), {
      token: supervisor,
      body: {
        event: "conversation.created",
        conditions: [
          { field: "text", op: "contains", value: "dry-run" },
          { field: "text", op: "contains", value: ["退款", "refund"] },
        ],
        actions: [{ type: "label", value: "refund" }],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.scanned).toBeGreaterThanOrEqual(2);
    expect(res.body.matched).toEqual([
      { conversationId: a, lastMessageText: "dry-run 退款 please", createdAt: expect.any(String) },
    ]);
    expect(res.body.matched.some((m: any) => m.conversationId === b)).toBe(false);
    expect(await conversation(a)).toEqual(before);
    const bad = await api(v1("/automations/dry-run"), {
      token: supervisor,
      body: { event: "conversation.created", conditions: [{ field: "text", op: "regex", value: "(a+)+" }] },
    });
    expect(bad.body.error.field).toBe("conditions.0.value");
  });
});
