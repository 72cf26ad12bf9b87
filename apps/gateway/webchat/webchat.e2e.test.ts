import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../../test/server.ts";

let s: TestServer;
let token: string;

beforeAll(async () => {
  s = await startTestServer();
  token = await s.login(s.admin.email, s.admin.password);
});
afterAll(() => s.stop());

async function visitor(body: Record<string, unknown> = {}) {
  const r = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey, ...body } });
  expect(r.status).toBe(200);
  return r.body as {
    visitorToken: string;
    conversationId: string | null;
    contact: { id: string };
    inbox: { agentsOnline: boolean };
  };
}

describe("web chat end to end", () => {
  it("carries a widget message live to the agent and the agent's reply live back to the widget", async () => {
    const agentSocket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${token}`);
    await agentSocket.waitFor((f) => f.type === "hello");
    // An agent with an open socket counts as online for the widget (any node: users.last_seen_at).
    let online = false;
    for (let i = 0; i < 20 && !online; i++, await Bun.sleep(50)) online = (await visitor()).inbox.agentsOnline;
    expect(online).toBe(true);
    const v = await visitor({ name: "Zhang Wei" });
    const widgetSocket = await openSocket(`${wsUrl(s.url)}/widget/v1/ws?token=${v.visitorToken}`);
    await widgetSocket.waitFor((f) => f.type === "hello");

    const sent = await api(`${s.url}/widget/v1/messages`, {
      token: v.visitorToken,
      body: { text: "我的订单还没到 <script>alert(1)</script>" },
    });
    expect(sent.status).toBe(201);
    const live = await agentSocket.waitFor((f) => f.type === "item.created" && f.item.direction === "in");
    expect(live).toMatchObject({
      conversationId: sent.body.conversationId,
      item: { text: "我的订单还没到 <script>alert(1)</script>", channel: "webchat" },
    });
    expect(typeof live.seq).toBe("number");

    const list = await api(`${s.url}/api/v1/conversations?status=open`, { token });
    expect(list.status).toBe(200);
    expect(list.body.items[0]).toMatchObject({
      id: sent.body.conversationId,
      status: "open",
      channel: "webchat",
      contact: { name: "Zhang Wei" },
      lastMessage: { text: "我的订单还没到 <script>alert(1)</script>" },
    });

    const replied = await api(`${s.url}/api/v1/conversations/${sent.body.conversationId}/messages`, {
      token,
      body: { text: "正在为您查询" },
    });
    expect(replied.status).toBe(201);
    const back = await widgetSocket.waitFor((f) => f.type === "item.created" && f.item.direction === "out");
    expect(back.item).toMatchObject({ text: "正在为您查询", sender: { type: "agent", name: "Admin" } });
    expect(back.item.senderId).toBeUndefined();
    // The web chat "send" completes through the outbox and the widget hears the status change.
    const delivered = await widgetSocket.waitFor((f) => f.type === "item.updated" && f.item.id === replied.body.id);
    expect(delivered.item.status).toBe("sent");

    const note = await api(`${s.url}/api/v1/conversations/${sent.body.conversationId}/messages`, {
      token,
      body: { text: "internal only", private: true },
    });
    expect(note.status).toBe(201);
    await agentSocket.waitFor((f) => f.type === "item.created" && f.item.text === "internal only");
    await Bun.sleep(100);
    expect(widgetSocket.frames.some((f) => f.item?.text === "internal only")).toBe(false);

    const timeline = await api(`${s.url}/api/v1/conversations/${sent.body.conversationId}/timeline`, { token });
    expect(timeline.body.items.map((i: any) => [i.type, i.direction, i.channel, i.text])).toEqual([
      ["message", "in", "webchat", "我的订单还没到 <script>alert(1)</script>"],
      ["message", "out", "webchat", "正在为您查询"],
      ["note", null, null, "internal only"],
    ]);
    const history = await api(`${s.url}/widget/v1/messages`, { token: v.visitorToken });
    expect(history.body.items.map((i: any) => i.text)).toEqual([
      "我的订单还没到 <script>alert(1)</script>",
      "正在为您查询",
    ]);
    agentSocket.close();
    widgetSocket.close();
  });

  it("replays everything missed after a seq when the agent reconnects, in order, exactly once", async () => {
    const first = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${token}`);
    const hello = await first.waitFor((f) => f.type === "hello");
    first.close();
    const v = await visitor();
    for (let i = 0; i < 5; i++)
      await api(`${s.url}/widget/v1/messages`, { token: v.visitorToken, body: { text: `missed ${i}` } });
    const again = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${token}&after=${hello.seq}`);
    await again.waitFor((f) => f.type === "item.created" && f.item.text === "missed 4");
    await api(`${s.url}/widget/v1/messages`, { token: v.visitorToken, body: { text: "live again" } });
    await again.waitFor((f) => f.item?.text === "live again");
    const seqs = again.frames.filter((f) => f.type !== "hello").map((f) => f.seq);
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
    expect(again.frames.filter((f) => f.type === "item.created").map((f) => f.item.text)).toEqual([
      "missed 0",
      "missed 1",
      "missed 2",
      "missed 3",
      "missed 4",
      "live again",
    ]);
    again.close();
  });

  it("stores a retried widget message once (same clientId)", async () => {
    const v = await visitor();
    const a = await api(`${s.url}/widget/v1/messages`, {
      token: v.visitorToken,
      body: { text: "once", clientId: "c-1" },
    });
    const b = await api(`${s.url}/widget/v1/messages`, {
      token: v.visitorToken,
      body: { text: "once", clientId: "c-1" },
    });
    expect(b.body.item.id).toBe(a.body.item.id);
    // The widget matches its pending copy by this id, whichever of POST and socket answers first.
    expect(a.body.item.clientId).toBe("c-1");
    expect(b.body.duplicate).toBe(true);
    const history = await api(`${s.url}/widget/v1/messages`, { token: v.visitorToken });
    expect(history.body.items).toHaveLength(1);
  });

  it("retires a visitor's token once a supervisor merged its contact into another: a fresh session, never the other's history", async () => {
    const known = await visitor({ name: "Known customer" });
    await api(`${s.url}/widget/v1/messages`, { token: known.visitorToken, body: { text: "from my laptop" } });
    const stranger = await visitor();
    await api(`${s.url}/widget/v1/messages`, { token: stranger.visitorToken, body: { text: "from my phone" } });
    const merged = await api(`${s.url}/api/v1/contacts/${known.contact.id}/merge`, {
      token,
      body: { mergeId: stranger.contact.id },
    });
    expect(merged.status).toBe(200);
    // The merge was a person's judgement, not the visitor's proof: the browser holding the old token
    // must not read (or write as) the known customer (docs/security.md, "Roles and visibility").
    const resumed = await visitor({ visitorToken: stranger.visitorToken });
    expect(resumed.contact.id).not.toBe(known.contact.id);
    expect(resumed.conversationId).toBeNull();
    expect((await api(`${s.url}/widget/v1/messages`, { token: resumed.visitorToken })).body.items).toEqual([]);
    expect((await api(`${s.url}/widget/v1/messages`, { token: stranger.visitorToken })).status).toBe(401);
    const history = await api(`${s.url}/api/v1/contacts/${known.contact.id}`, { token });
    expect(history.body.conversations).toHaveLength(2);
  });

  it("resumes a visitor's conversation from the stored token", async () => {
    const v = await visitor();
    const sent = await api(`${s.url}/widget/v1/messages`, { token: v.visitorToken, body: { text: "remember me" } });
    const resumed = await visitor({ visitorToken: v.visitorToken });
    expect(resumed.conversationId).toBe(sent.body.conversationId);
    expect(resumed.contact.id).toBe(v.contact.id);
  });

  it("joins a verified visitor to the existing contact and rejects a bad signature", async () => {
    const hash = createHmac("sha256", s.inbox.secret).update("customer-42").digest("hex");
    const anon = await visitor();
    await api(`${s.url}/widget/v1/messages`, { token: anon.visitorToken, body: { text: "before sign-in" } });
    const first = await visitor({ userId: "customer-42", userHash: hash, visitorToken: anon.visitorToken });
    // The page sends the old anonymous token again (say, from another tab): nothing to merge twice.
    const again = await visitor({ userId: "customer-42", userHash: hash, visitorToken: anon.visitorToken });
    expect(again.contact.id).toBe(first.contact.id);
    const second = await visitor({ userId: "customer-42", userHash: hash });
    expect(second.contact.id).toBe(first.contact.id);
    expect(second.conversationId).toBe(first.conversationId);
    const history = await api(`${s.url}/widget/v1/messages`, { token: second.visitorToken });
    expect(history.body.items.map((i: any) => i.text)).toEqual(["before sign-in"]);
    const forged = await api(`${s.url}/widget/v1/sessions`, {
      body: { inboxKey: s.inbox.publicKey, userId: "customer-42", userHash: "0".repeat(64) },
    });
    expect(forged.status).toBe(401);
    expect(forged.body.error.field).toBe("userHash");
  });

  it("uploads an attachment and sends it; rejects disallowed and oversized files", async () => {
    const v = await visitor();
    const form = new FormData();
    form.append("file", new File([new Uint8Array([137, 80, 78, 71])], "receipt.png", { type: "image/png" }));
    const up = await fetch(`${s.url}/widget/v1/attachments`, {
      method: "POST",
      headers: { authorization: `Bearer ${v.visitorToken}` },
      body: form,
    });
    expect(up.status).toBe(201);
    const file = (await up.json()) as { id: string; url: string };
    const agentSocket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${token}`);
    await agentSocket.waitFor((f) => f.type === "hello");
    const sent = await api(`${s.url}/widget/v1/messages`, { token: v.visitorToken, body: { attachments: [file.id] } });
    expect(sent.status).toBe(201);
    expect(sent.body.item.attachments[0]).toMatchObject({ name: "receipt.png", contentType: "image/png", size: 4 });
    // The live event carries the file too, not only a later reload.
    const live = await agentSocket.waitFor((f) => f.type === "item.created" && f.item.id === sent.body.item.id);
    expect(live.item.attachments).toEqual([sent.body.item.attachments[0]]);
    expect(live.item.text).toBeNull();
    agentSocket.close();
    const fetched = await fetch(`${s.url}${file.url}?token=${token}`);
    expect(new Uint8Array(await fetched.arrayBuffer())).toEqual(new Uint8Array([137, 80, 78, 71]));
    const stranger = await visitor();
    expect((await fetch(`${s.url}${file.url}?token=${stranger.visitorToken}`)).status).toBe(404);
    // Reusing the attachment in another message is refused.
    const reuse = await api(`${s.url}/widget/v1/messages`, { token: v.visitorToken, body: { attachments: [file.id] } });
    expect(reuse.status).toBe(400);

    const exe = new FormData();
    exe.append("file", new File(["MZ"], "tool.exe", { type: "application/x-msdownload" }));
    const bad = await fetch(`${s.url}/widget/v1/attachments`, {
      method: "POST",
      headers: { authorization: `Bearer ${v.visitorToken}` },
      body: exe,
    });
    expect(bad.status).toBe(415);
    const big = new FormData();
    big.append("file", new File([new Uint8Array(11 * 1024 * 1024)], "huge.pdf", { type: "application/pdf" }));
    const tooBig = await fetch(`${s.url}/widget/v1/attachments`, {
      method: "POST",
      headers: { authorization: `Bearer ${v.visitorToken}` },
      body: big,
    });
    expect(tooBig.status).toBe(413);
    expect(((await tooBig.json()) as any).error.code).toBe("too_large");
  });
});

