import { afterAll, beforeAll, expect, it } from "bun:test";
import { and, eq } from "drizzle-orm";
import { timelineItems } from "../../db/schema/index.ts";
import { api, startTestServer, type TestServer } from "../../test/server.ts";
import { newNumber, newSid, postSigned, startTwilioStandIn } from "../../test/twilio-messaging.ts";

/** A ticket's progress notice on WhatsApp: sent inside the 24-hour window, recorded as refused past it. */

const twilio = startTwilioStandIn();
const acct = twilio.account();
const waNumber = newNumber();
let s: TestServer;
let admin: string;
let inboxId: string;

beforeAll(async () => {
  s = await startTestServer({ env: { TWILIO_API_BASE: twilio.base } });
  admin = await s.signInAs("admin");
  const res = await api(`${s.url}/api/v1/inboxes`, {
    token: admin,
    body: { name: "WhatsApp", channel: "whatsapp", phoneNumber: waNumber, accountSid: acct.sid, authToken: acct.token },
  });
  expect(res.status).toBe(201);
  inboxId = res.body.id;
}, 60_000);
afterAll(async () => {
  await s.stop();
  twilio.stop();
});

async function customerWrites(body: string) {
  const params = {
    MessageSid: newSid("SM"),
    AccountSid: acct.sid,
    From: `whatsapp:${newNumber()}`,
    To: `whatsapp:${waNumber}`,
    Body: body,
    NumMedia: "0",
  };
  expect((await postSigned(s, "/webhooks/twilio/messaging", params, acct.token)).status).toBe(200);
  const [item] = await s.rt.core.db
    .select({ id: timelineItems.id, conversationId: timelineItems.conversationId })
    .from(timelineItems)
    .where(and(eq(timelineItems.inboxId, inboxId), eq(timelineItems.externalId, params.MessageSid)));
  return item!;
}

const v1 = (path: string) => `${s.url}/api/v1${path}`;
const noticesOf = async (ticketId: string) =>
  ((await api(v1(`/tickets/${ticketId}/entries`), { token: admin })).body.items as any[]).filter(
    (e) => e.kind === "notification",
  );

it("sends the notice inside the window and records the refusal past it, changing the status either way", async () => {
  const fresh = await customerWrites("My order never came");
  const ticket = (
    await api(v1(`/conversations/${fresh.conversationId}/tickets`), { token: admin, body: { title: "Missing order" } })
  ).body;
  expect(
    (await api(v1(`/tickets/${ticket.id}`), { token: admin, method: "PATCH", body: { status: "open" } })).status,
  ).toBe(200);
  expect((await noticesOf(ticket.id)).map((n) => n.data.sent)).toEqual([true]);

  // The customer last wrote 25 hours ago: WhatsApp would refuse free text.
  await s.rt.core.db
    .update(timelineItems)
    .set({ createdAt: new Date(Date.now() - 25 * 3_600_000) })
    .where(eq(timelineItems.id, fresh.id));
  const solved = await api(v1(`/tickets/${ticket.id}`), { token: admin, method: "PATCH", body: { status: "solved" } });
  expect(solved.status).toBe(200);
  expect(solved.body.status).toBe("solved");
  const [, refused] = await noticesOf(ticket.id);
  expect(refused.data).toMatchObject({ status: "solved", sent: false, channel: "whatsapp" });
  expect(refused.data.reason).toContain("24");
  const timeline = await api(v1(`/conversations/${fresh.conversationId}/timeline`), { token: admin });
  expect(timeline.body.items.filter((i: any) => i.type === "message" && i.direction === "out")).toHaveLength(1);
});
