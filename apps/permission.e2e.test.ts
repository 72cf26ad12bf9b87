import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { conversations, type Role } from "../db/schema/index.ts";
import { createTeam } from "../routing/agent.ts";
import { can, roles } from "../platform/permission.ts";
import { inboxApi } from "./inbox/api.ts";
import { permissionsDoc } from "./inbox/permissions-doc.ts";
import { agentRealtime } from "./inbox/realtime.ts";
import { routeKey, routePermissions } from "./inbox/route-permission.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../test/server.ts";

let s: TestServer;
let other: TestServer;
/** A signed-in user of each role in `s`, and the agent whose work the visibility cases are about. */
const token = {} as Record<Role, string>;
let me: { id: string; token: string };

beforeAll(async () => {
  s = await startTestServer();
  other = await startTestServer();
  for (const role of roles) token[role] = await s.signInAs(role);
  const meToken = await s.login(s.agent.email, s.agent.password);
  me = { id: s.agent.id, token: meToken };
  // The first server of a test process also migrates its database: slow on a busy machine.
}, 120_000);
afterAll(async () => {
  await s.stop();
  await other.stop();
});

/** Every route the agent API serves, as the table names them (`GET /conversations/{id}`). */
function servedRoutes() {
  const apps = [inboxApi(s.rt), agentRealtime(s.rt)];
  return [...new Set(apps.flatMap((app) => app.routes.filter((r) => r.method !== "ALL").map((r) => routeKey(r.method, r.path))))];
}

