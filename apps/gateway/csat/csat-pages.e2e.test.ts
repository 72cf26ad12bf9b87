import { afterAll, beforeAll, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import type { ChannelAdapter, OutboundMessage } from "../../../conversations/channel.ts";
import { createInbox } from "../../../conversations/inbox.ts";
import { ingestInbound } from "../../../conversations/ingest.ts";
import { csatResponses, csatSurveys } from "../../../db/schema/service.ts";
import { until } from "../../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

const sent: OutboundMessage[] = [];
const sms: ChannelAdapter = {
  channel: "sms",
  capabilities: { text: true, media: false, voice: false, typing: false, readReceipts: false, editWindow: 0 },
  async send(message) {
    sent.push(message);
    return { externalId: `SM${sent.length}`, status: "delivered" };
  },
};

let s: TestServer;
let admin: string;
let inboxId: string;
beforeAll(async () => {
  s = await startTestServer({ adapters: { sms }, env: { CSAT_SWEEP_MS: "100" } });
  admin = await s.login(s.admin.email, s.admin.password);
  inboxId = (
    await createInbox(s.rt.core.db, s.rt.keyring, {
      workspaceId: s.workspaceId,
      channel: "sms",
      name: "SMS",
      credentials: { authToken: "sealed" },
      settings: { locale: "zh-CN", csat: { enabled: true, scale: "stars", question: {}, delayMinutes: 0 } },
    })
  ).id;
});
afterAll(() => s.stop());

/** An SMS conversation, resolved: the link the sweep texted its customer. */
async function surveyLink() {
  const phone = `+86138${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`;
  const r = await ingestInbound(s.rt.core, s.workspaceId, {
    channel: "sms",
    channelAccountId: inboxId,
    externalId: `SMin-${crypto.randomUUID()}`,
    from: { kind: "phone", value: phone },
    text: "退货怎么办",
  });
  const resolved = await api(`${s.url}/api/v1/conversations/${r.conversation.id}/status`, {
    token: admin,
    body: { status: "resolved" },
  });
  expect(resolved.status).toBe(200);
  const message = await until(
    async () => sent.find((m) => m.to.some((t) => t.value === phone) && m.text?.includes("/csat/")),
    (m) => !!m,
  );
  const path = new URL(message!.text!.match(/https?:\/\/\S+\/csat\/\S+/)![0]).pathname;
  return { conversationId: r.conversation.id, path, text: message!.text! };
}

const post = (path: string, form: Record<string, string>) =>
  fetch(`${s.url}${path}`, { method: "POST", body: new URLSearchParams(form) });

it("asks in the inbox's language with the default question, takes one answer, and refuses the link again (409)", async () => {
  const link = await surveyLink();
  expect(link.text).toContain("您对本次服务满意吗？");
  const page = await fetch(`${s.url}${link.path}`);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
  const html = await page.text();
  expect(html).toContain("您对本次服务满意吗？");
  expect(html).toContain('name="rating" value="5"');
  expect(html).not.toContain("<script");

  const bad = await post(link.path, { rating: "6" });
  expect(bad.status).toBe(400);
  const answered = await post(link.path, { rating: "3", comment: "还行 <b>ok</b>" });
  expect(answered.status).toBe(201);
  expect(await answered.text()).toContain("感谢您的评价");
  const [row] = await s.rt.core.db
    .select()
    .from(csatResponses)
    .where(eq(csatResponses.conversationId, link.conversationId));
  expect(row).toMatchObject({ rating: 3, comment: "还行 <b>ok</b>", channel: "sms" });

  const reused = await post(link.path, { rating: "5" });
  expect(reused.status).toBe(409);
  expect((await fetch(`${s.url}${link.path}`)).status).toBe(409);
  const view = await api(`${s.url}/api/v1/conversations/${link.conversationId}`, { token: admin });
  expect(view.body).toMatchObject({ status: "resolved", csat: { rating: 3 } });
});

it("answers 410 for an expired link and 404 for an unknown one, recording nothing", async () => {
  const link = await surveyLink();
  await s.rt.core.db
    .update(csatSurveys)
    .set({ expiresAt: new Date(Date.now() - 1000) })
    .where(eq(csatSurveys.conversationId, link.conversationId));
  expect((await fetch(`${s.url}${link.path}`)).status).toBe(410);
  const late = await post(link.path, { rating: "5" });
  expect(late.status).toBe(410);
  const rows = await s.rt.core.db
    .select()
    .from(csatResponses)
    .where(eq(csatResponses.conversationId, link.conversationId));
  expect(rows).toHaveLength(0);

  const unknown = `/csat/${"A".repeat(43)}`;
  expect((await fetch(`${s.url}${unknown}`)).status).toBe(404);
  expect((await post(unknown, { rating: "5" })).status).toBe(404);
  expect((await fetch(`${s.url}/csat/short`, { headers: { "accept-language": "en" } })).status).toBe(404);
});

it("refuses an answer while the conversation is open again (409), and takes it once it is resolved", async () => {
  const link = await surveyLink();
  const status = (to: "open" | "resolved") =>
    api(`${s.url}/api/v1/conversations/${link.conversationId}/status`, { token: admin, body: { status: to } });
  expect((await status("open")).status).toBe(200);
  const refused = await post(link.path, { rating: "4" });
  expect(refused.status).toBe(409);
  expect(await refused.text()).toContain("该会话已重新打开");
  expect((await status("resolved")).status).toBe(200);
  expect((await post(link.path, { rating: "4" })).status).toBe(201);
});
