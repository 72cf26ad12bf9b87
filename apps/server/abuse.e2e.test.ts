import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { and, eq } from "drizzle-orm";
import { articles, attachments, knowledgeEvents, workspaces } from "../../db/schema/index.ts";
import { parseConfig } from "../../platform/config.ts";
import { OutboundRefused } from "../../platform/outbound.ts";
import { testDatabase } from "../../test/db.ts";
import { api, startTestServer, TEST_SECRET, type TestServer } from "../../test/server.ts";
import { housekeep } from "./housekeeping.ts";
import { createRuntime } from "./runtime.ts";
import { lookupJson } from "../../calls/inbound.ts";

/** Anonymous limits over real HTTP: client addresses, sign-in, uploads, help center, tokens, metrics. */

describe("client address behind a trusted proxy", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ widgetIpRate: 1, env: { TRUST_PROXY: "1" } });
  });
  afterAll(() => s.stop());

  it("limits by the address the proxy appended, whatever the client put in front of it", async () => {
    // WIDGET_IP_RATE=1 allows a burst of 5, then one a second. A client rotating a forged leftmost
    // entry used to get a fresh bucket on every request: all twelve passed.
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await api(`${s.url}/widget/v1/sessions`, {
        body: { inboxKey: s.inbox.publicKey },
        headers: { "x-forwarded-for": `198.51.100.${i}, 203.0.113.7` },
      });
      statuses.push(r.status);
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.filter((st) => st === 429).length).toBeGreaterThan(3);
    // Another client behind the same proxy has its own allowance.
    const other = await api(`${s.url}/widget/v1/sessions`, {
      body: { inboxKey: s.inbox.publicKey },
      headers: { "x-forwarded-for": "203.0.113.8" },
    });
    expect(other.status).toBe(200);
  });
});

describe("sign-in limits", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({
      env: {
        TRUST_PROXY: "1",
        LOGIN_IP_PER_MINUTE: "6",
        LOGIN_ACCOUNT_IP_FAILURES_PER_HOUR: "4",
        LOGIN_CONCURRENT_HASHES: "1",
      },
    });
  });
  afterAll(() => s.stop());

  const signIn = (email: string, password: string, ip: string) =>
    api(`${s.url}/api/v1/auth/login`, { body: { email, password }, headers: { "x-forwarded-for": ip } });

  it("stops wrong tries from one address without locking the user out from theirs", async () => {
    const statuses: number[] = [];
    // More than the old per-account limit of ten, spread over addresses' own per-IP budgets.
    for (let i = 0; i < 12; i++)
      statuses.push((await signIn(s.admin.email, `guess-${i}`, `198.51.100.${Math.floor(i / 4)}`)).status);
    expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401]);
    const fromA = await signIn(s.admin.email, "guess-again", "198.51.100.0");
    expect(fromA.status).toBe(429);
    expect(fromA.body.error.code).toBe("rate_limited");
    expect(Number(fromA.headers.get("retry-after"))).toBeGreaterThan(0);
    const fromB = await signIn(s.admin.email, s.admin.password, "203.0.113.20");
    expect(fromB.status).toBe(200);
  });

  it("answers 429 to many sign-ins with random emails from one address", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++)
      statuses.push((await signIn(`nobody-${crypto.randomUUID()}@example.test`, "whatever1", "203.0.113.30")).status);
    expect(statuses.slice(0, 6)).toEqual([401, 401, 401, 401, 401, 401]);
    expect(statuses.slice(6)).toEqual([429, 429, 429]);
  });

  it("verifies a bounded number of passwords at once and refuses the rest quickly", async () => {
    // LOGIN_CONCURRENT_HASHES=1: one verification, eight waiting, the others refused at once.
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        signIn(`nobody-${crypto.randomUUID()}@example.test`, "whatever1", `192.0.2.${i + 1}`),
      ),
    );
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    for (const a of refused) expect(a.body.error).toMatchObject({ code: "rate_limited" });
  });
});

