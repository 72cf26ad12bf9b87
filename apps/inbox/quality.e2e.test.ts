import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { callTranscripts, calls, qaScores, type TranscriptSegment } from "../../db/schema/index.ts";
import { scoreConversation } from "../../quality/scoring.ts";
import { registerTranscriptionProvider } from "../../quality/transcription.ts";
import recorded from "../../quality/fixtures/call-transcript.json";
import { fakeSid } from "../demo/twilio-stand-in.ts";
import { until } from "../../test/poll.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../test/server.ts";
import { startVoice } from "../../test/voice.ts";

// A provider that answers with a recorded transcript, keeping the audio it was given.
const heard: string[] = [];
registerTranscriptionProvider("recorded", () => ({
  name: "recorded",
  async transcribe(audio) {
    heard.push(new TextDecoder().decode(audio));
    return recorded as TranscriptSegment[];
  },
}));

let s: TestServer;
let admin: string;
let supervisor: string;
let agent: string;

beforeAll(async () => {
  s = await startTestServer({ env: { TRANSCRIPTION_PROVIDER: "recorded", QA_SWEEP_MS: "600000" } });
  admin = await s.login(s.admin.email, s.admin.password);
  agent = await s.login(s.agent.email, s.agent.password);
  supervisor = await s.signInAs("supervisor", "Sue");
});
afterAll(() => s.stop());

const qaOf = (conversationId: string, token = admin) =>
  api(`${s.url}/api/v1/conversations/${conversationId}/qa`, { token });

/** A widget visitor's chat assigned to Ann, who answers without a greeting; then the visitor complains. */
async function complainingChat() {
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  const visitor = session.body.visitorToken as string;
  const first = await api(`${s.url}/widget/v1/messages`, { token: visitor, body: { text: "我的快递三天没动了" } });
  const conversationId = first.body.conversationId as string;
  const assigned = await api(`${s.url}/api/v1/conversations/${conversationId}/assign`, {
    token: admin,
    body: { assigneeId: s.agent.id },
  });
  expect(assigned.status).toBe(200);
  const reply = await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, {
    token: agent,
    body: { text: "订单号多少" },
  });
  expect(reply.status).toBe(201);
  await api(`${s.url}/widget/v1/messages`, { token: visitor, body: { text: "我要投诉，太失望了" } });
  return conversationId;
}

