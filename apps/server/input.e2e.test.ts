import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { workspaces } from "../../db/schema/index.ts";
import { api, startTestServer, type TestServer } from "../../test/server.ts";
import { createApp } from "./app.ts";

/**
 * Whatever a client sends, the answer is a 4xx with the error shape, never a 500: NUL characters
 * (which PostgreSQL's text cannot hold, and the two drivers refuse differently), ids that are not
 * UUIDs, and addresses that only look like the public API description.
 */
let s: TestServer;
let admin: string;
let visitor: { visitorToken: string };
let slug: string;
let conversationId: string;

beforeAll(async () => {
  s = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  visitor = (await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } })).body;
  const sent = await api(`${s.url}/widget/v1/messages`, {
    token: visitor.visitorToken,
    body: { text: "Where is my parcel?" },
  });
  expect(sent.status).toBe(201);
  conversationId = sent.body.conversationId;
  const [ws] = await s.rt.core.db
    .select({ slug: workspaces.slug })
    .from(workspaces)
    .where(eq(workspaces.id, s.workspaceId));
  slug = ws!.slug!;
});
afterAll(() => s.stop());

function expectRefused(res: { status: number; body: any }, status: number, field?: string) {
  expect({ status: res.status, code: typeof res.body?.error?.code, field: res.body?.error?.field }).toEqual({
    status,
    code: "string",
    field,
  });
}

describe("NUL characters", () => {
  it("refuses a NUL in search, filter and label query values with 400 naming the parameter", async () => {
    for (const [path, field] of [
      ["/api/v1/knowledge/search?q=a%00b", "q"],
      ["/api/v1/conversations?q=a%00b", "q"],
      ["/api/v1/conversations?label=vip%00", "label"],
      ["/api/v1/contacts?q=%00", "q"],
    ] as const) {
      expectRefused(await api(`${s.url}${path}`, { token: admin }), 400, field);
    }
    expectRefused(await api(`${s.url}/help/${slug}/search?q=refund%00`), 400, "q");
  });

  it("refuses a NUL in a JSON body with 400 naming the field: login email, labels, widget messages", async () => {
    const login = await api(`${s.url}/api/v1/auth/login`, { body: { email: "ann\u0000@example.test", password: "x" } });
    expectRefused(login, 400, "email");
    const labels = await api(`${s.url}/api/v1/conversations/${conversationId}/labels`, {
      method: "PUT",
      token: admin,
      body: { labels: ["ok", "v\u0000ip"] },
    });
    expectRefused(labels, 400, "labels.1");
    const message = await api(`${s.url}/widget/v1/messages`, {
      token: visitor.visitorToken,
      body: { text: "hello\u0000" },
    });
    expectRefused(message, 400, "text");
    const key = await api(`${s.url}/api/v1/contacts/${crypto.randomUUID()}`, {
      method: "PATCH",
      token: admin,
      body: { attributes: { "pl\u0000an": "gold" } },
    });
    expectRefused(key, 400, "attributes");
    // The conversation took none of it.
    const after = await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: admin });
    expect(after.body.labels).toEqual([]);
  });

  it("refuses a NUL in a path or an uploaded file's name", async () => {
    expectRefused(await api(`${s.url}/api/v1/conversations/%00`, { token: admin }), 400, "path");
    const form = new FormData();
    form.append("file", new File(["x"], "a\u0000b.txt", { type: "text/plain" }));
    const up = await fetch(`${s.url}/api/v1/attachments`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}` },
      body: form,
    });
    // Refused by the database (the multipart name is read as the file streams to disk): 400 all the same.
    expect({ status: up.status, code: ((await up.json()) as any).error.code }).toEqual({
      status: 400,
      code: "invalid",
    });
  });
});

describe("ids in paths", () => {
  // Params held fixed: the workspace's slug (else every help page is a missing help center), a voice
  // step. Every other param (ids, a category's slug, a version number) gets the malformed values.
  const fixed = (name: string): string | undefined => (({ slug, step: "gather" }) as Record<string, string>)[name];
  const tokenFor = (path: string) =>
    path.startsWith("/widget/") ? visitor.visitorToken : path.startsWith("/help/") ? undefined : admin;

  it("answers a malformed id with 400 or 404 on every route that takes one, never 500", async () => {
    const routes = createApp(s.rt).routes.filter(
      (r) => r.method !== "ALL" && /:[A-Za-z]/.test(r.path) && !/^\/(webhooks)\//.test(r.path),
    );
    const seen = new Set<string>();
    const answers: string[] = [];
    for (const route of routes) {
      const key = `${route.method} ${route.path}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const ids = [...route.path.matchAll(/:([A-Za-z]+)/g)]
        .map((m) => m[1]!)
        .filter((name) => fixed(name) === undefined);
      if (!ids.length) continue;
      for (const bad of ["not-a-uuid", "-".repeat(36), "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "1"]) {
        const path = route.path.replace(/:([A-Za-z]+)/g, (_, name: string) => fixed(name) ?? bad);
        const res = await api(`${s.url}${path}`, {
          method: route.method,
          token: tokenFor(path),
          body: route.method === "GET" || route.method === "DELETE" ? undefined : {},
        });
        // The help center and the survey link page answer people with an HTML "not found" page; everything
        // else with the error shape.
        const shaped = /^\/(help|csat)\//.test(path)
          ? /text\/html/.test(res.headers.get("content-type") ?? "")
          : typeof res.body?.error?.code === "string";
        if (![400, 404].includes(res.status) || !shaped) answers.push(`${res.status} ${route.method} ${path}`);
      }
    }
    expect(seen.size).toBeGreaterThan(50);
    expect(answers).toEqual([]);
  });

  it("answers a malformed file or article id as not found, like an id of nothing", async () => {
    for (const id of ["-".repeat(36), crypto.randomUUID()]) {
      const file = await api(`${s.url}/files/${id}`, { token: admin });
      expect({ status: file.status, code: file.body.error.code }).toEqual({ status: 404, code: "not_found" });
      expect((await fetch(`${s.url}/help/${slug}/articles/${id}`)).status).toBe(404);
      const vote = await fetch(`${s.url}/help/${slug}/articles/${id}/vote`, {
        method: "POST",
        body: new URLSearchParams({ helpful: "yes" }),
        redirect: "manual",
      });
      expect(vote.status).toBe(404);
    }
  });
});

describe("addresses open without sign-in", () => {
  it("opens a widget session only at /widget/v1/sessions; other widget paths ending so need a visitor token", async () => {
    expectRefused(await api(`${s.url}/widget/v1/x/sessions`, { body: { inboxKey: s.inbox.publicKey } }), 401);
    expect((await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } })).status).toBe(200);
  });

  it("is public only at /api/v1/openapi.json; other paths ending so need sign-in", async () => {
    expect((await api(`${s.url}/api/v1/openapi.json`)).status).toBe(200);
    for (const path of [
      "/api/v1/contacts/openapi.json",
      `/api/v1/conversations/${conversationId}/openapi.json`,
      "/api/v1/x/auth/login",
    ]) {
      expectRefused(await api(`${s.url}${path}`), 401);
    }
  });
});
