import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { and, eq, like } from "drizzle-orm";
import { slackSignature } from "../../../channels/slack/index.ts";
import {
  attachments,
  contacts,
  inboxRoutes,
  leases,
  outbox,
  timelineItems,
  workItems,
} from "../../../db/schema/index.ts";
import { createQueue } from "../../../routing/queue.ts";
import { DEMO_SLACK, seedDemo } from "../../demo/seed.ts";
import { until } from "../../../test/poll.ts";
import { api, startTestServer, uploadAttachment, type TestServer } from "../../../test/server.ts";

/** A recorded stand-in for Slack's Web API and file host. */
type Call = { method: string; auth: string | null; body: Record<string, any> };
const calls: Call[] = [];
let postError: string | undefined;
let fileRequests = 0;
let slack: ReturnType<typeof Bun.serve>;
const FILE_BYTES = new TextEncoder().encode("%PDF-1.4 stand-in invoice");

let s: TestServer;
let admin: string;
const SECRET = "test-slack-signing-secret-0123";

beforeAll(async () => {
  slack = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      const auth = req.headers.get("authorization");
      if (url.pathname.startsWith("/slow-files/")) {
        fileRequests++;
        await Bun.sleep(300);
        return new Response(FILE_BYTES, { headers: { "content-type": "application/pdf" } });
      }
      if (url.pathname.startsWith("/files/")) {
        if (!auth?.endsWith("-files")) return new Response("no", { status: 403 });
        return new Response(FILE_BYTES, { headers: { "content-type": "application/pdf" } });
      }
      if (url.pathname === "/upload") {
        calls.push({ method: "upload", auth, body: { size: (await req.arrayBuffer()).byteLength } });
        return new Response("OK");
      }
      const method = url.pathname.replace("/api/", "");
      const text = await req.text();
      const body = (req.headers.get("content-type") ?? "").includes("json")
        ? JSON.parse(text || "{}")
        : Object.fromEntries(new URLSearchParams(text));
      calls.push({ method, auth, body });
      const team = auth?.replace("Bearer xoxb-", "") ?? "";
      if (method === "auth.test") return Response.json({ ok: true, team_id: team.split("-")[0], user_id: "U0BOT" });
      if (method === "users.info") return Response.json({ ok: true, user: { profile: { display_name: "Carol" } } });
      if (method === "files.getUploadURLExternal")
        return Response.json({ ok: true, upload_url: `http://127.0.0.1:${slack.port}/upload`, file_id: "F0UP" });
      if (method === "files.completeUploadExternal") return Response.json({ ok: true, files: [{ id: "F0UP" }] });
      if (method === "chat.postMessage") {
        if (postError) return Response.json({ ok: false, error: postError });
        return Response.json({ ok: true, channel: body.channel, ts: `${Date.now() / 1000}` });
      }
      return Response.json({ ok: false, error: "unknown_method" });
    },
  });
  s = await startTestServer();
  admin = await s.signInAs("admin");
}, 120_000);
afterAll(async () => {
  await s.stop();
  slack.stop(true);
});

const randomTeam = () => `T${crypto.randomUUID().replaceAll("-", "").slice(0, 10).toUpperCase()}`;

async function slackInbox(extra: Record<string, unknown> = {}, token?: (team: string) => string) {
  const teamId = randomTeam();
  const res = await api(`${s.url}/api/v1/inboxes`, {
    token: admin,
    body: {
      name: `Slack ${teamId}`,
      channel: "slack",
      teamId,
      botToken: token ? token(teamId) : `xoxb-${teamId}`,
      signingSecret: SECRET,
      botUserId: "U0BOT",
      apiBaseUrl: `http://127.0.0.1:${slack.port}`,
      ...extra,
    },
  });
  expect(res.status).toBe(201);
  return { id: res.body.id as string, teamId, listed: res.body };
}

/** POSTs an Events API body signed exactly as Slack signs it. */
function deliver(body: unknown, opts: { secret?: string; timestamp?: number; headers?: Record<string, string> } = {}) {
  const raw = JSON.stringify(body);
  const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  return api(`${s.url}/webhooks/slack/events`, {
    body: raw,
    headers: {
      "x-slack-request-timestamp": ts,
      "x-slack-signature": slackSignature(opts.secret ?? SECRET, ts, raw),
      ...opts.headers,
    },
  });
}

