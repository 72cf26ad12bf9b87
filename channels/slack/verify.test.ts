import { describe, expect, it } from "bun:test";
import { slackSignature, verifySlackSignature } from "./verify.ts";

// Slack's documented example (https://api.slack.com/authentication/verifying-requests-from-slack).
const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const TIMESTAMP = "1531420618";
const BODY =
  "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar" +
  "&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com" +
  "%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN" +
  "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

describe("Slack request signatures", () => {
  it("computes Slack's documented example signature", () => {
    expect(slackSignature(SECRET, TIMESTAMP, BODY)).toBe(SIGNATURE);
  });

  it("accepts the documented request at its own time", () => {
    const check = verifySlackSignature(SECRET, { timestamp: TIMESTAMP, signature: SIGNATURE }, BODY, 1531420618 + 60);
    expect(check).toEqual({ ok: true });
  });

  it("refuses it five minutes later, as a replay", () => {
    const check = verifySlackSignature(SECRET, { timestamp: TIMESTAMP, signature: SIGNATURE }, BODY, 1531420618 + 301);
    expect(check).toEqual({ ok: false, reason: "X-Slack-Request-Timestamp is more than 5 minutes old" });
  });

  it("refuses another secret, a changed body, and missing headers", () => {
    const now = 1531420618;
    expect(verifySlackSignature("another secret", { timestamp: TIMESTAMP, signature: SIGNATURE }, BODY, now).ok).toBe(
      false,
    );
    expect(verifySlackSignature(SECRET, { timestamp: TIMESTAMP, signature: SIGNATURE }, `${BODY}x`, now).ok).toBe(
      false,
    );
    expect(verifySlackSignature(SECRET, { timestamp: undefined, signature: SIGNATURE }, BODY, now).ok).toBe(false);
    expect(verifySlackSignature(SECRET, { timestamp: TIMESTAMP, signature: undefined }, BODY, now).ok).toBe(false);
    expect(verifySlackSignature(SECRET, { timestamp: TIMESTAMP, signature: "v0=short" }, BODY, now).ok).toBe(false);
  });
});
