import { describe, expect, it } from "bun:test";
import {
  chooseThread,
  conversationOfToken,
  messageIdList,
  normalizeMessageId,
  normalizeSubject,
  replyAddress,
  replyToken,
  splitPlusAddress,
  DEFAULT_THREAD_SETTINGS,
  type ThreadCandidate,
  type ThreadInput,
} from "./threading.ts";

const now = new Date("2026-03-10T12:00:00Z");
const days = (n: number) => new Date(now.getTime() - n * 86_400_000);
const conv = (id: string, contactId: string, extra: Partial<ThreadCandidate> = {}): ThreadCandidate => ({
  conversationId: id,
  contactId,
  status: "open",
  resolvedAt: null,
  lastActivityAt: days(1),
  ...extra,
});
const input = (extra: Partial<ThreadInput>): ThreadInput => ({
  contactId: "ann",
  fromAddress: "ann@x.test",
  now,
  byHeader: [],
  bySubject: [],
  settings: DEFAULT_THREAD_SETTINGS,
  ...extra,
});

describe("normalizeSubject", () => {
  it("strips reply and forward prefixes of Gmail, Outlook, Apple Mail, Foxmail and German clients", () => {
    for (const s of [
      "Re: Order 42",
      "RE: Order 42",
      "Fwd: Order 42",
      "FW: Order 42",
      "AW: Order 42",
      "WG: Order 42",
      "Re: Re: Fwd: order  42",
      "Re[2]: Order 42",
      "回复: Order 42",
      "回复：Order 42",
      "转发：Order 42",
      "答复: Order 42",
      "[support] Re: Order 42",
      "Ｒｅ：Order 42",
    ])
      expect(normalizeSubject(s)).toBe("order 42");
  });
  it("keeps words that merely start like a prefix", () => {
    expect(normalizeSubject("Reboot needed")).toBe("reboot needed");
    expect(normalizeSubject("Forward planning")).toBe("forward planning");
  });
  it("keeps Chinese subjects intact apart from their prefixes", () => {
    expect(normalizeSubject("回复: 回复: 订单没有发货")).toBe("订单没有发货");
  });
});

describe("message ids", () => {
  it("compare without brackets and case", () => {
    expect(normalizeMessageId(" <ABC@Mail.Example> ")).toBe("abc@mail.example");
    expect(normalizeMessageId("")).toBeUndefined();
  });
  it("are read from References in order, bracketed or not", () => {
    expect(messageIdList("<a@x> <b@x>\r\n <c@x>")).toEqual(["a@x", "b@x", "c@x"]);
    expect(messageIdList(["<a@x>", "<b@x>"])).toEqual(["a@x", "b@x"]);
    expect(messageIdList("a@x")).toEqual(["a@x"]);
  });
});

describe("reply tokens", () => {
  const id = "0b6f3c52-7d3e-4c1b-9a55-0f8e2a1d9c11";
  it("round-trip through a plus address and reject a forged MAC", () => {
    const address = replyAddress("support@acme.test", id, "secret");
    const { base, tag } = splitPlusAddress(address);
    expect(base).toBe("support@acme.test");
    expect(conversationOfToken(tag!, "secret")).toBe(id);
    expect(conversationOfToken(tag!, "other secret")).toBeUndefined();
    expect(conversationOfToken(replyToken(id, "secret").slice(0, -1) + "0", "secret")).toBeUndefined();
    expect(address.split("@")[0]!.length).toBeLessThanOrEqual(64);
  });
});

describe("chooseThread", () => {
  it("follows In-Reply-To to the conversation that stored the message", () => {
    expect(chooseThread(input({ byHeader: [{ messageId: "m1", candidate: conv("c1", "ann") }] }))).toEqual({
      conversationId: "c1",
      rule: "header",
      reopen: false,
    });
  });

  it("follows References when In-Reply-To points at an id we never saw (a client that changed it)", () => {
    // The gateway lists only ids found in the store: an unknown In-Reply-To simply is not there.
    expect(chooseThread(input({ byHeader: [{ messageId: "older", candidate: conv("c1", "ann") }] }))).toMatchObject({
      conversationId: "c1",
    });
  });

  it("prefers the header match over a different subject match", () => {
    const d = chooseThread(
      input({ byHeader: [{ messageId: "m1", candidate: conv("c1", "ann") }], bySubject: [conv("c2", "ann")] }),
    );
    expect(d).toMatchObject({ conversationId: "c1", rule: "header" });
  });

  it("uses the reply token when the headers match nothing", () => {
    expect(chooseThread(input({ byToken: conv("c3", "ann") }))).toMatchObject({ conversationId: "c3", rule: "token" });
  });

  it("threads by subject only for the same contact and within the window", () => {
    expect(chooseThread(input({ bySubject: [conv("c4", "ann")] }))).toMatchObject({
      conversationId: "c4",
      rule: "subject",
    });
    expect(chooseThread(input({ bySubject: [conv("c4", "bob")] }))).toEqual({ newConversation: true, rule: "none" });
    expect(chooseThread(input({ bySubject: [conv("c4", "ann", { lastActivityAt: days(20) })] }))).toEqual({
      newConversation: true,
      rule: "none",
    });
    expect(
      chooseThread(
        input({ bySubject: [conv("c4", "ann")], settings: { ...DEFAULT_THREAD_SETTINGS, subjectWindowDays: 0 } }),
      ),
    ).toMatchObject({ newConversation: true });
  });

  it("never merges another contact's mail through a header or token: a new conversation", () => {
    const d = chooseThread(
      input({
        contactId: "eve",
        fromAddress: "eve@x.test",
        byHeader: [{ messageId: "m1", candidate: conv("c1", "ann") }],
      }),
    );
    expect(d).toEqual({ newConversation: true, rule: "other_contact", previousConversationId: "c1" });
    expect(
      chooseThread(input({ contactId: "eve", fromAddress: "eve@x.test", byToken: conv("c1", "ann") })),
    ).toMatchObject({ newConversation: true });
  });

  it("lets a Cc'd participant's reply-all join the thread", () => {
    const d = chooseThread(
      input({
        contactId: "carol",
        fromAddress: "carol@x.test",
        byHeader: [{ messageId: "m1", candidate: conv("c1", "ann", { participants: ["carol@x.test"] }) }],
      }),
    );
    expect(d).toMatchObject({ conversationId: "c1", rule: "header" });
  });

  it("reopens a resolved conversation, or starts a new one after the reopen window", () => {
    const recent = conv("c1", "ann", { status: "resolved", resolvedAt: days(3) });
    expect(chooseThread(input({ byHeader: [{ messageId: "m1", candidate: recent }] }))).toEqual({
      conversationId: "c1",
      rule: "header",
      reopen: true,
    });
    const old = conv("c1", "ann", { status: "resolved", resolvedAt: days(45) });
    expect(chooseThread(input({ byHeader: [{ messageId: "m1", candidate: old }] }))).toEqual({
      newConversation: true,
      rule: "expired",
      previousConversationId: "c1",
    });
  });

  it("starts a new conversation when nothing matches, even if the contact has another open one", () => {
    expect(chooseThread(input({}))).toEqual({ newConversation: true, rule: "none" });
  });

  it("prefers the open one of two same-subject conversations", () => {
    const d = chooseThread(
      input({
        bySubject: [
          conv("old", "ann", { status: "resolved", resolvedAt: days(2), lastActivityAt: days(2) }),
          conv("open", "ann", { lastActivityAt: days(5) }),
        ],
      }),
    );
    expect(d).toMatchObject({ conversationId: "open" });
  });
});
