import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { inviteToken } from "./auth.ts";
import { api, openSocket, wsUrl, type TestServer } from "../../test/server.ts";
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

it("documents every admin route in the OpenAPI document", async () => {
  const doc = await api(`${s.url}/api/v1/openapi.json`);
  const paths = doc.body.paths;
  expect(Object.keys(paths)).toEqual(
    expect.arrayContaining([
      "/users",
      "/inboxes",
      "/inboxes/{id}",
      "/agents",
      "/auth/invite/accept",
      "/teams",
      "/teams/{id}",
      "/teams/{id}/members",
      "/queues/history",
    ]),
  );
  expect(paths["/agents"].post.requestBody.content["application/json"].schema).toBeDefined();
  expect(paths["/queues/history"].get.parameters.map((p: { name: string }) => p.name).sort()).toEqual([
    "minutes",
    "step",
  ]);
});

describe("GET /me", () => {
  it("adds the email and the workspace to what it told before", async () => {
    const me = await api(`${s.url}/api/v1/me`, { token: agent });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      id: s.agent.id,
      name: "Agent Ann",
      email: s.agent.email,
      role: "agent",
      workspaceId: s.workspaceId,
      teamIds: [],
      skills: [],
    });
    expect(me.body.workspace).toEqual({ id: s.workspaceId, name: expect.stringMatching(/^Test /) });
  });
});

describe("GET /users", () => {
  it("lists the workspace's active users by name, with no emails, for any role", async () => {
    const editor = await member("knowledge_editor", "Aaron Editor");
    const gone = await member("agent", "Zed Gone");
    expect(
      (await api(`${s.url}/api/v1/agents/${gone.id}`, { method: "PATCH", token: admin, body: { disabled: true } }))
        .status,
    ).toBe(200);
    for (const token of [agent, editor.token]) {
      const users = await api(`${s.url}/api/v1/users`, { token });
      expect(users.status).toBe(200);
      const names = users.body.items.map((u: { name: string }) => u.name);
      expect(names).toEqual([...names].sort());
      expect(users.body.items).toContainEqual({ id: editor.id, name: "Aaron Editor", role: "knowledge_editor" });
      expect(users.body.items).toContainEqual({ id: s.agent.id, name: "Agent Ann", role: "agent" });
      expect(users.body.items.find((u: { id: string }) => u.id === gone.id)).toBeUndefined();
      expect(users.body.items.find((u: { id: string }) => u.id === other.admin.id)).toBeUndefined();
      expect(Object.keys(users.body.items[0]).sort()).toEqual(["id", "name", "role"]);
    }
    expect((await api(`${s.url}/api/v1/users`)).status).toBe(401);
  });
});

