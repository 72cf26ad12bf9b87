import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { ingestInbound } from "../../conversations/ingest.ts";
import type { Identity } from "../../conversations/channel.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../test/server.ts";

let s: TestServer;
let other: TestServer;
let admin: string;
let supervisor: string;
let agent: string;
let bob: string;
let editor: string;
let otherAdmin: string;

beforeAll(async () => {
  s = await startTestServer();
  other = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  agent = await s.login(s.agent.email, s.agent.password);
  supervisor = await s.signInAs("supervisor", "Sue");
  bob = await s.signInAs("agent", "Bob");
  editor = await s.signInAs("knowledge_editor", "Ed");
  otherAdmin = await other.login(other.admin.email, other.admin.password);
  // The first server of a test process also migrates its database: slow on a busy machine.
}, 60_000);
afterAll(async () => {
  await s.stop();
  await other.stop();
});

/** A customer writing in from an identity: returns their contact id. */
async function customer(server: TestServer, from: Identity) {
  const r = await ingestInbound(server.rt.core, server.workspaceId, {
    channel: "webchat",
    channelAccountId: server.inbox.id,
    externalId: crypto.randomUUID(),
    from,
    text: "hello",
  });
  return r.contactId;
}

const contacts = (query: string, token = agent, server = s) => api(`${server.url}/api/v1/contacts?${query}`, { token });
const profile = (id: string, token = agent) => api(`${s.url}/api/v1/contacts/${id}`, { token });

describe("contact search", () => {
  it("finds contacts by name or any identity, in part and in any case, with their identities", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const wang = await customer(s, { kind: "email", value: `Wang.Wei.${tag}@Example.cn`, displayName: `王伟 ${tag}` });
    const li = await customer(s, { kind: "phone", value: "+86 138 0000 1111", displayName: `Li Lei ${tag}` });
    const found = await contacts(`q=${encodeURIComponent("王伟")}`);
    expect(found.status).toBe(200);
    expect(found.body.items).toEqual([
      {
        id: wang,
        name: `王伟 ${tag}`,
        identities: [{ id: expect.any(String), kind: "email", value: `wang.wei.${tag}@example.cn` }],
      },
    ]);
    expect((await contacts(`q=WANG.WEI.${tag}`)).body.items.map((c: any) => c.id)).toEqual([wang]);
    expect((await contacts("q=13800001111")).body.items.map((c: any) => c.id)).toEqual([li]);
    expect((await contacts(`q=li%20lei%20${tag}`)).body.items.map((c: any) => c.id)).toEqual([li]);
    expect((await contacts(`q=${tag}&limit=1`)).body.items).toHaveLength(1);
    expect((await contacts(`q=${tag}`)).body.items).toHaveLength(2);
    // A contact merged into another is only a pointer now, never a search result; its notes move.
    await api(`${s.url}/api/v1/contacts/${li}/notes`, { token: agent, body: { text: "wrote from a second number" } });
    // Merging is a supervisor's (contacts.merge): it decides who reads the moved conversations.
    expect((await api(`${s.url}/api/v1/contacts/${wang}/merge`, { token: agent, body: { mergeId: li } })).status).toBe(
      403,
    );
    expect(
      (await api(`${s.url}/api/v1/contacts/${wang}/merge`, { token: supervisor, body: { mergeId: li } })).status,
    ).toBe(200);
    expect((await contacts(`q=${tag}`)).body.items.map((c: any) => c.id)).toEqual([wang]);
    expect((await profile(wang)).body.notes.map((n: any) => n.text)).toEqual(["wrote from a second number"]);
    // Another workspace finds none of it.
    expect((await contacts(`q=${tag}`, otherAdmin, other)).body.items).toEqual([]);
  });

  it("rejects a bad limit or q naming the field, and knowledge editors with 403", async () => {
    for (const [query, field] of [
      ["limit=0", "limit"],
      ["limit=51", "limit"],
      ["limit=x", "limit"],
      [`q=${"q".repeat(201)}`, "q"],
    ]) {
      const r = await contacts(query!);
      expect(r.status).toBe(400);
      expect(r.body.error.field).toBe(field);
    }
    expect((await contacts("q=a", editor)).status).toBe(403);
  });
});

