import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createHmac } from "node:crypto";
import { eq } from "drizzle-orm";
import { calls } from "../../../db/schema/index.ts";
import { readTwiml, spoken } from "../../../channels/voice/twiml-read.ts";
import { createInbox } from "../../../conversations/inbox.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { startVoice, until } from "../../../test/voice.ts";

let s: TestServer;
let v: Awaited<ReturnType<typeof startVoice>>;
let admin: string;
let ann: string;

beforeAll(async () => {
  s = await startTestServer();
  v = await startVoice(s, { apiKey: true });
  admin = await s.login(s.admin.email, s.admin.password);
  ann = await s.login(s.agent.email, s.agent.password);
});
afterAll(async () => {
  v.stop();
  await s.stop();
});

const linkLine = (body: unknown, inboxId = s.inbox.id) =>
  api(`${s.url}/api/v1/inboxes/${inboxId}/call-line`, { method: "PUT", token: admin, body });

async function chat(name: string, text: string) {
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey, name } });
  const sent = await api(`${s.url}/widget/v1/messages`, { token: session.body.visitorToken, body: { text } });
  expect(sent.status).toBe(201);
  return {
    token: session.body.visitorToken as string,
    inbox: session.body.inbox,
    conversationId: sent.body.conversationId as string,
    contactId: session.body.contact.id as string,
  };
}

/** The claims of a Twilio access token, after checking its HS256 signature with the line's API key secret. */
function verifiedClaims(jwt: string, secret: string) {
  const [head, payload, signature] = jwt.split(".");
  const expected = createHmac("sha256", secret).update(`${head}.${payload}`).digest("base64url");
  expect(signature).toBe(expected);
  return JSON.parse(Buffer.from(payload!, "base64url").toString());
}

