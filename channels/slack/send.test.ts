import { describe, expect, it } from "bun:test";
import { PermanentSendError, type OutboundMessage } from "../../conversations/channel.ts";
import { sendSlack } from "./send.ts";

const message = (over: Partial<OutboundMessage> = {}): OutboundMessage => ({
  idempotencyKey: "row-1",
  inbox: {
    id: "i",
    channel: "slack",
    settings: { apiBaseUrl: "https://slack.test" },
    credentials: { botToken: "xoxb-1" },
  },
  conversationId: "c",
  to: [],
  text: "Refund <sent> & done",
  html: null,
  attachments: [],
  threadKey: "C0SHARED1:1700000000.000100",
  ...over,
});

/** A stand-in for Slack's Web API: answers each call in turn and records what was asked. */
function standIn(...answers: { status?: number; body: unknown; headers?: Record<string, string> }[]) {
  const calls: { url: string; body: any; auth: string | null }[] = [];
  const f = (async (url: string, init: RequestInit) => {
    calls.push({
      url: String(url),
      body: JSON.parse(String(init.body)),
      auth: new Headers(init.headers).get("authorization"),
    });
    const a = answers.shift() ?? { body: { ok: true, ts: "1" } };
    return new Response(JSON.stringify(a.body), { status: a.status ?? 200, headers: a.headers });
  }) as unknown as typeof fetch;
  return { calls, fetch: f };
}

describe("Slack replies", () => {
  it("posts the reply into the customer's thread, escaped", async () => {
    const slack = standIn({ body: { ok: true, channel: "C0SHARED1", ts: "1700000099.000300" } });
    const sent = await sendSlack(message(), { fetch: slack.fetch });
    expect(sent).toEqual({ externalId: "C0SHARED1:1700000099.000300", status: "sent" });
    expect(slack.calls[0]!.url).toBe("https://slack.test/api/chat.postMessage");
    expect(slack.calls[0]!.auth).toBe("Bearer xoxb-1");
    expect(slack.calls[0]!.body).toMatchObject({
      channel: "C0SHARED1",
      thread_ts: "1700000000.000100",
      text: "Refund &lt;sent&gt; &amp; done",
    });
  });

  it("maps Slack's permanent errors to readable refusals", async () => {
    for (const [error, words] of [
      ["channel_not_found", "cannot find this channel"],
      ["not_in_channel", "not a member"],
      ["invalid_auth", "bot token"],
      ["account_inactive", "deactivated"],
    ] as const) {
      const slack = standIn({ body: { ok: false, error } });
      const err = await sendSlack(message(), { fetch: slack.fetch }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PermanentSendError);
      expect((err as Error).message).toContain(words);
    }
  });

  it("waits out a short rate limit once, and leaves a long one to the outbox's backoff", async () => {
    const waited: number[] = [];
    const sleep = async (ms: number) => void waited.push(ms);
    const short = standIn({ status: 429, body: { ok: false, error: "ratelimited" }, headers: { "retry-after": "2" } });
    expect((await sendSlack(message(), { fetch: short.fetch, sleep })).status).toBe("sent");
    expect(waited).toEqual([2000]);
    expect(short.calls).toHaveLength(2);
    const long = standIn({ status: 429, body: { ok: false, error: "ratelimited" }, headers: { "retry-after": "120" } });
    const err = await sendSlack(message(), { fetch: long.fetch, sleep }).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(PermanentSendError);
    expect((err as Error).message).toContain("retry after 120 s");
  });

  it("refuses a conversation without a Slack thread", async () => {
    const err = await sendSlack(message({ threadKey: undefined })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentSendError);
  });
});
