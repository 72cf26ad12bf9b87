import { afterAll, beforeAll, expect, it } from "bun:test";
import { eq, sql } from "drizzle-orm";
import type { Browser } from "playwright-core";
import type { ChannelAdapter, OutboundMessage } from "../../../conversations/channel.ts";
import { ingestInbound } from "../../../conversations/ingest.ts";
import { createInbox } from "../../../conversations/inbox.ts";
import { outbox } from "../../../db/schema/index.ts";
import { launchChromium, signIn } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

let s: TestServer;
let browser: Browser;
const sends: OutboundMessage[] = [];
const sms: ChannelAdapter = {
  channel: "sms",
  capabilities: { text: true, media: false, voice: false, typing: false, readReceipts: false, editWindow: 0 },
  async send(message) {
    sends.push(message);
    return { externalId: `SM${sends.length}`, status: "delivered" };
  },
};

beforeAll(async () => {
  s = await startTestServer({ adapters: { sms } });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, 60_000);

it("shows a dead-lettered reply as not delivered with its reason, and Retry sends it", async () => {
  // Written while no worker runs, then left as workers that died mid-send leave a row: attempts used
  // up, lease run out, no result recorded.
  await s.rt.outbox.stop();
  const inbox = await createInbox(s.rt.core.db, s.rt.keyring, {
    workspaceId: s.workspaceId,
    channel: "sms",
    name: "SMS",
  });
  const { conversation } = await ingestInbound(s.rt.core, s.workspaceId, {
    channel: "sms",
    channelAccountId: inbox.id,
    externalId: "SMin-delivery",
    from: { kind: "phone", value: "+8613700137000" },
    text: "Is my order on its way?",
  });
  const token = await s.login(s.admin.email, s.admin.password);
  const reply = await api(`${s.url}/api/v1/conversations/${conversation.id}/messages`, {
    token,
    body: { text: "It left today" },
  });
  await s.rt.core.db
    .update(outbox)
    .set({
      attempts: sql`${outbox.maxAttempts}`,
      lockedUntil: new Date(Date.now() - 1000),
      leaseId: crypto.randomUUID(),
    })
    .where(eq(outbox.timelineItemId, reply.body.id));
  s.rt.outbox.start();

  const page = await (await browser.newContext()).newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);
  await page.goto(`${s.url}/app/#/inbox/all/${conversation.id}`);
  const delivery = page.getByTestId("timeline-item").filter({ hasText: "It left today" }).getByTestId("delivery");
  await delivery.and(page.locator("[data-status=failed]")).waitFor();
  expect(await delivery.textContent()).toContain("Gave up after 6 attempts: no result could be recorded");
  // Only this conversation's sends: the test database is shared, and another file's server may have left
  // a message of its own waiting for any node's worker.
  const ours = () => sends.filter((m) => m.conversationId === conversation.id).map((m) => m.text);
  expect(ours()).toEqual([]);

  await delivery.getByRole("button", { name: "Retry" }).click();
  await delivery.and(page.locator("[data-status=delivered]")).waitFor();
  expect(ours()).toEqual(["It left today"]);
  await page.context().close();
}, 60_000);