let tsCounter = Math.floor(Date.now() / 1000) - 30;
const nextTs = () => `${++tsCounter}.000100`;

function messageEvent(teamId: string, event: Record<string, unknown>) {
  return {
    type: "event_callback",
    team_id: teamId,
    event_id: `Ev${crypto.randomUUID().slice(0, 8)}`,
    event: { type: "message", channel: "C0SHARED1", channel_type: "channel", user: "U0CUST", ...event },
  };
}

const stored = async (inboxId: string, externalId: string) =>
  (
    await s.rt.core.db
      .select()
      .from(timelineItems)
      .where(and(eq(timelineItems.inboxId, inboxId), eq(timelineItems.externalId, externalId)))
  )[0];

describe("Slack events", () => {
  it("creates an inbox proven by auth.test, and refuses a token of another team", async () => {
    const inbox = await slackInbox();
    expect(inbox.listed.webhookUrl).toBe(`${s.url}/webhooks/slack/events`);
    expect(JSON.stringify(inbox.listed)).not.toContain(SECRET);
    const res = await api(`${s.url}/api/v1/inboxes`, {
      token: admin,
      body: {
        name: "Wrong team",
        channel: "slack",
        teamId: randomTeam(),
        botToken: "xoxb-TOTHER0001",
        signingSecret: SECRET,
        botUserId: "U0BOT",
        apiBaseUrl: `http://127.0.0.1:${slack.port}`,
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe("teamId");
  });

  it("answers url_verification only when signed by a Slack inbox's secret", async () => {
    await slackInbox();
    const check = {
      token: "x",
      challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
      type: "url_verification",
    };
    const ok = await deliver(check);
    expect(ok.status).toBe(200);
    expect(ok.body.challenge).toBe(check.challenge);
    const forged = await deliver(check, { secret: "not-the-secret-at-all" });
    expect(forged.status).toBe(403);
    expect(forged.body.error.code).toBeDefined();
  });

  it("refuses forged and stale requests with 403 and stores nothing", async () => {
    const inbox = await slackInbox();
    const ts = nextTs();
    const event = messageEvent(inbox.teamId, { ts, text: "forged" });
    expect((await deliver(event, { secret: "forged-secret-000000" })).status).toBe(403);
    const stale = await deliver(event, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    expect(stale.status).toBe(403);
    expect(stale.body.error.message).toContain("5 minutes");
    expect((await deliver(messageEvent(randomTeam(), { ts, text: "no inbox" }))).status).toBe(403);
    expect(await stored(inbox.id, `C0SHARED1:${ts}`)).toBeUndefined();
  });

  it("starts a conversation per top-level message and continues it in its thread; a retry stores once", async () => {
    const inbox = await slackInbox();
    const root = nextTs();
    const first = messageEvent(inbox.teamId, { ts: root, text: "Our invoice is wrong" });
    expect((await deliver(first)).status).toBe(200);
    // Slack's retry of the same event: one item.
    const retry = await deliver(first, {
      headers: { "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout" },
    });
    expect(retry.status).toBe(200);
    const rootItem = (await stored(inbox.id, `C0SHARED1:${root}`))!;
    expect(rootItem.text).toBe("Our invoice is wrong");
    const conv = await api(`${s.url}/api/v1/conversations/${rootItem.conversationId}`, { token: admin });
    expect(conv.body.channel).toBe("slack");
    const [contact] = await s.rt.core.db.select().from(contacts).where(eq(contacts.id, rootItem.senderId!));
    expect(contact!.name).toBe("Carol");

    const reply = nextTs();
    await deliver(
      messageEvent(inbox.teamId, {
        ts: reply,
        thread_ts: root,
        text: "Any news?",
        user: "U0OTHER",
        user_team: "T0PARTNER",
      }),
    );
    expect((await stored(inbox.id, `C0SHARED1:${reply}`))!.conversationId).toBe(rootItem.conversationId);

    const second = nextTs();
    await deliver(messageEvent(inbox.teamId, { ts: second, text: "Another question" }));
    const secondItem = (await stored(inbox.id, `C0SHARED1:${second}`))!;
    expect(secondItem.conversationId).not.toBe(rootItem.conversationId);

    const items = await s.rt.core.db
      .select()
      .from(timelineItems)
      .where(and(eq(timelineItems.conversationId, rootItem.conversationId), eq(timelineItems.type, "message")));
    expect(items.map((i) => i.text)).toEqual(["Our invoice is wrong", "Any news?"]);
  });

  it("ignores the bot's own messages and other subtypes", async () => {
    const inbox = await slackInbox();
    const own = nextTs();
    expect((await deliver(messageEvent(inbox.teamId, { ts: own, user: "U0BOT", text: "our reply" }))).status).toBe(200);
    const joined = nextTs();
    await deliver(messageEvent(inbox.teamId, { ts: joined, subtype: "channel_join", text: "joined" }));
    expect(await stored(inbox.id, `C0SHARED1:${own}`)).toBeUndefined();
    expect(await stored(inbox.id, `C0SHARED1:${joined}`)).toBeUndefined();
  });

  it("downloads a shared file with the bot token into an attachment", async () => {
    const inbox = await slackInbox();
    // The stand-in serves files to tokens ending in "-files" only: this inbox's token is another one.
    const ts = nextTs();
    const file = {
      id: "F0FILE",
      name: "invoice.pdf",
      mimetype: "application/pdf",
      size: FILE_BYTES.byteLength,
      mode: "hosted",
      url_private: `http://127.0.0.1:${slack.port}/files/invoice.pdf`,
    };
    await deliver(messageEvent(inbox.teamId, { ts, subtype: "file_share", text: "", files: [file] }));
    const item = (await stored(inbox.id, `C0SHARED1:${ts}`))!;
    // Refused by the stand-in (wrong token): the file is named on the message with the reason.
    expect(item.text).toContain("invoice.pdf");
    expect(item.data.filesNotReceived).toEqual([{ name: "invoice.pdf", reason: "download answered HTTP 403" }]);

    const files = await slackInbox({}, (team) => `xoxb-${team}-files`);
    const ts2 = nextTs();
    await deliver(messageEvent(files.teamId, { ts: ts2, subtype: "file_share", text: "see attached", files: [file] }));
    const withFile = (await stored(files.id, `C0SHARED1:${ts2}`))!;
    const saved = await s.rt.core.db.select().from(attachments).where(eq(attachments.timelineItemId, withFile.id));
    expect(saved.map((a) => [a.name, a.contentType, a.size])).toEqual([
      ["invoice.pdf", "application/pdf", FILE_BYTES.byteLength],
    ]);
  });

  it("stores a file once when Slack retries while the first delivery is still downloading", async () => {
    const inbox = await slackInbox();
    const ts = nextTs();
    const name = `slow-${crypto.randomUUID().slice(0, 8)}.pdf`;
    const file = {
      id: "F0SLOW",
      name,
      mimetype: "application/pdf",
      url_private: `http://127.0.0.1:${slack.port}/slow-files/${name}`,
    };
    const event = messageEvent(inbox.teamId, { ts, subtype: "file_share", text: "slow", files: [file] });
    fileRequests = 0;
    const answers = await Promise.all([
      deliver(event),
      Bun.sleep(50).then(() =>
        deliver(event, { headers: { "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout" } }),
      ),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(fileRequests).toBe(1);
    const saved = await s.rt.core.db.select().from(attachments).where(eq(attachments.name, name));
    expect(saved).toHaveLength(1);
    expect(saved[0]!.timelineItemId).toBe((await stored(inbox.id, `C0SHARED1:${ts}`))!.id);
  });

  it("posts an agent's reply into the customer's thread, with its file, and records Slack's refusals", async () => {
    const inbox = await slackInbox();
    const root = nextTs();
    await deliver(messageEvent(inbox.teamId, { ts: root, text: "Help please" }));
    const rootItem = (await stored(inbox.id, `C0SHARED1:${root}`))!;
    calls.length = 0;
    postError = undefined;
    const fileId = await uploadAttachment(s.url, admin, {
      bytes: FILE_BYTES,
      type: "application/pdf",
      name: "refund.pdf",
    });
    const sent = await api(`${s.url}/api/v1/conversations/${rootItem.conversationId}/messages`, {
      token: admin,
      body: { text: "Refund <done>", attachments: [fileId] },
    });
    expect(sent.status).toBe(201);
    const posted = await until(
      async () => calls.find((c) => c.method === "files.completeUploadExternal"),
      (c) => !!c,
    );
    const post = calls.find((c) => c.method === "chat.postMessage")!;
    expect(post.body).toMatchObject({ channel: "C0SHARED1", thread_ts: root, text: "Refund &lt;done&gt;" });
    expect(post.auth).toBe(`Bearer xoxb-${inbox.teamId}`);
    expect(calls.find((c) => c.method === "upload")!.body.size).toBe(FILE_BYTES.byteLength);
    expect(JSON.parse(posted!.body.files)).toEqual([{ id: "F0UP", title: "refund.pdf" }]);
    expect(posted!.body).toMatchObject({ channel_id: "C0SHARED1", thread_ts: root });
    const row = await until(
      async () =>
        (await s.rt.core.db.select().from(outbox).where(eq(outbox.conversationId, rootItem.conversationId)))[0],
      (r) => r?.status === "sent",
    );
    expect(row!.externalId).toMatch(/^C0SHARED1:\d+/);

    postError = "not_in_channel";
    await api(`${s.url}/api/v1/conversations/${rootItem.conversationId}/messages`, {
      token: admin,
      body: { text: "again" },
    });
    const failed = await until(
      async () =>
        (await s.rt.core.db.select().from(outbox).where(eq(outbox.conversationId, rootItem.conversationId))).find(
          (r) => r.status === "failed",
        ),
      (r) => !!r,
    );
    expect(failed!.lastError).toContain("not a member of this channel");
    postError = undefined;
  });

  it("posts a new VIP conversation and a breached wait to the alert channel once, with a link", async () => {
    const inbox = await slackInbox({ alertChannel: "C0ALERTS" });
    const first = nextTs();
    await deliver(messageEvent(inbox.teamId, { ts: first, text: "hello", user: "U0VIP" }));
    const firstItem = (await stored(inbox.id, `C0SHARED1:${first}`))!;
    await s.rt.core.db
      .update(contacts)
      .set({ attributes: { vip: true } })
      .where(eq(contacts.id, firstItem.senderId!));
    calls.length = 0;
    const second = nextTs();
    await deliver(messageEvent(inbox.teamId, { ts: second, text: "urgent: our line is down", user: "U0VIP" }));
    const vipConversation = (await stored(inbox.id, `C0SHARED1:${second}`))!.conversationId;
    const alerts = () => calls.filter((c) => c.method === "chat.postMessage" && c.body.channel === "C0ALERTS");
    await until(
      async () => alerts(),
      (a) => a.length > 0,
    );
    await s.rt.slackAlerts.scan();
    const vip = alerts().filter((a) => a.body.text.includes(vipConversation));
    expect(vip).toHaveLength(1);
    expect(vip[0]!.body.text).toContain("New VIP conversation");
    expect(vip[0]!.body.text).toContain(`/app/#/inbox/all/${vipConversation}|`);

    // A conversation waiting longer than its queue's service level.
    const queue = await createQueue(s.rt.core.db, s.workspaceId, {
      name: `Slack ${inbox.teamId}`,
      serviceLevelSeconds: 5,
    });
    await s.rt.core.db.insert(workItems).values({
      workspaceId: s.workspaceId,
      conversationId: firstItem.conversationId,
      queueId: queue.id,
      channel: "slack",
      state: "waiting",
      enqueuedAt: new Date(Date.now() - 60_000),
    });
    await s.rt.slackAlerts.scan();
    await s.rt.slackAlerts.scan();
    const breach = alerts().filter(
      (a) => a.body.text.includes(firstItem.conversationId) && a.body.text.includes("Waiting too long"),
    );
    expect(breach).toHaveLength(1);
    await s.rt.core.db.delete(workItems).where(eq(workItems.queueId, queue.id));
  });

  it("retries an alert Slack did not take, and posts it once it does", async () => {
    const inbox = await slackInbox({ alertChannel: "C0ALERTS2" });
    const first = nextTs();
    await deliver(messageEvent(inbox.teamId, { ts: first, text: "hi", user: "U0VIP2" }));
    const firstItem = (await stored(inbox.id, `C0SHARED1:${first}`))!;
    await s.rt.core.db
      .update(contacts)
      .set({ attributes: { vip: true } })
      .where(eq(contacts.id, firstItem.senderId!));
    postError = "internal_error";
    const second = nextTs();
    await deliver(messageEvent(inbox.teamId, { ts: second, text: "down again", user: "U0VIP2" }));
    const conversationId = (await stored(inbox.id, `C0SHARED1:${second}`))!.conversationId;
    const mark = () =>
      s.rt.core.db
        .select()
        .from(leases)
        .where(like(leases.name, `slack-alert:${inbox.id}:${conversationId}:vip`))
        .then((rows) => rows[0]);
    expect((await until(mark, (m) => m?.holder === "pending:1"))?.holder).toBe("pending:1");
    postError = undefined;
    // Due now (the backoff would wait 10 s): the next scan of any node posts it.
    await s.rt.core.db
      .update(leases)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(leases.name, (await mark())!.name));
    await s.rt.slackAlerts.scan();
    expect((await mark())?.holder).toBe("sent");
    const posted = calls.filter(
      (c) => c.method === "chat.postMessage" && c.body.channel === "C0ALERTS2" && c.body.text.includes(conversationId),
    );
    // Two attempts reached Slack (the refused one and the one it took); a further scan posts nothing.
    expect(posted).toHaveLength(2);
    await s.rt.slackAlerts.scan();
    expect(
      calls.filter((c) => c.body.channel === "C0ALERTS2" && String(c.body.text).includes(conversationId)),
    ).toHaveLength(2);
  });

  it("answers bad requests with 4xx naming the field", async () => {
    const notJson = await api(`${s.url}/webhooks/slack/events`, { body: "token=x&team_id=T1" });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.field).toBe("body");
    const noTeam = await deliver({ type: "event_callback", event: { type: "message" } });
    expect(noTeam.status).toBe(400);
    expect(noTeam.body.error.field).toBe("team_id");
    const noChallenge = await deliver({ type: "url_verification" });
    expect(noChallenge.status).toBe(400);
    expect(noChallenge.body.error.field).toBe("challenge");
  });

  it("serves the demo inbox: a top-level message and its thread in one conversation, the bot ignored", async () => {
    await seedDemo(s.rt);
    const [route] = await s.rt.core.db
      .select()
      .from(inboxRoutes)
      .where(and(eq(inboxRoutes.kind, "slack_team"), eq(inboxRoutes.key, DEMO_SLACK.teamId.toLowerCase())));
    expect(route).toBeDefined();
    const demo = { secret: DEMO_SLACK.signingSecret };
    const channel = `C0DEMO${crypto.randomUUID().slice(0, 6).toUpperCase()}`;
    const event = (e: Record<string, unknown>) => ({
      ...messageEvent(DEMO_SLACK.teamId, e),
      event: { ...messageEvent(DEMO_SLACK.teamId, e).event, channel },
    });
    const root = nextTs();
    expect((await deliver(event({ ts: root, text: "Hello from the demo" }), demo)).status).toBe(200);
    const reply = nextTs();
    await deliver(event({ ts: reply, thread_ts: root, text: "In the thread" }), demo);
    const own = nextTs();
    await deliver(event({ ts: own, user: DEMO_SLACK.botUserId, text: "bot" }), demo);
    const rootItem = (await stored(route!.inboxId, `${channel}:${root}`))!;
    expect((await stored(route!.inboxId, `${channel}:${reply}`))!.conversationId).toBe(rootItem.conversationId);
    expect(await stored(route!.inboxId, `${channel}:${own}`)).toBeUndefined();
    expect((await deliver(event({ ts: nextTs(), text: "x" }), { secret: SECRET })).status).toBe(403);
  });
});