describe("anonymous uploads", () => {
  let s: TestServer;
  beforeAll(async () => {
    // About 100 KB a visitor, 200 KB an address, 300 KB the workspace, each per 24 hours.
    s = await startTestServer({
      env: { TRUST_PROXY: "1", UPLOAD_VISITOR_MB: "0.1", UPLOAD_IP_MB: "0.2", UPLOAD_WORKSPACE_MB: "0.3" },
    });
  });
  afterAll(() => s.stop());

  const visitor = async (ip: string) =>
    (
      await api(`${s.url}/widget/v1/sessions`, {
        body: { inboxKey: s.inbox.publicKey },
        headers: { "x-forwarded-for": ip },
      })
    ).body.visitorToken as string;
  const upload = async (token: string, ip: string, bytes: number) => {
    const form = new FormData();
    form.append("file", new File([new Uint8Array(bytes).fill(65)], "notes.txt", { type: "text/plain" }));
    const res = await fetch(`${s.url}/widget/v1/attachments`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "x-forwarded-for": ip },
      body: form,
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  it("refuses past the quotas per visitor, per address and per workspace with a 429 naming the field", async () => {
    const kb60 = 60 * 1024;
    const v1 = await visitor("198.51.100.1");
    expect((await upload(v1, "198.51.100.1", kb60)).status).toBe(201);
    const perVisitor = await upload(v1, "198.51.100.1", kb60);
    expect(perVisitor.status).toBe(429);
    expect(perVisitor.body.error).toMatchObject({ code: "rate_limited", field: "file" });
    expect(perVisitor.body.error.message).toContain("per visitor");

    // New visitors from the same address: the address's 200 KB run out on the fourth file.
    expect((await upload(await visitor("198.51.100.1"), "198.51.100.1", kb60)).status).toBe(201);
    expect((await upload(await visitor("198.51.100.1"), "198.51.100.1", kb60)).status).toBe(201);
    const perIp = await upload(await visitor("198.51.100.1"), "198.51.100.1", kb60);
    expect(perIp.status).toBe(429);
    expect(perIp.body.error.message).toContain("per address");

    // New addresses: the workspace's 300 KB run out on the sixth file in all.
    expect((await upload(await visitor("198.51.100.2"), "198.51.100.2", kb60)).status).toBe(201);
    expect((await upload(await visitor("198.51.100.3"), "198.51.100.3", kb60)).status).toBe(201);
    const perWorkspace = await upload(await visitor("198.51.100.4"), "198.51.100.4", kb60);
    expect(perWorkspace.status).toBe(429);
    expect(perWorkspace.body.error).toMatchObject({ field: "file" });
    expect(perWorkspace.body.error.message).toContain("for this workspace");
  });

  it("refuses a file over the size limit with a 413 naming the field, keeping nothing", async () => {
    const big = await startTestServer();
    try {
      const v = (await api(`${big.url}/widget/v1/sessions`, { body: { inboxKey: big.inbox.publicKey } })).body
        .visitorToken as string;
      const form = new FormData();
      form.append("file", new File([new Uint8Array(10 * 1024 * 1024 + 1)], "big.txt", { type: "text/plain" }));
      const res = await fetch(`${big.url}/widget/v1/attachments`, {
        method: "POST",
        headers: { authorization: `Bearer ${v}` },
        body: form,
      });
      expect(res.status).toBe(413);
      expect(((await res.json()) as any).error).toMatchObject({ code: "too_large", field: "file" });
      const left = await readdir(join(big.rt.config.dataDir, "files", big.workspaceId)).catch(() => []);
      expect(left).toEqual([]);
    } finally {
      await big.stop();
    }
  });
});

describe("uploads no message took", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ env: { UPLOAD_ORPHAN_HOURS: "24" } });
  });
  afterAll(() => s.stop());

  it("are deleted by the housekeeping chore after the grace period; sent ones stay; all owner-only on disk", async () => {
    const v = (await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } })).body
      .visitorToken as string;
    const put = async (name: string) => {
      const form = new FormData();
      form.append("file", new File(["hello"], name, { type: "text/plain" }));
      const res = await fetch(`${s.url}/widget/v1/attachments`, {
        method: "POST",
        headers: { authorization: `Bearer ${v}` },
        body: form,
      });
      expect(res.status).toBe(201);
      const id = ((await res.json()) as { id: string }).id;
      const [row] = await s.rt.core.db.select().from(attachments).where(eq(attachments.id, id));
      return { id, path: s.rt.files.localPath(row!.storageKey) };
    };
    const sent = await put("sent.txt");
    const orphan = await put("orphan.txt");
    expect((await api(`${s.url}/widget/v1/messages`, { token: v, body: { attachments: [sent.id] } })).status).toBe(201);

    expect((await stat(s.rt.config.dataDir)).mode & 0o777).toBe(0o700);
    expect((await stat(dirname(orphan.path))).mode & 0o777).toBe(0o700);
    expect((await stat(orphan.path)).mode & 0o777).toBe(0o600);

    // Within the grace period nothing goes.
    await housekeep(s.rt, new Date(Date.now() + 23 * 3_600_000));
    expect(existsSync(orphan.path)).toBe(true);
    await housekeep(s.rt, new Date(Date.now() + 25 * 3_600_000));
    expect(existsSync(orphan.path)).toBe(false);
    expect(await s.rt.core.db.select().from(attachments).where(eq(attachments.id, orphan.id))).toEqual([]);
    expect(existsSync(sent.path)).toBe(true);
    expect((await s.rt.core.db.select().from(attachments).where(eq(attachments.id, sent.id))).length).toBe(1);
  });
});