describe("the permission matrix", () => {
  it("declares a permission for every route of the agent API, and no row for a route that is gone", () => {
    const served = servedRoutes();
    expect(served.filter((r) => !(r in routePermissions))).toEqual([]);
    expect(Object.keys(routePermissions).filter((r) => !served.includes(r))).toEqual([]);
  });

  it("is the table docs/permissions.md shows", async () => {
    expect(await Bun.file(new URL("../docs/permissions.md", import.meta.url)).text()).toBe(permissionsDoc());
  });

  it("keeps knowledge editors away from customers, calls and taking work", () => {
    const editor = { role: "knowledge_editor" as const };
    for (const p of ["calls.read", "calls.control", "presence.take_work", "offers.accept", "contacts.read", "conversations.read"] as const)
      expect(can(editor, p)).toBe(false);
    expect(can(editor, "knowledge.edit")).toBe(true);
    expect(can({ role: "agent" }, "contacts.merge")).toBe(false);
  });

  // Route × role: a role without the route's permission gets 403 before anything is read or
  // validated; a role with it gets past the gate (whatever the made-up ids and body then earn).
  const fill = (path: string) => path.replace("{version}", "1").replace(/\{[A-Za-z]+\}/g, () => crypto.randomUUID());
  it("answers every route × role by the matrix: 403 without the permission, through the gate with it", async () => {
    const wrong: string[] = [];
    for (const [key, permission] of Object.entries(routePermissions)) {
      const [method, path] = key.split(" ") as [string, string];
      if (path === "/realtime" || permission === "public") continue;
      for (const role of roles) {
        // Signing out ends the session it is sent with: a session of its own.
        const t = path === "/auth/logout" ? await s.signInAs(role) : token[role];
        const res = await api(`${s.url}/api/v1${fill(path)}`, { method, token: t, ...(method === "GET" || method === "DELETE" ? {} : { body: {} }) });
        const allowed = can({ role }, permission);
        const ok = allowed ? res.status !== 403 && res.status !== 401 && res.status < 500 : res.status === 403;
        if (!ok) wrong.push(`${role} ${key}: ${res.status} ${JSON.stringify(res.body?.error ?? "")}`);
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  it("asks for sign-in first: no token is 401 on every route but the public ones, whatever the path ends in", async () => {
    for (const [key, permission] of Object.entries(routePermissions)) {
      const [method, path] = key.split(" ") as [string, string];
      if (permission === "public" || path === "/realtime") continue;
      expect(`${key} ${(await api(`${s.url}/api/v1${fill(path)}`, { method })).status}`).toBe(`${key} 401`);
    }
    expect((await api(`${s.url}/api/v1/contacts/openapi.json`)).status).toBe(401);
    expect((await api(`${s.url}/api/v1/openapi.json`)).status).toBe(200);
  });
});

/** A visitor's conversation with a file in it, arranged as `who` has it: assignee and team. */
async function conversationOf(server: TestServer, text: string) {
  const session = await api(`${server.url}/widget/v1/sessions`, { body: { inboxKey: server.inbox.publicKey } });
  const visitorToken = session.body.visitorToken as string;
  const form = new FormData();
  form.append("file", new File(["secret file"], "secret.txt", { type: "text/plain" }));
  const upload = await fetch(`${server.url}/widget/v1/attachments`, { method: "POST", headers: { authorization: `Bearer ${visitorToken}` }, body: form });
  const fileId = ((await upload.json()) as { id: string }).id;
  const sent = await api(`${server.url}/widget/v1/messages`, { token: visitorToken, body: { text, attachments: [fileId] } });
  expect(sent.status).toBe(201);
  return { id: sent.body.conversationId as string, contactId: session.body.contact.id as string, fileId, visitorToken };
}

describe("visibility: every reading route × role × whose conversation", () => {
  type Case = "mine" | "unassigned" | "myTeam" | "otherAgent" | "otherTeam" | "otherWorkspace";
  // Who sees what, written out rather than derived, so the rule's code is checked against it.
  const sees: Record<Role, Case[]> = {
    admin: ["mine", "unassigned", "myTeam", "otherAgent", "otherTeam"],
    supervisor: ["mine", "unassigned", "myTeam", "otherAgent", "otherTeam"],
    agent: ["mine", "unassigned", "myTeam"],
    knowledge_editor: [],
  };
  const cases = {} as Record<Case, Awaited<ReturnType<typeof conversationOf>> & { word: string }>;

  beforeAll(async () => {
    const db = s.rt.core.db;
    const [bob] = await Promise.all([api(`${s.url}/api/v1/me`, { token: await s.signInAs("agent", "Bob") })]);
    const mine = await createTeam(db, s.workspaceId, `mine-${crypto.randomUUID().slice(0, 6)}`, [me.id]);
    const theirs = await createTeam(db, s.workspaceId, `theirs-${crypto.randomUUID().slice(0, 6)}`, [bob.body.id]);
    const place: Record<Exclude<Case, "otherWorkspace">, { assigneeId: string | null; teamId: string | null }> = {
      mine: { assigneeId: me.id, teamId: null },
      unassigned: { assigneeId: null, teamId: null },
      myTeam: { assigneeId: bob.body.id, teamId: mine.id },
      otherAgent: { assigneeId: bob.body.id, teamId: null },
      otherTeam: { assigneeId: bob.body.id, teamId: theirs.id },
    };
    for (const [name, at] of Object.entries(place) as [Case, (typeof place)["mine"]][]) {
      const word = `word${crypto.randomUUID().slice(0, 8)}`;
      cases[name] = { ...(await conversationOf(s, `about ${word}`)), word };
      await db.update(conversations).set(at).where(eq(conversations.id, cases[name].id));
    }
    const word = `word${crypto.randomUUID().slice(0, 8)}`;
    cases.otherWorkspace = { ...(await conversationOf(other, `about ${word}`)), word };
  }, 120_000);

  // The agent of these cases is `me` (member of "mine"); the other roles see by role alone.
  const as = (role: Role) => (role === "agent" ? me.token : token[role]);
  const reads: { name: string; visible: (role: Role, c: (typeof cases)[Case]) => Promise<boolean> }[] = [
    { name: "GET /conversations/{id}", visible: async (role, c) => status(await api(`${s.url}/api/v1/conversations/${c.id}`, { token: as(role) })) },
    { name: "GET /conversations/{id}/timeline", visible: async (role, c) => status(await api(`${s.url}/api/v1/conversations/${c.id}/timeline`, { token: as(role) })) },
    { name: "GET /conversations/{id}/participants", visible: async (role, c) => status(await api(`${s.url}/api/v1/conversations/${c.id}/participants`, { token: as(role) })) },
    {
      name: "GET /conversations?q= (message text search)",
      visible: async (role, c) => listed(await api(`${s.url}/api/v1/conversations?q=${c.word}`, { token: as(role) }), c.id),
    },
    {
      name: "GET /contacts/{id} (the contact's conversations)",
      visible: async (role, c) => listed(await api(`${s.url}/api/v1/contacts/${c.contactId}`, { token: as(role) }), c.id, "conversations"),
    },
    { name: "GET /files/{id}", visible: async (role, c) => status(await api(`${s.url}/files/${c.fileId}`, { token: as(role) }), "secret file") },
  ];

  for (const read of reads)
    it(`${read.name}: each role sees what the rule lets it, and nothing else`, async () => {
      const wrong: string[] = [];
      for (const role of roles)
        for (const name of Object.keys(cases) as Case[]) {
          const got = await read.visible(role, cases[name]);
          if (got !== sees[role].includes(name)) wrong.push(`${role} × ${name}: ${got ? "sees it" : "does not"}`);
        }
      expect(wrong).toEqual([]);
    }, 60_000);

  function status(res: { status: number; body: unknown }, body?: string) {
    // Not visible is 404 (never "exists but forbidden"), or 403 where the role lacks the route.
    if (res.status !== 200 && res.status !== 404 && res.status !== 403) throw new Error(`unexpected ${res.status}`);
    if (res.status === 200 && body !== undefined) expect(res.body).toBe(body);
    return res.status === 200;
  }
  function listed(res: { status: number; body: any }, id: string, field = "items") {
    if (res.status === 404 || res.status === 403) return false;
    expect(res.status).toBe(200);
    return (res.body[field] as { id: string }[]).some((i) => i.id === id);
  }
});

describe("contact merge", () => {
  it("is for supervisors and admins: an agent cannot pull a customer's chat into their own widget contact", async () => {
    const customer = await conversationOf(s, "my order number is 4711");
    const spy = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
    const merged = await api(`${s.url}/api/v1/contacts/${customer.contactId}/merge`, { token: me.token, body: { mergeId: spy.body.contact.id } });
    expect(merged.status).toBe(403);
    // Even merged by a supervisor, the spy's own token never becomes the customer: it is retired.
    const done = await api(`${s.url}/api/v1/contacts/${customer.contactId}/merge`, { token: token.supervisor, body: { mergeId: spy.body.contact.id } });
    expect(done.status).toBe(200);
    expect((await api(`${s.url}/widget/v1/messages`, { token: spy.body.visitorToken })).status).toBe(401);
    const resumed = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey, visitorToken: spy.body.visitorToken } });
    expect(resumed.status).toBe(200);
    expect(resumed.body.contact.id).not.toBe(customer.contactId);
    expect(resumed.body.conversationId).toBeNull();
    expect((await api(`${s.url}/widget/v1/messages`, { token: resumed.body.visitorToken })).body.items).toEqual([]);
  });
});

describe("a visitor who signs in (widget identity verification)", () => {
  const signIn = (userId: string, visitorToken?: string) => {
    const userHash = new Bun.CryptoHasher("sha256", s.inbox.secret).update(userId).digest("hex");
    return api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey, userId, userHash, ...(visitorToken ? { visitorToken } : {}) } });
  };

  it("brings the anonymous chat along, and the old anonymous token never resumes as the verified customer", async () => {
    const userId = `customer-${crypto.randomUUID()}`;
    // The verified customer's history from another day.
    const earlier = await signIn(userId);
    await api(`${s.url}/widget/v1/messages`, { token: earlier.body.visitorToken, body: { text: "my card ends in 4242" } });
    // Today: anonymous first, then signed in on the same page.
    const anonymous = await conversationOf(s, "hello before signing in");
    const verified = await signIn(userId, anonymous.visitorToken);
    expect(verified.status).toBe(200);
    const texts = (await api(`${s.url}/widget/v1/messages`, { token: verified.body.visitorToken })).body.items.map((i: any) => i.text);
    expect(texts).toEqual(expect.arrayContaining(["my card ends in 4242", "hello before signing in"]));

    // Whoever kept the anonymous token (a shared computer) gets a fresh, empty session.
    const replayed = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey, visitorToken: anonymous.visitorToken } });
    expect(replayed.status).toBe(200);
    expect(replayed.body.contact.id).not.toBe(verified.body.contact.id);
    expect((await api(`${s.url}/widget/v1/messages`, { token: replayed.body.visitorToken })).body.items).toEqual([]);
    expect((await api(`${s.url}/widget/v1/messages`, { token: anonymous.visitorToken })).status).toBe(401);
    // A verified token without the proof does not resume either.
    const unproven = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey, visitorToken: verified.body.visitorToken } });
    expect(unproven.body.contact.id).not.toBe(verified.body.contact.id);
  });

  it("gets agents' replies in the chat it brought along on the surviving, verified session's socket", async () => {
    const userId = `customer-${crypto.randomUUID()}`;
    const anonymous = await conversationOf(s, "question before signing in");
    const verified = await signIn(userId, anonymous.visitorToken);
    const socket = await openSocket(`${wsUrl(s.url)}/widget/v1/ws?token=${encodeURIComponent(verified.body.visitorToken)}`);
    try {
      await socket.waitFor((f) => f.type === "hello");
      const reply = await api(`${s.url}/api/v1/conversations/${anonymous.id}/messages`, { token: token.admin, body: { text: "answer after the merge" } });
      expect(reply.status).toBe(201);
      await socket.waitFor((f) => f.item?.text === "answer after the merge", 15_000);
    } finally {
      socket.close();
    }
  });
});
