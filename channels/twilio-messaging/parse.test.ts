import { describe, expect, it } from "bun:test";
import twilio from "twilio";
import { Invalid } from "../../platform/errors.ts";
import { advances, consentChange, parseInboundMessage, parseStatusCallback, routeKeyOf, toInbound } from "./parse.ts";
import { twilioSignature, verifyTwilioSignature } from "./verify.ts";

const SM = `SM${"a".repeat(32)}`;
const AC = `AC${"b".repeat(32)}`;
const base = { MessageSid: SM, AccountSid: AC, From: "+15551234567", To: "+15005550006", Body: "Hello", NumMedia: "0" };

describe("Twilio messaging webhooks", () => {
  it("reads an SMS: phone identity, text, routing key", () => {
    const m = parseInboundMessage(base);
    expect(m.channel).toBe("sms");
    expect(routeKeyOf(m)).toBe(`${AC}:+15005550006`.toLowerCase());
    const inbound = toInbound(m, { inboxId: crypto.randomUUID() });
    expect(inbound.from).toEqual({ kind: "phone", value: "+15551234567" });
    expect(inbound.externalId).toBe(SM);
    expect(inbound.text).toBe("Hello");
  });

  it("reads a WhatsApp message: whatsapp identity without the prefix, the profile name, media", () => {
    const m = parseInboundMessage({
      ...base,
      From: "whatsapp:+8613800138000",
      To: "whatsapp:+14155238886",
      ProfileName: "王芳",
      Body: "",
      NumMedia: "2",
      MediaUrl0: "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME1",
      MediaContentType0: "image/jpeg",
      MediaUrl1: "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME2",
      MediaContentType1: "application/pdf",
    });
    expect(m.channel).toBe("whatsapp");
    expect(m.media.map((x) => x.contentType)).toEqual(["image/jpeg", "application/pdf"]);
    const inbound = toInbound(m, { inboxId: crypto.randomUUID(), attachments: [] });
    expect(inbound.from).toEqual({ kind: "whatsapp", value: "+8613800138000", displayName: "王芳" });
    expect(inbound.kind).toBe("media");
    expect(inbound.text).toBeUndefined();
  });

  it("shows a location as text and unknown content as an unsupported line, never empty", () => {
    const where = parseInboundMessage({
      ...base,
      Body: "",
      Latitude: "31.2304",
      Longitude: "121.4737",
      Label: "Office",
    });
    expect(toInbound(where, { inboxId: crypto.randomUUID() }).text).toContain("31.2304,121.4737");
    const sticker = parseInboundMessage({ ...base, Body: "", MessageType: "sticker" });
    const inbound = toInbound(sticker, { inboxId: crypto.randomUUID() });
    expect(inbound.text).toContain("Unsupported sticker");
    expect(inbound.data?.unsupported).toBe("sticker");
  });

  it("refuses malformed parameters with a 400 naming the field", () => {
    for (const [field, value] of [
      ["MessageSid", "nope"],
      ["AccountSid", "AC123"],
      ["From", "not-a-number"],
      ["To", "12345"],
    ] as const) {
      let err: unknown;
      try {
        parseInboundMessage({ ...base, [field]: value });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(Invalid);
      expect((err as Invalid).field).toBe(field);
    }
  });

  it("knows the opt-out and opt-in keywords, whole and trimmed, in any case", () => {
    for (const w of ["STOP", " stop ", "StopAll", "UNSUBSCRIBE", "cancel", "END", "quit", "退订"])
      expect(consentChange(w)).toBe("opted_out");
    for (const w of ["START", "unstop", "Yes", "订阅"]) expect(consentChange(w)).toBe("opted_in");
    for (const w of ["please stop", "stopp", "", "ok"]) expect(consentChange(w)).toBeUndefined();
  });

  it("maps status callbacks, with the error's meaning, and never moves a status back", () => {
    const status = (MessageStatus: string, extra: Record<string, string> = {}) =>
      parseStatusCallback({ MessageSid: SM, AccountSid: AC, MessageStatus, ...extra });
    expect(status("queued")?.status).toBe("pending");
    expect(status("sent")?.status).toBe("sent");
    expect(status("delivered")?.status).toBe("delivered");
    expect(status("read")?.status).toBe("read");
    expect(status("receiving")).toBeUndefined();
    const failed = status("undelivered", { ErrorCode: "30007" });
    expect(failed).toMatchObject({ status: "failed", errorCode: "30007" });
    expect(failed?.error).toBe("30007: Filtered by the carrier as spam");
    expect(status("failed", { ErrorCode: "63016" })?.error).toStartWith("63016: Outside WhatsApp's 24-hour window");
    expect(status("failed", { ErrorCode: "99999", ErrorMessage: "Odd" })?.error).toBe("99999: Odd");

    expect(advances("sent", "delivered")).toBe(true);
    expect(advances("delivered", "sent")).toBe(false);
    expect(advances("delivered", "read")).toBe(true);
    expect(advances("read", "delivered")).toBe(false);
    expect(advances("sent", "failed")).toBe(true);
    expect(advances("failed", "delivered")).toBe(false);
    expect(advances("read", "failed")).toBe(false);
    expect(advances(null, "pending")).toBe(true);
  });

  it("verifies X-Twilio-Signature as Twilio's own library computes it", () => {
    const url = "https://example.test/webhooks/twilio/messaging";
    const token = "0123456789abcdef0123456789abcdef";
    const signature = twilio.getExpectedTwilioSignature(token, url, base);
    expect(twilioSignature(token, url, base)).toBe(signature);
    expect(verifyTwilioSignature(token, signature, url, base)).toBe(true);
    expect(verifyTwilioSignature(token, signature, url, { ...base, Body: "changed" })).toBe(false);
    expect(verifyTwilioSignature("another-token-0123456789", signature, url, base)).toBe(false);
    expect(verifyTwilioSignature(token, undefined, url, base)).toBe(false);
  });
});