describe("creating agents and invitations", () => {
  it("creates a user with a password who can sign in at once", async () => {
    const email = `Pat-${tag()}@Example.test`;
    const made = await api(`${s.url}/api/v1/agents`, {
      token: admin,
      body: { email, name: "Pat Supervisor", role: "supervisor", password: "a good password" },
    });
    expect(made.status).toBe(201);
    expect(made.body).toEqual({
      id: expect.any(String),
      email: email.toLowerCase(),
      name: "Pat Supervisor",
      role: "supervisor",
      inviteUrl: null,
    });
    const token = await s.login(email, "a good password");
    expect((await api(`${s.url}/api/v1/me`, { token })).body).toMatchObject({
      id: made.body.id,
      role: "supervisor",
      workspace: { id: s.workspaceId },
    });
  });

  it("invites a user without a password: accept sets it and signs in; the link works once", async () => {
    const email = `invitee-${tag()}@example.test`;
    const made = await api(`${s.url}/api/v1/agents`, {
      token: admin,
      body: { email, name: "Ivy Invitee", role: "agent" },
    });
    expect(made.status).toBe(201);
    const prefix = `${s.url}/app/#/invite/`;
    expect(made.body.inviteUrl.startsWith(prefix)).toBe(true);
    const token = made.body.inviteUrl.slice(prefix.length);
    // Nobody knows the password the account was created with.
    expect((await api(`${s.url}/api/v1/auth/login`, { body: { email, password: "" + "x".repeat(8) } })).status).toBe(
      401,
    );

    const short = await api(`${s.url}/api/v1/auth/invite/accept`, { body: { token, password: "short" } });
    expect(short.status).toBe(400);
    expect(short.body.error.field).toBe("password");
    // No sign-in needed to accept.
    const accepted = await api(`${s.url}/api/v1/auth/invite/accept`, { body: { token, password: "my new password" } });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({
      token: expect.any(String),
      user: { id: made.body.id, name: "Ivy Invitee", email, role: "agent" },
    });
    expect((await api(`${s.url}/api/v1/me`, { token: accepted.body.token })).body.email).toBe(email);
    const login = await api(`${s.url}/api/v1/auth/login`, { body: { email, password: "my new password" } });
    expect(login.status).toBe(200);
    expect(Object.keys(login.body).sort()).toEqual(Object.keys(accepted.body).sort());
    expect(login.body.user).toEqual(accepted.body.user);

    const again = await api(`${s.url}/api/v1/auth/invite/accept`, { body: { token, password: "someone else's" } });
    expect(again.status).toBe(401);
    expect(again.body.error.field).toBe("token");
    expect((await api(`${s.url}/api/v1/auth/login`, { body: { email, password: "my new password" } })).status).toBe(
      200,
    );
  });

  it("uses PUBLIC_URL for the invitation link when it is set", async () => {
    s.rt.config.publicUrl = "https://support.example.com";
    try {
      const made = await api(`${s.url}/api/v1/agents`, {
        token: admin,
        body: { email: `p-${tag()}@example.test`, name: "Pia", role: "agent" },
      });
      expect(made.body.inviteUrl).toStartWith("https://support.example.com/app/#/invite/");
    } finally {
      s.rt.config.publicUrl = undefined;
    }
  });

  it("refuses expired, forged and foreign tokens with 401 naming the token", async () => {
    const made = await api(`${s.url}/api/v1/agents`, {
      token: admin,
      body: { email: `late-${tag()}@example.test`, name: "Lee Late", role: "agent" },
    });
    const token: string = made.body.inviteUrl.split("/invite/")[1];
    const [claims, signature] = token.split(".") as [string, string];
    const user = { id: made.body.id, passwordHash: "" };
    const stored = await s.rt.core.db.query.users.findFirst({ where: (u, { eq }) => eq(u.id, made.body.id) });
    user.passwordHash = stored!.passwordHash;
    const expired = inviteToken(s.rt.keyring, user, Date.now() - 8 * 86_400_000);
    const sixDaysOld = inviteToken(s.rt.keyring, user, Date.now() - 6 * 86_400_000);
    const forgedClaims = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(claims, "base64url").toString()), u: s.admin.id }),
    ).toString("base64url");
    const visitor = (await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } })).body
      .visitorToken;
    for (const bad of [
      expired,
      `${forgedClaims}.${signature}`,
      `${claims}.${signature.slice(0, -2)}AA`,
      "not-a-token",
      visitor,
    ]) {
      const res = await api(`${s.url}/api/v1/auth/invite/accept`, { body: { token: bad, password: "long enough pw" } });
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({ code: "unauthorized", field: "token" });
    }
    // The admin's password was not touched by the forged attempt.
    expect(await s.login(s.admin.email, s.admin.password)).toBeString();
    // Within seven days the link still works.
    expect(
      (await api(`${s.url}/api/v1/auth/invite/accept`, { body: { token: sixDaysOld, password: "long enough pw" } }))
        .status,
    ).toBe(200);
  });

  it("refuses a taken email with 409, and bad input naming the field", async () => {
    const taken = await api(`${s.url}/api/v1/agents`, {
      token: admin,
      body: { email: s.agent.email.toUpperCase(), name: "Twin", role: "agent" },
    });
    expect(taken.status).toBe(409);
    expect(taken.body.error).toMatchObject({ code: "conflict", field: "email" });
    // Emails are unique across workspaces: sign-in takes only the email.
    const elsewhere = await api(`${s.url}/api/v1/agents`, {
      token: admin,
      body: { email: other.agent.email, name: "Twin", role: "agent" },
    });
    expect(elsewhere.status).toBe(409);
    const cases: [Record<string, unknown>, string][] = [
      [{ email: "not an email", name: "X", role: "agent" }, "email"],
      [{ email: `x-${tag()}@example.test`, name: "", role: "agent" }, "name"],
      [{ email: `x-${tag()}@example.test`, name: "x".repeat(201), role: "agent" }, "name"],
      [{ email: `x-${tag()}@example.test`, name: "X", role: "editor" }, "role"],
      [{ email: `x-${tag()}@example.test`, name: "X", role: "agent", password: "short" }, "password"],
    ];
    for (const [input, field] of cases) {
      const res = await api(`${s.url}/api/v1/agents`, { token: admin, body: input });
      expect(res.status).toBe(400);
      expect(res.body.error.field).toBe(field);
    }
  });

  it("lets only admins create users", async () => {
    const supervisor = await member("supervisor");
    for (const token of [agent, supervisor.token]) {
      const res = await api(`${s.url}/api/v1/agents`, {
        token,
        body: { email: `x-${tag()}@example.test`, name: "X", role: "admin" },
      });
      expect(res.status).toBe(403);
    }
  });
});

