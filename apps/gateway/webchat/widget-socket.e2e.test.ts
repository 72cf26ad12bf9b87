import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { seedEvents } from "../../../test/events.ts";
import { until } from "../../../test/poll.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../../test/server.ts";

// One server with the socket limits raised (as a load test from one address would), one with the defaults.
let raised: TestServer;
let defaults: TestServer;
let agentToken: string;

beforeAll(async () => {
  raised = await startTestServer({ env: { WIDGET_SOCKETS_PER_VISITOR: "100", WIDGET_SOCKETS_PER_IP: "100" } });
  defaults = await startTestServer();
  agentToken = await raised.login(raised.admin.email, raised.admin.password);
});
afterAll(async () => {
  await raised.stop();
  await defaults.stop();
});

async function visitor(s: TestServer) {
  const r = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  expect(r.status).toBe(200);
  return r.body as { visitorToken: string; contact: { id: string } };
}

async function say(s: TestServer, token: string, text: string) {
  const r = await api(`${s.url}/widget/v1/messages`, { token, body: { text } });
  expect(r.status).toBe(201);
  return r.body as { conversationId: string; item: { seq: number } };
}

const socketUrl = (s: TestServer, token: string, after?: number) =>
  `${wsUrl(s.url)}/widget/v1/ws?token=${token}${after === undefined ? "" : `&after=${after}`}`;

/** Opens sockets until one opens (slots are given back when the server sees the close, a moment later). */
const openWhenFree = (url: string) =>
  until(
    () => openSocket(url).catch(() => undefined),
    (ws) => ws !== undefined,
  );

describe("widget socket limits", () => {
  it("replays only the visitor's own conversation, not a scan of the workspace's other events", async () => {
    const me = await visitor(raised);
    const other = await visitor(raised);
    const mine = await say(raised, me.visitorToken, "where is my parcel");
    const theirs = await say(raised, other.visitorToken, "someone else's question");
    // A busy workspace: more public events of another visitor's conversation than a replay may hold.
    await seedEvents(raised.rt.core.db, raised.workspaceId, 5_100, {
      type: "item.created",
      conversationId: theirs.conversationId,
      public: true,
      payload: {
        scope: { contactId: other.contact.id },
        item: { channel: "webchat", type: "message", text: "not yours" },
      },
    });
    const socket = await openSocket(socketUrl(raised, me.visitorToken, 0));
    try {
      const hello = await socket.waitFor((f) => f.type === "hello");
      expect(hello.seq).toBe(0);
      // Live events follow the replay: once the agent's answer arrives, the replay is all in.
      const answer = await api(`${raised.url}/api/v1/conversations/${mine.conversationId}/messages`, {
        token: agentToken,
        body: { text: "on its way" },
      });
      expect(answer.status).toBe(201);
      await socket.waitFor((f) => f.type === "item.created" && f.item.text === "on its way");
      const replayed = socket.frames.slice(
        1,
        socket.frames.findIndex((f) => f.item?.text === "on its way"),
      );
      expect(replayed.map((f) => [f.type, f.conversationId, f.item?.text])).toEqual([
        ["item.created", mine.conversationId, "where is my parcel"],
      ]);
      expect(replayed[0].seq).toBe(mine.item.seq);
    } finally {
      socket.close();
    }
  });

  it("refuses a visitor's sixth socket with 429 and gives the slot back when one closes", async () => {
    const v = await visitor(defaults);
    const open = [];
    for (let i = 0; i < 5; i++) open.push(await openSocket(socketUrl(defaults, v.visitorToken)));
    const refused = await fetch(socketUrl(defaults, v.visitorToken).replace(/^ws/, "http"));
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
    await expect(openSocket(socketUrl(defaults, v.visitorToken))).rejects.toThrow();
    // Another visitor behind the same address is not affected by this one's limit.
    const neighbour = await openSocket(socketUrl(defaults, (await visitor(defaults)).visitorToken));
    await neighbour.waitFor((f) => f.type === "hello");
    open.pop()!.close();
    const again = await openWhenFree(socketUrl(defaults, v.visitorToken));
    await again!.waitFor((f) => f.type === "hello");
    for (const ws of [...open, neighbour, again!]) ws.close();
  });

  it("keeps a message round trip going while a hundred sockets replay on one token, and refuses the 101st", async () => {
    const v = await visitor(raised);
    const first = await say(raised, v.visitorToken, "hello?");
    // Every socket asks for the whole history (after=0) of a workspace with thousands of events.
    await seedEvents(raised.rt.core.db, raised.workspaceId, 5_100);
    const flood = await Promise.all(
      Array.from({ length: 100 }, () => openWhenFree(socketUrl(raised, v.visitorToken, 0))),
    );
    const reply = await api(`${raised.url}/api/v1/conversations/${first.conversationId}/messages`, {
      token: agentToken,
      body: { text: "here to help" },
    });
    expect(reply.status).toBe(201);
    const back = await flood[99]!.waitFor((f) => f.type === "item.created" && f.item.text === "here to help", 60_000);
    expect(back.conversationId).toBe(first.conversationId);
    // The address has its 100 sockets: the next, even for another visitor, is refused.
    const refused = await fetch(socketUrl(raised, (await visitor(raised)).visitorToken).replace(/^ws/, "http"));
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: "rate_limited",
    });
    for (const ws of flood) ws!.close();
  }, 120_000);
});

describe("a widget socket whose token is retired", () => {
  it("is closed with 4401 when a supervisor merges its contact into another, so the widget starts afresh", async () => {
    const anonymous = await visitor(raised);
    const known = await visitor(raised);
    await say(raised, anonymous.visitorToken, "it's me again");
    await say(raised, known.visitorToken, "my order 1042");
    const socket = await openSocket(socketUrl(raised, anonymous.visitorToken));
    await socket.waitFor((f) => f.type === "hello");
    const closed = new Promise<number>((resolve) => socket.ws.addEventListener("close", (e) => resolve(e.code)));
    const merged = await api(`${raised.url}/api/v1/contacts/${known.contact.id}/merge`, {
      token: agentToken,
      body: { mergeId: anonymous.contact.id },
    });
    expect(merged.status).toBe(200);
    // Before the fix the socket stayed open, waiting for replies its retired token could no longer get.
    expect(await closed).toBe(4401);
    const again = await fetch(socketUrl(raised, anonymous.visitorToken).replace(/^ws/, "http"));
    expect(again.status).toBe(401);
  });
});
