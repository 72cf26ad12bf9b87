import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { validateInbound } from "../../conversations/conversation.ts";
import { ingestBatch } from "../../conversations/inbound-queue.ts";
import { workItems } from "../../db/schema/index.ts";
import { createQueue } from "../../routing/queue.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../test/server.ts";
import { inviteToken } from "./auth.ts";

let s: TestServer;
let other: TestServer;
let admin: string;
let agent: string;
const tag = () => crypto.randomUUID().slice(0, 8);

beforeAll(async () => {
  s = await startTestServer();
  other = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  agent = await s.login(s.agent.email, s.agent.password);
});
afterAll(async () => {
  await s.stop();
  await other.stop();
});

/** A user made through the API with a password, signed in. */
async function member(role: "admin" | "supervisor" | "agent" | "knowledge_editor", name = `User ${tag()}`) {
  const email = `${role}-${tag()}@example.test`;
  const made = await api(`${s.url}/api/v1/agents`, {
    token: admin,
    body: { email, name, role, password: "long enough pw" },
  });
  expect(made.status).toBe(201);
  return { id: made.body.id as string, email, name, token: await s.login(email, "long enough pw") };
}

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

describe("inboxes", () => {
  const readmeSnippet = (base: string, key: string) => {
    // The snippet as docs/widget.md documents it, with its example host and key replaced.
    const readme = readFileSync(join(import.meta.dir, "../..", "docs/widget.md"), "utf8");
    const line = readme.split("\n").find((l) => l.includes("/widget.js") && l.includes("data-inbox="))!;
    return line.trim().replace("https://support.example.com", base).replace("wc_XXXX", key);
  };

  it("lists inboxes with the public key to all and the embed snippet, as docs/widget.md has it, to admins", async () => {
    const asAgent = await api(`${s.url}/api/v1/inboxes`, { token: agent });
    expect(asAgent.status).toBe(200);
    expect(asAgent.body.items[0]).toEqual({
      id: s.inbox.id,
      name: "Site chat",
      channel: "webchat",
      createdAt: expect.any(String),
      publicKey: s.inbox.publicKey,
    });
    const asAdmin = await api(`${s.url}/api/v1/inboxes`, { token: admin });
    expect(asAdmin.body.items[0].embedSnippet).toBe(readmeSnippet(s.url, s.inbox.publicKey));
    expect(asAdmin.body.items[0].embedSnippet).toBe(
      `<script src="${s.url}/widget.js" data-inbox="${s.inbox.publicKey}" async></script>`,
    );
    expect(asAdmin.body.items.map((i: { id: string }) => i.id)).not.toContain(other.inbox.id);
    expect(JSON.stringify(asAdmin.body)).not.toContain("credentials");
  });

  it("uses PUBLIC_URL in the snippet when it is set", async () => {
    s.rt.config.publicUrl = "https://support.example.com";
    try {
      const asAdmin = await api(`${s.url}/api/v1/inboxes`, { token: admin });
      expect(asAdmin.body.items[0].embedSnippet).toBe(readmeSnippet("https://support.example.com", s.inbox.publicKey));
    } finally {
      s.rt.config.publicUrl = undefined;
    }
  });

  it("creates a web chat inbox whose key the widget accepts at once", async () => {
    const made = await api(`${s.url}/api/v1/inboxes`, {
      token: admin,
      body: { name: "  Help centre  ", channel: "webchat" },
    });
    expect(made.status).toBe(201);
    expect(made.body).toEqual({
      id: expect.any(String),
      name: "Help centre",
      channel: "webchat",
      publicKey: expect.stringMatching(/^wc_/),
      embedSnippet: readmeSnippet(s.url, made.body.publicKey),
      createdAt: expect.any(String),
    });
    const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: made.body.publicKey } });
    expect(session.status).toBe(200);
    expect(
      (await api(`${s.url}/api/v1/inboxes`, { token: agent })).body.items.map((i: { id: string }) => i.id),
    ).toContain(made.body.id);
  });

  it("refuses other channels, bad names, and non-admins", async () => {
    const voice = await api(`${s.url}/api/v1/inboxes`, { token: admin, body: { name: "Phone", channel: "voice" } });
    expect(voice.status).toBe(400);
    expect(voice.body.error.field).toBe("channel");
    expect(voice.body.error.message).toMatch(/webchat/);
    // An email inbox needs its settings (apps/gateway/email/email.e2e.test.ts covers them).
    const email = await api(`${s.url}/api/v1/inboxes`, { token: admin, body: { name: "Mail", channel: "email" } });
    expect(email.status).toBe(400);
    expect(email.body.error.field).toBe("email");
    const fax = await api(`${s.url}/api/v1/inboxes`, { token: admin, body: { name: "Fax", channel: "fax" } });
    expect(fax.status).toBe(400);
    expect(fax.body.error.field).toBe("channel");
    for (const name of ["", "   ", "x".repeat(101)]) {
      const bad = await api(`${s.url}/api/v1/inboxes`, { token: admin, body: { name, channel: "webchat" } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.field).toBe("name");
    }
    expect(
      (await api(`${s.url}/api/v1/inboxes`, { token: agent, body: { name: "Mine", channel: "webchat" } })).status,
    ).toBe(403);
  });

  it("renames an inbox of the workspace only, for admins only", async () => {
    const renamed = await api(`${s.url}/api/v1/inboxes/${s.inbox.id}`, {
      method: "PATCH",
      token: admin,
      body: { name: "Website chat" },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({
      id: s.inbox.id,
      name: "Website chat",
      channel: "webchat",
      publicKey: s.inbox.publicKey,
    });
    const empty = await api(`${s.url}/api/v1/inboxes/${s.inbox.id}`, {
      method: "PATCH",
      token: admin,
      body: { name: "" },
    });
    expect(empty.status).toBe(400);
    expect(empty.body.error.field).toBe("name");
    expect(
      (await api(`${s.url}/api/v1/inboxes/${s.inbox.id}`, { method: "PATCH", token: agent, body: { name: "Mine" } }))
        .status,
    ).toBe(403);
    const foreign = await api(`${s.url}/api/v1/inboxes/${other.inbox.id}`, {
      method: "PATCH",
      token: admin,
      body: { name: "Taken over" },
    });
    expect(foreign.status).toBe(404);
    const otherAdmin = await other.login(other.admin.email, other.admin.password);
    expect((await api(`${other.url}/api/v1/inboxes`, { token: otherAdmin })).body.items[0].name).toBe("Site chat");
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

describe("teams", () => {
  it("creates, renames, fills and deletes teams; every role can list them", async () => {
    const made = await api(`${s.url}/api/v1/teams`, { token: admin, body: { name: "Billing" } });
    expect(made.status).toBe(201);
    expect(made.body).toEqual({ id: expect.any(String), name: "Billing", members: [] });
    const id = made.body.id;
    const supervisor = await member("supervisor", "Sue");
    const zoe = await member("agent", "Zoe");
    const members = await api(`${s.url}/api/v1/teams/${id}/members`, {
      method: "PUT",
      token: supervisor.token,
      body: { userIds: [zoe.id, s.agent.id, zoe.id] },
    });
    expect(members.status).toBe(200);
    expect(members.body).toEqual({
      id,
      name: "Billing",
      members: [
        { id: s.agent.id, name: "Agent Ann" },
        { id: zoe.id, name: "Zoe" },
      ],
    });
    // Membership is what an agent's visibility rests on, at once.
    expect((await api(`${s.url}/api/v1/me`, { token: agent })).body.teamIds).toEqual([id]);

    const renamed = await api(`${s.url}/api/v1/teams/${id}`, {
      method: "PATCH",
      token: admin,
      body: { name: "Billing & refunds" },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toEqual({ id, name: "Billing & refunds", members: members.body.members });
    const listed = await api(`${s.url}/api/v1/teams`, { token: agent });
    expect(listed.status).toBe(200);
    expect(listed.body.items).toContainEqual(renamed.body);

    const emptied = await api(`${s.url}/api/v1/teams/${id}/members`, {
      method: "PUT",
      token: admin,
      body: { userIds: [] },
    });
    expect(emptied.body.members).toEqual([]);
    const deleted = await api(`${s.url}/api/v1/teams/${id}`, { method: "DELETE", token: admin });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ ok: true });
    expect(
      (await api(`${s.url}/api/v1/teams`, { token: admin })).body.items.map((t: { id: string }) => t.id),
    ).not.toContain(id);
    expect((await api(`${s.url}/api/v1/teams/${id}`, { method: "DELETE", token: admin })).status).toBe(404);
  });

  it("refuses taken names with 409 and bad input naming the field", async () => {
    const a = (await api(`${s.url}/api/v1/teams`, { token: admin, body: { name: `A ${tag()}` } })).body;
    const b = (await api(`${s.url}/api/v1/teams`, { token: admin, body: { name: `B ${tag()}` } })).body;
    const twin = await api(`${s.url}/api/v1/teams`, { token: admin, body: { name: a.name } });
    expect(twin.status).toBe(409);
    expect(twin.body.error).toMatchObject({ code: "conflict", field: "name" });
    const clash = await api(`${s.url}/api/v1/teams/${b.id}`, { method: "PATCH", token: admin, body: { name: a.name } });
    expect(clash.status).toBe(409);
    expect(clash.body.error.field).toBe("name");
    // The same name in another workspace is no clash.
    const otherAdmin = await other.login(other.admin.email, other.admin.password);
    expect((await api(`${other.url}/api/v1/teams`, { token: otherAdmin, body: { name: a.name } })).status).toBe(201);
    for (const name of ["", "x".repeat(101)]) {
      const bad = await api(`${s.url}/api/v1/teams`, { token: admin, body: { name } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.field).toBe("name");
    }
    const unknown = await api(`${s.url}/api/v1/teams/${a.id}/members`, {
      method: "PUT",
      token: admin,
      body: { userIds: [crypto.randomUUID()] },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.field).toBe("userIds");
    const foreignUser = await api(`${s.url}/api/v1/teams/${a.id}/members`, {
      method: "PUT",
      token: admin,
      body: { userIds: [s.agent.id, other.agent.id] },
    });
    expect(foreignUser.status).toBe(400);
    expect(foreignUser.body.error.field).toBe("userIds");
    expect(
      (await api(`${s.url}/api/v1/teams`, { token: admin })).body.items.find((t: { id: string }) => t.id === a.id)
        .members,
    ).toEqual([]);
    const notIds = await api(`${s.url}/api/v1/teams/${a.id}/members`, {
      method: "PUT",
      token: admin,
      body: { userIds: ["nope"] },
    });
    expect(notIds.status).toBe(400);
    expect(notIds.body.error.field).toStartWith("userIds");
    const tooMany = await api(`${s.url}/api/v1/teams/${a.id}/members`, {
      method: "PUT",
      token: admin,
      body: { userIds: Array.from({ length: 501 }, () => crypto.randomUUID()) },
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.field).toBe("userIds");
  });

  it("keeps roles and workspaces apart", async () => {
    const team = (await api(`${s.url}/api/v1/teams`, { token: admin, body: { name: `Mine ${tag()}` } })).body;
    expect((await api(`${s.url}/api/v1/teams`, { token: agent, body: { name: "Agents' own" } })).status).toBe(403);
    expect(
      (await api(`${s.url}/api/v1/teams/${team.id}`, { method: "PATCH", token: agent, body: { name: "Renamed" } }))
        .status,
    ).toBe(403);
    expect(
      (
        await api(`${s.url}/api/v1/teams/${team.id}/members`, {
          method: "PUT",
          token: agent,
          body: { userIds: [s.agent.id] },
        })
      ).status,
    ).toBe(403);
    expect((await api(`${s.url}/api/v1/teams/${team.id}`, { method: "DELETE", token: agent })).status).toBe(403);
    const otherAdmin = await other.login(other.admin.email, other.admin.password);
    expect(
      (await api(`${other.url}/api/v1/teams`, { token: otherAdmin })).body.items.map((t: { id: string }) => t.id),
    ).not.toContain(team.id);
    expect(
      (
        await api(`${other.url}/api/v1/teams/${team.id}`, {
          method: "PATCH",
          token: otherAdmin,
          body: { name: "Taken over" },
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await api(`${other.url}/api/v1/teams/${team.id}/members`, {
          method: "PUT",
          token: otherAdmin,
          body: { userIds: [other.agent.id] },
        })
      ).status,
    ).toBe(404);
    expect((await api(`${other.url}/api/v1/teams/${team.id}`, { method: "DELETE", token: otherAdmin })).status).toBe(
      404,
    );
    expect((await api(`${s.url}/api/v1/teams`, { token: admin })).body.items).toContainEqual({
      id: team.id,
      name: team.name,
      members: [],
    });
  });
});

describe("GET /queues/history", () => {
  it("charts what waits per queue, ending now", async () => {
    const queue = await createQueue(s.rt.core.db, s.workspaceId, { name: `Chart ${tag()}` });
    const [stored] = await ingestBatch(s.rt.core, s.workspaceId, [
      validateInbound({
        channel: "webchat",
        channelAccountId: s.inbox.id,
        externalId: `chart-${tag()}`,
        from: { kind: "visitor", value: `chart-${tag()}` },
        text: "hi",
      }),
    ]);
    await s.rt.core.db.insert(workItems).values({
      workspaceId: s.workspaceId,
      conversationId: stored!.conversation.id,
      queueId: queue.id,
      channel: "webchat",
      state: "abandoned",
      enqueuedAt: new Date(Date.now() - 150_000),
      endedAt: new Date(Date.now() + 3_600_000),
    });
    const chart = await api(`${s.url}/api/v1/queues/history?minutes=5&step=60`, { token: admin });
    expect(chart.status).toBe(200);
    expect(chart.body.step).toBe(60);
    expect(chart.body.points).toHaveLength(6);
    expect(chart.body.points.map((p: { waiting: Record<string, number> }) => p.waiting[queue.id])).toEqual([
      0, 0, 0, 1, 1, 1,
    ]);
    const last = Date.parse(chart.body.points[5].at);
    expect(Math.abs(last - Date.now())).toBeLessThan(10_000);
    expect(last - Date.parse(chart.body.points[0].at)).toBe(300_000);

    const byDefault = await api(`${s.url}/api/v1/queues/history`, { token: admin });
    expect(byDefault.body.step).toBe(60);
    expect(byDefault.body.points).toHaveLength(61);
    // Another workspace never sees this queue.
    const otherAdmin = await other.login(other.admin.email, other.admin.password);
    const elsewhere = await api(`${other.url}/api/v1/queues/history?minutes=5`, { token: otherAdmin });
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body.points.every((p: { waiting: Record<string, number> }) => !(queue.id in p.waiting))).toBe(
      true,
    );
  });

  it("refuses bad ranges naming the field, and agents", async () => {
    const cases: [string, string][] = [
      ["minutes=4", "minutes"],
      ["minutes=1441", "minutes"],
      ["minutes=ten", "minutes"],
      ["step=9", "step"],
      ["step=3601", "step"],
      ["minutes=1440&step=10", "step"],
    ];
    for (const [query, field] of cases) {
      const res = await api(`${s.url}/api/v1/queues/history?${query}`, { token: admin });
      expect(res.status).toBe(400);
      expect(res.body.error.field).toBe(field);
    }
    expect(
      (await api(`${s.url}/api/v1/queues/history?minutes=1440&step=180`, { token: admin })).body.points,
    ).toHaveLength(481);
    expect((await api(`${s.url}/api/v1/queues/history`, { token: agent })).status).toBe(403);
    const supervisor = await member("supervisor");
    expect((await api(`${s.url}/api/v1/queues/history`, { token: supervisor.token })).status).toBe(200);
  });
});
