import { afterAll, beforeAll, describe, expect, it, setDefaultTimeout } from "bun:test";
import { and, eq } from "drizzle-orm";
import { appendItem } from "../../../conversations/append-item.ts";
import { withEvents } from "../../../conversations/transaction.ts";
import { contactIdentities, conversations, outbox, timelineItems } from "../../../db/schema/index.ts";
import { until } from "../../../test/poll.ts";
import { api, openSocket, startTestServer, uploadAttachment, wsUrl, type TestServer } from "../../../test/server.ts";
import { newNumber, newSid, PNG, postSigned, startTwilioStandIn } from "../../../test/twilio-messaging.ts";

/**
 * Replies by SMS and WhatsApp: what Twilio's Messages API is sent (text, files, templates), the status
 * callbacks that follow (forward only, failures with their meaning), and a conversation that reaches an
 * agent through a queue and is answered by SMS.
 */

setDefaultTimeout(30_000);

const twilio = startTwilioStandIn();
let s: TestServer;
let admin: string;
const acct = twilio.account();
const smsNumber = acct.numbers[0]!;
const waNumber = newNumber();
const inbox = { sms: "", whatsapp: "" };
const HX = `HX${"fedcba9876543210".repeat(2)}`;

beforeAll(async () => {
  s = await startTestServer({ env: { TWILIO_API_BASE: twilio.base } });
  admin = await s.signInAs("admin");
  for (const [channel, phoneNumber] of [
    ["sms", smsNumber],
    ["whatsapp", waNumber],
  ] as const) {
    const res = await api(`${s.url}/api/v1/inboxes`, {
      token: admin,
      body: {
        name: channel,
        channel,
        phoneNumber,
        accountSid: acct.sid,
        authToken: acct.token,
        ...(channel === "whatsapp"
          ? { templates: [{ name: "Shipped", contentSid: HX, body: "Hi {{1}}, order {{2}} shipped." }] }
          : {}),
      },
    });
    expect(res.status).toBe(201);
    inbox[channel] = res.body.id;
  }
}, 60_000);
afterAll(async () => {
  await s.stop();
  twilio.stop();
});

/** A customer's message in; the conversation it opened. */
async function customerWrites(channel: "sms" | "whatsapp", from: string, body: string) {
  const params = {
    MessageSid: newSid("SM"),
    AccountSid: acct.sid,
    From: channel === "whatsapp" ? `whatsapp:${from}` : from,
    To: channel === "whatsapp" ? `whatsapp:${waNumber}` : smsNumber,
    Body: body,
    NumMedia: "0",
  };
  expect((await postSigned(s, "/webhooks/twilio/messaging", params, acct.token)).status).toBe(200);
  const [item] = await s.rt.core.db
    .select({ conversationId: timelineItems.conversationId, contactId: timelineItems.senderId })
    .from(timelineItems)
    .where(and(eq(timelineItems.inboxId, inbox[channel]), eq(timelineItems.externalId, params.MessageSid)));
  return item!;
}

const item = async (id: string) =>
  (await s.rt.core.db.select().from(timelineItems).where(eq(timelineItems.id, id)))[0]!;
/** The reply once the outbox settled it (sent with a SID, or failed). */
const settled = (id: string) =>
  until(
    () => item(id),
    (i) => i.deliveryStatus !== "pending",
    10_000,
  );

async function agentReplies(token: string, conversationId: string, body: Record<string, unknown>) {
  const res = await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, { token, body });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

const status = (sid: string, MessageStatus: string, extra: Record<string, string> = {}, query = "") =>
  postSigned(
    s,
    `/webhooks/twilio/messaging/status${query}`,
    { MessageSid: sid, AccountSid: acct.sid, From: smsNumber, To: "+15550000000", MessageStatus, ...extra },
    acct.token,
  );

