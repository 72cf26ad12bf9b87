import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { calls } from "../db/schema/index.ts";
import { api, startTestServer, type TestServer } from "../test/server.ts";
import { startVoice, until } from "../test/voice.ts";

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

async function chat(text: string) {
  const session = await api(`${s.url}/widget/v1/sessions`, {
    body: { inboxKey: s.inbox.publicKey, name: "Wang Fang" },
  });
  const sent = await api(`${s.url}/widget/v1/messages`, { token: session.body.visitorToken, body: { text } });
  expect(sent.status).toBe(201);
  return { conversationId: sent.body.conversationId as string, contactId: session.body.contact.id as string };
}

describe("chat → phone callback (PSTN through the voice inbox)", () => {
  it("calls the chatting customer back on their phone from the chat, and the call lands in the same conversation below the chat", async () => {
    const { conversationId, contactId } = await chat("请打电话给我");
    await api(`${s.url}/api/v1/conversations/${conversationId}/assign`, {
      token: ann,
      body: { assigneeId: s.agent.id },
    });
    const added = await api(`${s.url}/api/v1/contacts/${contactId}/identities`, {
      token: ann,
      body: { kind: "phone", value: "+8613800000077" },
    });
    expect(added.status).toBe(201);
    const before = v.sim.requests.length;
    const started = await api(`${s.url}/api/v1/conversations/${conversationId}/calls`, { token: ann, body: {} });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({
      conversationId,
      provider: "twilio",
      to: "+8613800000077",
      agentId: s.agent.id,
    });
    const reload = async () => (await s.rt.core.db.select().from(calls).where(eq(calls.id, started.body.callId)))[0]!;
    // Twilio's side: the agent's softphone first, then the customer's phone, from the inbox's number.
    await until(
      async () => (await v.sim.settle(), (await reload()).status === "connected"),
      8000,
      "callback connected",
    );
    const dials = v.sim.requests.slice(before).filter((r) => r.path.endsWith("/Calls.json"));
    expect(dials.map((r) => r.form.To)).toEqual([`client:agent-${s.agent.id}`, "+8613800000077"]);
    expect(dials.every((r) => r.form.From === v.number)).toBe(true);

    const timeline = await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token: ann });
    const kinds = (timeline.body.items as any[]).filter((i) => i.type !== "event").map((i) => [i.type, i.channel]);
    expect(kinds).toEqual([
      ["message", "webchat"],
      ["call", "voice"],
    ]);
    await api(`${s.url}/api/v1/calls/${started.body.callId}/hangup`, { token: ann, body: {} });
    await until(async () => (await v.sim.settle(), (await reload()).status === "completed"), 5000, "completed");
  });

  it("asks for a number when the chatting customer has none (400 naming number)", async () => {
    const { conversationId } = await chat("call me?");
    const r = await api(`${s.url}/api/v1/conversations/${conversationId}/calls`, { token: ann, body: {} });
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe("number");
  });
});
