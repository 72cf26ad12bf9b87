import { afterAll, beforeAll, expect, it } from "bun:test";
import { api, startTestServer, type TestServer } from "../../test/server.ts";

let s: TestServer;
let admin: string;
let supervisor: string;
let agent: string;
let otherAgent: string;

beforeAll(async () => {
  s = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  agent = await s.login(s.agent.email, s.agent.password);
  supervisor = await s.signInAs("supervisor");
  otherAgent = await s.signInAs("agent", "Agent Bo");
}, 60_000);
afterAll(() => s?.stop());

const v1 = (path: string) => `${s.url}/api/v1${path}`;
async function visitorMessage(text: string) {
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  const sent = await api(`${s.url}/widget/v1/messages`, { token: session.body.visitorToken, body: { text } });
  return sent.body.conversationId as string;
}

it("applies a shared macro as the agent in one go: label, reply, ticket, resolve — 'via macro' on the timeline", async () => {
  const created = await api(v1("/macros"), {
    token: supervisor,
    body: {
      name: "Refund approved",
      actions: [
        { type: "label", value: "refund" },
        { type: "reply", body: "您好 {{contact.name}}，退款已批准。— {{agent.name}}" },
        { type: "create_ticket", title: "Pay the refund", priority: "high" },
        { type: "set_priority", value: "low" },
        { type: "close" },
      ],
    },
  });
  expect(created.status).toBe(201);
  const macroId = created.body.id as string;
  expect(created.body.personal).toBe(false);
  const id = await visitorMessage("我要退款");
  const applied = await api(v1(`/conversations/${id}/macros/${macroId}`), { token: agent, method: "POST" });
  expect(applied.status).toBe(200);
  expect(applied.body.conversation).toMatchObject({ status: "resolved", labels: ["refund"], priority: -10 });
  expect(applied.body.results.map((r: any) => r.type)).toEqual([
    "label",
    "reply",
    "create_ticket",
    "set_priority",
    "close",
  ]);
  const items = (await api(v1(`/conversations/${id}/timeline?limit=100`), { token: admin })).body.items as any[];
  const reply = items.find((i) => i.direction === "out");
  expect(reply.text).toBe("您好 ，退款已批准。— Agent Ann");
  expect(reply.data.macro).toMatchObject({ id: macroId, name: "Refund approved" });
  const closed = items.find((i) => i.eventType === "status_changed");
  expect(closed.sender).toMatchObject({ type: "agent", id: s.agent.id, name: "Agent Ann" });
  expect(closed.data.macro.name).toBe("Refund approved");
  const tickets = (await api(v1("/tickets"), { token: admin })).body.items as any[];
  expect(tickets.find((t) => t.title === "Pay the refund")).toMatchObject({ source: { kind: "macro" } });
});

it("keeps personal macros to their owner, and shared ones to macros.manage", async () => {
  const mine = await api(v1("/macros"), {
    token: agent,
    body: { name: "My sign-off", personal: true, actions: [{ type: "note", body: "signed off" }] },
  });
  expect(mine.status).toBe(201);
  expect(mine.body.personal).toBe(true);
  const shared = await api(v1("/macros"), {
    token: agent,
    body: { name: "Shared by agent", actions: [{ type: "label", value: "x" }] },
  });
  expect(shared.status).toBe(403);
  const names = async (token: string) => (await api(v1("/macros"), { token })).body.items.map((m: any) => m.name);
  expect(await names(agent)).toContain("My sign-off");
  expect(await names(otherAgent)).not.toContain("My sign-off");
  expect(await names(admin)).not.toContain("My sign-off");
  const id = await visitorMessage("personal macro");
  expect(
    (await api(v1(`/conversations/${id}/macros/${mine.body.id}`), { token: otherAgent, method: "POST" })).status,
  ).toBe(404);
  expect((await api(v1(`/macros/${mine.body.id}`), { token: otherAgent, method: "DELETE" })).status).toBe(404);
  const renamed = await api(v1(`/macros/${mine.body.id}`), {
    token: agent,
    method: "PATCH",
    body: { name: "Sign-off" },
  });
  expect(renamed.body.name).toBe("Sign-off");
  // An agent applies shared macros but does not change them.
  const sharedByAdmin = await api(v1("/macros"), {
    token: admin,
    body: { name: "Tag", actions: [{ type: "label", value: "tagged" }] },
  });
  expect(
    (await api(v1(`/macros/${sharedByAdmin.body.id}`), { token: agent, method: "PATCH", body: { name: "Mine" } }))
      .status,
  ).toBe(403);
  expect((await api(v1(`/macros/${mine.body.id}`), { token: agent, method: "DELETE" })).status).toBe(200);
});

it("refuses bad macros naming the field, and applies nothing when an action fails", async () => {
  const unknownTeam = await api(v1("/macros"), {
    token: admin,
    body: {
      name: "Bad",
      actions: [
        { type: "label", value: "x" },
        { type: "assign_team", teamId: crypto.randomUUID() },
      ],
    },
  });
  expect(unknownTeam.status).toBe(400);
  expect(unknownTeam.body.error.field).toBe("actions.1.teamId");
  const webhook = await api(v1("/macros"), {
    token: admin,
    body: { name: "Hook", actions: [{ type: "webhook", webhookId: crypto.randomUUID() }] },
  });
  expect(webhook.body.error.field).toBe("actions.0.type");

  // Assigning to someone else is a supervisor's right, macro or not: the label is not applied either.
  const handOff = await api(v1("/macros"), {
    token: admin,
    body: {
      name: "To admin",
      actions: [
        { type: "label", value: "handed" },
        { type: "assign_agent", userId: s.admin.id },
      ],
    },
  });
  const id = await visitorMessage("hand me off");
  const refused = await api(v1(`/conversations/${id}/macros/${handOff.body.id}`), { token: agent, method: "POST" });
  expect(refused.status).toBe(403);
  expect((await api(v1(`/conversations/${id}`), { token: admin })).body.labels).toEqual([]);
  const ok = await api(v1(`/conversations/${id}/macros/${handOff.body.id}`), { token: supervisor, method: "POST" });
  expect(ok.body.conversation).toMatchObject({ labels: ["handed"], assigneeId: s.admin.id });
});