describe("help center writes from anonymous readers", () => {
  let s: TestServer;
  let slug: string;
  let articleId: string;
  beforeAll(async () => {
    s = await startTestServer({ env: { TRUST_PROXY: "1", HELP_GAPS_PER_MINUTE: "3" } });
    const editor = await s.signInAs("admin");
    const [ws] = await s.rt.core.db
      .select({ slug: workspaces.slug })
      .from(workspaces)
      .where(eq(workspaces.id, s.workspaceId));
    slug = ws!.slug!;
    const a = await api(`${s.url}/api/v1/knowledge/articles`, {
      token: editor,
      body: { status: "published", locale: "en", title: "Parcel tracking", body: "Track parcels here." },
    });
    articleId = a.body.id;
  });
  afterAll(() => s.stop());

  const counts = async () => (await s.rt.core.db.select().from(articles).where(eq(articles.id, articleId)))[0]!;
  const vote = (ip: string, helpful: "yes" | "no") =>
    fetch(`${s.url}/help/${slug}/articles/${articleId}/vote`, {
      method: "POST",
      redirect: "manual",
      headers: { "x-forwarded-for": ip },
      body: new URLSearchParams({ helpful }),
    });

  it("counts one vote per article and reader", async () => {
    for (let i = 0; i < 5; i++) expect((await vote("198.51.100.50", "no")).status).toBe(303);
    expect((await vote("198.51.100.51", "yes")).status).toBe(303);
    expect(await counts()).toMatchObject({ helpfulNo: 1, helpfulYes: 1 });
  });

  it("counts a reader's views of an article once per window", async () => {
    const before = (await counts()).views;
    for (let i = 0; i < 5; i++)
      expect(
        (
          await fetch(`${s.url}/help/${slug}/articles/${articleId}`, {
            headers: { "x-forwarded-for": "198.51.100.60" },
          })
        ).status,
      ).toBe(200);
    await fetch(`${s.url}/help/${slug}/articles/${articleId}`, { headers: { "x-forwarded-for": "198.51.100.61" } });
    expect((await counts()).views).toBe(before + 2);
  });

  it("records at most HELP_GAPS_PER_MINUTE knowledge gaps per reader", async () => {
    for (let i = 0; i < 8; i++)
      expect(
        (
          await fetch(`${s.url}/help/${slug}/search?q=${encodeURIComponent(`flux capacitor ${i}`)}`, {
            headers: { "x-forwarded-for": "198.51.100.70" },
          })
        ).status,
      ).toBe(200);
    await fetch(`${s.url}/help/${slug}/search?q=warp+drive`, { headers: { "x-forwarded-for": "198.51.100.71" } });
    const gaps = await s.rt.core.db
      .select({ query: knowledgeEvents.query })
      .from(knowledgeEvents)
      .where(and(eq(knowledgeEvents.workspaceId, s.workspaceId), eq(knowledgeEvents.kind, "search_empty")));
    expect(gaps.filter((g) => g.query?.startsWith("flux capacitor")).length).toBe(3);
    expect(gaps.map((g) => g.query)).toContain("warp drive");
  });
});

