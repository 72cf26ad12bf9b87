import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../test/server.ts";

let s: TestServer;
let admin: string;

beforeAll(async () => {
  s = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
});
afterAll(() => s.stop());

type Socket = Awaited<ReturnType<typeof openSocket>>;

const realtime = async (token: string, after?: number) => {
  const socket = await openSocket(
    `${wsUrl(s.url)}/api/v1/realtime?token=${token}${after === undefined ? "" : `&after=${after}`}`,
  );
  await socket.waitFor((f) => f.type === "hello");
  return socket;
};

/** Resolves with the close code once the server closes the socket. */
const closed = (socket: Socket) =>
  new Promise<number>((resolve) => socket.ws.addEventListener("close", (e) => resolve(e.code)));

/**
 * Waits until the server has sent this socket everything it dispatched so far: the feed hands an event
 * to every socket of a node in one pass, and a pong goes out on the same socket after it.
 */
const flushed = (socket: Socket) =>
  new Promise<void>((resolve) => {
    const onPong = (e: MessageEvent) => {
      if (e.data !== "pong") return;
      socket.ws.removeEventListener("message", onPong);
      resolve();
    };
    socket.ws.addEventListener("message", onPong);
    socket.ws.send("ping");
  });

async function agent() {
  const token = await s.signInAs("agent", `Agent ${crypto.randomUUID().slice(0, 4)}`);
  const me = await api(`${s.url}/api/v1/me`, { token });
  return { token, id: me.body.id as string };
}

async function customerSays(text: string, visitorToken?: string) {
  const token =
    visitorToken ??
    (await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } })).body.visitorToken;
  const sent = await api(`${s.url}/widget/v1/messages`, { token, body: { text } });
  expect(sent.status).toBe(201);
  return { visitorToken: token as string, conversationId: sent.body.conversationId as string };
}

const itemFrame = (text: string) => (f: any) => f.type === "item.created" && f.item?.text === text;

describe("agent sockets follow the session", () => {
  it("closes the socket of a session that signs out, on the bus, and keeps the user's other sessions", async () => {
    const token = await s.login(s.agent.email, s.agent.password);
    const otherTab = await s.login(s.agent.email, s.agent.password);
    const socket = await realtime(token);
    const other = await realtime(otherTab);
    const code = closed(socket);
    expect((await api(`${s.url}/api/v1/auth/logout`, { token, body: {} })).status).toBe(200);
    expect(await code).toBe(4401);
    // The other session's socket heard session.ended too, signed in again, and stays open.
    await other.waitFor((f) => f.type === "session.ended");
    await customerSays("still there?");
    await other.waitFor(itemFrame("still there?"));
    expect(other.ws.readyState).toBe(WebSocket.OPEN);
    other.close();
  });

  it("stops conversation events as soon as an agent is made a knowledge editor", async () => {
    const a = await agent();
    const socket = await realtime(a.token);
    const watcher = await realtime(admin);
    await customerSays("before the change");
    await socket.waitFor(itemFrame("before the change"));
    const changed = await api(`${s.url}/api/v1/agents/${a.id}`, {
      method: "PATCH",
      token: admin,
      body: { role: "knowledge_editor" },
    });
    expect(changed.status).toBe(200);
    await customerSays("after the change");
    await watcher.waitFor(itemFrame("after the change"));
    await flushed(socket);
    expect(socket.frames.some(itemFrame("after the change"))).toBe(false);
    expect(socket.frames.filter((f) => f.conversationId && f.type !== "hello").length).toBeGreaterThan(0);
    expect(socket.ws.readyState).toBe(WebSocket.OPEN);
    socket.close();
    watcher.close();
  });

  it("stops a team's conversation events for an agent taken out of the team, and starts them for one put in", async () => {
    const a = await agent();
    const b = await agent();
    const team = await api(`${s.url}/api/v1/teams`, {
      token: admin,
      body: { name: `Team ${crypto.randomUUID().slice(0, 6)}` },
    });
    expect(team.status).toBe(201);
    const members = (userIds: string[]) =>
      api(`${s.url}/api/v1/teams/${team.body.id}/members`, { method: "PUT", token: admin, body: { userIds } });
    expect((await members([a.id, b.id])).status).toBe(200);
    // The conversation belongs to the team and to b: a sees it only as a member of the team.
    const chat = await customerSays("for the team");
    expect(
      (
        await api(`${s.url}/api/v1/conversations/${chat.conversationId}/transfer`, {
          token: admin,
          body: { teamId: team.body.id },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await api(`${s.url}/api/v1/conversations/${chat.conversationId}/assign`, {
          token: admin,
          body: { assigneeId: b.id },
        })
      ).status,
    ).toBe(200);
    const socket = await realtime(a.token);
    const watcher = await realtime(admin);
    await customerSays("while a is in the team", chat.visitorToken);
    await socket.waitFor(itemFrame("while a is in the team"));

    expect((await members([b.id])).status).toBe(200);
    await customerSays("after a left", chat.visitorToken);
    await watcher.waitFor(itemFrame("after a left"));
    await flushed(socket);
    expect(socket.frames.some(itemFrame("after a left"))).toBe(false);

    expect((await members([a.id, b.id])).status).toBe(200);
    await customerSays("a is back", chat.visitorToken);
    await socket.waitFor(itemFrame("a is back"));
    socket.close();
    watcher.close();
  });
});

describe("hello", () => {
  it("carries the resume point (the after given, else the head) and the head", async () => {
    const first = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${admin}`);
    const hello = await first.waitFor((f) => f.type === "hello");
    expect(hello.seq).toBe(hello.head);
    first.close();
    await customerSays("one");
    await customerSays("two");
    const again = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${admin}&after=${hello.seq}`);
    const resumed = await again.waitFor((f) => f.type === "hello");
    expect(resumed.seq).toBe(hello.seq);
    expect(resumed.head).toBeGreaterThan(hello.seq);
    // What the replay brings is everything after the resume point, up to the head, in order.
    await again.waitFor(itemFrame("two"));
    const seqs = again.frames.slice(1).map((f) => f.seq);
    expect(seqs.every((seq) => seq > resumed.seq)).toBe(true);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    again.close();
  });
});
