import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { expireCalls } from "./browser-call-watch.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../test/server.ts";
import { until } from "../test/voice.ts";

let s: TestServer;
let agentToken: string;
let adminToken: string;
let signedIn: Awaited<ReturnType<typeof openSocket>>;

beforeAll(async () => {
  s = await startTestServer({ demo: false });
  agentToken = await s.login(s.agent.email, s.agent.password);
  adminToken = await s.login(s.admin.email, s.admin.password);
  // Ann has the inbox open throughout, as an agent on a call does: with no socket of hers left, the
  // server would end her calls (the last test shows that).
  signedIn = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${agentToken}`);
});
afterAll(async () => {
  signedIn.close();
  await s.stop();
});

const OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
const ANSWER = OFFER.replace("o=- 1 2", "o=- 3 4");
const CANDIDATE = { candidate: "candidate:1 1 udp 2122260223 192.0.2.2 54321 typ host", sdpMid: "0", sdpMLineIndex: 0 };

/** A visitor who has chatted (a call continues a chat), with their socket open. */
async function chattingVisitor(name = "Visitor") {
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey, name } });
  const token = session.body.visitorToken as string;
  const sent = await api(`${s.url}/widget/v1/messages`, { token, body: { text: `hello from ${name}` } });
  expect(sent.status).toBe(201);
  const socket = await openSocket(`${wsUrl(s.url)}/widget/v1/ws?token=${token}`);
  await socket.waitFor((f) => f.type === "hello");
  return {
    token,
    conversationId: sent.body.conversationId as string,
    contactId: session.body.contact.id as string,
    socket,
  };
}

async function agentSocket(token: string) {
  const socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${token}`);
  await socket.waitFor((f) => f.type === "hello");
  return socket;
}

const widget = (token: string, path: string, body: unknown = {}) =>
  api(`${s.url}/widget/v1/calls${path}`, { token, body });
const agentCall = (token: string, conversationId: string, path: string, body: unknown = {}) =>
  api(`${s.url}/api/v1/conversations/${conversationId}/browser-calls${path}`, { token, body });

async function assignTo(conversationId: string, userId: string) {
  const r = await api(`${s.url}/api/v1/conversations/${conversationId}/assign`, {
    token: adminToken,
    body: { assigneeId: userId },
  });
  expect(r.status).toBe(200);
}

async function callItem(conversationId: string) {
  const timeline = await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token: adminToken });
  return { items: timeline.body.items as any[], call: (timeline.body.items as any[]).find((i) => i.type === "call") };
}