describe("contact notes", () => {
  it("keeps agents' notes on the profile, newest first, with their authors", async () => {
    const id = await customer(s, {
      kind: "phone",
      value: `+4930${Math.floor(Math.random() * 1e8)}`,
      displayName: "Anna",
    });
    const first = await api(`${s.url}/api/v1/contacts/${id}/notes`, { token: agent, body: { text: "喜欢电话联系" } });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      id: expect.any(String),
      text: "喜欢电话联系",
      author: { id: s.agent.id, name: "Agent Ann" },
      createdAt: expect.any(String),
    });
    const second = await api(`${s.url}/api/v1/contacts/${id}/notes`, {
      token: admin,
      body: { text: "VIP since 2019" },
    });
    const shown = (await profile(id)).body;
    expect(shown.notes.map((n: any) => n.text)).toEqual(["VIP since 2019", "喜欢电话联系"]);
    expect(shown.notes[0]).toEqual({
      id: second.body.id,
      text: "VIP since 2019",
      author: { id: s.admin.id, name: "Admin" },
      createdAt: second.body.createdAt,
    });
    // The profile's other fields are still there.
    expect(shown).toMatchObject({
      id,
      name: "Anna",
      identities: [{ id: expect.any(String), kind: "phone", value: expect.any(String) }],
    });
    expect(shown.conversations).toHaveLength(1);
  });

  it("lets the author, a supervisor or an admin delete a note, and nobody else", async () => {
    const id = await customer(s, { kind: "phone", value: `+4931${Math.floor(Math.random() * 1e8)}` });
    const note = async () =>
      (await api(`${s.url}/api/v1/contacts/${id}/notes`, { token: agent, body: { text: "note" } })).body.id as string;
    const del = (noteId: string, token: string) =>
      api(`${s.url}/api/v1/contacts/${id}/notes/${noteId}`, { method: "DELETE", token });
    const ann = await note();
    expect((await del(ann, bob)).status).toBe(403);
    expect(await del(ann, agent)).toMatchObject({ status: 200, body: { ok: true } });
    expect((await del(ann, agent)).status).toBe(404);
    expect((await del(await note(), supervisor)).status).toBe(200);
    expect((await del(await note(), admin)).status).toBe(200);
    expect((await profile(id)).body.notes).toEqual([]);
  });

  it("rejects an empty, blank or too long note naming the field; another workspace's contact is 404", async () => {
    const id = await customer(s, { kind: "phone", value: `+4932${Math.floor(Math.random() * 1e8)}` });
    for (const text of ["", "   ", "x".repeat(5001)]) {
      const r = await api(`${s.url}/api/v1/contacts/${id}/notes`, { token: agent, body: { text } });
      expect(r.status).toBe(400);
      expect(r.body.error.field).toBe("text");
    }
    expect((await api(`${s.url}/api/v1/contacts/${id}/notes`, { token: editor, body: { text: "hi" } })).status).toBe(
      403,
    );
    const note = await api(`${s.url}/api/v1/contacts/${id}/notes`, { token: agent, body: { text: "ours" } });
    expect(
      (await api(`${other.url}/api/v1/contacts/${id}/notes`, { token: otherAdmin, body: { text: "theirs" } })).status,
    ).toBe(404);
    expect(
      (await api(`${other.url}/api/v1/contacts/${id}/notes/${note.body.id}`, { method: "DELETE", token: otherAdmin }))
        .status,
    ).toBe(404);
    expect((await api(`${other.url}/api/v1/contacts/${id}`, { token: otherAdmin })).status).toBe(404);
  });
});

