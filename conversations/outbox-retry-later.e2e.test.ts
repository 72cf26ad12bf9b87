import { afterAll, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { outbox } from "../db/schema/index.ts";
import { until } from "../test/poll.ts";
import { api, startTestServer, type TestServer } from "../test/server.ts";
import { RetryLaterError, type ChannelAdapter } from "./channel.ts";
import { createInbox } from "./inbox.ts";
import { ingestInbound } from "./ingest.ts";

/** A provider that says when to try again (Telegram's 429 retry_after) is not asked again sooner. */

let s: TestServer | undefined;
afterAll(async () => {
  await s?.stop();
});

it("waits as long as the provider asked (a rate limit's retry-after) before trying again", async () => {
  const attempts: number[] = [];
  const adapter: ChannelAdapter = {
    channel: "sms",
    capabilities: { text: true, media: false, voice: false, typing: false, readReceipts: false, editWindow: 0 },
    async send() {
      attempts.push(Date.now());
      if (attempts.length === 1) throw new RetryLaterError("rate limited: retry after 0.7 s", 700);
      return { externalId: "SM-later", status: "delivered" };
    },
  };
  s = await startTestServer({ adapters: { sms: adapter } });
  const token = await s.login(s.admin.email, s.admin.password);
  const inbox = await createInbox(s.rt.core.db, s.rt.keyring, {
    workspaceId: s.workspaceId,
    channel: "sms",
    name: "SMS",
  });
  const { conversation } = await ingestInbound(s.rt.core, s.workspaceId, {
    channel: "sms",
    channelAccountId: inbox.id,
    externalId: "SMin-later",
    from: { kind: "phone", value: "+8613900139000" },
    text: "where is my parcel",
  });
  const conversationId = conversation.id;
  const sent = await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, { token, body: { text: "Soon" } });
  const [row] = await until(
    () => s!.rt.core.db.select().from(outbox).where(eq(outbox.timelineItemId, sent.body.id)),
    (rows) => rows[0]?.status === "sent",
  );
  expect(row).toMatchObject({ status: "sent", attempts: 2 });
  // The test server's own backoff is 20 ms: the second attempt waited for the provider's 700.
  expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(650);
});
