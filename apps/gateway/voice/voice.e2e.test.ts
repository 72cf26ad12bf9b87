import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { and, eq } from "drizzle-orm";
import { agentStates, calls, timelineItems, workItems, type Call } from "../../../db/schema/index.ts";
import { readTwiml, spoken } from "../../../channels/voice/twiml-read.ts";
import { fakeSid } from "../../demo/twilio-stand-in.ts";
import { twilioSignature } from "../../../channels/voice/verify.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { startVoice, until } from "../../../test/voice.ts";

let s: TestServer;
let v: Awaited<ReturnType<typeof startVoice>>;
let ann: string;

beforeAll(async () => {
  s = await startTestServer();
  v = await startVoice(s);
  ann = await s.login(s.agent.email, s.agent.password);
});
afterAll(async () => {
  v.stop();
  await s.stop();
});

const callOf = async (sid: string) =>
  until(async () => (await s.rt.core.db.select().from(calls).where(eq(calls.externalId, sid)))[0], 5000, `call ${sid}`);
const reload = async (call: Call) => (await s.rt.core.db.select().from(calls).where(eq(calls.id, call.id)))[0]!;
const items = (conversationId: string) =>
  s.rt.core.db
    .select()
    .from(timelineItems)
    .where(eq(timelineItems.conversationId, conversationId))
    .orderBy(timelineItems.seq);
const available = () =>
  api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "available" } });
const away = () =>
  api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "away", reason: "test" } });

describe("Twilio webhooks", () => {
  it("answers a signed incoming call with TwiML, and refuses an unsigned or wrongly signed one with 403", async () => {
    const params = {
      CallSid: fakeSid("CA"),
      AccountSid: v.accountSid,
      From: "+8613800000001",
      To: v.number,
      CallStatus: "ringing",
    };
    const url = `${s.url}/webhooks/twilio/voice`;
    const post = (headers: Record<string, string>) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
        body: new URLSearchParams(params).toString(),
      });
    expect((await post({})).status).toBe(403);
    expect((await post({ "x-twilio-signature": twilioSignature("not-the-token", url, params) })).status).toBe(403);
    // Signed for other parameters (a forged From): the signature no longer matches.
    expect(
      (await post({ "x-twilio-signature": twilioSignature(v.authToken, url, { ...params, From: "+10000000000" }) }))
        .status,
    ).toBe(403);
    const ok = await post({ "x-twilio-signature": twilioSignature(v.authToken, url, params) });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toContain("text/xml");
    const verbs = readTwiml(await ok.text());
    // The welcome and the menu are said inside the Gather, so a caller may press a key at any time.
    expect(verbs[0]).toMatchObject({ verb: "Gather", attrs: { input: "dtmf speech", language: "cmn-Hans-CN" } });
    expect(verbs[0]!.children.map((x) => x.verb)).toEqual(["Say", "Say"]);
    expect(spoken(verbs).join(" ")).toContain("退款请按1");
  });

  it("is idempotent: Twilio's retry of the first webhook and of a gather gets the same answer and one call item", async () => {
    const leg = await v.sim.placeCall({ from: "+8613800000002", to: v.number });
    const first = leg.pending!.action;
    const again = await v.sim.post("/webhooks/twilio/voice", {
      AccountSid: v.accountSid,
      CallSid: leg.sid,
      From: leg.from,
      To: leg.to,
      CallStatus: "ringing",
    });
    expect(readTwiml(again).find((x) => x.verb === "Gather")!.attrs.action).toBe(
      new URL(first).pathname + new URL(first).search,
    );
    const call = await callOf(leg.sid);
    await v.sim.press(leg, "7");
    const afterOne = await reload(call);
    // The same key press delivered twice: the retry is answered from the stored step, no new attempt.
    const retry = await v.sim.post(first, {
      AccountSid: v.accountSid,
      CallSid: leg.sid,
      From: leg.from,
      To: leg.to,
      CallStatus: "in-progress",
      Digits: "7",
    });
    expect(retry).toBe(afterOne.ivr!.reply);
    expect((await reload(call)).ivr!.attempts).toBe(1);
    const callItems = (await items(call.conversationId)).filter((i) => i.type === "call");
    expect(callItems).toHaveLength(1);
    await v.sim.hangup(leg);
  });

  it("greets a webhook for an unknown call politely and gets 403 for an unknown inbox", async () => {
    const twiml = await v.sim.post(
      `/webhooks/twilio/voice/gather?inbox=${v.inbox.id}&call=${crypto.randomUUID()}&step=1`,
      { CallSid: fakeSid("CA"), Digits: "1" },
    );
    expect(readTwiml(twiml).map((x) => x.verb)).toEqual(["Say", "Hangup"]);
    const url = `${s.url}/webhooks/twilio/voice/gather?inbox=${crypto.randomUUID()}&call=${crypto.randomUUID()}&step=1`;
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": twilioSignature(v.authToken, url, {}),
      },
      body: "",
    });
    expect(res.status).toBe(403);
  });

  it("answers a call to a number no inbox has with an apology when it is signed with the deployment token", async () => {
    const params = { CallSid: fakeSid("CA"), From: "+8613800000003", To: "+19999999999" };
    const twiml = await v.sim.post("/webhooks/twilio/voice", params, { token: "demo-twilio-token" });
    expect(spoken(readTwiml(twiml))[0]).toContain("cannot take your call");
  });
});

