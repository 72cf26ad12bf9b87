import { afterAll, beforeAll, expect, it } from "bun:test";
import { api, startTestServer, type TestServer } from "../../test/server.ts";

let s: TestServer;
let other: TestServer;
let admin: string;
let supervisor: string;
let agent: string;
let editor: string;
let otherAdmin: string;

beforeAll(async () => {
  s = await startTestServer();
  other = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  agent = await s.login(s.agent.email, s.agent.password);
  supervisor = await s.signInAs("supervisor");
  editor = await s.signInAs("knowledge_editor");
  otherAdmin = await other.login(other.admin.email, other.admin.password);
  // The first server of a test process also migrates its database: slow on a busy machine.
}, 60_000);
afterAll(async () => {
  await s.stop();
  await other.stop();
});

const url = (path = "") => `${s.url}/api/v1/canned-responses${path}`;

it("lets supervisors and admins write canned responses that everyone reads, by shortcut", async () => {
  const refund = await api(url(), {
    token: supervisor,
    body: { shortcut: "退款", title: "Refund policy", body: "您好 {{contact.name}}，退款将在 3 个工作日内到账。" },
  });
  expect(refund.status).toBe(201);
  expect(refund.body).toEqual({
    id: expect.any(String),
    shortcut: "退款",
    title: "Refund policy",
    body: "您好 {{contact.name}}，退款将在 3 个工作日内到账。",
    updatedAt: expect.any(String),
  });
  const hello = await api(url(), {
    token: admin,
    body: { shortcut: "hello", title: "Greeting", body: "Hi {{ name }}!" },
  });
  expect(hello.status).toBe(201);
  await api(url(), { token: admin, body: { shortcut: "bye", title: "Sign-off with refund note", body: "Bye" } });

  for (const token of [agent, editor, supervisor]) {
    const all = await api(url(), { token });
    expect(all.status).toBe(200);
    expect(all.body.items.map((i: any) => i.shortcut)).toEqual(["bye", "hello", "退款"]);
  }
  // q matches the shortcut or the title, in any case; never the body.
  expect((await api(url("?q=REFUND"), { token: agent })).body.items.map((i: any) => i.shortcut)).toEqual([
    "bye",
    "退款",
  ]);
  expect(
    (await api(url(`?q=${encodeURIComponent("退")}`), { token: agent })).body.items.map((i: any) => i.shortcut),
  ).toEqual(["退款"]);
  expect((await api(url("?q=Hi"), { token: agent })).body.items).toEqual([]);
  expect((await api(url(`?q=${encodeURIComponent("%")}`), { token: agent })).body.items).toEqual([]);

  const edited = await api(url(`/${hello.body.id}`), {
    method: "PUT",
    token: supervisor,
    body: { shortcut: "hi", title: "Greeting", body: "Hello {{ name }}!" },
  });
  expect(edited).toMatchObject({ status: 200, body: { id: hello.body.id, shortcut: "hi", body: "Hello {{ name }}!" } });
  expect(Date.parse(edited.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(hello.body.updatedAt));
  // Saving an item under its own shortcut is no clash.
  expect(
    (
      await api(url(`/${hello.body.id}`), {
        method: "PUT",
        token: admin,
        body: { shortcut: "hi", title: "Greeting", body: "Hey" },
      })
    ).status,
  ).toBe(200);

  expect(await api(url(`/${hello.body.id}`), { method: "DELETE", token: admin })).toMatchObject({
    status: 200,
    body: { ok: true },
  });
  expect((await api(url(), { token: agent })).body.items.map((i: any) => i.shortcut)).toEqual(["bye", "退款"]);
  expect((await api(url(`/${hello.body.id}`), { method: "DELETE", token: admin })).status).toBe(404);
});

it("refuses a shortcut already used in the workspace with 409 naming the field, on create and on rename", async () => {
  const first = await api(url(), { token: admin, body: { shortcut: "dup", title: "One", body: "One" } });
  expect(first.status).toBe(201);
  const again = await api(url(), { token: admin, body: { shortcut: "dup", title: "Two", body: "Two" } });
  expect(again.status).toBe(409);
  expect(again.body.error).toMatchObject({ code: "conflict", field: "shortcut" });
  const second = await api(url(), { token: admin, body: { shortcut: "dup2", title: "Two", body: "Two" } });
  const renamed = await api(url(`/${second.body.id}`), {
    method: "PUT",
    token: admin,
    body: { shortcut: "dup", title: "Two", body: "Two" },
  });
  expect(renamed.status).toBe(409);
  expect(renamed.body.error).toMatchObject({ code: "conflict", field: "shortcut" });
  // Another workspace may use the same shortcut.
  expect(
    (
      await api(`${other.url}/api/v1/canned-responses`, {
        token: otherAdmin,
        body: { shortcut: "dup", title: "Theirs", body: "Theirs" },
      })
    ).status,
  ).toBe(201);
});

it("rejects bad input naming the field", async () => {
  const good = { shortcut: "ok", title: "Title", body: "Body" };
  const cases: [Record<string, unknown>, string][] = [
    [{ ...good, shortcut: "" }, "shortcut"],
    [{ ...good, shortcut: "has space" }, "shortcut"],
    [{ ...good, shortcut: "x".repeat(51) }, "shortcut"],
    [{ ...good, title: "" }, "title"],
    [{ ...good, title: "t".repeat(201) }, "title"],
    [{ ...good, body: "" }, "body"],
    [{ ...good, body: "b".repeat(10_001) }, "body"],
    [{ shortcut: "ok", title: "Title" }, "body"],
  ];
  for (const [body, field] of cases) {
    const r = await api(url(), { token: admin, body });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: "invalid", field });
  }
  expect((await api(url(`?q=${"q".repeat(201)}`), { token: agent })).body.error.field).toBe("q");
});

it("keeps agents and knowledge editors from writing canned responses", async () => {
  const own = await api(url(), { token: admin, body: { shortcut: "locked", title: "Locked", body: "Locked" } });
  for (const token of [agent, editor]) {
    expect((await api(url(), { token, body: { shortcut: "mine", title: "Mine", body: "Mine" } })).status).toBe(403);
    expect(
      (
        await api(url(`/${own.body.id}`), {
          method: "PUT",
          token,
          body: { shortcut: "locked", title: "Changed", body: "Changed" },
        })
      ).status,
    ).toBe(403);
    expect((await api(url(`/${own.body.id}`), { method: "DELETE", token })).status).toBe(403);
  }
  expect((await api(url(), { token: admin })).body.items.find((i: any) => i.shortcut === "locked").title).toBe(
    "Locked",
  );
});

it("answers 404 for another workspace's canned response, and never lists it", async () => {
  const theirs = await api(`${other.url}/api/v1/canned-responses`, {
    token: otherAdmin,
    body: { shortcut: "theirs", title: "Theirs", body: "Secret" },
  });
  expect(theirs.status).toBe(201);
  expect(
    (
      await api(url(`/${theirs.body.id}`), {
        method: "PUT",
        token: admin,
        body: { shortcut: "theirs", title: "Mine now", body: "x" },
      })
    ).status,
  ).toBe(404);
  expect((await api(url(`/${theirs.body.id}`), { method: "DELETE", token: admin })).status).toBe(404);
  expect((await api(url("?q=theirs"), { token: admin })).body.items).toEqual([]);
  expect((await api(`${other.url}/api/v1/canned-responses?q=theirs`, { token: otherAdmin })).body.items[0].title).toBe(
    "Theirs",
  );
});
