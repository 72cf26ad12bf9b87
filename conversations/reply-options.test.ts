import { describe, expect, it } from "bun:test";
import { replyOptions, type OptionIdentity, type OptionInbox } from "./reply-options.ts";
import { recipientKindOf, recipientOf } from "./recipient.ts";

const HOUR = 3_600_000;
const now = new Date("2026-03-01T12:00:00Z");
const ago = (hours: number) => new Date(now.getTime() - hours * HOUR);
const TEMPLATE = { name: "hello", contentSid: "HX0123456789abcdef0123456789abcdef", language: "en", body: "Hi {{1}}" };

const inbox = (id: string, channel: string, extra: Partial<OptionInbox> = {}): OptionInbox => ({
  id,
  name: `${channel} inbox`,
  channel,
  settings: {},
  lastInboundAt: null,
  lastFrom: null,
  ...extra,
});
const identity = (kind: string, value: string, optedOutAt: Date | null = null): OptionIdentity => ({
  kind,
  value,
  optedOutAt,
});

describe("who a reply goes to", () => {
  it("maps each inbox to the identity kind it writes to; a phone line writes to no one", () => {
    expect(recipientKindOf({ channel: "sms", settings: {} })).toBe("phone");
    expect(recipientKindOf({ channel: "whatsapp", settings: {} })).toBe("whatsapp");
    expect(recipientKindOf({ channel: "webchat", settings: {} })).toBe("visitor");
    expect(recipientKindOf({ channel: "wechat", settings: {} })).toBe("wechat");
    expect(recipientKindOf({ channel: "wechat", settings: { kind: "wecom" } })).toBe("wecom");
    expect(recipientKindOf({ channel: "wechat", settings: { kind: "wechaty" } })).toBe("wechaty");
    for (const channel of ["email", "slack", "telegram", "api"])
      expect(recipientKindOf({ channel, settings: {} })).toBe(channel as "email");
    expect(recipientKindOf({ channel: "voice", settings: {} })).toBeNull();
  });

  it("is the number the customer last wrote from, else the oldest of the kind", () => {
    const ids = [identity("phone", "+15550000001"), identity("phone", "+15550000002"), identity("email", "a@x.test")];
    expect(recipientOf(ids, "phone", "+15550000002")?.value).toBe("+15550000002");
    expect(recipientOf(ids, "phone", null)?.value).toBe("+15550000001");
    expect(recipientOf(ids, "phone", "+15559999999")?.value).toBe("+15550000001");
    expect(recipientOf(ids, "whatsapp", null)).toBeUndefined();
  });
});

describe("reply options", () => {
  const identities = [
    identity("visitor", "anon:1"),
    identity("phone", "+8613800000001"),
    identity("whatsapp", "+8613800000001"),
    identity("email", "wang@example.test"),
    identity("telegram", "424242"),
  ];

  it("lists every inbox that reaches one of the contact's identities, the conversation's own first", () => {
    const options = replyOptions(
      identities,
      [
        inbox("chat", "webchat", { lastInboundAt: ago(30) }),
        inbox("line", "voice"),
        inbox("sms", "sms"),
        inbox("wa", "whatsapp", { lastInboundAt: ago(2), settings: { templates: [TEMPLATE] } }),
        inbox("mail", "email"),
        inbox("tg", "telegram", { lastInboundAt: ago(100) }),
      ],
      "wa",
      now,
    );
    expect(options).toEqual([
      {
        inboxId: "wa",
        inboxName: "whatsapp inbox",
        channel: "whatsapp",
        to: { kind: "whatsapp", value: "+8613800000001" },
        state: "open",
        closesAt: new Date(ago(2).getTime() + 24 * HOUR).toISOString(),
        templates: [TEMPLATE],
      },
      {
        inboxId: "chat",
        inboxName: "webchat inbox",
        channel: "webchat",
        to: { kind: "visitor", value: "anon:1" },
        state: "open",
      },
      {
        inboxId: "sms",
        inboxName: "sms inbox",
        channel: "sms",
        to: { kind: "phone", value: "+8613800000001" },
        state: "open",
      },
      {
        inboxId: "mail",
        inboxName: "email inbox",
        channel: "email",
        to: { kind: "email", value: "wang@example.test" },
        state: "open",
      },
      {
        inboxId: "tg",
        inboxName: "telegram inbox",
        channel: "telegram",
        to: { kind: "telegram", value: "424242" },
        state: "open",
      },
    ]);
  });

  it("offers a bot, widget or WeChat account only once the contact wrote through it (or it is the conversation's)", () => {
    const ids = [identity("telegram", "1"), identity("wechat", "oOpen"), identity("visitor", "anon:2")];
    const inboxes = [inbox("tg", "telegram"), inbox("wx", "wechat"), inbox("chat", "webchat")];
    expect(replyOptions(ids, inboxes, "elsewhere", now)).toEqual([]);
    expect(replyOptions(ids, inboxes, "wx", now).map((o) => o.inboxId)).toEqual(["wx"]);
    expect(replyOptions(ids, [inbox("tg", "telegram", { lastInboundAt: ago(1) })], "x", now)).toHaveLength(1);
  });

  it("says when a window has closed, or was never opened", () => {
    const wa = (lastInboundAt: Date | null) =>
      replyOptions(identities, [inbox("wa", "whatsapp", { lastInboundAt })], "wa", now)[0]!;
    expect(wa(ago(25))).toMatchObject({ state: "window_closed", closesAt: ago(1).toISOString(), templates: [] });
    expect(wa(ago(24))).toMatchObject({ state: "window_closed" });
    expect(wa(null).state).toBe("no_window_yet");
    expect(wa(null).closesAt).toBeUndefined();
    const wechat = replyOptions(
      [identity("wechat", "oOpen")],
      [inbox("wx", "wechat", { lastInboundAt: ago(47) })],
      "wx",
      now,
    );
    expect(wechat[0]).toMatchObject({ state: "open", closesAt: new Date(ago(47).getTime() + 48 * HOUR).toISOString() });
  });

  it("marks an opted-out SMS or WhatsApp recipient, whatever the window, and only on those channels", () => {
    const stop = new Date("2026-02-20T09:30:00Z");
    const ids = [
      identity("phone", "+15550000001", stop),
      identity("whatsapp", "+15550000001", stop),
      identity("email", "a@x.test"),
    ];
    const options = replyOptions(
      ids,
      [inbox("sms", "sms"), inbox("wa", "whatsapp", { lastInboundAt: ago(1) }), inbox("mail", "email")],
      "sms",
      now,
    );
    expect(options.map((o) => [o.inboxId, o.state, o.optedOutAt])).toEqual([
      ["sms", "opted_out", stop.toISOString()],
      ["wa", "opted_out", stop.toISOString()],
      ["mail", "open", undefined],
    ]);
  });

  it("judges the opt-out of the number the customer last wrote from", () => {
    const ids = [identity("phone", "+15550000001", new Date("2026-02-01")), identity("phone", "+15550000002")];
    const [fromSecond] = replyOptions(
      ids,
      [inbox("sms", "sms", { lastInboundAt: ago(1), lastFrom: "+15550000002" })],
      "sms",
      now,
    );
    expect(fromSecond).toMatchObject({ to: { value: "+15550000002" }, state: "open" });
    const [fromFirst] = replyOptions(ids, [inbox("sms", "sms")], "sms", now);
    expect(fromFirst).toMatchObject({ to: { value: "+15550000001" }, state: "opted_out" });
  });
});
