import { describe, expect, it } from "bun:test";
import { PermanentSendError, type OutboundMessage } from "../../conversations/channel.ts";
import { createMessagingAdapter, messageForm } from "./send.ts";

const AC = `AC${"c".repeat(32)}`;
const HX = `HX${"d".repeat(32)}`;

function outbound(over: Partial<OutboundMessage> = {}, channel = "sms"): OutboundMessage {
  return {
    idempotencyKey: crypto.randomUUID(),
    inbox: {
      id: crypto.randomUUID(),
      channel,
      settings: { accountSid: AC, phoneNumber: "+15005550006" },
      credentials: { authToken: "token-token-token-token" },
    },
    conversationId: crypto.randomUUID(),
    to: [
      { kind: "phone", value: "+15551230000" },
      { kind: "whatsapp", value: "+15551230001" },
    ],
    text: "Your order shipped",
    html: null,
    attachments: [],
    channelData: {
      twilio: { apiBaseUrl: "https://twilio.test", statusCallback: "https://sb.test/webhooks/twilio/messaging/status" },
    },
    ...over,
  };
}

/** A fetch that records the request and answers as told. */
function standIn(status: number, body: unknown) {
  const seen: { url: string; auth: string | null; form: URLSearchParams }[] = [];
  const fetcher = (async (url: string, init: RequestInit) => {
    seen.push({
      url,
      auth: new Headers(init.headers).get("authorization"),
      form: new URLSearchParams(String(init.body)),
    });
    return Response.json(body, { status });
  }) as unknown as typeof fetch;
  return { seen, fetcher };
}

describe("sending through Twilio Messaging", () => {
  it("posts To, From, Body and the status callback with Basic auth, and returns the SID", async () => {
    const t = standIn(201, { sid: `SM${"e".repeat(32)}`, status: "queued" });
    const result = await createMessagingAdapter("sms", { fetch: t.fetcher }).send(outbound());
    expect(result).toEqual({ externalId: `SM${"e".repeat(32)}`, status: "sent" });
    const [req] = t.seen;
    expect(req!.url).toBe(`https://twilio.test/2010-04-01/Accounts/${AC}/Messages.json`);
    expect(req!.auth).toBe(`Basic ${btoa(`${AC}:token-token-token-token`)}`);
    expect(Object.fromEntries(req!.form)).toEqual({
      To: "+15551230000",
      From: "+15005550006",
      Body: "Your order shipped",
      StatusCallback: "https://sb.test/webhooks/twilio/messaging/status",
    });
  });

  it("prefixes WhatsApp numbers and sends a template's ContentSid and variables instead of the body", () => {
    const form = messageForm(
      outbound({ channelData: { template: { contentSid: HX, variables: { "1": "Ada", "2": 3 } } } }, "whatsapp"),
      "whatsapp",
    );
    expect(form.get("To")).toBe("whatsapp:+15551230001");
    expect(form.get("From")).toBe("whatsapp:+15005550006");
    expect(form.get("ContentSid")).toBe(HX);
    expect(JSON.parse(form.get("ContentVariables")!)).toEqual({ "1": "Ada", "2": "3" });
    expect(form.has("Body")).toBe(false);
  });

  it("sends files as MediaUrl, and refuses files without links Twilio can fetch", () => {
    const file = { id: crypto.randomUUID(), name: "a.png", contentType: "image/png", size: 3, url: "/files/x" };
    const form = messageForm(
      outbound({ attachments: [file], channelData: { twilio: { mediaUrls: ["https://sb.test/files/x?link=t"] } } }),
      "sms",
    );
    expect(form.getAll("MediaUrl")).toEqual(["https://sb.test/files/x?link=t"]);
    expect(() => messageForm(outbound({ attachments: [file], channelData: {} }), "sms")).toThrow(PermanentSendError);
  });

  it("fails for good on Twilio's permanent errors, retries on 5xx and 429", async () => {
    for (const [code, meaning] of [
      [21610, "opted out"],
      [21211, "Invalid 'To'"],
      [21408, "region"],
      [63016, "24-hour window"],
    ] as const) {
      const t = standIn(400, { code, message: "x", status: 400 });
      const err = await createMessagingAdapter("whatsapp", { fetch: t.fetcher })
        .send(outbound({}, "whatsapp"))
        .catch((e) => e);
      expect(err).toBeInstanceOf(PermanentSendError);
      expect(err.message).toStartWith(`${code}: `);
      expect(err.message).toContain(meaning);
    }
    for (const status of [500, 503, 429]) {
      const t = standIn(status, { code: 20500, message: "down" });
      const err = await createMessagingAdapter("sms", { fetch: t.fetcher })
        .send(outbound())
        .catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(PermanentSendError);
    }
  });

  it("refuses a contact without a number of the channel's kind", async () => {
    const err = await createMessagingAdapter("whatsapp", { fetch: standIn(201, {}).fetcher })
      .send(outbound({ to: [{ kind: "phone", value: "+15551230000" }] }, "whatsapp"))
      .catch((e) => e);
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err.message).toContain("no WhatsApp number");
  });
});
