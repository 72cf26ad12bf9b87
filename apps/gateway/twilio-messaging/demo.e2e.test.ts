import { afterAll, beforeAll, expect, it, setDefaultTimeout } from "bun:test";
import { and, eq } from "drizzle-orm";
import { DEMO_TWILIO_MESSAGING } from "../../demo/seed-messaging.ts";
import { seedDemo } from "../../demo/seed.ts";
import { inboxRoutes, timelineItems } from "../../../db/schema/index.ts";
import { createAgent } from "../../../routing/agent.ts";
import { until } from "../../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { newNumber, newSid, postSigned } from "../../../test/twilio-messaging.ts";

/**
 * The demo's SMS and WhatsApp inboxes (a public contract): messages signed with demo-twilio-token reach
 * them, and without TWILIO_API_BASE replies go to the built-in stand-in, which reports them delivered.
 */

setDefaultTimeout(30_000);
let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
  await seedDemo(s.rt);
}, 60_000);
afterAll(() => s.stop());

const demoRoute = async (channel: "sms" | "whatsapp", number: string) =>
  (
    await s.rt.core.db
      .select()
      .from(inboxRoutes)
      .where(
        and(
          eq(inboxRoutes.kind, channel),
          eq(inboxRoutes.key, `${DEMO_TWILIO_MESSAGING.accountSid}:${number}`.toLowerCase()),
        ),
      )
  )[0]!;

it("takes SMS and WhatsApp signed with the demo token, and replies through the stand-in until delivered", async () => {
  const { accountSid, authToken, smsNumber, whatsappNumber } = DEMO_TWILIO_MESSAGING;
  const sms = await demoRoute("sms", smsNumber);
  const whatsapp = await demoRoute("whatsapp", whatsappNumber);
  expect(sms.verifiedAt).not.toBeNull();
  expect(whatsapp.workspaceId).toBe(sms.workspaceId);

  const customer = newNumber();
  const text = { MessageSid: newSid("SM"), AccountSid: accountSid, From: customer, To: smsNumber, Body: "Hello demo" };
  expect((await postSigned(s, "/webhooks/twilio/messaging", text, authToken)).status).toBe(200);
  const wa = {
    MessageSid: newSid("SM"),
    AccountSid: accountSid,
    From: `whatsapp:${customer}`,
    To: `whatsapp:${whatsappNumber}`,
    Body: "Hola",
    ProfileName: "Demo customer",
  };
  expect((await postSigned(s, "/webhooks/twilio/messaging", wa, authToken)).status).toBe(200);
  expect((await postSigned(s, "/webhooks/twilio/messaging", text, "wrong-token-0123456789")).status).toBe(403);
  const [inbound] = await s.rt.core.db
    .select()
    .from(timelineItems)
    .where(and(eq(timelineItems.inboxId, sms.inboxId), eq(timelineItems.externalId, text.MessageSid)));
  expect(inbound!.text).toBe("Hello demo");

  // An admin of the demo workspace replies.
  const email = `demo-admin-${crypto.randomUUID()}@demo.test`;
  await createAgent(s.rt.core.db, {
    workspaceId: sms.workspaceId,
    email,
    name: "Demo",
    role: "admin",
    password: "pw-demo-123",
  });
  const token = await s.login(email, "pw-demo-123");
  const reply = await api(`${s.url}/api/v1/conversations/${inbound!.conversationId}/messages`, {
    token,
    body: { text: "Hi from the demo", inboxId: sms.inboxId },
  });
  expect(reply.status).toBe(201);
  const delivered = await until(
    async () => (await s.rt.core.db.select().from(timelineItems).where(eq(timelineItems.id, reply.body.id)))[0]!,
    (i) => i.deliveryStatus === "delivered",
    10_000,
  );
  expect(delivered.deliveryStatus).toBe("delivered");
  const recorded = (await api(`${s.url}/simulator/messages`)).body.items as { sid: string; to: string; body: string }[];
  expect(recorded.find((m) => m.sid === delivered.externalId)).toMatchObject({
    to: customer,
    body: "Hi from the demo",
  });
});