describe("changing agents' accounts", () => {
  it("renames and changes roles (admins only), across workspaces never", async () => {
    const pat = await member("agent", "Pat");
    const changed = await api(`${s.url}/api/v1/agents/${pat.id}`, {
      method: "PATCH",
      token: admin,
      body: { name: "Pat Lee", role: "supervisor" },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      id: pat.id,
      name: "Pat Lee",
      role: "supervisor",
      email: pat.email,
      disabled: false,
      presence: "offline",
      skills: [],
    });
    expect((await api(`${s.url}/api/v1/me`, { token: pat.token })).body).toMatchObject({
      name: "Pat Lee",
      role: "supervisor",
    });
    // A supervisor manages skills and capacity, not accounts.
    expect(
      (
        await api(`${s.url}/api/v1/agents/${s.agent.id}`, {
          method: "PATCH",
          token: pat.token,
          body: { capacity: { chat: 4 } },
        })
      ).status,
    ).toBe(200);
    for (const patch of [{ role: "admin" }, { name: "Boss" }, { disabled: true }]) {
      expect(
        (await api(`${s.url}/api/v1/agents/${s.agent.id}`, { method: "PATCH", token: pat.token, body: patch })).status,
      ).toBe(403);
      expect(
        (await api(`${s.url}/api/v1/agents/${pat.id}`, { method: "PATCH", token: agent, body: patch })).status,
      ).toBe(403);
    }
    const badRole = await api(`${s.url}/api/v1/agents/${pat.id}`, {
      method: "PATCH",
      token: admin,
      body: { role: "owner" },
    });
    expect(badRole.status).toBe(400);
    expect(badRole.body.error.field).toBe("role");
    const badName = await api(`${s.url}/api/v1/agents/${pat.id}`, {
      method: "PATCH",
      token: admin,
      body: { name: "" },
    });
    expect(badName.status).toBe(400);
    expect(badName.body.error.field).toBe("name");
    const foreign = await api(`${s.url}/api/v1/agents/${other.agent.id}`, {
      method: "PATCH",
      token: admin,
      body: { name: "Mine now" },
    });
    expect(foreign.status).toBe(404);
    // Nothing changes when a later part of the patch is wrong.
    const partial = await api(`${s.url}/api/v1/agents/${pat.id}`, {
      method: "PATCH",
      token: admin,
      body: { name: "Half", capacity: { chat: -1 } },
    });
    expect(partial.status).toBe(400);
    expect((await api(`${s.url}/api/v1/me`, { token: pat.token })).body.name).toBe("Pat Lee");
  });

  it("never leaves a workspace without an admin", async () => {
    const alone = await api(`${s.url}/api/v1/agents/${s.admin.id}`, {
      method: "PATCH",
      token: admin,
      body: { role: "agent" },
    });
    expect(alone.status).toBe(400);
    expect(alone.body.error.field).toBe("role");
    expect((await api(`${s.url}/api/v1/me`, { token: admin })).body.role).toBe("admin");
    // With a second admin, one may step down.
    const second = await member("admin");
    const stepDown = await api(`${s.url}/api/v1/agents/${second.id}`, {
      method: "PATCH",
      token: second.token,
      body: { role: "supervisor" },
    });
    expect(stepDown.status).toBe(200);
    expect(stepDown.body.role).toBe("supervisor");
    expect(
      (
        await api(`${s.url}/api/v1/agents/${s.admin.id}`, {
          method: "PATCH",
          token: admin,
          body: { role: "supervisor" },
        })
      ).status,
    ).toBe(400);
  });

  it("disables a user: sessions, socket and sign-in stop, routing lets go; re-enabling lets them sign in again", async () => {
    const dana = await member("agent", "Dana");
    expect(
      (await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: dana.token, body: { presence: "available" } }))
        .status,
    ).toBe(200);
    const socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${dana.token}`);
    await socket.waitFor((f) => f.type === "hello");
    const closed = new Promise<number>((resolve) => socket.ws.addEventListener("close", (e) => resolve(e.code)));

    const self = await api(`${s.url}/api/v1/agents/${s.admin.id}`, {
      method: "PATCH",
      token: admin,
      body: { disabled: true },
    });
    expect(self.status).toBe(400);
    expect(self.body.error.field).toBe("disabled");

    const disabled = await api(`${s.url}/api/v1/agents/${dana.id}`, {
      method: "PATCH",
      token: admin,
      body: { disabled: true },
    });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ id: dana.id, disabled: true, presence: "offline", reason: "disabled" });
    const me = await api(`${s.url}/api/v1/me`, { token: dana.token });
    expect(me.status).toBe(401);
    expect(await closed).toBe(4401);
    expect(
      (await api(`${s.url}/api/v1/auth/login`, { body: { email: dana.email, password: "long enough pw" } })).status,
    ).toBe(401);
    expect(
      (await api(`${s.url}/api/v1/agents`, { token: admin })).body.items.map((a: { id: string }) => a.id),
    ).not.toContain(dana.id);

    const enabled = await api(`${s.url}/api/v1/agents/${dana.id}`, {
      method: "PATCH",
      token: admin,
      body: { disabled: false },
    });
    expect(enabled.body.disabled).toBe(false);
    const again = await s.login(dana.email, "long enough pw");
    expect((await api(`${s.url}/api/v1/me`, { token: again })).status).toBe(200);
  });
});