describe("sending SMS and WhatsApp replies", () => {
  it("posts the reply to Twilio's Messages API with the status callback and records the SID", async () => {
    const from = newNumber();
    const c = await customerWrites("sms", from, "Is my order on its way?");
    const id = await agentReplies(admin, c.conversationId, { text: "Yes, it ships today." });
    const sent = await settled(id);
    expect(sent.deliveryStatus).toBe("sent");
    expect(sent.externalId).toMatch(/^SM[0-9a-f]{32}$/);
    const [req] = twilio.messagesSent(acct.sid).filter((r) => r.form.Body === "Yes, it ships today.");
    expect(req!.auth).toBe(`Basic ${btoa(`${acct.sid}:${acct.token}`)}`);
    expect(req!.form).toEqual({
      To: from,
      From: smsNumber,
      Body: "Yes, it ships today.",
      StatusCallback: `${s.url}/webhooks/twilio/messaging/status?item=${id}`,
    });
  });

  it("sends an agent's file as a signed link Twilio can fetch without signing in", async () => {
    const c = await customerWrites("whatsapp", newNumber(), "Send me the label please");
    const file = await uploadAttachment(s.url, admin, { bytes: PNG, type: "image/png", name: "label.png" });
    const id = await agentReplies(admin, c.conversationId, { text: "Here it is", attachments: [file] });
    expect((await settled(id)).deliveryStatus).toBe("sent");
    const req = twilio.messagesSent(acct.sid).find((r) => r.form.Body === "Here it is")!;
    expect(req.form.To).toStartWith("whatsapp:+");
    const link = new URL(req.form.MediaUrl!);
    expect(link.pathname).toBe(`/files/${file}`);
    const fetched = await fetch(link);
    expect(fetched.status).toBe(200);
    expect(new Uint8Array(await fetched.arrayBuffer())).toEqual(PNG);
    // The link opens that file only.
    const other = await uploadAttachment(s.url, admin, { bytes: PNG, type: "image/png", name: "other.png" });
    expect((await fetch(`${s.url}/files/${other}?link=${link.searchParams.get("link")}`)).status).toBe(401);
  });

  it("sends a WhatsApp template's ContentSid and variables instead of a body", async () => {
    const c = await customerWrites("whatsapp", newNumber(), "Any news?");
    // A template reply as the composer stores it (conversations/reply.ts): text for the timeline,
    // `data.template` for the sender.
    const id = await withEvents(s.rt.core, async (tx, events) => {
      const [conversation] = await tx.select().from(conversations).where(eq(conversations.id, c.conversationId));
      const appended = await appendItem(tx, events, conversation!, {
        type: "message",
        direction: "out",
        channel: "whatsapp",
        inboxId: inbox.whatsapp,
        senderType: "agent",
        senderId: s.admin.id,
        text: "Hi Ada, order 42 shipped.",
        data: { template: { name: "Shipped", contentSid: HX, variables: { "1": "Ada", "2": "42" } } },
        deliveryStatus: "pending",
      });
      await tx.insert(outbox).values({
        workspaceId: s.workspaceId,
        timelineItemId: appended!.row.id,
        conversationId: c.conversationId,
        inboxId: inbox.whatsapp,
        channel: "whatsapp",
      });
      return appended!.row.id;
    });
    s.rt.outbox.wake();
    expect((await settled(id)).deliveryStatus).toBe("sent");
    const req = twilio.messagesSent(acct.sid).find((r) => r.form.ContentSid === HX)!;
    expect(req.form.Body).toBeUndefined();
    expect(req.form.From).toBe(`whatsapp:${waNumber}`);
    expect(JSON.parse(req.form.ContentVariables!)).toEqual({ "1": "Ada", "2": "42" });
  });

  it("fails a reply Twilio refuses for good, with the error's meaning", async () => {
    const c = await customerWrites("whatsapp", newNumber(), "hello");
    twilio.answers.push({
      status: 400,
      body: { code: 63016, message: "Failed to send freeform message", status: 400 },
    });
    const id = await agentReplies(admin, c.conversationId, { text: "Too late?" });
    const failed = await settled(id);
    expect(failed.deliveryStatus).toBe("failed");
    expect(failed.deliveryError).toBe(
      "63016: Outside WhatsApp's 24-hour window: only an approved template can be sent",
    );
  });

  it("sends nothing, not even the queue's notices, to a number that wrote STOP", async () => {
    const from = newNumber();
    const c = await customerWrites("sms", from, "STOP");
    const id = await withEvents(s.rt.core, async (tx, events) => {
      const [conversation] = await tx.select().from(conversations).where(eq(conversations.id, c.conversationId));
      const appended = await appendItem(tx, events, conversation!, {
        type: "message",
        direction: "out",
        channel: "sms",
        inboxId: inbox.sms,
        senderType: "system",
        text: "You are number 1 in the queue.",
        deliveryStatus: "pending",
      });
      await tx.insert(outbox).values({
        workspaceId: s.workspaceId,
        timelineItemId: appended!.row.id,
        conversationId: c.conversationId,
        inboxId: inbox.sms,
        channel: "sms",
      });
      return appended!.row.id;
    });
    s.rt.outbox.wake();
    const refused = await settled(id);
    expect(refused.deliveryStatus).toBe("failed");
    expect(refused.deliveryError).toContain("opted out");
    expect(twilio.messagesSent(acct.sid).some((r) => r.form.To === from)).toBe(false);
  });
});

