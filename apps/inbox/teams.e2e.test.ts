import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { api, type TestServer } from "../../test/server.ts";
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
