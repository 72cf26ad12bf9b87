import { afterAll, describe, expect, it } from "bun:test";
import { PermanentSendError, RetryLaterError, type OutboundMessage } from "../../conversations/channel.ts";
import { startBotApiStandIn } from "../../test/telegram-bot-api.ts";
import { sendTelegram, splitText } from "./send.ts";
import { redact } from "./api.ts";
import { verifySecretToken } from "./verify.ts";

const bot = startBotApiStandIn();
afterAll(() => bot.stop());

const TOKEN = "555000:send-test-token";
const file = (name: string, contentType: string) => ({
  id: crypto.randomUUID(),
  name,
  contentType,
  size: 3,
  url: "/x",
});
const message = (patch: Partial<OutboundMessage> = {}, chat = "100"): OutboundMessage => ({
  idempotencyKey: crypto.randomUUID(),
  inbox: { id: "i", channel: "telegram", settings: {}, credentials: { botToken: TOKEN, secretToken: "s".repeat(16) } },
  conversationId: "c",
  to: [{ kind: "telegram", value: chat }],
  text: "Hello",
  html: null,
  attachments: [],
  ...patch,
});
const options = { apiBase: bot.url, readFile: async () => new Uint8Array([1, 2, 3]) };
const callsTo = (chat: string) => bot.calls.filter((c) => String(c.body.chat_id) === chat);

describe("sendTelegram", () => {
  it("sends text with sendMessage and answers <chat_id>:<message_id>", async () => {
    const result = await sendTelegram(message({}, "101"), options);
    expect(result.externalId).toMatch(/^101:\d+$/);
    expect(callsTo("101").map((c) => [c.method, c.body.text])).toEqual([["sendMessage", "Hello"]]);
  });

  it("sends the text first, then a picture with sendPhoto and another file with sendDocument", async () => {
    await sendTelegram(
      message({ attachments: [file("a.png", "image/png"), file("b.pdf", "application/pdf")] }, "102"),
      options,
    );
    expect(callsTo("102").map((c) => c.method)).toEqual(["sendMessage", "sendPhoto", "sendDocument"]);
    const photo = callsTo("102")[1]!;
    expect(photo.body.caption).toBeUndefined();
    expect(photo.body[String(photo.body.photo).replace("attach://", "")]).toMatchObject({ name: "a.png", size: 3 });
  });

  it("splits a text longer than Telegram's 4096 characters", async () => {
    await sendTelegram(message({ text: `${"a".repeat(4000)}\n${"b".repeat(300)}` }, "103"), options);
    expect(callsTo("103").map((c) => c.body.text.length)).toEqual([4000, 300]);
  });

  it("says why Telegram refused, final or not", async () => {
    bot.blocked.add("104");
    bot.unknownChats.add("105");
    const refusal = (chat: string) => sendTelegram(message({}, chat), options).catch((err: unknown) => err);
    const blocked = await refusal("104");
    expect(blocked).toBeInstanceOf(PermanentSendError);
    expect((blocked as Error).message).toContain("blocked this bot");
    const unknown = await refusal("105");
    expect(unknown).toBeInstanceOf(PermanentSendError);
    expect((unknown as Error).message).toContain("chat not found");
    bot.state.rateLimited = 1;
    bot.state.retryAfter = 7;
    const limited = await refusal("106");
    expect(limited).toBeInstanceOf(RetryLaterError);
    expect((limited as RetryLaterError).afterMs).toBe(7000);
    const down = await sendTelegram(message({}, "107"), { ...options, apiBase: "http://127.0.0.1:9" }).catch(
      (err: unknown) => err,
    );
    expect(down).toBeInstanceOf(Error);
    expect(down).not.toBeInstanceOf(PermanentSendError);
    expect((down as Error).message).toContain("could not be reached");
    expect((down as Error).message).not.toContain(TOKEN);
  });

  it("refuses at once without a Telegram identity or a bot token", async () => {
    await expect(sendTelegram(message({ to: [{ kind: "email", value: "a@b.c" }] }), options)).rejects.toBeInstanceOf(
      PermanentSendError,
    );
    const noToken = message();
    noToken.inbox.credentials = {};
    await expect(sendTelegram(noToken, options)).rejects.toBeInstanceOf(PermanentSendError);
  });

  it("uses the inbox's own API base over the server's", async () => {
    const own = message({}, "108");
    own.inbox.settings = { apiBaseUrl: `${bot.url}/` };
    await sendTelegram(own, { ...options, apiBase: "http://127.0.0.1:9" });
    expect(callsTo("108")).toHaveLength(1);
  });
});

describe("splitText", () => {
  it("cuts at a line break or a space near the limit, else hard", () => {
    expect(splitText("short")).toEqual(["short"]);
    expect(splitText("aaaa bbbb cccc", 10)).toEqual(["aaaa bbbb", "cccc"]);
    expect(splitText("x".repeat(25), 10)).toEqual(["x".repeat(10), "x".repeat(10), "x".repeat(5)]);
    expect(splitText("")).toEqual([]);
  });
});

describe("verifySecretToken", () => {
  it("accepts only the exact secret", () => {
    const secret = "demo-telegram-secret";
    expect(verifySecretToken(secret, secret)).toBe(true);
    for (const given of [undefined, null, "", "demo-telegram-secreT", `${secret} `, secret.slice(0, -1)])
      expect(verifySecretToken(secret, given)).toBe(false);
    expect(verifySecretToken("", "")).toBe(false);
  });
});

describe("redact", () => {
  it("takes bot tokens out of an error's text", () => {
    const text = redact("request to https://api.telegram.org/bot123456:AAbbCCdd-EE_ff/sendMessage failed");
    expect(text).toBe("request to https://api.telegram.org/bot<bot token>/sendMessage failed");
    expect(redact("chat 42:7 not found")).toBe("chat 42:7 not found");
  });
});
