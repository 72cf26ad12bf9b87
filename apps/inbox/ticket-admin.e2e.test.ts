import { afterAll, beforeAll, expect, it } from "bun:test";
import { until } from "../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../test/server.ts";

let s: TestServer;
let admin: string;
let agent: string;

beforeAll(async () => {
  s = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  agent = await s.login(s.agent.email, s.agent.password);
}, 60_000);
afterAll(() => s.stop());

const v1 = (path: string) => `${s.url}/api/v1${path}`;

it("lets supervisors rename a type (its tickets follow) and refuses deleting one tickets still have", async () => {
  const made = await api(v1("/ticket-types"), {
    token: admin,
    body: { name: "warranty", labels: { en: "Warranty", "zh-CN": "保修" } },
  });
  expect(made.status).toBe(201);
  expect((await api(v1("/ticket-types"), { token: admin, body: { name: "warranty" } })).status).toBe(409);
  expect((await api(v1("/ticket-types"), { token: agent, body: { name: "agents-may-not" } })).status).toBe(403);
  const ticket = (await api(v1("/tickets"), { token: agent, body: { title: "Screen cracked", type: "warranty" } }))
    .body;
  const renamed = await api(v1(`/ticket-types/${made.body.id}`), {
    token: admin,
    method: "PATCH",
    body: { name: "guarantee" },
  });
  expect(renamed.body).toMatchObject({ name: "guarantee", labels: { "zh-CN": "保修" } });
  expect((await api(v1(`/tickets/${ticket.id}`), { token: agent })).body.type).toBe("guarantee");
  const refused = await api(v1(`/ticket-types/${made.body.id}`), { token: admin, method: "DELETE" });
  expect(refused.status).toBe(409);
  await api(v1(`/tickets/${ticket.id}`), { token: agent, method: "PATCH", body: { type: "repair" } });
  expect((await api(v1(`/ticket-types/${made.body.id}`), { token: admin, method: "DELETE" })).status).toBe(204);
  expect((await api(v1("/ticket-types"), { token: agent })).body.items.map((t: any) => t.name)).not.toContain(
    "guarantee",
  );
});

it("links another conversation to a ticket, which then hears the customer there", async () => {
  const visitor = async (text: string) => {
    const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
    const sent = await api(`${s.url}/widget/v1/messages`, { token: session.body.visitorToken, body: { text } });
    return { conversationId: sent.body.conversationId as string, token: session.body.visitorToken as string };
  };
  const first = await visitor("Where is my refund?");
  const second = await visitor("Still no refund");
  const ticket = (
    await api(v1(`/conversations/${first.conversationId}/tickets`), { token: agent, body: { title: "Refund" } })
  ).body;
  const linked = await api(v1(`/tickets/${ticket.number}/conversations`), {
    token: agent,
    body: { conversationId: second.conversationId },
  });
  expect(linked.status).toBe(201);
  expect(linked.body.conversationIds.sort()).toEqual([first.conversationId, second.conversationId].sort());
  expect(
    (
      await api(v1(`/tickets/${ticket.id}/conversations`), {
        token: agent,
        body: { conversationId: second.conversationId },
      })
    ).status,
  ).toBe(409);
  const timeline = await api(v1(`/conversations/${second.conversationId}/timeline`), { token: agent });
  expect(timeline.body.items.some((i: any) => i.eventType === "ticket_linked" && i.data.number === ticket.number)).toBe(
    true,
  );
  await api(`${s.url}/widget/v1/messages`, { token: second.token, body: { text: "Here again" } });
  await until(
    () => api(v1(`/tickets/${ticket.id}/entries`), { token: agent }),
    (r) => r.body.items.some((e: any) => e.kind === "customer_message" && e.body === "Here again"),
  );
});

it("takes tickets from an API key with write scope, and lists by view", async () => {
  const key = (await api(v1("/api-keys"), { token: admin, body: { name: "CRM", scopes: ["read", "write"] } })).body.key;
  const readOnly = (await api(v1("/api-keys"), { token: admin, body: { name: "BI", scopes: ["read"] } })).body.key;
  const made = await api(v1("/tickets"), { token: key, body: { title: "From the CRM", priority: "urgent" } });
  expect(made.status).toBe(201);
  expect(made.body).toMatchObject({ source: { kind: "api" }, priority: "urgent", status: "new" });
  expect((await api(v1("/tickets"), { token: readOnly, body: { title: "No" } })).status).toBe(403);
  expect((await api(v1(`/tickets/${made.body.id}`), { token: readOnly })).status).toBe(200);

  await api(v1(`/tickets/${made.body.id}`), { token: admin, method: "PATCH", body: { assigneeId: s.agent.id } });
  const mine = await api(v1("/tickets?view=mine"), { token: agent });
  expect(mine.body.items.map((t: any) => t.id)).toContain(made.body.id);
  const unassigned = await api(v1("/tickets?view=unassigned"), { token: agent });
  expect(unassigned.body.items.map((t: any) => t.id)).not.toContain(made.body.id);
  const urgent = await api(v1("/tickets?priority=urgent"), { token: agent });
  expect(urgent.body.items.map((t: any) => t.id)).toEqual([made.body.id]);
  // Nothing is overdue without an SLA due time.
  expect((await api(v1("/tickets?view=overdue"), { token: agent })).body.items).toEqual([]);
  const bad = await api(v1("/tickets?status=waiting"), { token: agent });
  expect(bad.status).toBe(400);
});