describe("a call from IVR to agent", () => {
  it("goes IVR → queue (with position) → agent → hold → hang-up → wrap-up, every step in the timeline", async () => {
    await away();
    const leg = await v.sim.placeCall({ from: "+8613800000010", to: v.number, callerName: "王伟" });
    expect(leg.heard.join(" ")).toContain("感谢致电");
    await v.sim.say(leg, "你好，我想退款");
    const call = await callOf(leg.sid);
    expect(call.status).toBe("queued");
    expect(leg.heard.join(" ")).toContain("下一位就是您");
    expect(leg.heard.join(" ")).toContain("请按1");
    const [work] = await s.rt.core.db
      .select()
      .from(workItems)
      .where(and(eq(workItems.conversationId, call.conversationId), eq(workItems.state, "waiting")));
    expect(work).toMatchObject({
      channel: "voice",
      queueId: v.queues.refunds,
      priority: 5,
      requiredSkills: [{ skill: "billing", minLevel: 2 }],
    });
    // The music ends, the caller hears the position again.
    await v.sim.musicEnds(leg);
    expect(leg.pending?.kind).toBe("gather");

    await available();
    const offer = await until(
      async () => (await api(`${s.url}/api/v1/me/offers`, { token: ann })).body.items[0],
      5000,
      "offer",
    );
    expect(offer).toMatchObject({ conversationId: call.conversationId, channel: "voice" });
    expect((await api(`${s.url}/api/v1/offers/${offer.workItemId}/accept`, { token: ann, body: {} })).status).toBe(200);
    const connected = await until(
      async () => {
        await v.sim.settle();
        const c = await reload(call);
        return c.status === "connected" && c.conferenceSid ? c : undefined;
      },
      8000,
      "connected",
    );
    expect(connected.agentId).toBe(s.agent.id);
    // Twilio was asked to ring the agent's softphone and to move the caller into the call's conference.
    const created = v.sim.requests.find((r) => r.path.endsWith("/Calls.json"))!;
    expect(created.form).toMatchObject({ To: `client:agent-${s.agent.id}`, From: v.number });
    const moved = v.sim.requests.find((r) => r.path.endsWith(`/Calls/${leg.sid}.json`))!;
    expect(moved.form.Url).toContain(`/webhooks/twilio/voice/connect?inbox=${v.inbox.id}&call=${call.id}`);
    expect(leg.conference).toBe(`call-${call.id}`);
    expect((await s.rt.core.db.select().from(agentStates).where(eq(agentStates.userId, s.agent.id)))[0]!.presence).toBe(
      "busy",
    );

    const held = await api(`${s.url}/api/v1/calls/${call.id}/hold`, { token: ann, body: { hold: true } });
    expect(held.status).toBe(200);
    await until(async () => (await v.sim.settle(), (await reload(call)).status === "on_hold"), 5000, "on hold");
    await api(`${s.url}/api/v1/calls/${call.id}/hold`, { token: ann, body: { hold: false } });
    await until(async () => (await v.sim.settle(), (await reload(call)).status === "connected"), 5000, "resumed");

    expect((await api(`${s.url}/api/v1/calls/${call.id}/hangup`, { token: ann, body: {} })).status).toBe(200);
    const ended = await until(
      async () => (await v.sim.settle(), (await reload(call)).status === "completed" ? reload(call) : undefined),
      5000,
      "completed",
    );
    expect(ended.endedAt).not.toBeNull();
    expect((await s.rt.core.db.select().from(agentStates).where(eq(agentStates.userId, s.agent.id)))[0]!.presence).toBe(
      "wrap_up",
    );
    const timeline = await items(call.conversationId);
    const events = timeline.filter((i) => i.type === "event").map((i) => i.eventType);
    expect(events).toEqual(expect.arrayContaining(["ivr", "queued", "assigned"]));
    const item = timeline.find((i) => i.type === "call")!;
    expect(item.data).toMatchObject({ status: "completed", from: "+8613800000010", agentId: s.agent.id });
    expect(typeof item.data.durationS).toBe("number");
    expect((item.data.holdS as number) >= 0).toBe(true);
    await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "available" } });
  });

  it("records a caller who hangs up while waiting as abandoned, with the wait", async () => {
    await away();
    const leg = await v.sim.placeCall({ from: "+8613800000011", to: v.number });
    await v.sim.press(leg, "0");
    const call = await callOf(leg.sid);
    expect((await reload(call)).status).toBe("queued");
    await v.sim.hangup(leg);
    const ended = await reload(call);
    expect(ended.status).toBe("abandoned");
    const [work] = await s.rt.core.db.select().from(workItems).where(eq(workItems.conversationId, call.conversationId));
    expect(work!.state).toBe("abandoned");
    expect((await items(call.conversationId)).some((i) => i.eventType === "call_abandoned")).toBe(true);
  });

  it("keeps the place of a caller who presses 1 for a callback, then calls the agent first and the customer second", async () => {
    await away();
    const leg = await v.sim.placeCall({ from: "+8613800000012", to: v.number });
    await v.sim.press(leg, "0");
    await v.sim.press(leg, "1");
    expect(leg.heard.join(" ")).toContain("回拨");
    expect(leg.status).toBe("completed");
    const call = await callOf(leg.sid);
    expect((await reload(call)).status).toBe("callback");
    const [waiting] = await s.rt.core.db
      .select()
      .from(workItems)
      .where(and(eq(workItems.conversationId, call.conversationId), eq(workItems.state, "waiting")));
    expect(waiting).toBeDefined();
    const before = v.sim.requests.length;
    await available();
    const offer = await until(
      async () =>
        (await api(`${s.url}/api/v1/me/offers`, { token: ann })).body.items.find(
          (o: any) => o.conversationId === call.conversationId,
        ),
      5000,
      "offer",
    );
    await api(`${s.url}/api/v1/offers/${offer.workItemId}/accept`, { token: ann, body: {} });
    const connected = await until(
      async () => (await v.sim.settle(), (await reload(call)).status === "connected" ? reload(call) : undefined),
      8000,
      "callback connected",
    );
    const dials = v.sim.requests
      .slice(before)
      .filter((r) => r.path.endsWith("/Calls.json"))
      .map((r) => r.form.To);
    expect(dials).toEqual([`client:agent-${s.agent.id}`, "+8613800000012"]);
    expect(connected.customerLegId).not.toBeNull();
    await api(`${s.url}/api/v1/calls/${call.id}/hangup`, { token: ann, body: {} });
    await until(async () => (await v.sim.settle(), (await reload(call)).status === "completed"), 5000, "completed");
    await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "available" } });
  });

  it("takes a voicemail, stores the recording encrypted, and adds Twilio's transcription", async () => {
    const leg = await v.sim.placeCall({ from: "+8613800000013", to: v.number });
    await v.sim.press(leg, "3");
    expect(leg.pending?.kind).toBe("record");
    const recordingSid = fakeSid("RE");
    await v.sim.leaveMessage(leg, { sid: recordingSid, seconds: 12 });
    const call = await callOf(leg.sid);
    expect((await reload(call)).status).toBe("voicemail");
    await v.sim.recordingReady(
      `/webhooks/twilio/voice/recording?inbox=${v.inbox.id}&call=${call.id}`,
      leg.sid,
      recordingSid,
    );
    const stored = await until(async () => (await reload(call)).recordingId, 5000, "recording");
    await v.sim.post(`/webhooks/twilio/voice/transcription?inbox=${v.inbox.id}&call=${call.id}`, {
      CallSid: leg.sid,
      RecordingSid: recordingSid,
      TranscriptionText: "我的订单还没到",
      TranscriptionStatus: "completed",
    });
    const item = (await items(call.conversationId)).find((i) => i.type === "call")!;
    expect(item.data).toMatchObject({
      status: "voicemail",
      recordingUrl: `/files/${stored}`,
      transcript: "我的订单还没到",
    });
    // Fetched from Twilio, then deleted there.
    expect(v.sim.requests.some((r) => r.method === "GET" && r.path.includes(`/Recordings/${recordingSid}.mp3`))).toBe(
      true,
    );
    expect(
      v.sim.requests.some((r) => r.method === "DELETE" && r.path.includes(`/Recordings/${recordingSid}.json`)),
    ).toBe(true);
    // Sealed on disk, plain through the agent API.
    const file = await fetch(`${s.url}/files/${stored}`, { headers: { authorization: `Bearer ${ann}` } });
    const bytes = new Uint8Array(await file.arrayBuffer());
    expect(new TextDecoder().decode(bytes.slice(4))).toBe(`recording ${recordingSid}`);
    const onDisk = await Bun.file(`${s.rt.config.dataDir}/files/${s.workspaceId}/${stored}.sealed`).arrayBuffer();
    expect(new TextDecoder().decode(new Uint8Array(onDisk))).not.toContain(recordingSid);
  });
});