describe("/metrics", () => {
  it("answers loopback clients only when no METRICS_TOKEN is set", async () => {
    const s = await startTestServer({ env: { TRUST_PROXY: "1" } });
    try {
      expect((await fetch(`${s.url}/metrics`)).status).toBe(200);
      const remote = await api(`${s.url}/metrics`, { headers: { "x-forwarded-for": "203.0.113.9" } });
      expect(remote.status).toBe(403);
      expect(remote.body.error.code).toBe("forbidden");
    } finally {
      await s.stop();
    }
  });

  it("answers only Authorization: Bearer <METRICS_TOKEN> when one is set, loopback included", async () => {
    const token = "metrics-token-for-the-test-0123";
    const s = await startTestServer({ env: { METRICS_TOKEN: token } });
    try {
      expect((await api(`${s.url}/metrics`)).status).toBe(401);
      expect((await api(`${s.url}/metrics`, { token: "wrong-token" })).status).toBe(401);
      const ok = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain("switchboard_http_request_duration_seconds");
    } finally {
      await s.stop();
    }
  });
});

describe("IVR lookups under the outbound policy", () => {
  let crm: ReturnType<typeof Bun.serve>;
  beforeAll(() => {
    crm = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (req) => Response.json({ tier: "gold", from: new URL(req.url).searchParams.get("from") }),
    });
  });
  afterAll(() => crm.stop(true));

  it("refuses metadata, loopback and private addresses unless OUTBOUND_ALLOW_HOSTS lists them", async () => {
    await expect(lookupJson("http://169.254.169.254/latest/meta-data/", 2000, {}, [])).rejects.toBeInstanceOf(
      OutboundRefused,
    );
    await expect(lookupJson("http://[::ffff:127.0.0.1]:1/", 2000, {}, [])).rejects.toBeInstanceOf(OutboundRefused);
    await expect(
      lookupJson(`http://127.0.0.1:${crm.port}/customer`, 2000, { from: "+15550100" }, []),
    ).rejects.toBeInstanceOf(OutboundRefused);
    expect(
      await lookupJson(`http://127.0.0.1:${crm.port}/customer`, 2000, { from: "+15550100" }, ["127.0.0.1"]),
    ).toEqual({ tier: "gold", from: "+15550100" });
  });
});

describe("DATA_DIR", () => {
  it("is created owner-only, and a world-readable one is narrowed", async () => {
    const { database } = await testDatabase();
    const parent = mkdtempSync(join(tmpdir(), "switchboard-datadir-"));
    for (const dir of [join(parent, "fresh"), join(parent, "wide")]) {
      if (dir.endsWith("wide")) mkdirSync(dir, { mode: 0o755 });
      const rt = await createRuntime(parseConfig({ DATA_DIR: dir, SECRET_KEY: TEST_SECRET, LOG_LEVEL: "silent" }), {
        database,
      });
      try {
        expect((await stat(dir)).mode & 0o777).toBe(0o700);
      } finally {
        await rt.close();
      }
    }
  });
});

