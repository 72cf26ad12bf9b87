import { afterAll, beforeAll, expect, it } from "bun:test";
import { api, startTestServer, type TestServer } from "../../test/server.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
}, 60_000);
afterAll(() => s?.stop());

async function visitorMessage(text: string) {
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  const sent = await api(`${s.url}/widget/v1/messages`, { token: session.body.visitorToken, body: { text } });
  expect(sent.status).toBe(201);
  return sent.body.conversationId as string;
}

const workOf = async (token: string, agentId: string) =>
  (
    (await api(`${s.url}/api/v1/agents`, { token })).body.items as {
      id: string;
      work: { conversationId: string; state: string }[];
    }[]
  ).find((a) => a.id === agentId)!.work;

it("moves queued work with a manual assignment, and back to the queue when unassigned", async () => {
  const admin = await s.login(s.admin.email, s.admin.password);
  const agent = await s.login(s.agent.email, s.agent.password);
  const queue = await api(`${s.url}/api/v1/queues`, { token: admin, body: { name: "Assign", channels: ["webchat"] } });
  await api(`${s.url}/api/v1/entry-rules`, {
    token: admin,
    method: "PUT",
    body: { rules: [{ queueId: queue.body.id, conditions: {} }] },
  });
  await api(`${s.url}/api/v1/me/presence`, { token: agent, method: "PUT", body: { presence: "available" } });
  const conversationId = await visitorMessage("route me, then move me");
  let offer: { workItemId: string } | undefined;
  for (let i = 0; i < 50 && !offer; i++, await Bun.sleep(100))
    offer = (await api(`${s.url}/api/v1/me/offers`, { token: agent })).body.items[0];
  expect((await api(`${s.url}/api/v1/offers/${offer!.workItemId}/accept`, { token: agent, body: {} })).status).toBe(
    200,
  );
  expect((await workOf(admin, s.agent.id)).map((w) => w.conversationId)).toEqual([conversationId]);

  const moved = await api(`${s.url}/api/v1/conversations/${conversationId}/assign`, {
    token: admin,
    body: { assigneeId: s.admin.id },
  });
  expect(moved.status).toBe(200);
  expect(moved.body.assigneeId).toBe(s.admin.id);
  expect(await workOf(admin, s.agent.id)).toEqual([]);
  expect((await workOf(admin, s.admin.id)).map((w) => [w.conversationId, w.state])).toEqual([
    [conversationId, "assigned"],
  ]);

  // Unassigned, it waits in its queue again and is offered to the available agent.
  await api(`${s.url}/api/v1/conversations/${conversationId}/assign`, { token: admin, body: { assigneeId: null } });
  let again: { conversationId: string } | undefined;
  for (let i = 0; i < 50 && !again; i++, await Bun.sleep(100))
    again = (await api(`${s.url}/api/v1/me/offers`, { token: agent })).body.items[0];
  expect(again?.conversationId).toBe(conversationId);
});