describe("browser calls (chat → voice over WebRTC)", () => {
  it("rings the chat's agent, relays signalling only between the visitor and that agent, and completes in the same conversation with a duration", async () => {
    const a = await chattingVisitor("Ana");
    const b = await chattingVisitor("Ben");
    await assignTo(a.conversationId, s.agent.id);
    const agent = await agentSocket(agentToken);
    const admin = await agentSocket(adminToken);

    const presence = async () =>
      (await api(`${s.url}/api/v1/me/presence`, { token: agentToken })).body.presence as string;
    await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: agentToken, body: { presence: "available" } });
    const callId = crypto.randomUUID();
    const asked = await widget(a.token, "", { callId });
    expect(asked.status).toBe(201);
    expect(asked.body.call).toMatchObject({
      conversationId: a.conversationId,
      direction: "in",
      status: "ringing",
      agentId: s.agent.id,
      agentName: "Agent Ann",
    });
    expect(asked.body.iceServers).toEqual([]);
    const id = asked.body.call.id as string;
    // A retried request (same id from the browser) is the same call; a second call in the chat is not allowed.
    expect((await widget(a.token, "", { callId })).body.call.id).toBe(id);
    expect((await widget(a.token, "", { callId: crypto.randomUUID() })).status).toBe(409);

    const ring = await agent.waitFor((f) => f.type === "item.created" && f.item.type === "call");
    expect(ring.conversationId).toBe(a.conversationId);
    expect(ring.item).toMatchObject({
      direction: "in",
      channel: "voice",
      data: { callId: id, provider: "webrtc", status: "ringing", agentId: s.agent.id },
    });
    await a.socket.waitFor((f) => f.type === "call.state" && f.call.id === id && f.call.status === "ringing");

    const answered = await agentCall(agentToken, a.conversationId, `/${id}/answer`);
    expect(answered.status).toBe(200);
    expect(answered.body.call.status).toBe("connecting");
    await a.socket.waitFor((f) => f.type === "call.state" && f.call.status === "connecting");

    expect((await agentCall(agentToken, a.conversationId, `/${id}/signal`, { kind: "offer", sdp: OFFER })).status).toBe(
      200,
    );
    const offer = await a.socket.waitFor((f) => f.type === "call.signal");
    expect(offer).toMatchObject({
      callId: id,
      conversationId: a.conversationId,
      signal: { kind: "offer", sdp: OFFER },
    });
    expect((await widget(a.token, `/${id}/signal`, { kind: "answer", sdp: ANSWER })).status).toBe(200);
    const answer = await agent.waitFor((f) => f.type === "call.signal");
    expect(answer).toMatchObject({ callId: id, signal: { kind: "answer", sdp: ANSWER } });
    expect((await widget(a.token, `/${id}/signal`, { kind: "candidate", candidate: CANDIDATE })).status).toBe(200);
    expect(
      (await agentCall(agentToken, a.conversationId, `/${id}/signal`, { kind: "candidate", candidate: CANDIDATE }))
        .status,
    ).toBe(200);
    await agent.waitFor((f) => f.type === "call.signal" && f.signal.kind === "candidate");
    await a.socket.waitFor((f) => f.type === "call.signal" && f.signal.kind === "candidate");

    const connected = await widget(a.token, `/${id}/connected`);
    expect(connected.status).toBe(200);
    expect(connected.body.call.status).toBe("connected");
    expect(connected.body.call.answeredAt).not.toBeNull();
    // On the call the agent is busy, as on a phone call; after it, in wrap-up.
    await until(async () => (await presence()) === "busy", 5000, "busy");
    await Bun.sleep(1100);
    const ended = await agentCall(agentToken, a.conversationId, `/${id}/hangup`);
    expect(ended.body.call.status).toBe("completed");
    await until(async () => (await presence()) === "wrap_up", 5000, "wrap-up");
    await a.socket.waitFor((f) => f.type === "call.state" && f.call.status === "completed");
    // After the end there is nothing left to signal into.
    expect((await widget(a.token, `/${id}/signal`, { kind: "candidate", candidate: CANDIDATE })).status).toBe(409);

    const { items, call } = await callItem(a.conversationId);
    // The call sits below the chat it continues (the assignment event is in between).
    expect(items.filter((i) => i.type !== "event").map((i) => i.type)).toEqual(["message", "call"]);
    expect(call.data).toMatchObject({ callId: id, status: "completed", agentId: s.agent.id, provider: "webrtc" });
    expect(call.data.durationS).toBeGreaterThanOrEqual(1);

    await Bun.sleep(100);
    // Signalling reached the two parties only: not the other visitor, not an admin who sees the chat.
    expect(b.socket.frames.some((f) => f.type.startsWith("call."))).toBe(false);
    expect(admin.frames.some((f) => f.type === "call.signal" || f.type === "call.state")).toBe(false);
    expect(agent.frames.some((f) => f.type === "call.state")).toBe(false);
    expect(a.socket.frames.filter((f) => f.type === "call.signal").map((f) => f.signal.kind)).toEqual([
      "offer",
      "candidate",
    ]);
    // The admin still sees the call item itself: it is part of the conversation.
    expect(
      admin.frames.some(
        (f) => f.type === "item.updated" && f.item.type === "call" && f.item.data.status === "completed",
      ),
    ).toBe(true);
    for (const x of [a.socket, b.socket, agent, admin]) x.close();
  });

  it("refuses a visitor anything on another visitor's call, and a call before any chat", async () => {
    const a = await chattingVisitor("Cai");
    const b = await chattingVisitor("Dee");
    const asked = await widget(a.token, "", { callId: crypto.randomUUID() });
    const id = asked.body.call.id as string;
    for (const path of [`/${id}/accept`, `/${id}/connected`, `/${id}/hangup`])
      expect((await widget(b.token, path)).status).toBe(404);
    const forged = await widget(b.token, `/${id}/signal`, { kind: "answer", sdp: ANSWER });
    expect(forged.status).toBe(404);
    expect(forged.body.error.field).toBe("callId");
    expect((await widget("not-a-token", `/${id}/hangup`)).status).toBe(401);
    // B's own live list does not show A's call.
    expect((await api(`${s.url}/widget/v1/calls/live`, { token: b.token })).body.items).toEqual([]);

    const fresh = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
    const early = await widget(fresh.body.visitorToken, "", { callId: crypto.randomUUID() });
    expect(early.status).toBe(409);
    expect(early.body.error.field).toBe("conversationId");
    await widget(a.token, `/${id}/hangup`);
    a.socket.close();
    b.socket.close();
  });

  it("lets only agents who can see the conversation answer, and only the agent on the call signal or hang up", async () => {
    const a = await chattingVisitor("Eve");
    await assignTo(a.conversationId, s.agent.id);
    const id = (await widget(a.token, "", { callId: crypto.randomUUID() })).body.call.id as string;
    const outsider = await s.signInAs("agent", "Outsider");
    const editor = await s.signInAs("knowledge_editor", "Editor");
    // An agent who cannot see the chat (assigned to someone else, not their team) learns nothing of it;
    // a knowledge editor has no calls.control at all (403).
    for (const [token, status] of [
      [outsider, 404],
      [editor, 403],
    ] as const) {
      expect((await agentCall(token, a.conversationId, `/${id}/answer`)).status).toBe(status);
      expect((await agentCall(token, a.conversationId, `/${id}/signal`, { kind: "offer", sdp: OFFER })).status).toBe(
        status,
      );
      expect((await agentCall(token, a.conversationId, `/${id}/hangup`)).status).toBe(status);
    }
    // The admin sees the chat but the call rings for its agent.
    const taken = await agentCall(adminToken, a.conversationId, `/${id}/answer`);
    expect(taken.status).toBe(409);
    expect((await agentCall(agentToken, a.conversationId, `/${id}/answer`)).status).toBe(200);
    expect((await agentCall(adminToken, a.conversationId, `/${id}/signal`, { kind: "offer", sdp: OFFER })).status).toBe(
      403,
    );
    expect((await agentCall(adminToken, a.conversationId, `/${id}/hangup`)).status).toBe(403);
    // The call id must belong to the conversation in the path.
    const other = await chattingVisitor("Fay");
    expect(
      (await agentCall(agentToken, other.conversationId, `/${id}/signal`, { kind: "offer", sdp: OFFER })).status,
    ).toBe(404);
    expect((await agentCall(agentToken, a.conversationId, `/${id}/hangup`)).body.call.status).toBe("completed");
    a.socket.close();
    other.socket.close();
  });

  it("lets a supervisor listen, whisper and barge on a talking browser call: signalling only between them and the agent, never the visitor", async () => {
    const a = await chattingVisitor("Ivy");
    await assignTo(a.conversationId, s.agent.id);
    const agent = await agentSocket(agentToken);
    const id = (await widget(a.token, "", { callId: crypto.randomUUID() })).body.call.id as string;
    const supervisorToken = await s.signInAs("supervisor", "Sue");
    const supervisor = await agentSocket(supervisorToken);
    const supervisorId = (await api(`${s.url}/api/v1/me`, { token: supervisorToken })).body.id as string;
    const monitor = (token: string, body: unknown) => api(`${s.url}/api/v1/calls/${id}/monitor`, { token, body });
    const signal = (token: string, body: unknown) => api(`${s.url}/api/v1/calls/${id}/monitor/signal`, { token, body });
    // Nothing to listen to before the call talks; agents may not monitor at all.
    expect((await monitor(supervisorToken, { mode: "listen" })).status).toBe(409);
    await agentCall(agentToken, a.conversationId, `/${id}/answer`);
    await widget(a.token, `/${id}/connected`);
    expect((await monitor(agentToken, { mode: "listen" })).status).toBe(403);
    expect((await monitor(supervisorToken, { mode: "shout" })).body.error.field).toBe("mode");

    const listening = await monitor(supervisorToken, { mode: "listen" });
    expect(listening.status).toBe(200);
    expect(listening.body).toMatchObject({ joined: true, monitors: [{ userId: supervisorId, mode: "listen" }] });
    const told = await agent.waitFor((f) => f.type === "call.monitor");
    expect(told).toMatchObject({ callId: id, supervisorId, supervisorName: "Sue", mode: "listen" });
    // The supervisor's browser offers, the agent's answers; candidates both ways.
    expect((await signal(supervisorToken, { kind: "offer", sdp: OFFER })).status).toBe(200);
    expect(await agent.waitFor((f) => f.type === "call.monitor.signal")).toMatchObject({
      callId: id,
      supervisorId,
      signal: { kind: "offer", sdp: OFFER },
    });
    expect((await signal(agentToken, { kind: "answer", sdp: ANSWER, supervisorId })).status).toBe(200);
    expect(await supervisor.waitFor((f) => f.type === "call.monitor.signal")).toMatchObject({
      callId: id,
      signal: { kind: "answer", sdp: ANSWER },
    });
    expect((await signal(agentToken, { kind: "candidate", candidate: CANDIDATE, supervisorId })).status).toBe(200);
    // Roles in the negotiation are fixed, and nobody else takes part.
    expect((await signal(agentToken, { kind: "offer", sdp: OFFER, supervisorId })).status).toBe(400);
    expect((await signal(adminToken, { kind: "offer", sdp: OFFER })).status).toBe(403);
    expect((await signal(agentToken, { kind: "answer", sdp: ANSWER, supervisorId: crypto.randomUUID() })).status).toBe(
      403,
    );

    // A mode change is the same link: the agent is told, the timeline has one "monitored" event.
    expect((await monitor(supervisorToken, { mode: "barge" })).body).toMatchObject({
      joined: false,
      monitors: [{ userId: supervisorId, mode: "barge" }],
    });
    await agent.waitFor((f) => f.type === "call.monitor" && f.mode === "barge");
    const { items } = await callItem(a.conversationId);
    expect(items.filter((i) => i.type === "event" && i.eventType === "call_monitored")).toHaveLength(1);
    const stopped = await api(`${s.url}/api/v1/calls/${id}/monitor/stop`, { token: supervisorToken, body: {} });
    expect(stopped.body.monitors).toEqual([]);
    await agent.waitFor((f) => f.type === "call.monitor" && f.mode === null);
    expect((await signal(supervisorToken, { kind: "offer", sdp: OFFER })).status).toBe(403);

    await Bun.sleep(100);
    expect(a.socket.frames.some((f) => f.type.startsWith("call.monitor"))).toBe(false);
    await agentCall(agentToken, a.conversationId, `/${id}/hangup`);
    for (const x of [a.socket, agent, supervisor]) x.close();
  });

  it("answers bad input with 400 naming the field", async () => {
    const a = await chattingVisitor("Gus");
    await assignTo(a.conversationId, s.agent.id);
    const field = async (p: Promise<{ status: number; body: any }>) => {
      const r = await p;
      expect(r.status).toBe(400);
      return r.body.error.field;
    };
    expect(await field(widget(a.token, "", { callId: "12" }))).toBe("callId");
    expect(await field(widget(a.token, "", {}))).toBe("callId");
    const id = (await widget(a.token, "", { callId: crypto.randomUUID() })).body.call.id as string;
    expect(await field(agentCall(agentToken, a.conversationId, "/not-a-uuid/answer"))).toBe("callId");
    await agentCall(agentToken, a.conversationId, `/${id}/answer`);
    expect(await field(widget(a.token, `/${id}/signal`, { kind: "bye" }))).toBe("kind");
    expect(await field(widget(a.token, `/${id}/signal`, { kind: "answer" }))).toBe("sdp");
    expect(await field(widget(a.token, `/${id}/signal`, { kind: "answer", sdp: "x".repeat(6001) }))).toBe("sdp");
    expect(await field(widget(a.token, `/${id}/signal`, { kind: "candidate", candidate: { candidate: 5 } }))).toBe(
      "candidate.candidate",
    );
    expect(
      await field(
        widget(a.token, `/${id}/signal`, { kind: "candidate", candidate: { candidate: "c", sdpMLineIndex: -1 } }),
      ),
    ).toBe("candidate.sdpMLineIndex");
    // Roles of the negotiation: the agent offers, the visitor answers.
    expect(await field(widget(a.token, `/${id}/signal`, { kind: "offer", sdp: OFFER }))).toBe("kind");
    expect(await field(agentCall(agentToken, a.conversationId, `/${id}/signal`, { kind: "answer", sdp: ANSWER }))).toBe(
      "kind",
    );
    expect(await field(widget(a.token, `/${id}/hangup`, { reason: "bored" }))).toBe("reason");
    expect(await field(agentCall(agentToken, a.conversationId, "", { callId: "nope" }))).toBe("callId");
    const bad = await api(`${s.url}/widget/v1/calls/${id}/signal`, { token: a.token, body: "{not json" });
    expect(bad.status).toBe(400);
    await widget(a.token, `/${id}/hangup`);
    a.socket.close();
  });

  it("rings every agent who can see an unassigned chat; the first to answer gets the call and the conversation", async () => {
    const a = await chattingVisitor("Hal");
    const secondToken = await s.signInAs("agent", "Second");
    const [first, second] = [await agentSocket(agentToken), await agentSocket(secondToken)];
    const id = (await widget(a.token, "", { callId: crypto.randomUUID() })).body.call.id as string;
    for (const socket of [first, second]) {
      const ring = await socket.waitFor((f) => f.type === "item.created" && f.item.type === "call");
      expect(ring.item.data).toMatchObject({ callId: id, status: "ringing", agentId: null });
    }
    const [x, y] = await Promise.all([
      agentCall(agentToken, a.conversationId, `/${id}/answer`),
      agentCall(secondToken, a.conversationId, `/${id}/answer`),
    ]);
    const statuses = [x.status, y.status].sort();
    expect(statuses[0]).toBe(200);
    // The loser finds it taken (409), or no longer sees the conversation at all (404).
    expect([404, 409]).toContain(statuses[1]!);
    const winner = x.status === 200 ? s.agent.id : (await api(`${s.url}/api/v1/me`, { token: secondToken })).body.id;
    const conversation = await api(`${s.url}/api/v1/conversations/${a.conversationId}`, { token: adminToken });
    const call = (await callItem(a.conversationId)).call;
    expect(call.data).toMatchObject({ agentId: winner, status: "connecting" });
    expect(conversation.body.assigneeId).toBe(winner);
    await agentCall(x.status === 200 ? agentToken : secondToken, a.conversationId, `/${id}/hangup`);
    for (const socket of [first, second, a.socket]) socket.close();
  });

  it("ends a call that rang unanswered for 30 seconds as no_answer and tells the visitor", async () => {
    const a = await chattingVisitor("Ida");
    const id = (await widget(a.token, "", { callId: crypto.randomUUID() })).body.call.id as string;
    expect((await expireCalls(s.rt.core, new Date(Date.now() + 20_000))).map((c) => c.id)).not.toContain(id);
    const ended = await expireCalls(s.rt.core, new Date(Date.now() + 31_000));
    expect(ended.find((c) => c.id === id)?.status).toBe("no_answer");
    await a.socket.waitFor((f) => f.type === "call.state" && f.call.id === id && f.call.status === "no_answer");
    const { call } = await callItem(a.conversationId);
    expect(call.data).toMatchObject({ status: "no_answer", durationS: 0 });
    expect(call.data.endedAt).not.toBeNull();
    // Final: a late answer finds nothing ringing.
    expect((await agentCall(agentToken, a.conversationId, `/${id}/answer`)).status).toBe(409);
    a.socket.close();
  });

  it("lets an agent invite the visitor to a call: it rings in the widget, the visitor accepts, and the agent's offer reaches them", async () => {
    const a = await chattingVisitor("Jun");
    const agent = await agentSocket(agentToken);
    const invited = await agentCall(agentToken, a.conversationId, "", { callId: crypto.randomUUID() });
    expect(invited.status).toBe(201);
    expect(invited.body.call).toMatchObject({ direction: "out", status: "ringing", agentId: s.agent.id });
    const id = invited.body.call.id as string;
    // Inviting takes the unassigned chat.
    expect(
      (await api(`${s.url}/api/v1/conversations/${a.conversationId}`, { token: adminToken })).body.assigneeId,
    ).toBe(s.agent.id);
    const rings = await a.socket.waitFor((f) => f.type === "call.state" && f.call.id === id);
    expect(rings.call).toMatchObject({ direction: "out", status: "ringing", agentName: "Agent Ann" });
    // A widget that was away finds the invitation when it comes back.
    expect((await api(`${s.url}/widget/v1/calls/live`, { token: a.token })).body.items.map((c: any) => c.id)).toEqual([
      id,
    ]);
    // Only the visitor answers an invitation.
    expect((await agentCall(agentToken, a.conversationId, `/${id}/answer`)).status).toBe(409);
    expect((await widget(a.token, `/${id}/accept`)).body.call.status).toBe("connecting");
    await agent.waitFor(
      (f) => f.type === "item.updated" && f.item.data?.callId === id && f.item.data.status === "connecting",
    );
    await agentCall(agentToken, a.conversationId, `/${id}/signal`, { kind: "offer", sdp: OFFER });
    await a.socket.waitFor((f) => f.type === "call.signal" && f.signal.kind === "offer");
    expect((await widget(a.token, `/${id}/hangup`)).body.call.status).toBe("completed");

    // Declining an invitation: the agent's call item says nobody answered.
    const again = (await agentCall(agentToken, a.conversationId, "", { callId: crypto.randomUUID() })).body.call
      .id as string;
    expect((await widget(a.token, `/${again}/hangup`)).body.call.status).toBe("no_answer");
    agent.close();
    a.socket.close();
  });

  it("ends the call when a side's socket goes away and does not come back", async () => {
    s.rt.browserCalls.graceMs = 200;
    const a = await chattingVisitor("Kim");
    await assignTo(a.conversationId, s.agent.id);
    const id = (await widget(a.token, "", { callId: crypto.randomUUID() })).body.call.id as string;
    await agentCall(agentToken, a.conversationId, `/${id}/answer`);
    await widget(a.token, `/${id}/connected`);
    // A reconnect within the grace keeps the call.
    a.socket.close();
    const back = await openSocket(`${wsUrl(s.url)}/widget/v1/ws?token=${a.token}`);
    await Bun.sleep(400);
    expect((await callItem(a.conversationId)).call.data.status).toBe("connected");
    back.close();
    let status = "connected";
    for (let i = 0; i < 40 && status === "connected"; i++, await Bun.sleep(50))
      status = (await callItem(a.conversationId)).call.data.status;
    expect(status).toBe("completed");

    // The same for the agent's side: their inbox tab went away, on no node did it come back.
    const kaiToken = await s.signInAs("agent", "Kai");
    const kai = (await api(`${s.url}/api/v1/me`, { token: kaiToken })).body.id as string;
    const kaiSocket = await agentSocket(kaiToken);
    const b = await chattingVisitor("Lea");
    await assignTo(b.conversationId, kai);
    const second = (await widget(b.token, "", { callId: crypto.randomUUID() })).body.call.id as string;
    await agentCall(kaiToken, b.conversationId, `/${second}/answer`);
    await widget(b.token, `/${second}/connected`);
    kaiSocket.close();
    await b.socket.waitFor(
      (f) => f.type === "call.state" && f.call.id === second && f.call.status === "completed",
      5000,
    );
    expect((await callItem(b.conversationId)).call.data).toMatchObject({ status: "completed", agentId: kai });
    b.socket.close();
    s.rt.browserCalls.graceMs = 10_000;
  });

  it("keeps browser calls to web chat conversations", async () => {
    const a = await chattingVisitor("Lou");
    await api(`${s.url}/api/v1/conversations/${a.conversationId}/status`, {
      token: adminToken,
      body: { status: "resolved" },
    });
    const resolved = await agentCall(agentToken, a.conversationId, "", { callId: crypto.randomUUID() });
    expect(resolved.status).toBe(409);
    expect(resolved.body.error.field).toBe("id");
    a.socket.close();
  });
});