describe("bad input", () => {
  it("answers with the error shape and stores nothing half-way", async () => {
    const unknown = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: "wc_nope" } });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: "not_found", message: "Inbox not found", field: "inboxKey" } });

    const badToken = await api(`${s.url}/widget/v1/messages`, { token: "forged.token", body: { text: "hi" } });
    expect(badToken.status).toBe(401);
    expect(badToken.body.error.code).toBe("unauthorized");

    const v = await visitor();
    const tooLong = await api(`${s.url}/widget/v1/messages`, {
      token: v.visitorToken,
      body: { text: "x".repeat(10_001) },
    });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.field).toBe("text");
    const wrongType = await api(`${s.url}/widget/v1/messages`, { token: v.visitorToken, body: { text: 42 } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error.field).toBe("text");
    const notJson = await api(`${s.url}/widget/v1/messages`, { token: v.visitorToken, body: "{not json" });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe("invalid_json");
    const empty = await api(`${s.url}/widget/v1/messages`, { token: v.visitorToken, body: { text: "   " } });
    expect(empty.status).toBe(400);
    const sqlish = await api(`${s.url}/widget/v1/messages`, {
      token: v.visitorToken,
      body: { text: "'); DROP TABLE contacts; --" },
    });
    expect(sqlish.status).toBe(201);
    const history = await api(`${s.url}/widget/v1/messages`, { token: v.visitorToken });
    expect(history.body.items.map((i: any) => i.text)).toEqual(["'); DROP TABLE contacts; --"]);

    const badId = await api(`${s.url}/api/v1/conversations/not-a-uuid/timeline`, { token });
    expect(badId.status).toBe(400);
    expect(badId.body.error.field).toBe("id");
    const badStatus = await api(`${s.url}/api/v1/conversations?status=closed`, { token });
    expect(badStatus.status).toBe(400);
    expect(badStatus.body.error.field).toBe("status");
    const noAuth = await api(`${s.url}/api/v1/conversations`);
    expect(noAuth.status).toBe(401);
    const badLogin = await api(`${s.url}/api/v1/auth/login`, { body: { email: s.admin.email, password: "wrong" } });
    expect(badLogin.status).toBe(401);
    // Guessing passwords for one account from one address is stopped after LOGIN_ACCOUNT_IP_FAILURES_PER_HOUR
    // (20) failures (apps/server/abuse.e2e.test.ts covers the other limits). One comes back every three
    // minutes, so on a slow machine the 429 may come a try or two late.
    const guesses: number[] = [];
    for (let i = 0; i < 24 && guesses.at(-1) !== 429; i++)
      guesses.push(
        (await api(`${s.url}/api/v1/auth/login`, { body: { email: "nobody@example.test", password: `guess${i}` } }))
          .status,
      );
    expect(guesses.slice(0, 20).every((x) => x === 401)).toBe(true);
    expect(guesses.at(-1)).toBe(429);
    expect(guesses.slice(20, -1).every((x) => x === 401)).toBe(true);
    const badAfter = await fetch(`${s.url}/api/v1/realtime?token=${token}&after=-3`);
    expect(badAfter.status).toBe(400);
  });

  it("throttles a flooding IP and a flooding visitor with 429 and Retry-After", async () => {
    const limited = await startTestServer({ widgetIpRate: 1, widgetLimits: { burst: 3, perSecond: 0.5 } });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 8; i++) {
        const r = await api(`${limited.url}/widget/v1/sessions`, { body: { inboxKey: limited.inbox.publicKey } });
        statuses.push(r.status);
        if (r.status === 429) retryAfter = r.headers.get("retry-after");
      }
      expect(statuses.slice(0, 5).every((x) => x === 200)).toBe(true);
      expect(statuses.slice(5)).toEqual([429, 429, 429]);
      expect(Number(retryAfter)).toBeGreaterThan(0);
    } finally {
      await limited.stop();
    }
    const chatty = await startTestServer({ widgetLimits: { burst: 3, perSecond: 0.5 } });
    try {
      const session = await api(`${chatty.url}/widget/v1/sessions`, { body: { inboxKey: chatty.inbox.publicKey } });
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push(
          (
            await api(`${chatty.url}/widget/v1/messages`, {
              token: session.body.visitorToken,
              body: { text: `spam ${i}` },
            })
          ).status,
        );
      expect(statuses).toEqual([201, 201, 201, 429, 429]);
      const history = await api(`${chatty.url}/widget/v1/messages`, { token: session.body.visitorToken });
      expect(history.status).toBe(429);
    } finally {
      await chatty.stop();
    }
  });
});