describe("visitor tokens", () => {
  let s: TestServer;
  let admin: string;
  beforeAll(async () => {
    s = await startTestServer({ env: { VISITOR_TOKEN_DAYS: "30" } });
    admin = await s.login(s.admin.email, s.admin.password);
  });
  afterAll(() => s.stop());

  const session = async (visitorToken?: string) =>
    (await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey, visitorToken } })).body as {
      visitorToken: string;
      contact: { id: string };
    };
  const claimsOf = (token: string) =>
    JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as Record<string, unknown>;

  it("expire after VISITOR_TOKEN_DAYS; a token without an expiry is refused", async () => {
    const v = await session();
    const claims = claimsOf(v.visitorToken);
    expect(Number(claims.exp) - Number(claims.iat)).toBe(30 * 86_400_000);
    expect((await api(`${s.url}/widget/v1/messages`, { token: v.visitorToken })).status).toBe(200);
    const expired = s.rt.keyring.signToken({ ...claims, exp: Date.now() - 1 });
    expect((await api(`${s.url}/widget/v1/messages`, { token: expired })).status).toBe(401);
    const { exp: _exp, iat: _iat, ...forever } = claims;
    expect((await api(`${s.url}/widget/v1/messages`, { token: s.rt.keyring.signToken(forever) })).status).toBe(401);
    const socket = await fetch(`${s.url}/widget/v1/ws?token=${encodeURIComponent(expired)}`);
    expect(socket.status).toBe(401);
  });

  it("are revoked by an agent for a contact: HTTP and socket refuse them, the widget starts afresh", async () => {
    const v = await session();
    expect((await api(`${s.url}/widget/v1/messages`, { token: v.visitorToken, body: { text: "hello" } })).status).toBe(
      201,
    );
    const revoked = await api(`${s.url}/api/v1/contacts/${v.contact.id}/visitor-sessions/revoke`, {
      token: admin,
      method: "POST",
    });
    expect(revoked.status).toBe(200);
    const refused = await api(`${s.url}/widget/v1/messages`, { token: v.visitorToken });
    expect(refused.status).toBe(401);
    expect((await fetch(`${s.url}/widget/v1/ws?token=${encodeURIComponent(v.visitorToken)}`)).status).toBe(401);
    // Resuming with the revoked token is a new anonymous visitor, with a token that works.
    const fresh = await session(v.visitorToken);
    expect(fresh.contact.id).not.toBe(v.contact.id);
    expect((await api(`${s.url}/widget/v1/messages`, { token: fresh.visitorToken })).status).toBe(200);
    expect(
      (
        await api(`${s.url}/api/v1/contacts/${crypto.randomUUID()}/visitor-sessions/revoke`, {
          token: admin,
          method: "POST",
        })
      ).status,
    ).toBe(404);
  });
});

describe("passwords", () => {
  let s: TestServer;
  let admin: string;
  beforeAll(async () => {
    s = await startTestServer();
    admin = await s.login(s.admin.email, s.admin.password);
  });
  afterAll(() => s.stop());

  it("must be eight characters, not only whitespace, without NUL, wherever one is set", async () => {
    for (const password of ["        ", "\t \t \t \t ", "short", "abc\u0000defgh"]) {
      const r = await api(`${s.url}/api/v1/agents`, {
        token: admin,
        body: { email: `p-${crypto.randomUUID()}@example.test`, name: "P", role: "agent", password },
      });
      expect([password, r.status, r.body.error?.field]).toEqual([password, 400, "password"]);
    }
    const invited = await api(`${s.url}/api/v1/agents`, {
      token: admin,
      body: { email: `i-${crypto.randomUUID()}@example.test`, name: "I", role: "agent" },
    });
    const token = decodeURIComponent(String(invited.body.inviteUrl).split("/invite/")[1]!);
    const spaces = await api(`${s.url}/api/v1/auth/invite/accept`, { body: { token, password: "        " } });
    expect([spaces.status, spaces.body.error.field]).toEqual([400, "password"]);
    expect(
      (await api(`${s.url}/api/v1/auth/invite/accept`, { body: { token, password: "a real passphrase" } })).status,
    ).toBe(200);
  });
});
