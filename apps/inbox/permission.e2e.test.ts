import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { conversations, type Role } from "../../db/schema/index.ts";
import { createTeam } from "../../routing/agent.ts";
import { can, roles } from "../../platform/permission.ts";
import { apiChannelMessages } from "../gateway/api/messages.ts";
import { inboxApi } from "./api.ts";
import { permissionsDoc } from "../../scripts/permissions-doc.ts";
import { agentRealtime } from "./realtime.ts";
import { routeKey, routePermissions } from "./route-permission.ts";
import { launchChromium, openWidget } from "../../test/browser.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../test/server.ts";

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
  const apps = [inboxApi(s.rt), agentRealtime(s.rt), apiChannelMessages(s.rt)];
  const handlers = apps.flatMap((app) => app.routes.filter((r) => r.method !== "ALL"));
  return [...new Set(handlers.map((r) => routeKey(r.method, r.path)))];
}

describe("the permission matrix", () => {
  it("declares a permission for every route of the agent API, and no row for a route that is gone", () => {
    const served = servedRoutes();
    expect(served.filter((r) => !(r in routePermissions))).toEqual([]);
    expect(Object.keys(routePermissions).filter((r) => !served.includes(r))).toEqual([]);
  });

  it("is the table docs/permissions.md shows", async () => {
    expect(await Bun.file(new URL("../../docs/permissions.md", import.meta.url)).text()).toBe(permissionsDoc());
  });

  it("keeps knowledge editors away from customers, calls and taking work", () => {
    const editor = { role: "knowledge_editor" as const };
    const never = [
      "calls.read",
      "calls.control",
      "presence.take_work",
      "offers.accept",
      "contacts.read",
      "conversations.read",
    ] as const;
    for (const p of never) expect(can(editor, p)).toBe(false);
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
      if (permission === "inbox_token") {
        // No user may post as an API inbox's integration: a session is not its token.
        for (const role of roles) {
          const res = await api(`${s.url}/api/v1${fill(path)}`, { method, token: token[role], body: {} });
          if (res.status !== 401)
            wrong.push(`${role} ${key}: ${res.status} (an inbox-token route must refuse a session)`);
        }
        continue;
      }
      for (const role of roles) {
        // Signing out ends the session it is sent with: a session of its own.
        const t = path === "/auth/logout" ? await s.signInAs(role) : token[role];
        const body = method === "GET" || method === "DELETE" ? {} : { body: {} };
        const res = await api(`${s.url}/api/v1${fill(path)}`, { method, token: t, ...body });
        const allowed = can({ role }, permission);
        const ok = allowed ? res.status !== 403 && res.status !== 401 && res.status < 500 : res.status === 403;
        if (!ok) wrong.push(`${role} ${key}: ${res.status} ${JSON.stringify(res.body?.error ?? "")}`);
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  it("asks for sign-in first: 401 without a token on every route but the public ones, whatever the path", async () => {
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
  const authorization = `Bearer ${visitorToken}`;
  const upload = await fetch(`${server.url}/widget/v1/attachments`, {
    method: "POST",
    headers: { authorization },
    body: form,
  });
  const fileId = ((await upload.json()) as { id: string }).id;
  const message = { text, attachments: [fileId] };
  const sent = await api(`${server.url}/widget/v1/messages`, { token: visitorToken, body: message });
  expect(sent.status).toBe(201);
  return { id: sent.body.conversationId as string, contactId: session.body.contact.id as string, fileId, visitorToken };
}

describe("visibility: every reading (and writing) route × role × whose conversation", () => {
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
  /** The agent API as `role`. */
  const v1 = (role: Role, path: string, init: Parameters<typeof api>[1] = {}) =>
    api(`${s.url}/api/v1${path}`, { token: as(role), ...init });
  const reads: { name: string; visible: (role: Role, c: (typeof cases)[Case]) => Promise<boolean> }[] = [
    { name: "GET /conversations/{id}", visible: async (role, c) => status(await v1(role, `/conversations/${c.id}`)) },
    {
      name: "GET /conversations/{id}/timeline",
      visible: async (role, c) => status(await v1(role, `/conversations/${c.id}/timeline`)),
    },
    {
      name: "GET /conversations/{id}/participants",
      visible: async (role, c) => status(await v1(role, `/conversations/${c.id}/participants`)),
    },
    {
      name: "GET /conversations?q= (message text search)",
      visible: async (role, c) => listed(await v1(role, `/conversations?q=${c.word}`), c.id),
    },
    {
      name: "GET /contacts/{id} (the contact's conversations)",
      visible: async (role, c) => listed(await v1(role, `/contacts/${c.contactId}`), c.id, "conversations"),
    },
    {
      name: "GET /files/{id}",
      visible: async (role, c) => status(await api(`${s.url}/files/${c.fileId}`, { token: as(role) }), "secret file"),
    },
    // Writing follows reading: what a user may not see, they cannot touch either.
    {
      name: "POST /conversations/{id}/messages (a private note)",
      visible: async (role, c) =>
        status(await v1(role, `/conversations/${c.id}/messages`, { body: { text: "n", private: true } })),
    },
    {
      name: "PUT /conversations/{id}/labels",
      visible: async (role, c) =>
        status(await v1(role, `/conversations/${c.id}/labels`, { method: "PUT", body: { labels: ["seen"] } })),
    },
    {
      name: "POST /conversations/{id}/typing",
      visible: async (role, c) => status(await v1(role, `/conversations/${c.id}/typing`, { body: { typing: true } })),
    },
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
    const ok = res.status === 200 || res.status === 201;
    if (!ok && res.status !== 404 && res.status !== 403)
      throw new Error(`unexpected ${res.status} ${JSON.stringify(res.body)}`);
    if (ok && body !== undefined) expect(res.body).toBe(body);
    return ok;
  }
  function listed(res: { status: number; body: any }, id: string, field = "items") {
    if (res.status === 404 || res.status === 403) return false;
    expect(res.status).toBe(200);
    return (res.body[field] as { id: string }[]).some((i) => i.id === id);
  }
});

/** A widget session for the test inbox, resumed with `visitorToken` or proved with `userId`. */
const session = (input: { visitorToken?: string; userId?: string; userHash?: string } = {}) =>
  api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey, ...input } });
const widgetMessages = (visitorToken: string) => api(`${s.url}/widget/v1/messages`, { token: visitorToken });

describe("contact merge", () => {
  it("is for supervisors and admins: an agent cannot pull a customer's chat into their widget contact", async () => {
    const customer = await conversationOf(s, "my order number is 4711");
    const spy = await session();
    const merge = (as: string) =>
      api(`${s.url}/api/v1/contacts/${customer.contactId}/merge`, {
        token: as,
        body: { mergeId: spy.body.contact.id },
      });
    expect((await merge(me.token)).status).toBe(403);
    // Even merged by a supervisor, the spy's own token never becomes the customer: it is retired.
    expect((await merge(token.supervisor)).status).toBe(200);
    expect((await widgetMessages(spy.body.visitorToken)).status).toBe(401);
    const resumed = await session({ visitorToken: spy.body.visitorToken });
    expect(resumed.status).toBe(200);
    expect(resumed.body.contact.id).not.toBe(customer.contactId);
    expect(resumed.body.conversationId).toBeNull();
    expect((await widgetMessages(resumed.body.visitorToken)).body.items).toEqual([]);
  });
});

describe("a visitor who signs in (widget identity verification)", () => {
  const signIn = (userId: string, visitorToken?: string) => {
    const userHash = new Bun.CryptoHasher("sha256", s.inbox.secret).update(userId).digest("hex");
    return session({ userId, userHash, ...(visitorToken ? { visitorToken } : {}) });
  };

  it("brings the anonymous chat along; the old anonymous token never resumes as the verified customer", async () => {
    const userId = `customer-${crypto.randomUUID()}`;
    // The verified customer's history from another day.
    const earlier = await signIn(userId);
    const card = { text: "my card ends in 4242" };
    await api(`${s.url}/widget/v1/messages`, { token: earlier.body.visitorToken, body: card });
    // Today: anonymous first, then signed in on the same page.
    const anonymous = await conversationOf(s, "hello before signing in");
    const verified = await signIn(userId, anonymous.visitorToken);
    expect(verified.status).toBe(200);
    const texts = (await widgetMessages(verified.body.visitorToken)).body.items.map((i: any) => i.text);
    expect(texts).toEqual(expect.arrayContaining(["my card ends in 4242", "hello before signing in"]));

    // Whoever kept the anonymous token (a shared computer) gets a fresh, empty session.
    const replayed = await session({ visitorToken: anonymous.visitorToken });
    expect(replayed.status).toBe(200);
    expect(replayed.body.contact.id).not.toBe(verified.body.contact.id);
    expect((await widgetMessages(replayed.body.visitorToken)).body.items).toEqual([]);
    expect((await widgetMessages(anonymous.visitorToken)).status).toBe(401);
    // A verified token without the proof does not resume either.
    const unproven = await session({ visitorToken: verified.body.visitorToken });
    expect(unproven.body.contact.id).not.toBe(verified.body.contact.id);
  });

  it("gets agents' replies in the chat it brought along on the surviving, verified session's socket", async () => {
    const userId = `customer-${crypto.randomUUID()}`;
    const anonymous = await conversationOf(s, "question before signing in");
    const verified = await signIn(userId, anonymous.visitorToken);
    const socket = await openSocket(`${wsUrl(s.url)}/widget/v1/ws?token=${verified.body.visitorToken}`);
    try {
      await socket.waitFor((f) => f.type === "hello");
      const text = "answer after the merge";
      const reply = await api(`${s.url}/api/v1/conversations/${anonymous.id}/messages`, {
        token: token.admin,
        body: { text },
      });
      expect(reply.status).toBe(201);
      await socket.waitFor((f) => f.item?.text === "answer after the merge", 15_000);
    } finally {
      socket.close();
    }
  });
});

describe("a widget whose session was retired", () => {
  it("starts a new session as soon as a merge retires it, never writing as the customer merged into", async () => {
    const browser = await launchChromium();
    try {
      const visitor = await openWidget(browser, s.url, s.inbox.publicKey);
      const first = await visitor.send("before the merge");
      const mine = (await api(`${s.url}/api/v1/conversations/${first}`, { token: token.admin })).body.contact.id;
      const known = await conversationOf(s, "the known customer's chat");
      const renewed = visitor.page.waitForResponse(
        (r) => r.url().endsWith("/widget/v1/sessions") && r.status() === 200,
      );
      const merge = { token: token.supervisor, body: { mergeId: mine } };
      expect((await api(`${s.url}/api/v1/contacts/${known.contactId}/merge`, merge)).status).toBe(200);
      // The merge closes the widget's socket (4401): it starts a new session without waiting for a message.
      await renewed;
      const second = await visitor.send("after the merge");
      expect(second).toBeDefined();
      const contact = (await api(`${s.url}/api/v1/conversations/${second}`, { token: token.admin })).body.contact.id;
      expect([mine, known.contactId]).not.toContain(contact);
      await visitor.close();
    } finally {
      await browser.close();
    }
  }, 60_000);

  it("starts a new session at its next message after its tokens were revoked, keeping the draft to retry", async () => {
    const browser = await launchChromium();
    try {
      const visitor = await openWidget(browser, s.url, s.inbox.publicKey);
      const first = await visitor.send("before the revocation");
      const mine = (await api(`${s.url}/api/v1/conversations/${first}`, { token: token.admin })).body.contact.id;
      const revoked = await api(`${s.url}/api/v1/contacts/${mine}/visitor-sessions/revoke`, {
        token: token.admin,
        body: {},
      });
      expect(revoked.status).toBeLessThan(300);
      // The open socket learns it only at its next check; the send is refused and the draft kept.
      expect(await visitor.send("after the revocation")).toBeUndefined();
      const sent = visitor.page.waitForResponse((r) => r.url().endsWith("/widget/v1/messages") && r.status() === 201);
      await visitor.page.locator("button.retry").click();
      const second = ((await (await sent).json()) as { conversationId: string }).conversationId;
      const contact = (await api(`${s.url}/api/v1/conversations/${second}`, { token: token.admin })).body.contact.id;
      expect(contact).not.toBe(mine);
      await visitor.close();
    } finally {
      await browser.close();
    }
  }, 60_000);
});