describe("chat → voice through Twilio (the widget joins with the Voice SDK)", () => {
  it("links a web chat inbox to a phone line only when the line can mint tokens, naming what is wrong", async () => {
    const bare = await createInbox(s.rt.core.db, s.rt.keyring, {
      workspaceId: s.workspaceId,
      channel: "voice",
      name: "Bare line",
      settings: { phoneNumber: "+15550001111" },
      credentials: { accountSid: `AC${"0".repeat(32)}`, authToken: "x".repeat(32) },
    });
    const noKey = await linkLine({ voiceInboxId: bare.id, queueId: v.queues.general });
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.field).toBe("voiceInboxId");
    const noQueue = await linkLine({ voiceInboxId: v.inbox.id });
    expect(noQueue.status).toBe(400);
    expect(noQueue.body.error.field).toBe("queueId");
    const notChat = await linkLine({ voiceInboxId: v.inbox.id, queueId: v.queues.general }, v.inbox.id);
    expect(notChat.status).toBe(400);
    expect(notChat.body.error.field).toBe("id");
    const asAgent = await api(`${s.url}/api/v1/inboxes/${s.inbox.id}/call-line`, {
      method: "PUT",
      token: ann,
      body: { voiceInboxId: null },
    });
    expect(asAgent.status).toBe(403);
    // Unlinked, the widget calls browser to browser and has no Twilio ticket.
    const before = await chat("Li Lei", "hello");
    expect(before.inbox.calls).toBe("browser");
    const refused = await api(`${s.url}/widget/v1/calls/twilio`, { token: before.token, body: {} });
    expect(refused.status).toBe(409);
    expect(refused.body.error.field).toBe("callLine");
  });

  it("gives the visitor an outgoing-only token for the line, and the call continues the chat in the same conversation", async () => {
    const saved = await linkLine({ voiceInboxId: v.inbox.id, queueId: v.queues.general });
    expect(saved.status).toBe(200);
    expect(saved.body).toEqual({ voiceInboxId: v.inbox.id, queueId: v.queues.general });
    expect((await api(`${s.url}/api/v1/inboxes/${s.inbox.id}/call-line`, { token: admin })).body).toEqual(saved.body);
    const visitor = await chat("Han Meimei", "我想打电话问一下退款");
    expect(visitor.inbox.calls).toBe("phone");
    await api(`${s.url}/api/v1/conversations/${visitor.conversationId}/assign`, {
      token: ann,
      body: { assigneeId: s.agent.id },
    });

    const ticket = await api(`${s.url}/widget/v1/calls/twilio`, { token: visitor.token, body: {} });
    expect(ticket.status).toBe(201);
    expect(ticket.body.params).toEqual({ To: v.number, conversationId: visitor.conversationId });
    expect(ticket.body.identity).toBe(`visitor-${visitor.contactId}`);
    const claims = verifiedClaims(ticket.body.token, v.apiKeySecret);
    expect(claims.sub).toBe(v.accountSid);
    expect(claims.grants.identity).toBe(`visitor-${visitor.contactId}`);
    expect(claims.grants.voice.outgoing.application_sid).toMatch(/^AP/);
    // A visitor's browser is never rung: no incoming grant.
    expect(claims.grants.voice.incoming?.allow ?? false).toBe(false);
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(600);

    // Twilio calls the TwiML app's voice URL: From is the identity it vouches for, To and conversationId
    // are the SDK's parameters. No IVR: the caller waits in the line's queue, with no callback offer.
    await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "available" } });
    const leg = await v.sim.placeCall({
      from: `client:${ticket.body.identity}`,
      to: v.number,
      params: { conversationId: visitor.conversationId },
    });
    const call = await until(
      async () => (await s.rt.core.db.select().from(calls).where(eq(calls.externalId, leg.sid)))[0],
      5000,
      "call row",
    );
    expect(call).toMatchObject({
      conversationId: visitor.conversationId,
      provider: "twilio",
      direction: "in",
      queueId: v.queues.general,
    });
    expect(leg.heard.join(" ")).not.toContain("press 1");
    expect(leg.heard.join(" ")).not.toContain("请按1");

    // The agent chatting with the visitor gets the call first; the softphone rings, then both meet.
    const offer = await until(
      async () => (await api(`${s.url}/api/v1/me/offers`, { token: ann })).body.items[0],
      5000,
      "offer",
    );
    expect(offer).toMatchObject({ conversationId: visitor.conversationId, channel: "voice" });
    expect((await api(`${s.url}/api/v1/offers/${offer.workItemId}/accept`, { token: ann, body: {} })).status).toBe(200);
    const reload = async () => (await s.rt.core.db.select().from(calls).where(eq(calls.id, call.id)))[0]!;
    await until(async () => (await v.sim.settle(), (await reload()).status === "connected"), 8000, "connected");
    const dial = v.sim.requests.find((r) => r.path.endsWith("/Calls.json"))!;
    expect(dial.form.To).toBe(`client:agent-${s.agent.id}`);

    const timeline = await api(`${s.url}/api/v1/conversations/${visitor.conversationId}/timeline`, { token: ann });
    const kinds = (timeline.body.items as any[]).filter((i) => i.type !== "event").map((i) => [i.type, i.channel]);
    expect(kinds).toEqual([
      ["message", "webchat"],
      ["call", "voice"],
    ]);
    await v.sim.hangup(leg);
    await until(async () => (await v.sim.settle(), (await reload()).status === "completed"), 5000, "completed");
  });

  it("refuses a client call for someone else's chat, or with no chat, with a polite goodbye and no call", async () => {
    const victim = await chat("Wang Wu", "private matter");
    const intruder = await chat("Zhao Liu", "hi");
    const forged = await v.sim.placeCall({
      from: `client:visitor-${intruder.contactId}`,
      to: v.number,
      params: { conversationId: victim.conversationId },
    });
    const missing = await v.sim.placeCall({ from: `client:visitor-${intruder.contactId}`, to: v.number });
    const junk = await v.sim.placeCall({
      from: "client:someone-else",
      to: v.number,
      params: { conversationId: "not-a-uuid" },
    });
    for (const leg of [forged, missing, junk]) {
      expect(leg.heard.join(" ")).toContain("cannot take your call");
      expect(await s.rt.core.db.select().from(calls).where(eq(calls.externalId, leg.sid))).toHaveLength(0);
    }
    // Twilio retrying a refused call's first webhook gets the same goodbye.
    const again = await v.sim.post("/webhooks/twilio/voice", {
      AccountSid: v.accountSid,
      CallSid: forged.sid,
      From: forged.from,
      To: v.number,
      conversationId: victim.conversationId,
    });
    expect(spoken(readTwiml(again)).join(" ")).toContain("cannot take your call");
  });

  it("goes back to browser calls when the line is unlinked", async () => {
    expect((await linkLine({ voiceInboxId: null })).body).toEqual({ voiceInboxId: null, queueId: null });
    const visitor = await chat("Sun Qi", "hello again");
    const refused = await api(`${s.url}/widget/v1/calls/twilio`, { token: visitor.token, body: {} });
    expect(refused.status).toBe(409);
  });
});
