import { afterAll, beforeAll, expect, it } from "bun:test";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../test/server.ts";

let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  a = await startTestServer();
  b = await startTestServer();
});
afterAll(async () => {
  await a.stop();
  await b.stop();
});

it("keeps two workspaces' conversations, contacts and events apart", async () => {
  const tokenA = await a.login(a.admin.email, a.admin.password);
  const tokenB = await b.login(b.admin.email, b.admin.password);
  // Both servers share one database: the boundary is the workspace, not the process.
  const socketB = await openSocket(`${wsUrl(b.url)}/api/v1/realtime?token=${tokenB}&after=0`);
  const va = await api(`${a.url}/widget/v1/sessions`, { body: { inboxKey: a.inbox.publicKey, name: "Only in A" } });
  const sent = await api(`${a.url}/widget/v1/messages`, { token: va.body.visitorToken, body: { text: "secret of A" } });
  expect(sent.status).toBe(201);
  const conversationId = sent.body.conversationId;

  expect((await api(`${b.url}/api/v1/conversations`, { token: tokenB })).body.items).toEqual([]);
  expect((await api(`${a.url}/api/v1/conversations`, { token: tokenA })).body.items).toHaveLength(1);
  expect((await api(`${b.url}/api/v1/conversations/${conversationId}`, { token: tokenB })).status).toBe(404);
  expect((await api(`${b.url}/api/v1/conversations/${conversationId}/timeline`, { token: tokenB })).status).toBe(404);
  expect(
    (await api(`${b.url}/api/v1/conversations/${conversationId}/messages`, { token: tokenB, body: { text: "x" } }))
      .status,
  ).toBe(404);
  expect((await api(`${b.url}/api/v1/contacts/${va.body.contact.id}`, { token: tokenB })).status).toBe(404);
  // A visitor token of A cannot read B, and B's widget key is not A's.
  const vb = await api(`${b.url}/widget/v1/sessions`, { body: { inboxKey: b.inbox.publicKey } });
  expect((await api(`${b.url}/widget/v1/messages`, { token: vb.body.visitorToken })).body.items).toEqual([]);

  await Bun.sleep(200);
  expect(socketB.frames.filter((f) => f.type !== "hello")).toEqual([]);
  socketB.close();
});
