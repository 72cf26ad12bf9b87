import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { calls, timelineItems, type Call } from "../db/schema/index.ts";
import { pruneRecordings, recordingsPastRetention, recordingsToFetch } from "./recording.ts";
import { indexPlan } from "../test/plan.ts";
import { readTwiml } from "../channels/voice/twiml-read.ts";
import type { StandInLeg } from "../apps/demo/twilio-stand-in.ts";
import { createAgent } from "../routing/agent.ts";
import { createQueue } from "../routing/queue.ts";
import { createWorkspace } from "../conversations/workspace.ts";
import { api, startTestServer, type TestServer } from "../test/server.ts";
import { startTwilioNumberList, startVoice, until } from "../test/voice.ts";

let s: TestServer;
let v: Awaited<ReturnType<typeof startVoice>>;
let ann: string;
let bob: string;
let bobId: string;
let admin: string;
let supervisor: string;
// Twilio's number list, which a new line is checked against: here every account holds every number.
const numberList = startTwilioNumberList();

beforeAll(async () => {
  s = await startTestServer({ env: { TWILIO_API_BASE_URL: `http://127.0.0.1:${numberList.port}` } });
  v = await startVoice(s, { recording: "always", retentionDays: 30 });
  ann = await s.login(s.agent.email, s.agent.password);
  admin = await s.login(s.admin.email, s.admin.password);
  supervisor = await s.signInAs("supervisor", "Sue");
  const b = await createAgent(s.rt.core.db, {
    workspaceId: s.workspaceId,
    email: `bob-${crypto.randomUUID()}@example.test`,
    name: "Bob",
    role: "agent",
    password: "pw-bob-123",
  });
  bobId = b.id;
  bob = await s.login(b.email, "pw-bob-123");
});
afterAll(async () => {
  v.stop();
  numberList.stop(true);
  await s.stop();
});

const reload = async (id: string) => (await s.rt.core.db.select().from(calls).where(eq(calls.id, id)))[0]!;
const presence = (token: string, p: "available" | "away") =>
  api(`${s.url}/api/v1/me/presence`, {
    method: "PUT",
    token,
    body: { presence: p, ...(p === "away" ? { reason: "test" } : {}) },
  });
const settled = async (id: string, status: Call["status"]) =>
  until(
    async () => (await v.sim.settle(), (await reload(id)).status === status ? reload(id) : undefined),
    8000,
    status,
  );

/** A caller pressed 0 and the agent behind `token` took the call. */
async function connectedCall(token: string, from: string): Promise<{ leg: StandInLeg; call: Call }> {
  const leg = await v.sim.placeCall({ from, to: v.number });
  await v.sim.press(leg, "0");
  const call = await until(
    async () => (await s.rt.core.db.select().from(calls).where(eq(calls.externalId, leg.sid)))[0],
    5000,
    "call",
  );
  await presence(token, "available");
  const offer = await until(
    async () =>
      (await api(`${s.url}/api/v1/me/offers`, { token })).body.items.find(
        (o: any) => o.conversationId === call.conversationId,
      ),
    5000,
    "offer",
  );
  await api(`${s.url}/api/v1/offers/${offer.workItemId}/accept`, { token, body: {} });
  return { leg, call: await settled(call.id, "connected") };
}

