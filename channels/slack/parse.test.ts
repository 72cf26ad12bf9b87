import { describe, expect, it } from "bun:test";
import { parseMessageEvent, splitThreadKey, teamOf, type SlackEnvelope } from "./parse.ts";

const envelope = (event: Record<string, unknown>): SlackEnvelope => ({
  type: "event_callback",
  team_id: "T0ACME001",
  event_id: "Ev01",
  event: {
    type: "message",
    channel: "C0SHARED1",
    channel_type: "channel",
    user: "U0CUST01",
    ts: "1700000000.000100",
    ...event,
  },
});

describe("Slack message events", () => {
  it("reads a top-level message as the start of its own thread", () => {
    const d = parseMessageEvent(envelope({ text: "Our invoices &lt;2024&gt; &amp; more" }), "U0BOT");
    if (!("message" in d)) throw new Error(d.ignore);
    expect(d.message).toMatchObject({
      externalId: "C0SHARED1:1700000000.000100",
      rootKey: "C0SHARED1:1700000000.000100",
      topLevel: true,
      identity: "T0ACME001:U0CUST01",
      text: "Our invoices <2024> & more",
    });
    expect(d.message.sentAt?.getTime()).toBe(1_700_000_000_000);
  });

  it("places a thread reply under its thread's first message", () => {
    const d = parseMessageEvent(
      envelope({ ts: "1700000050.000200", thread_ts: "1700000000.000100", text: "ok" }),
      "U0BOT",
    );
    if (!("message" in d)) throw new Error(d.ignore);
    expect(d.message.topLevel).toBe(false);
    expect(d.message.externalId).toBe("C0SHARED1:1700000050.000200");
    expect(d.message.rootKey).toBe("C0SHARED1:1700000000.000100");
  });

  it("names a Slack Connect writer by their own team", () => {
    const d = parseMessageEvent(envelope({ user_team: "T0OTHER01", text: "hi" }), "U0BOT");
    expect("message" in d && d.message.identity).toBe("T0OTHER01:U0CUST01");
  });

  it("ignores the bot's own messages, other bots, other subtypes and direct messages", () => {
    expect(parseMessageEvent(envelope({ user: "U0BOT", text: "our reply" }), "U0BOT")).toHaveProperty("ignore");
    expect(parseMessageEvent(envelope({ bot_id: "B01", text: "x" }), "U0BOT")).toHaveProperty("ignore");
    expect(parseMessageEvent(envelope({ subtype: "channel_join", text: "joined" }), "U0BOT")).toHaveProperty("ignore");
    expect(parseMessageEvent(envelope({ subtype: "message_changed" }), "U0BOT")).toHaveProperty("ignore");
    expect(parseMessageEvent(envelope({ channel_type: "im", text: "dm" }), "U0BOT")).toHaveProperty("ignore");
    expect(parseMessageEvent({ ...envelope({}), event: { type: "reaction_added" } }, "U0BOT")).toHaveProperty("ignore");
  });

  it("ignores malformed fields instead of failing", () => {
    expect(parseMessageEvent(envelope({ ts: 12, text: "x" }), "U0BOT")).toHaveProperty("ignore");
    expect(parseMessageEvent(envelope({ thread_ts: {}, text: "x" }), "U0BOT")).toHaveProperty("ignore");
    const d = parseMessageEvent(envelope({ text: 42 }), "U0BOT");
    expect("message" in d && d.message.text).toBeUndefined();
    expect(parseMessageEvent({ team_id: "T0ACME001", event: "x" as never }, "U0BOT")).toHaveProperty("ignore");
  });

  it("reads Slack's markup as a person does, dropping the mention of the app a customer addresses", () => {
    const text = (raw: string) => {
      const d = parseMessageEvent(envelope({ text: raw }), "U0BOT");
      return "message" in d ? d.message.text : d.ignore;
    };
    expect(text("<@U0BOT> How do I get a refund?")).toBe("How do I get a refund?");
    expect(text("hi <@U0BOT|support>  where is   it")).toBe("hi where is it");
    expect(text("<@U0BOT>")).toBe("@U0BOT");
    expect(text("ask <@U0CAROL> in <#C0GEN|general> <!here>")).toBe("ask @U0CAROL in #general @here");
    expect(text("see <https://shop.example/o/1|order 1> or <https://shop.example> &lt;b&gt;")).toBe(
      "see order 1 (https://shop.example/o/1) or https://shop.example <b>",
    );
    expect(text("mail <mailto:ada@example.test|ada@example.test>")).toBe("mail ada@example.test");
    // Spacing is the customer's own when they did not address the app.
    expect(text("a  b\n\nc")).toBe("a  b\n\nc");
  });

  it("keeps file shares and their files", () => {
    const d = parseMessageEvent(envelope({ subtype: "file_share", files: [{ id: "F1", name: "a.png" }] }), "U0BOT");
    expect("message" in d && d.message.files).toEqual([{ id: "F1", name: "a.png" }]);
  });

  it("finds the team of a request and splits thread keys", () => {
    expect(teamOf({ team_id: "T0ACME001" })).toBe("T0ACME001");
    expect(teamOf({ authorizations: [{ team_id: "T0ACME002" }] })).toBe("T0ACME002");
    expect(teamOf({ team_id: "not a team" })).toBeUndefined();
    expect(splitThreadKey("C01:1700000000.000100")).toEqual({ channel: "C01", ts: "1700000000.000100" });
    expect(splitThreadKey("nothing")).toBeUndefined();
  });
});