describe("public contract", () => {
  it("serves health, metrics, the OpenAPI document, the widget script and the demo page", async () => {
    expect((await api(`${s.url}/healthz`)).body).toEqual({ ok: true });
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    for (const name of [
      "switchboard_http_request_duration_seconds_bucket",
      "switchboard_event_loop_lag_seconds_bucket",
      "switchboard_events_total",
      "switchboard_outbox_backlog",
      "switchboard_websocket_connections_agents",
    ])
      expect(metrics).toContain(name);
    const doc = await api(`${s.url}/api/v1/openapi.json`);
    expect(doc.body.openapi).toBe("3.1.0");
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        "/auth/login",
        "/conversations",
        "/conversations/{id}/timeline",
        "/conversations/{id}/messages",
      ]),
    );
    expect(
      doc.body.paths["/conversations/{id}/messages"].post.requestBody.content["application/json"].schema,
    ).toBeDefined();
    const demo = await fetch(`${s.url}/demo?key=${s.inbox.publicKey}`);
    expect(await demo.text()).toContain(`data-inbox="${s.inbox.publicKey}"`);
  });

  it("serves the demo page only where the demo is on", async () => {
    const real = await startTestServer({ demo: false });
    try {
      const page = await api(`${real.url}/demo?key=${real.inbox.publicKey}`);
      expect(page.status).toBe(404);
      expect(page.body.error.code).toBe("not_found");
    } finally {
      await real.stop();
    }
  });

  it("lets the widget call the API from a customer's own site (CORS)", async () => {
    const preflight = await fetch(`${s.url}/widget/v1/sessions`, {
      method: "OPTIONS",
      headers: {
        origin: "https://shop.example.cn",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,authorization",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    const session = await fetch(`${s.url}/widget/v1/sessions`, {
      method: "POST",
      headers: { origin: "https://shop.example.cn", "content-type": "application/json" },
      body: JSON.stringify({ inboxKey: s.inbox.publicKey }),
    });
    expect(session.headers.get("access-control-allow-origin")).toBe("*");
    expect(session.headers.get("access-control-expose-headers")).toContain("Retry-After");
  });

  it("exposes contact profiles with identities and past conversations", async () => {
    const v = await visitor({ name: "Li Lei" });
    const sent = await api(`${s.url}/widget/v1/messages`, { token: v.visitorToken, body: { text: "profile" } });
    const profile = await api(`${s.url}/api/v1/contacts/${v.contact.id}`, { token });
    expect(profile.body).toMatchObject({
      id: v.contact.id,
      name: "Li Lei",
      identities: [{ kind: "visitor" }],
      conversations: [{ id: sent.body.conversationId }],
    });
  });
});