describe("call control", () => {
  it("records every call from the start when the inbox says always, and announces it", async () => {
    await presence(bob, "away");
    const { leg, call } = await connectedCall(ann, "+8613800000020");
    expect(leg.heard.join(" ")).toContain("录音");
    const joined = v.sim.requests.find((r) => r.path.endsWith(`/Calls/${leg.sid}.json`))!;
    const twiml = await v.sim.post(joined.form.Url!, { CallSid: leg.sid });
    expect(readTwiml(twiml).find((x) => x.verb === "Dial")!.children[0]!.attrs).toMatchObject({
      record: "record-from-start",
      endConferenceOnExit: "true",
    });
    await api(`${s.url}/api/v1/calls/${call.id}/hangup`, { token: ann, body: {} });
    await settled(call.id, "completed");
    await v.sim.recordingReady(`/webhooks/twilio/voice/recording?inbox=${v.inbox.id}&call=${call.id}`, leg.sid);
    const stored = await until(async () => (await reload(call.id)).recordingId, 5000, "recording");
    // Retention: once older than the inbox's 30 days, the recording is deleted.
    expect(await pruneRecordings(s.rt, new Date(Date.now() + 29 * 86_400_000))).toBe(0);
    expect(await pruneRecordings(s.rt, new Date(Date.now() + 31 * 86_400_000))).toBe(1);
    expect((await reload(call.id)).recordingId).toBeNull();
    expect((await fetch(`${s.url}/files/${stored}`, { headers: { authorization: `Bearer ${ann}` } })).status).toBe(404);
    const [item] = await s.rt.core.db.select().from(timelineItems).where(eq(timelineItems.id, call.timelineItemId));
    expect(item!.data.recordingUrl).toBeNull();
    await presence(ann, "available");
  });

  it("finds recordings to fetch again and to prune through indexes, not by reading every call ever taken", async () => {
    // Both run every 30 s; on PGlite a scan of all calls would stall the node's event loop each time.
    expect(await indexPlan(s.rt.core.db, recordingsToFetch(s.rt.core.db).getSQL())).toContain(
      "calls_recording_due_idx",
    );
    expect(
      await indexPlan(s.rt.core.db, recordingsPastRetention(s.rt.core.db, v.inbox.id, new Date()).getSQL()),
    ).toContain("calls_recorded_idx");
  });

  it("cold-transfers a call to another agent: the first agent's leg ends, the caller waits, the second agent gets an offer", async () => {
    await presence(bob, "away");
    const { leg, call } = await connectedCall(ann, "+8613800000021");
    const firstLeg = call.agentLegId!;
    await presence(bob, "available");
    const t = await api(`${s.url}/api/v1/calls/${call.id}/transfer`, {
      token: ann,
      body: { agentId: bobId, note: "billing question" },
    });
    expect(t.status).toBe(200);
    await v.sim.settle();
    expect(v.sim.legs.get(firstLeg)!.status).toBe("completed");
    expect(leg.status).toBe("in-progress");
    const offer = await until(
      async () =>
        (await api(`${s.url}/api/v1/me/offers`, { token: bob })).body.items.find(
          (o: any) => o.conversationId === call.conversationId,
        ),
      5000,
      "bob's offer",
    );
    await api(`${s.url}/api/v1/offers/${offer.workItemId}/accept`, { token: bob, body: {} });
    const now = await settled(call.id, "connected");
    expect(now.agentId).toBe(bobId);
    const events = (
      await s.rt.core.db.select().from(timelineItems).where(eq(timelineItems.conversationId, call.conversationId))
    ).map((i) => i.eventType);
    expect(events).toContain("transferred");
    // Ann is in wrap-up after her part, not stuck busy.
    expect((await api(`${s.url}/api/v1/me/presence`, { token: ann })).body.presence).toBe("wrap_up");
    await api(`${s.url}/api/v1/calls/${call.id}/hangup`, { token: bob, body: {} });
    await settled(call.id, "completed");
    await presence(ann, "available");
    await presence(bob, "away");
  });

  it("warm-transfers: the second agent joins the same conference and takes over when the first leaves", async () => {
    const { leg, call } = await connectedCall(ann, "+8613800000022");
    const warm = await api(`${s.url}/api/v1/calls/${call.id}/transfer`, {
      token: ann,
      body: { agentId: bobId, warm: true },
    });
    expect(warm.status).toBe(200);
    const consulting = await until(
      async () => (await v.sim.settle(), (await reload(call.id)).consult),
      5000,
      "consult leg",
    );
    expect(v.sim.legs.get(consulting.legId)!.conference).toBe(leg.conference);
    const done = await api(`${s.url}/api/v1/calls/${call.id}/transfer/complete`, { token: ann, body: {} });
    expect(done.body).toMatchObject({ agentId: bobId, consult: null });
    await v.sim.settle();
    expect((await reload(call.id)).status).toBe("connected");
    expect(leg.status).toBe("in-progress");
    // Bob controls it now; Ann no longer can.
    expect((await api(`${s.url}/api/v1/calls/${call.id}/hold`, { token: ann, body: { hold: true } })).status).toBe(403);
    await api(`${s.url}/api/v1/calls/${call.id}/hangup`, { token: bob, body: {} });
    await settled(call.id, "completed");
    await presence(ann, "available");
  });

  it("checks a cold transfer's queue before any leg moves: a bad one is a 404 and the caller stays with the agent", async () => {
    const { leg, call } = await connectedCall(ann, "+8613800000023");
    for (const queueId of [
      crypto.randomUUID(),
      (await createQueue(s.rt.core.db, s.workspaceId, { name: "Chat only", channels: ["webchat"] })).id,
    ]) {
      const bad = await api(`${s.url}/api/v1/calls/${call.id}/transfer`, { token: ann, body: { queueId } });
      expect(bad.status).toBe(404);
      expect(bad.body.error.field).toBe("queueId");
    }
    await v.sim.settle();
    expect(await reload(call.id)).toMatchObject({
      status: "connected",
      agentId: s.agent.id,
      agentLegId: call.agentLegId,
    });
    expect(v.sim.legs.get(call.agentLegId!)!.status).toBe("in-progress");
    expect(leg.status).toBe("in-progress");
    await api(`${s.url}/api/v1/calls/${call.id}/hangup`, { token: ann, body: {} });
    await settled(call.id, "completed");
    await presence(ann, "available");
  });

  it("checks a warm transfer's agent: unknown, disabled or another workspace's is a 404 and nobody is dialled", async () => {
    const { call } = await connectedCall(ann, "+8613800000024");
    const elsewhere = await createWorkspace(s.rt.core.db, "Elsewhere " + crypto.randomUUID().slice(0, 6));
    const stranger = await createAgent(s.rt.core.db, {
      workspaceId: elsewhere.id,
      email: `x-${crypto.randomUUID()}@example.test`,
      name: "X",
      role: "agent",
      password: "pw-x-12345",
    });
    const gone = await createAgent(s.rt.core.db, {
      workspaceId: s.workspaceId,
      email: `gone-${crypto.randomUUID()}@example.test`,
      name: "Gone",
      role: "agent",
      password: "pw-gone-123",
    });
    expect(
      (await api(`${s.url}/api/v1/agents/${gone.id}`, { method: "PATCH", token: admin, body: { disabled: true } }))
        .status,
    ).toBe(200);
    const dials = () => v.sim.requests.filter((r) => r.method === "POST" && r.path.endsWith("/Calls.json")).length;
    const before = dials();
    for (const agentId of [crypto.randomUUID(), stranger.id, gone.id]) {
      const refused = await api(`${s.url}/api/v1/calls/${call.id}/transfer`, {
        token: ann,
        body: { agentId, warm: true },
      });
      expect(refused.status).toBe(404);
      expect(refused.body.error.field).toBe("agentId");
    }
    expect(dials()).toBe(before);
    expect((await reload(call.id)).consult).toBeNull();
    await api(`${s.url}/api/v1/calls/${call.id}/hangup`, { token: ann, body: {} });
    await settled(call.id, "completed");
    await presence(ann, "available");
  });

  it("lets a supervisor listen, then whisper, then barge in; agents may not", async () => {
    await presence(bob, "away");
    const { call } = await connectedCall(ann, "+8613800000023");
    expect(
      (await api(`${s.url}/api/v1/calls/${call.id}/monitor`, { token: bob, body: { mode: "listen" } })).status,
    ).toBe(403);
    const listen = await api(`${s.url}/api/v1/calls/${call.id}/monitor`, {
      token: supervisor,
      body: { mode: "listen" },
    });
    expect(listen.status).toBe(200);
    const legId = listen.body.monitors[0].legId as string;
    await v.sim.settle();
    const twiml = await v.sim.post(`/webhooks/twilio/voice/monitor?inbox=${v.inbox.id}&call=${call.id}&mode=listen`, {
      CallSid: legId,
    });
    expect(readTwiml(twiml).find((x) => x.verb === "Dial")!.children[0]!.attrs).toMatchObject({ muted: "true" });
    const whisper = await api(`${s.url}/api/v1/calls/${call.id}/monitor`, {
      token: supervisor,
      body: { mode: "whisper" },
    });
    expect(whisper.body.monitors).toEqual([expect.objectContaining({ mode: "whisper", legId })]);
    const coach = v.sim.requests.filter((r) => r.path.includes(`/Participants/${legId}.json`)).at(-1)!;
    expect(coach.form).toMatchObject({ Coaching: "true", CallSidToCoach: call.agentLegId, Muted: "false" });
    await api(`${s.url}/api/v1/calls/${call.id}/monitor`, { token: supervisor, body: { mode: "barge" } });
    expect(v.sim.requests.filter((r) => r.path.includes(`/Participants/${legId}.json`)).at(-1)!.form).toMatchObject({
      Coaching: "false",
      Muted: "false",
    });
    // Leave: the supervisor's leg hangs up at Twilio and the call goes on without them.
    const left = await api(`${s.url}/api/v1/calls/${call.id}/monitor/stop`, { token: supervisor, body: {} });
    expect(left.body.monitors).toEqual([]);
    expect(v.sim.requests.filter((r) => r.path.endsWith(`/Calls/${legId}.json`)).at(-1)!.form).toMatchObject({
      Status: "completed",
    });
    const rejoined = (
      await api(`${s.url}/api/v1/calls/${call.id}/monitor`, { token: supervisor, body: { mode: "listen" } })
    ).body.monitors[0].legId as string;
    expect(rejoined).not.toBe(legId);
    await v.sim.settle();
    await api(`${s.url}/api/v1/calls/${call.id}/hangup`, { token: ann, body: {} });
    await settled(call.id, "completed");
    // The customer hanging up ends the supervisor's leg too.
    expect(v.sim.legs.get(rejoined)!.status).toBe("completed");
    await presence(ann, "available");
  });

  it("click-to-call rings the agent first, then the contact's number, from the inbox's number", async () => {
    const { leg, call } = await connectedCall(ann, "+8613800000024");
    await api(`${s.url}/api/v1/calls/${call.id}/hangup`, { token: ann, body: {} });
    await settled(call.id, "completed");
    await presence(ann, "available");
    const before = v.sim.requests.length;
    const out = await api(`${s.url}/api/v1/conversations/${call.conversationId}/calls`, { token: ann, body: {} });
    expect(out.status).toBe(200);
    const outCall = await settled(out.body.callId, "connected");
    const dials = v.sim.requests
      .slice(before)
      .filter((r) => r.path.endsWith("/Calls.json"))
      .map((r) => [r.form.To, r.form.From]);
    expect(dials).toEqual([
      [`client:agent-${s.agent.id}`, v.number],
      [leg.from, v.number],
    ]);
    expect(outCall.conversationId).toBe(call.conversationId);
    await api(`${s.url}/api/v1/calls/${outCall.id}/hangup`, { token: ann, body: {} });
    await settled(outCall.id, "completed");
    const bad = await api(`${s.url}/api/v1/conversations/${call.conversationId}/calls`, {
      token: ann,
      body: { number: "12345" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("number");
    await presence(ann, "available");
  });
});

describe("IVR flow editor API", () => {
  it("saves a valid flow, and rejects a broken one with 400 naming the field", async () => {
    const good = { start: "q", nodes: { q: { type: "enqueue", queueId: v.queues.general } } };
    const saved = await api(`${s.url}/api/v1/inboxes/${v.inbox.id}/ivr-flow`, {
      method: "PUT",
      token: admin,
      body: { flow: good },
    });
    expect(saved.status).toBe(200);
    const cases: [unknown, string][] = [
      [{ start: "a", nodes: { a: { type: "say", text: "hi", next: "nowhere" } } }, "flow.nodes.a.next"],
      [{ start: "q", nodes: { q: { type: "enqueue", queueId: crypto.randomUUID() } } }, "flow.nodes.q.queueId"],
      [
        { start: "q", nodes: { q: { type: "enqueue", queueId: v.queues.general }, island: { type: "hangup" } } },
        "flow.nodes.island",
      ],
      [
        { start: "a", nodes: { a: { type: "say", text: "x", next: "b" }, b: { type: "say", text: "y", next: "a" } } },
        "flow.nodes.a",
      ],
      [
        { start: "m", nodes: { m: { type: "gather", prompt: "p", branches: [{ digits: "1", next: "m" }] } } },
        "flow.nodes.m.fallback",
      ],
    ];
    for (const [flow, field] of cases) {
      const res = await api(`${s.url}/api/v1/inboxes/${v.inbox.id}/ivr-flow`, {
        method: "PUT",
        token: admin,
        body: { flow },
      });
      expect(res.status).toBe(400);
      expect(res.body.error.field).toBe(field);
    }
    expect((await api(`${s.url}/api/v1/inboxes/${v.inbox.id}/ivr-flow`, { token: admin })).body.flow).toEqual(
      saved.body.flow,
    );
    expect(
      (await api(`${s.url}/api/v1/inboxes/${v.inbox.id}/ivr-flow`, { method: "PUT", token: ann, body: { flow: good } }))
        .status,
    ).toBe(403);
  });
});

describe("softphone access tokens", () => {
  it("an admin adds a Twilio line with an API key; agents then get a short-lived Voice SDK token for their own identity", async () => {
    const hex = (c: string) => c.repeat(32);
    const bad = await api(`${s.url}/api/v1/inboxes/voice`, {
      token: admin,
      body: { name: "Line", phoneNumber: "555", accountSid: `AC${hex("1")}`, authToken: "x".repeat(20) },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("phoneNumber");
    const line = await api(`${s.url}/api/v1/inboxes/voice`, {
      token: admin,
      body: {
        name: "Sales line",
        phoneNumber: "+15005550123",
        accountSid: `AC${hex("1")}`,
        authToken: "x".repeat(20),
        apiKeySid: `SK${hex("2")}`,
        apiKeySecret: "s".repeat(32),
        twimlAppSid: `AP${hex("3")}`,
      },
    });
    expect(line.status).toBe(200);
    expect(line.body.webhooks.incoming).toEndWith("/webhooks/twilio/voice");
    const taken = await api(`${s.url}/api/v1/inboxes/voice`, {
      token: admin,
      body: { name: "Again", phoneNumber: "+15005550123", accountSid: `AC${hex("1")}`, authToken: "x".repeat(20) },
    });
    expect(taken.status).toBe(409);
    expect(
      (
        await api(`${s.url}/api/v1/inboxes/voice`, {
          token: ann,
          body: { name: "Mine", phoneNumber: "+15005550124", accountSid: `AC${hex("1")}`, authToken: "x".repeat(20) },
        })
      ).status,
    ).toBe(403);

    const answer = await api(`${s.url}/api/v1/voice/token`, { token: ann });
    expect(answer.body).toMatchObject({ mode: "twilio", identity: `agent-${s.agent.id}` });
    const [header, payload] = (answer.body.token as string)
      .split(".")
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, "base64url").toString()));
    expect(header).toMatchObject({ alg: "HS256", cty: "twilio-fpa;v=1" });
    expect(payload).toMatchObject({
      iss: `SK${hex("2")}`,
      sub: `AC${hex("1")}`,
      grants: {
        identity: `agent-${s.agent.id}`,
        voice: { incoming: { allow: true }, outgoing: { application_sid: `AP${hex("3")}` } },
      },
    });
    expect(payload.exp - payload.iat).toBe(3600);
  });
});