describe("contact identities", () => {
  it("adds an identity that later messages join, and tells agents' views to refresh", async () => {
    const id = await customer(s, {
      kind: "email",
      value: `zhao-${crypto.randomUUID()}@example.cn`,
      displayName: "Zhao",
    });
    const socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${bob}`);
    await socket.waitFor((f) => f.type === "hello");
    const phone = `+86 (139) ${Math.floor(1000 + Math.random() * 9000)}-${Math.floor(1000 + Math.random() * 9000)}`;
    const added = await api(`${s.url}/api/v1/contacts/${id}/identities`, {
      token: agent,
      body: { kind: "phone", value: phone },
    });
    expect(added.status).toBe(201);
    expect(added.body).toEqual({ id: expect.any(String), kind: "phone", value: phone.replace(/[\s().-]/g, "") });
    await socket.waitFor((f) => f.type === "contact.updated" && f.contact.id === id);
    // The same identity again on the same contact is no error and no duplicate.
    const again = await api(`${s.url}/api/v1/contacts/${id}/identities`, {
      token: agent,
      body: { kind: "phone", value: phone },
    });
    expect(again).toMatchObject({ status: 200, body: added.body });
    expect(await customer(s, { kind: "phone", value: phone })).toBe(id);
    expect((await profile(id)).body.identities.map((i: any) => i.kind)).toEqual(["email", "phone"]);

    socket.frames.length = 0;
    const removed = await api(`${s.url}/api/v1/contacts/${id}/identities/${added.body.id}`, {
      method: "DELETE",
      token: agent,
    });
    expect(removed).toMatchObject({ status: 200, body: { ok: true } });
    await socket.waitFor((f) => f.type === "contact.updated" && f.contact.id === id);
    expect((await profile(id)).body.identities.map((i: any) => i.kind)).toEqual(["email"]);
    socket.close();
  });

  it("refuses another contact's identity with 409 on value, and removing the last identity with 400 on identityId", async () => {
    const email = `qian-${crypto.randomUUID()}@example.cn`;
    const owner = await customer(s, { kind: "email", value: email });
    const id = await customer(s, { kind: "phone", value: `+4933${Math.floor(Math.random() * 1e8)}` });
    const taken = await api(`${s.url}/api/v1/contacts/${id}/identities`, {
      token: agent,
      body: { kind: "email", value: email.toUpperCase() },
    });
    expect(taken.status).toBe(409);
    expect(taken.body.error).toMatchObject({ code: "conflict", field: "value" });
    expect(taken.body.error.message).toMatch(/merge/);

    const [only] = (await profile(id)).body.identities;
    const last = await api(`${s.url}/api/v1/contacts/${id}/identities/${only.id}`, { method: "DELETE", token: agent });
    expect(last.status).toBe(400);
    expect(last.body.error.field).toBe("identityId");
    // Another contact's identity cannot be removed through this contact.
    const [theirs] = (await profile(owner)).body.identities;
    const wrong = await api(`${s.url}/api/v1/contacts/${id}/identities/${theirs.id}`, {
      method: "DELETE",
      token: agent,
    });
    expect(wrong.status).toBe(404);
    expect(wrong.body.error.field).toBe("identityId");
  });

  it("rejects a bad kind or value naming the field, knowledge editors, and other workspaces", async () => {
    const id = await customer(s, { kind: "phone", value: `+4934${Math.floor(Math.random() * 1e8)}` });
    const cases: [Record<string, unknown>, string][] = [
      [{ kind: "fax", value: "123" }, "kind"],
      [{ kind: "phone", value: "" }, "value"],
      [{ kind: "phone", value: "  " }, "value"],
      [{ kind: "email", value: "x".repeat(321) }, "value"],
    ];
    for (const [body, field] of cases) {
      const r = await api(`${s.url}/api/v1/contacts/${id}/identities`, { token: agent, body });
      expect(r.status).toBe(400);
      expect(r.body.error.field).toBe(field);
    }
    expect(
      (
        await api(`${s.url}/api/v1/contacts/${id}/identities`, {
          token: editor,
          body: { kind: "phone", value: "+1555" },
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await api(`${other.url}/api/v1/contacts/${id}/identities`, {
          token: otherAdmin,
          body: { kind: "phone", value: "+1555" },
        })
      ).status,
    ).toBe(404);
    const [only] = (await profile(id)).body.identities;
    expect(
      (await api(`${other.url}/api/v1/contacts/${id}/identities/${only.id}`, { method: "DELETE", token: otherAdmin }))
        .status,
    ).toBe(404);
  });
});
