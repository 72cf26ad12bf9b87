import { describe, expect, it } from "bun:test";
import { ownStatusCallback } from "./twilio-messaging-stand-in.ts";

describe("the demo's Twilio Messaging stand-in", () => {
  const posted = "http://localhost:3000/simulator/twilio-messaging/2010-04-01/Accounts/AC0/Messages.json";
  it("reports only to this server's own status route: the demo token is public", () => {
    const own = "http://localhost:3000/webhooks/twilio/messaging/status?item=1";
    expect(ownStatusCallback(own, posted)).toBe(own);
    expect(
      ownStatusCallback("https://sb.example.com/webhooks/twilio/messaging/status", posted, "https://sb.example.com"),
    ).toBe("https://sb.example.com/webhooks/twilio/messaging/status");
    for (const other of [
      "http://169.254.169.254/latest/meta-data",
      "http://localhost:3001/webhooks/twilio/messaging/status",
      "http://localhost:3000/api/v1/inboxes",
      "not a url",
      null,
    ])
      expect(ownStatusCallback(other, posted)).toBeUndefined();
  });
});