describe("automatic QA of a chat", () => {
  it("finds the missing greeting and a critical complaint within seconds; alerts supervisors, not agents", async () => {
    const sue = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${supervisor}`);
    const ann = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${agent}`);
    const conversationId = await complainingChat();
    // The listener scores it on its own: the alert comes without anyone asking for the QA.
    const alert = await sue.waitFor((f) => f.type === "qa.alert" && f.conversationId === conversationId, 5000);
    expect(alert.finding).toMatchObject({ rule: "Complaint", severity: "critical", excerpt: "我要投诉，太失望了" });
    expect(alert.permission).toBe("qa.review");
    const stored = await until(
      () => s.rt.core.db.select().from(qaScores).where(eq(qaScores.conversationId, conversationId)),
      (rows) => rows.length === 1,
      5000,
    );
    expect(stored[0]!.agentId).toBe(s.agent.id);
    // Ann sees the conversation's messages on her socket, but never the alert.
    await ann.waitFor((f) => f.type === "item.created" && f.item?.text === "我要投诉，太失望了");
    expect(ann.frames.some((f) => f.type === "qa.alert")).toBe(false);
    sue.close();
    ann.close();

    const qa = await qaOf(conversationId);
    expect(qa.status).toBe(200);
    const byRule = Object.fromEntries((qa.body.findings as any[]).map((f) => [f.rule, f]));
    expect(byRule.Greeting).toMatchObject({ severity: "warning", excerpt: "订单号多少" });
    expect(byRule.Complaint).toMatchObject({ severity: "critical", itemId: expect.any(String) });
    expect(byRule["Customer sentiment"]).toMatchObject({ severity: "warning" });
    // 100 − greeting 10 − complaint 20 − sentiment 10.
    expect(qa.body.score).toBe(60);
    // Ann may read her own conversation's QA; a conversation she cannot see is a 404.
    expect((await qaOf(conversationId, agent)).body.score).toBe(60);
  });

  it("reviews findings: the queue by status and severity, confirm with a note, dismiss raises the score", async () => {
    const conversationId = await complainingChat();
    const queue = await until(
      () => api(`${s.url}/api/v1/qa/findings?status=open&severity=critical&limit=50`, { token: supervisor }),
      (r) => r.body.items?.some((f: any) => f.conversationId === conversationId),
      5000,
    );
    expect(queue.body.items.every((f: any) => f.severity === "critical" && f.status === "open")).toBe(true);
    const complaint = queue.body.items.find((f: any) => f.conversationId === conversationId);
    const greeting = (await qaOf(conversationId)).body.findings.find((f: any) => f.rule === "Greeting");

    const confirmed = await api(`${s.url}/api/v1/qa/findings/${complaint.id}`, {
      method: "PATCH",
      token: supervisor,
      body: { status: "confirmed", coachingNote: "先道歉，再问订单号" },
    });
    expect(confirmed.body).toMatchObject({ status: "confirmed", coachingNote: "先道歉，再问订单号" });
    const dismissed = await api(`${s.url}/api/v1/qa/findings/${greeting.id}`, {
      method: "PATCH",
      token: supervisor,
      body: { status: "dismissed" },
    });
    expect(dismissed.status).toBe(200);
    expect((await qaOf(conversationId)).body.score).toBe(70);
    const bad = await api(`${s.url}/api/v1/qa/findings/${greeting.id}`, {
      method: "PATCH",
      token: supervisor,
      body: { status: "ignored" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("status");
    const byAgent = await api(`${s.url}/api/v1/qa/findings/${greeting.id}`, {
      method: "PATCH",
      token: agent,
      body: { status: "open" },
    });
    expect(byAgent.status).toBe(403);

    // Keyset pages: two at a time, no finding twice.
    const page1 = await api(`${s.url}/api/v1/qa/findings?limit=2`, { token: supervisor });
    const page2 = await api(`${s.url}/api/v1/qa/findings?limit=2&cursor=${page1.body.nextCursor}`, {
      token: supervisor,
    });
    const ids = [...page1.body.items, ...page2.body.items].map((f: any) => f.id);
    expect(new Set(ids).size).toBe(4);

    // Alerts: listed until read.
    const alerts = await api(`${s.url}/api/v1/qa/alerts`, { token: supervisor });
    expect(alerts.body.items.some((f: any) => f.id === complaint.id)).toBe(true);
    expect((await api(`${s.url}/api/v1/qa/alerts/${complaint.id}/read`, { token: supervisor, body: {} })).status).toBe(
      200,
    );
    const after = await api(`${s.url}/api/v1/qa/alerts`, { token: supervisor });
    expect(after.body.items.some((f: any) => f.id === complaint.id)).toBe(false);
    expect((await api(`${s.url}/api/v1/qa/alerts`, { token: agent })).status).toBe(403);

    const summary = await api(
      `${s.url}/api/v1/qa/summary?from=${new Date(Date.now() - 3600_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}&groupBy=agent`,
      { token: supervisor },
    );
    const ann = summary.body.rows.find((r: any) => r.key === s.agent.id);
    expect(ann).toMatchObject({ name: "Agent Ann", conversations: 2 });
    expect(ann.averageScore).toBe(65);
    const reversed = await api(
      `${s.url}/api/v1/qa/summary?from=${new Date().toISOString()}&to=${new Date(Date.now() - 1000).toISOString()}`,
      { token: supervisor },
    );
    expect(reversed.status).toBe(400);
    expect(reversed.body.error.field).toBe("from");
  });
});

describe("scoring again", () => {
  it("is idempotent: two passes at once leave each finding once and alert once; the sweep restores a lost score", async () => {
    const sue = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${supervisor}`);
    const conversationId = await complainingChat();
    await sue.waitFor((f) => f.type === "qa.alert" && f.conversationId === conversationId, 5000);
    const before = (await qaOf(conversationId)).body;
    // Two nodes hearing the same event: both score, one after the other.
    await Promise.all([scoreConversation(s.rt.core, conversationId), scoreConversation(s.rt.core, conversationId)]);
    const after = (await qaOf(conversationId)).body;
    expect(after.findings.map((f: any) => f.id).sort()).toEqual(before.findings.map((f: any) => f.id).sort());
    expect(after.score).toBe(before.score);
    // A bus message lost: the score row is gone until the sweep finds the conversation unscored.
    await s.rt.core.db.delete(qaScores).where(eq(qaScores.conversationId, conversationId));
    await s.rt.quality.sweep();
    const [restored] = await s.rt.core.db.select().from(qaScores).where(eq(qaScores.conversationId, conversationId));
    expect(restored?.score).toBe(before.score);
    expect(sue.frames.filter((f) => f.type === "qa.alert" && f.conversationId === conversationId)).toHaveLength(1);
    sue.close();
  });
});

describe("the scorecard", () => {
  it("starts with the default rules; refuses bad rules with 400s naming the field; agents may not change it", async () => {
    const list = await api(`${s.url}/api/v1/qa/rules`, { token: admin });
    expect(list.body.items.map((r: any) => r.kind)).toContain("complaint");
    const post = (body: unknown, token = admin) => api(`${s.url}/api/v1/qa/rules`, { token, body });
    const cases: [unknown, string][] = [
      [{ name: "X", kind: "telepathy" }, "kind"],
      [{ name: "X", kind: "greeting", config: { phrases: [] } }, "config.phrases"],
      [{ name: "X", kind: "silence", config: { maxSeconds: 0 } }, "config.maxSeconds"],
      [{ name: "X", kind: "complaint", config: { phrases: ["a"], patterns: ["(a+)+$"] } }, "config.patterns.0"],
      [{ name: "", kind: "hold", config: { maxSeconds: 60 } }, "name"],
      [{ name: "X", kind: "hold", config: { maxSeconds: 60 }, severity: "fatal" }, "severity"],
    ];
    for (const [body, field] of cases) {
      const r = await post(body);
      expect(r.status).toBe(400);
      expect(r.body.error.field).toBe(field);
    }
    expect((await post({ name: "Refund words", kind: "promise", config: { phrases: ["退款"] } }, agent)).status).toBe(
      403,
    );
    const made = await post({
      name: "Refund words",
      kind: "promise",
      config: { phrases: ["退款", "refund"] },
      weight: 5,
    });
    expect(made.status).toBe(201);
    expect((await post({ name: "Refund words", kind: "promise", config: { phrases: ["x"] } })).status).toBe(409);
    const patched = await api(`${s.url}/api/v1/qa/rules/${made.body.id}`, {
      method: "PATCH",
      token: admin,
      body: { weight: 25, enabled: false },
    });
    expect(patched.body).toMatchObject({ weight: 25, enabled: false, kind: "promise" });
    const badPatch = await api(`${s.url}/api/v1/qa/rules/${made.body.id}`, {
      method: "PATCH",
      token: admin,
      body: { config: { phrases: "退款" } },
    });
    expect(badPatch.status).toBe(400);
    expect(badPatch.body.error.field).toBe("config.phrases");
    expect((await api(`${s.url}/api/v1/qa/rules/${made.body.id}`, { method: "DELETE", token: admin })).status).toBe(
      200,
    );
    expect((await api(`${s.url}/api/v1/qa/rules/${made.body.id}`, { method: "DELETE", token: admin })).status).toBe(
      404,
    );
  });
});

describe("calls", () => {
  it("transcribes a recorded call through the provider and finds its silence and long hold", async () => {
    const v = await startVoice(s);
    try {
      const leg = await v.sim.placeCall({ from: "+8613800000021", to: v.number });
      await v.sim.press(leg, "3");
      const recordingSid = fakeSid("RE");
      await v.sim.leaveMessage(leg, { sid: recordingSid, seconds: 60 });
      const call = await until(
        async () => (await s.rt.core.db.select().from(calls).where(eq(calls.externalId, leg.sid)))[0],
        (c) => !!c,
      );
      await v.sim.recordingReady(
        `/webhooks/twilio/voice/recording?inbox=${v.inbox.id}&call=${call!.id}`,
        leg.sid,
        recordingSid,
      );
      await until(
        async () => (await s.rt.core.db.select().from(calls).where(eq(calls.id, call!.id)))[0]!,
        (c) => !!c.recordingId,
      );
      // The hold is the call row's own figure (the hold API is covered by the voice tests).
      await s.rt.core.db.update(calls).set({ holdSeconds: 185 }).where(eq(calls.id, call!.id));
      await s.rt.quality.sweep();
      const [transcript] = await s.rt.core.db
        .select()
        .from(callTranscripts)
        .where(eq(callTranscripts.callId, call!.id));
      expect(transcript).toMatchObject({ source: "recorded", status: "done" });
      // The provider got the recording's audio, opened from its sealed file.
      expect(heard.some((audio) => audio.endsWith(`recording ${recordingSid}`))).toBe(true);
      const qa = await until(
        () => qaOf(call!.conversationId),
        (r) => r.body.findings?.some((f: any) => f.rule === "Long silence"),
        5000,
      );
      const byRule = Object.fromEntries((qa.body.findings as any[]).map((f) => [f.rule, f]));
      expect(byRule["Long silence"]).toMatchObject({
        excerpt: "Silence of 32 s at 13 s",
        itemId: call!.timelineItemId,
      });
      expect(byRule["Long hold"]).toMatchObject({ excerpt: "On hold for 3 min 5 s" });
      expect(byRule.Greeting).toBeUndefined();
      expect(byRule.Closing).toBeUndefined();
    } finally {
      v.stop();
    }
  });

  it("stores Twilio's transcription as the call's transcript and scores it", async () => {
    const v = await startVoice(s);
    try {
      const leg = await v.sim.placeCall({ from: "+8613800000022", to: v.number });
      await v.sim.press(leg, "3");
      await v.sim.leaveMessage(leg, { sid: fakeSid("RE"), seconds: 10 });
      const call = await until(
        async () => (await s.rt.core.db.select().from(calls).where(eq(calls.externalId, leg.sid)))[0],
        (c) => !!c,
      );
      await v.sim.post(`/webhooks/twilio/voice/transcription?inbox=${v.inbox.id}&call=${call!.id}`, {
        CallSid: leg.sid,
        TranscriptionText: "再不退款我就打12315投诉",
        TranscriptionStatus: "completed",
      });
      const [transcript] = await s.rt.core.db
        .select()
        .from(callTranscripts)
        .where(eq(callTranscripts.callId, call!.id));
      expect(transcript).toMatchObject({ source: "twilio", text: "再不退款我就打12315投诉" });
      const qa = await until(
        () => qaOf(call!.conversationId),
        (r) => r.body.findings?.some((f: any) => f.rule === "Complaint"),
        5000,
      );
      expect(qa.body.findings.find((f: any) => f.rule === "Complaint")).toMatchObject({
        severity: "critical",
        itemId: call!.timelineItemId,
      });
    } finally {
      v.stop();
    }
  });
});
