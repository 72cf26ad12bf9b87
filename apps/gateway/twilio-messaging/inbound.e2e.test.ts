import { afterAll, beforeAll, describe, expect, it, setDefaultTimeout } from "bun:test";
import { and, eq } from "drizzle-orm";
import { attachments, contactIdentities, events, timelineItems } from "../../../db/schema/index.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { newNumber, newSid, PNG, postSigned, startTwilioStandIn } from "../../../test/twilio-messaging.ts";

/**
 * SMS and WhatsApp inboxes through Twilio: creating them (the number proven with Twilio), and Twilio's
 * incoming-message webhook — signature, idempotency, contacts, media, and STOP/START.
 */

setDefaultTimeout(20_000);

const twilio = startTwilioStandIn();
let s: TestServer;
let admin: string;
const acct = twilio.account();
const smsNumber = acct.numbers[0]!;
const waNumber = newNumber();
const inbox = { sms: "", whatsapp: "" };
const HX = `HX${"0123456789abcdef".repeat(2)}`;

beforeAll(async () => {
  s = await startTestServer({ env: { TWILIO_API_BASE: twilio.base } });
  admin = await s.signInAs("admin");
}, 60_000);
afterAll(async () => {
  await s.stop();
  twilio.stop();
});

const createInbox = (body: Record<string, unknown>) => api(`${s.url}/api/v1/inboxes`, { token: admin, body });
const inbound = (params: Record<string, string>, token = acct.token) =>
  postSigned(s, "/webhooks/twilio/messaging", params, token);
const sms = (
  from: string,
  body: string,
  extra: Record<string, string> = {},
): Record<string, string> & { MessageSid: string } => ({
  MessageSid: newSid("SM"),
  AccountSid: acct.sid,
  From: from,
  To: smsNumber,
  Body: body,
  NumMedia: "0",
  ...extra,
});
const wa = (from: string, body: string, extra: Record<string, string> = {}) =>
  sms(`whatsapp:${from}`, body, { To: `whatsapp:${waNumber}`, ...extra });

const itemsOf = (inboxId: string, externalId: string) =>
  s.rt.core.db
    .select()
    .from(timelineItems)
    .where(and(eq(timelineItems.inboxId, inboxId), eq(timelineItems.externalId, externalId)));
const identity = async (kind: "phone" | "whatsapp", value: string) =>
  (
    await s.rt.core.db
      .select()
      .from(contactIdentities)
      .where(
        and(
          eq(contactIdentities.workspaceId, s.workspaceId),
          eq(contactIdentities.kind, kind),
          eq(contactIdentities.value, value),
        ),
      )
  )[0];

describe("creating SMS and WhatsApp inboxes", () => {
  it("proves the number with Twilio and shows the URLs to paste, never the token", async () => {
    const asked = twilio.requests.length;
    const res = await createInbox({
      name: "SMS",
      channel: "sms",
      phoneNumber: smsNumber,
      accountSid: acct.sid,
      authToken: acct.token,
    });
    expect(res.status).toBe(201);
    inbox.sms = res.body.id;
    const check = twilio.requests.slice(asked).find((r) => r.path.endsWith("/IncomingPhoneNumbers.json"))!;
    expect(check.path).toBe(`/2010-04-01/Accounts/${acct.sid}/IncomingPhoneNumbers.json`);
    expect(check.query.get("PhoneNumber")).toBe(smsNumber);
    expect(check.auth).toBe(`Basic ${btoa(`${acct.sid}:${acct.token}`)}`);
    const listed = (await api(`${s.url}/api/v1/inboxes`, { token: admin })).body.items.find(
      (i: { id: string }) => i.id === inbox.sms,
    );
    expect(listed).toMatchObject({
      channel: "sms",
      phoneNumber: smsNumber,
      accountSid: acct.sid,
      webhookUrl: `${s.url}/webhooks/twilio/messaging`,
      statusCallbackUrl: `${s.url}/webhooks/twilio/messaging/status`,
    });
    expect(JSON.stringify(listed)).not.toContain(acct.token);

    // A WhatsApp sender need not be one of the account's phone numbers (the sandbox is shared).
    const whatsapp = await createInbox({
      name: "WhatsApp",
      channel: "whatsapp",
      phoneNumber: `whatsapp:${waNumber}`,
      accountSid: acct.sid,
      authToken: acct.token,
      templates: [{ name: "Order update", contentSid: HX, language: "en", body: "Hi {{1}}, order {{2}} shipped." }],
    });
    expect(whatsapp.status).toBe(201);
    expect(whatsapp.body.phoneNumber).toBe(waNumber);
    expect(whatsapp.body.templates[0].contentSid).toBe(HX);
    inbox.whatsapp = whatsapp.body.id;
  });

  it("refuses bad fields with a 400 naming each, and a number the account does not hold", async () => {
    const good = { name: "x", channel: "sms", phoneNumber: smsNumber, accountSid: acct.sid, authToken: acct.token };
    const cases: [Record<string, unknown>, string][] = [
      [{ accountSid: "AC123" }, "accountSid"],
      [{ authToken: "short" }, "authToken"],
      [{ phoneNumber: "12345" }, "phoneNumber"],
      [{ authToken: "a-wrong-token-of-enough-length" }, "authToken"],
      [{ phoneNumber: newNumber() }, "phoneNumber"],
      [{ templates: [{ name: "t", contentSid: HX, body: "b" }] }, "templates"],
      [{ channel: "whatsapp", templates: [{ name: "t", contentSid: "HX123", body: "b" }] }, "templates.0.contentSid"],
    ];
    for (const [change, field] of cases) {
      const res = await createInbox({ ...good, ...change });
      expect(res.status).toBe(400);
      expect(res.body.error.field).toBe(field);
    }
    // The number is already this workspace's SMS inbox: a second claim is a conflict.
    expect((await createInbox(good)).status).toBe(409);
  });
});

