import { afterAll, beforeAll, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { apiKeys, users as userTable } from "../../db/schema/index.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../test/server.ts";

let s: TestServer;
let admin: string;
let agent: string;

beforeAll(async () => {
  s = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  agent = await s.login(s.agent.email, s.agent.password);
}, 60_000);
afterAll(() => s?.stop());

const v1 = (path: string) => `${s.url}/api/v1${path}`;

async function newKey(name: string, scopes: string[], expiresAt?: string) {
  const made = await api(v1("/api-keys"), { token: admin, body: { name, scopes, expiresAt } });
  expect(made.status).toBe(201);
  return made.body as { id: string; key: string; userId: string };
}

async function visitorMessage(text: string) {
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  const sent = await api(`${s.url}/widget/v1/messages`, { token: session.body.visitorToken, body: { text } });
  expect(sent.status).toBe(201);
  return sent.body.conversationId as string;
}

it("creates a key shown once, lists keys without it, and refuses bad input naming the field", async () => {
  const made = await api(v1("/api-keys"), {
    token: admin,
    body: { name: "CRM sync", scopes: ["read", "write"], expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
  });
  expect(made.status).toBe(201);
  const key: string = made.body.key;
  expect(key).toMatch(/^sbk_/);
  expect(made.body.id).toEqual(expect.any(String));
  expect(made.body.name).toBe("CRM sync");
  expect(key.startsWith(made.body.prefix)).toBe(true);

  const list = await api(v1("/api-keys"), { token: admin });
  expect(list.status).toBe(200);
  const row = list.body.items.find((k: { id: string }) => k.id === made.body.id);
  expect(Object.keys(row).sort()).toEqual(
    ["createdAt", "expiresAt", "id", "lastUsedAt", "name", "prefix", "revokedAt", "scopes", "userId"].sort(),
  );
  expect(row).toMatchObject({ name: "CRM sync", scopes: ["read", "write"], revokedAt: null, lastUsedAt: null });
  expect(JSON.stringify(list.body)).not.toContain(key);

  for (const [input, field] of [
    [{ name: "", scopes: ["read"] }, "name"],
    [{ name: "x", scopes: ["everything"] }, "scopes"],
    [{ name: "x", scopes: [] }, "scopes"],
    [{ name: "x", scopes: ["read"], expiresAt: "tomorrow" }, "expiresAt"],
    [{ name: "x", scopes: ["read"], expiresAt: new Date(Date.now() - 1000).toISOString() }, "expiresAt"],
  ] as const) {
    const bad = await api(v1("/api-keys"), { token: admin, body: input });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toStartWith(field);
  }
  // Admin only, for sessions as for keys.
  expect((await api(v1("/api-keys"), { token: agent })).status).toBe(403);
  expect((await api(v1("/api-keys"), { token: agent, body: { name: "x", scopes: ["read"] } })).status).toBe(403);
});

it("reads with the read scope, writes with the write scope, and needs admin for admin routes", async () => {
  const reader = await newKey("Reporting", ["read"]);
  const writer = await newKey("CRM sync", ["write"]);
  const owner = await newKey("Provisioning", ["admin"]);
  const conversationId = await visitorMessage("hello from the widget");

  for (const k of [reader, writer, owner]) {
    expect((await api(v1("/conversations"), { token: k.key })).status).toBe(200);
    // `?token=` as for session tokens.
    expect((await api(v1(`/conversations/${conversationId}/timeline?token=${k.key}`))).status).toBe(200);
  }

  const note = { text: "synced to the CRM", private: true };
  const refused = await api(v1(`/conversations/${conversationId}/messages`), { token: reader.key, body: note });
  expect(refused.status).toBe(403);
  expect(refused.body.error.message).toContain("write");
  const written = await api(v1(`/conversations/${conversationId}/messages`), { token: writer.key, body: note });
  expect(written.status).toBe(201);
  // What the key writes shows the key's name as its author.
  const timeline = await api(v1(`/conversations/${conversationId}/timeline`), { token: admin });
  expect(JSON.stringify(timeline.body)).toContain("CRM sync");

  // Admin routes: the admin scope only, whatever the method.
  for (const k of [reader, writer]) {
    expect((await api(v1("/api-keys"), { token: k.key })).status).toBe(403);
    expect(
      (await api(v1("/agents"), { token: k.key, body: { email: "x@example.test", name: "X", role: "agent" } })).status,
    ).toBe(403);
  }
  expect((await api(v1("/api-keys"), { token: owner.key })).status).toBe(200);
  // A key takes no work.
  expect(
    (await api(v1("/me/presence"), { method: "PUT", token: owner.key, body: { presence: "available" } })).status,
  ).toBe(403);

  // Last used: written on use (at most once a minute).
  const listed = (await api(v1("/api-keys"), { token: admin })).body.items.find(
    (k: { id: string }) => k.id === reader.id,
  );
  expect(listed.lastUsedAt).toEqual(expect.any(String));
});

it("refuses a revoked or expired key at once, while sessions go on", async () => {
  const k = await newKey("Ticket system", ["read", "write"]);
  expect((await api(v1("/me"), { token: k.key })).status).toBe(200);
  // A socket opened with the key closes when the key is revoked.
  const socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${k.key}`);
  await socket.waitFor((f) => f.type === "hello");
  const closed = new Promise<number>((resolve) => socket.ws.addEventListener("close", (e) => resolve(e.code)));
  const revoked = await api(v1(`/api-keys/${k.id}`), { method: "DELETE", token: admin });
  expect(revoked.status).toBe(200);
  expect(revoked.body.revokedAt).toEqual(expect.any(String));
  expect((await api(v1("/conversations"), { token: k.key })).status).toBe(401);
  expect(await closed).toBe(4401);
  expect((await api(v1(`/api-keys/${crypto.randomUUID()}`), { method: "DELETE", token: admin })).status).toBe(404);

  const soon = await newKey("Short-lived", ["read"], new Date(Date.now() + 3_600_000).toISOString());
  expect((await api(v1("/conversations"), { token: soon.key })).status).toBe(200);
  await s.rt.core.db
    .update(apiKeys)
    .set({ expiresAt: new Date(Date.now() - 1000) })
    .where(eq(apiKeys.id, soon.id));
  expect((await api(v1("/conversations"), { token: soon.key })).status).toBe(401);
  expect((await api(v1("/conversations"), { token: "sbk_not-a-key" })).status).toBe(401);

  expect((await api(v1("/conversations"), { token: admin })).status).toBe(200);
  expect((await api(v1("/conversations"), { token: agent })).status).toBe(200);
});

it("keeps service users out of user lists, pickers, routing and password sign-in", async () => {
  const k = await newKey("Hidden integration", ["admin"]);
  const users = await api(v1("/users"), { token: admin });
  expect(users.body.items.find((u: { id: string }) => u.id === k.userId)).toBeUndefined();
  const agents = await api(v1("/agents"), { token: admin });
  expect(agents.body.items.find((u: { id: string }) => u.id === k.userId)).toBeUndefined();
  const [service] = await s.rt.core.db.select().from(userTable).where(eq(userTable.id, k.userId));
  expect(service!.kind).toBe("service");
  const signIn = await api(v1("/auth/login"), { body: { email: service!.email, password: service!.passwordHash } });
  expect(signIn.status).toBe(401);
  // Not a transfer target, so never routed work by hand either.
  const conversationId = await visitorMessage("transfer me");
  const transfer = await api(v1(`/conversations/${conversationId}/transfer`), {
    token: admin,
    body: { agentId: k.userId },
  });
  expect(transfer.status).toBeGreaterThanOrEqual(400);
  expect(transfer.status).toBeLessThan(500);
});