describe("status callbacks", () => {
  it("moves a reply forward only: delivered stays delivered after a late sent; read beats delivered", async () => {
    const c = await customerWrites("sms", newNumber(), "status please");
    const id = await agentReplies(admin, c.conversationId, { text: "On it" });
    const { externalId } = await settled(id);
    const socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${admin}`);
    await socket.waitFor((f) => f.type === "hello");
    const answer = await status(externalId!, "delivered");
    expect(answer.status).toBe(200);
    expect(answer.body).toContain("<Response/>");
    expect((await item(id)).deliveryStatus).toBe("delivered");
    await socket.waitFor((f) => f.type === "item.updated" && f.item?.id === id && f.item.status === "delivered");
    socket.close();
    await status(externalId!, "sent");
    await status(externalId!, "queued");
    expect((await item(id)).deliveryStatus).toBe("delivered");
    await status(externalId!, "read");
    expect((await item(id)).deliveryStatus).toBe("read");
    await status(externalId!, "delivered");
    expect((await item(id)).deliveryStatus).toBe("read");
  });

  it("applies a callback that arrives before the send's SID is recorded, and the late 'sent' does not undo it", async () => {
    const c = await customerWrites("sms", newNumber(), "race");
    twilio.answers.push({ status: 201, body: {}, callbackFirst: "delivered" });
    const id = await agentReplies(admin, c.conversationId, { text: "Racing the callback" });
    const done = await until(
      () => item(id),
      (i) => i.deliveryStatus === "delivered",
      10_000,
    );
    expect(done.deliveryStatus).toBe("delivered");
    expect(done.externalId).toMatch(/^SM/);
  });

  it("marks a reply failed with the code's meaning, and 21610 marks the recipient opted out", async () => {
    const to = newNumber();
    const c = await customerWrites("sms", to, "text me");
    const id = await agentReplies(admin, c.conversationId, { text: "Will do" });
    const { externalId } = await settled(id);
    await status(externalId!, "undelivered", { ErrorCode: "30007", To: to });
    const failed = await item(id);
    expect(failed.deliveryStatus).toBe("failed");
    expect(failed.deliveryError).toBe("30007: Filtered by the carrier as spam");
    // Nothing moves a failed message back.
    await status(externalId!, "delivered", { To: to });
    expect((await item(id)).deliveryStatus).toBe("failed");

    const second = await agentReplies(admin, c.conversationId, { text: "Again" });
    const again = await settled(second);
    await status(again.externalId!, "failed", { ErrorCode: "21610", To: to });
    expect((await item(second)).deliveryError).toStartWith("21610: The recipient has opted out");
    const [identity] = await s.rt.core.db
      .select({ optedOutAt: contactIdentities.optedOutAt })
      .from(contactIdentities)
      .where(
        and(
          eq(contactIdentities.workspaceId, s.workspaceId),
          eq(contactIdentities.kind, "phone"),
          eq(contactIdentities.value, to),
        ),
      );
    expect(identity!.optedOutAt).toBeInstanceOf(Date);
  });

  it("refuses a forged status callback and ignores one for a message it did not send", async () => {
    const c = await customerWrites("sms", newNumber(), "forge test");
    const id = await agentReplies(admin, c.conversationId, { text: "Real reply" });
    const { externalId } = await settled(id);
    const forged = await postSigned(
      s,
      "/webhooks/twilio/messaging/status",
      { MessageSid: externalId!, AccountSid: acct.sid, From: smsNumber, To: "+15550000000", MessageStatus: "failed" },
      "some-other-token-0123456789",
    );
    expect(forged.status).toBe(403);
    expect((await item(id)).deliveryStatus).toBe("sent");
    expect((await status(newSid("SM"), "delivered")).status).toBe(200);
  });
});

describe("an SMS conversation worked by an agent", () => {
  it("reaches an agent through the queue, and the agent's reply goes out by SMS", async () => {
    const queue = await api(`${s.url}/api/v1/queues`, { token: admin, body: { name: "Texts", channels: ["sms"] } });
    expect(queue.status).toBe(201);
    const rules = await api(`${s.url}/api/v1/entry-rules`, {
      method: "PUT",
      token: admin,
      body: { rules: [{ queueId: queue.body.id, conditions: { channels: ["sms"] } }] },
    });
    expect(rules.status).toBe(200);
    const ann = await s.login(s.agent.email, s.agent.password);
    const socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${ann}`);
    await socket.waitFor((f) => f.type === "hello");
    await api(`${s.url}/api/v1/agents/${s.agent.id}`, {
      method: "PATCH",
      token: admin,
      body: { capacity: { messaging: 50 } },
    });
    await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "available" } });

    const from = newNumber();
    const c = await customerWrites("sms", from, "I need help with my bill");
    const offer = await until(
      async () =>
        (
          (await api(`${s.url}/api/v1/me/offers`, { token: ann })).body.items as {
            conversationId: string;
            workItemId: string;
          }[]
        ).find((o) => o.conversationId === c.conversationId),
      (o) => !!o,
      10_000,
    );
    expect(offer).toBeDefined();
    expect((await api(`${s.url}/api/v1/offers/${offer!.workItemId}/accept`, { token: ann, body: {} })).status).toBe(
      200,
    );
    const id = await agentReplies(ann, c.conversationId, { text: "Happy to help — which bill?" });
    expect((await settled(id)).deliveryStatus).toBe("sent");
    const req = twilio.messagesSent(acct.sid).find((r) => r.form.Body === "Happy to help — which bill?")!;
    expect(req.form).toMatchObject({ To: from, From: smsNumber });
    socket.close();
  });
});