describe("incoming messages", () => {
  it("stores a signed SMS once, answering empty TwiML, however often Twilio retries", async () => {
    const from = newNumber();
    const params = sms(from, "Where is my parcel?");
    const first = await inbound(params);
    expect(first.status).toBe(200);
    expect(first.type).toStartWith("text/xml");
    expect(first.body).toContain("<Response/>");
    expect((await inbound(params)).status).toBe(200);
    expect((await inbound(params)).status).toBe(200);
    const items = await itemsOf(inbox.sms, params.MessageSid);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ direction: "in", channel: "sms", text: "Where is my parcel?" });
    expect((await identity("phone", from))?.contactId).toBe(items[0]!.senderId!);
  });

  it("answers 403 and stores nothing for a forged or unknown request", async () => {
    const forged = sms(newNumber(), "forged");
    expect((await inbound(forged, "not-the-account-token-0000")).status).toBe(403);
    const tampered = sms(newNumber(), "original");
    const sig = await fetch(`${s.url}/webhooks/twilio/messaging`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": "bm90IGEgc2lnbmF0dXJl" },
      body: new URLSearchParams(tampered),
    });
    expect(sig.status).toBe(403);
    expect((await sig.json()).error).toMatchObject({ code: "forbidden", field: "X-Twilio-Signature" });
    const unknownAccount = { ...sms(newNumber(), "hi"), AccountSid: newSid("AC") };
    expect((await inbound(unknownAccount)).status).toBe(403);
    const unknownNumber = { ...sms(newNumber(), "hi"), To: newNumber() };
    expect((await inbound(unknownNumber)).status).toBe(403);
    for (const p of [forged, tampered, unknownAccount, unknownNumber])
      expect(await itemsOf(inbox.sms, p.MessageSid)).toHaveLength(0);
  });

  it("answers a signed but malformed message with 400 naming the parameter, never 500", async () => {
    for (const [change, field] of [
      [{ MessageSid: "SM-not-a-sid" }, "MessageSid"],
      [{ From: "not a number" }, "From"],
      [{ Body: "a\u0000b" }, "Body"],
      [{ From: `whatsapp:${newNumber()}` }, "From"],
    ] as const) {
      const res = await inbound({ ...sms(newNumber(), "hi"), ...change });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error.field).toBe(field);
    }
  });

  it("takes a WhatsApp message with the sender's profile name, onto the contact known by that phone", async () => {
    const fresh = newNumber();
    const first = wa(fresh, "Hola", { ProfileName: "María" });
    expect((await inbound(first)).status).toBe(200);
    const [item] = await itemsOf(inbox.whatsapp, first.MessageSid);
    expect(item).toMatchObject({ channel: "whatsapp", text: "Hola" });
    const contact = await api(`${s.url}/api/v1/contacts/${item!.senderId}`, { token: admin });
    expect(contact.body.name).toBe("María");
    expect(contact.body.identities.map((i: { kind: string; value: string }) => [i.kind, i.value])).toEqual([
      ["whatsapp", fresh],
    ]);

    // Known by SMS first: WhatsApp from the same number lands on that contact.
    const known = newNumber();
    const text = sms(known, "hello by SMS");
    await inbound(text);
    const [bySms] = await itemsOf(inbox.sms, text.MessageSid);
    const then = wa(known, "and now on WhatsApp", { ProfileName: "Known" });
    await inbound(then);
    const [byWa] = await itemsOf(inbox.whatsapp, then.MessageSid);
    expect(byWa!.senderId).toBe(bySms!.senderId!);
    expect((await identity("whatsapp", known))?.contactId).toBe(bySms!.senderId!);
    expect((await identity("phone", known))?.contactId).toBe(bySms!.senderId!);

    // A number an agent typed on someone's contact proves nothing: WhatsApp from it is a contact of its own.
    const typed = newNumber();
    const added = await api(`${s.url}/api/v1/contacts/${bySms!.senderId}/identities`, {
      token: admin,
      body: { kind: "phone", value: typed },
    });
    expect(added.status).toBe(201);
    const fromTyped = wa(typed, "hi");
    await inbound(fromTyped);
    const [byTyped] = await itemsOf(inbox.whatsapp, fromTyped.MessageSid);
    expect(byTyped!.senderId).not.toBe(bySms!.senderId!);
  });

  it("downloads media from Twilio with the account's credentials, not passing them on a redirect", async () => {
    const params = wa(newNumber(), "", {
      NumMedia: "2",
      MediaUrl0: twilio.mediaUrl(acct.sid),
      MediaContentType0: "image/png",
      // A file anywhere but the Twilio API is not fetched.
      MediaUrl1: "http://127.0.0.1:9/elsewhere.png",
      MediaContentType1: "image/png",
    });
    const before = twilio.fileRequests.length;
    expect((await inbound(params)).status).toBe(200);
    const [item] = await itemsOf(inbox.whatsapp, params.MessageSid);
    const media = twilio.requests.find((r) => r.path === new URL(params.MediaUrl0!).pathname)!;
    expect(media.auth).toBe(`Basic ${btoa(`${acct.sid}:${acct.token}`)}`);
    expect(twilio.fileRequests.slice(before)).toHaveLength(1);
    expect(twilio.fileRequests.at(-1)!.auth).toBeNull();
    const files = await s.rt.core.db.select().from(attachments).where(eq(attachments.timelineItemId, item!.id));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ contentType: "image/png", size: PNG.length });
    expect(files[0]!.name).toBe(`${params.MessageSid}-1.png`);
    expect((item!.data.mediaErrors as { index: number }[]).map((e) => e.index)).toEqual([1]);
    // A retry downloads nothing again.
    await inbound(params);
    expect(twilio.fileRequests.slice(before)).toHaveLength(1);
    const timeline = await api(`${s.url}/api/v1/conversations/${item!.conversationId}/timeline`, { token: admin });
    const shown = timeline.body.items.find((i: { id: string }) => i.id === item!.id);
    const file = await fetch(`${s.url}${shown.attachments[0].url}?token=${admin}`);
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(PNG);
  });

  it("shows a location and unsupported content as text", async () => {
    const where = wa(newNumber(), "", { Latitude: "31.2304", Longitude: "121.4737", MessageType: "location" });
    await inbound(where);
    expect((await itemsOf(inbox.whatsapp, where.MessageSid))[0]!.text).toContain("31.2304,121.4737");
    const sticker = wa(newNumber(), "", { MessageType: "sticker" });
    await inbound(sticker);
    expect((await itemsOf(inbox.whatsapp, sticker.MessageSid))[0]!.text).toContain("Unsupported sticker");
  });

  it("records STOP and 退订 as opted out and START as opted in, keeping the message and telling the agent", async () => {
    const from = newNumber();
    const stop = sms(from, "  Stop ");
    await inbound(stop);
    const [stopped] = await itemsOf(inbox.sms, stop.MessageSid);
    expect(stopped!.text).toBe("  Stop ");
    expect(stopped!.data.consent).toBe("opted_out");
    expect((await identity("phone", from))?.optedOutAt).toBeInstanceOf(Date);
    const updates = await s.rt.core.db
      .select()
      .from(events)
      .where(and(eq(events.workspaceId, s.workspaceId), eq(events.type, "contact.updated")));
    expect(updates.some((e) => (e.payload as { contact: { id: string } }).contact.id === stopped!.senderId)).toBe(true);

    const start = sms(from, "START");
    await inbound(start);
    expect((await itemsOf(inbox.sms, start.MessageSid))[0]!.data.consent).toBe("opted_in");
    expect((await identity("phone", from))?.optedOutAt).toBeNull();

    // On WhatsApp, the WhatsApp identity alone: SMS to the same person is not affected.
    const both = newNumber();
    await inbound(sms(both, "hi"));
    await inbound(wa(both, "退订"));
    expect((await identity("whatsapp", both))?.optedOutAt).toBeInstanceOf(Date);
    expect((await identity("phone", both))?.optedOutAt).toBeNull();
    await inbound(wa(both, "订阅"));
    expect((await identity("whatsapp", both))?.optedOutAt).toBeNull();
  });
});
