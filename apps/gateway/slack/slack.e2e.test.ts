import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { and, eq } from "drizzle-orm";
import { attachments, contacts, inboxRoutes, timelineItems } from "../../../db/schema/index.ts";
import { SLACK_FILE_BYTES, SLACK_TEST_SECRET, startSlackWorld } from "../../../test/slack.ts";
import { api } from "../../../test/server.ts";
import { DEMO_SLACK, seedDemo } from "../../demo/seed.ts";

/** Slack's events: signatures, threads, retries, files, and the demo inbox (replies and alerts: slack-outbound). */
let w: Awaited<ReturnType<typeof startSlackWorld>>;

beforeAll(async () => {
  w = await startSlackWorld();
}, 120_000);
afterAll(() => w.stop());

describe("Slack events", () => {
  it("creates an inbox proven by auth.test, and refuses a token of another team", async () => {
    const inbox = await w.slackInbox();
    expect(inbox.listed.webhookUrl).toBe(`${w.s.url}/webhooks/slack/events`);
    expect(JSON.stringify(inbox.listed)).not.toContain(SLACK_TEST_SECRET);
    const res = await api(`${w.s.url}/api/v1/inboxes`, {
      token: w.admin,
      body: {
        name: "Wrong team",
        channel: "slack",
        teamId: w.randomTeam(),
        botToken: "xoxb-TOTHER0001",
        signingSecret: SLACK_TEST_SECRET,
        botUserId: "U0BOT",
        apiBaseUrl: `${w.slackUrl}`,
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe("teamId");
  });

  it("answers url_verification only when signed by a Slack inbox's secret", async () => {
    await w.slackInbox();
    const check = {
      token: "x",
      challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
      type: "url_verification",
    };
    const ok = await w.deliver(check);
    expect(ok.status).toBe(200);
    expect(ok.body.challenge).toBe(check.challenge);
    const forged = await w.deliver(check, { secret: "not-the-secret-at-all" });
    expect(forged.status).toBe(403);
    expect(forged.body.error.code).toBeDefined();
  });

  it("refuses forged and stale requests with 403 and stores nothing", async () => {
    const inbox = await w.slackInbox();
    const ts = w.nextTs();
    const event = w.messageEvent(inbox.teamId, { ts, text: "forged" });
    expect((await w.deliver(event, { secret: "forged-secret-000000" })).status).toBe(403);
    const stale = await w.deliver(event, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    expect(stale.status).toBe(403);
    expect(stale.body.error.message).toContain("5 minutes");
    expect((await w.deliver(w.messageEvent(w.randomTeam(), { ts, text: "no inbox" }))).status).toBe(403);
    expect(await w.stored(inbox.id, `C0SHARED1:${ts}`)).toBeUndefined();
  });

  it("starts a conversation per top-level message and continues it in its thread; a retry stores once", async () => {
    const inbox = await w.slackInbox();
    const root = w.nextTs();
    const first = w.messageEvent(inbox.teamId, { ts: root, text: "Our invoice is wrong" });
    expect((await w.deliver(first)).status).toBe(200);
    // Slack's retry of the same event: one item.
    const retry = await w.deliver(first, {
      headers: { "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout" },
    });
    expect(retry.status).toBe(200);
    const rootItem = (await w.stored(inbox.id, `C0SHARED1:${root}`))!;
    expect(rootItem.text).toBe("Our invoice is wrong");
    const conv = await api(`${w.s.url}/api/v1/conversations/${rootItem.conversationId}`, { token: w.admin });
    expect(conv.body.channel).toBe("slack");
    const [contact] = await w.s.rt.core.db.select().from(contacts).where(eq(contacts.id, rootItem.senderId!));
    expect(contact!.name).toBe("Carol");

    const reply = w.nextTs();
    await w.deliver(
      w.messageEvent(inbox.teamId, {
        ts: reply,
        thread_ts: root,
        text: "Any news?",
        user: "U0OTHER",
        user_team: "T0PARTNER",
      }),
    );
    expect((await w.stored(inbox.id, `C0SHARED1:${reply}`))!.conversationId).toBe(rootItem.conversationId);

    const second = w.nextTs();
    await w.deliver(w.messageEvent(inbox.teamId, { ts: second, text: "Another question" }));
    const secondItem = (await w.stored(inbox.id, `C0SHARED1:${second}`))!;
    expect(secondItem.conversationId).not.toBe(rootItem.conversationId);

    const items = await w.s.rt.core.db
      .select()
      .from(timelineItems)
      .where(and(eq(timelineItems.conversationId, rootItem.conversationId), eq(timelineItems.type, "message")))
      .orderBy(timelineItems.seq);
    expect(items.map((i) => i.text)).toEqual(["Our invoice is wrong", "Any news?"]);
  });

  it("ignores the bot's own messages and other subtypes", async () => {
    const inbox = await w.slackInbox();
    const own = w.nextTs();
    expect((await w.deliver(w.messageEvent(inbox.teamId, { ts: own, user: "U0BOT", text: "our reply" }))).status).toBe(
      200,
    );
    const joined = w.nextTs();
    await w.deliver(w.messageEvent(inbox.teamId, { ts: joined, subtype: "channel_join", text: "joined" }));
    expect(await w.stored(inbox.id, `C0SHARED1:${own}`)).toBeUndefined();
    expect(await w.stored(inbox.id, `C0SHARED1:${joined}`)).toBeUndefined();
  });

  it("downloads a shared file with the bot token into an attachment", async () => {
    const inbox = await w.slackInbox();
    // The stand-in serves files to tokens ending in "-files" only: this inbox's token is another one.
    const ts = w.nextTs();
    const file = {
      id: "F0FILE",
      name: "invoice.pdf",
      mimetype: "application/pdf",
      size: SLACK_FILE_BYTES.byteLength,
      mode: "hosted",
      url_private: `${w.slackUrl}/files/invoice.pdf`,
    };
    await w.deliver(w.messageEvent(inbox.teamId, { ts, subtype: "file_share", text: "", files: [file] }));
    const item = (await w.stored(inbox.id, `C0SHARED1:${ts}`))!;
    // Refused by the stand-in (wrong token): the file is named on the message with the reason.
    expect(item.text).toContain("invoice.pdf");
    expect(item.data.filesNotReceived).toEqual([{ name: "invoice.pdf", reason: "download answered HTTP 403" }]);

    const files = await w.slackInbox({}, (team) => `xoxb-${team}-files`);
    const ts2 = w.nextTs();
    await w.deliver(
      w.messageEvent(files.teamId, { ts: ts2, subtype: "file_share", text: "see attached", files: [file] }),
    );
    const withFile = (await w.stored(files.id, `C0SHARED1:${ts2}`))!;
    const saved = await w.s.rt.core.db.select().from(attachments).where(eq(attachments.timelineItemId, withFile.id));
    expect(saved.map((a) => [a.name, a.contentType, a.size])).toEqual([
      ["invoice.pdf", "application/pdf", SLACK_FILE_BYTES.byteLength],
    ]);
  });

  it("stores a file once when Slack retries while the first delivery is still downloading", async () => {
    const inbox = await w.slackInbox();
    const ts = w.nextTs();
    const name = `slow-${crypto.randomUUID().slice(0, 8)}.pdf`;
    const file = {
      id: "F0SLOW",
      name,
      mimetype: "application/pdf",
      url_private: `${w.slackUrl}/slow-files/${name}`,
    };
    const event = w.messageEvent(inbox.teamId, { ts, subtype: "file_share", text: "slow", files: [file] });
    w.state.fileRequests = 0;
    const answers = await Promise.all([
      w.deliver(event),
      Bun.sleep(50).then(() =>
        w.deliver(event, { headers: { "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout" } }),
      ),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(w.state.fileRequests).toBe(1);
    const saved = await w.s.rt.core.db.select().from(attachments).where(eq(attachments.name, name));
    expect(saved).toHaveLength(1);
    expect(saved[0]!.timelineItemId).toBe((await w.stored(inbox.id, `C0SHARED1:${ts}`))!.id);
  });

  it("answers bad requests with 4xx naming the field", async () => {
    const notJson = await api(`${w.s.url}/webhooks/slack/events`, { body: "token=x&team_id=T1" });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.field).toBe("body");
    const noTeam = await w.deliver({ type: "event_callback", event: { type: "message" } });
    expect(noTeam.status).toBe(400);
    expect(noTeam.body.error.field).toBe("team_id");
    const noChallenge = await w.deliver({ type: "url_verification" });
    expect(noChallenge.status).toBe(400);
    expect(noChallenge.body.error.field).toBe("challenge");
  });

  it("serves the demo inbox: a top-level message and its thread in one conversation, the bot ignored", async () => {
    await seedDemo(w.s.rt);
    const [route] = await w.s.rt.core.db
      .select()
      .from(inboxRoutes)
      .where(and(eq(inboxRoutes.kind, "slack_team"), eq(inboxRoutes.key, DEMO_SLACK.teamId.toLowerCase())));
    expect(route).toBeDefined();
    const demo = { secret: DEMO_SLACK.signingSecret };
    const channel = `C0DEMO${crypto.randomUUID().slice(0, 6).toUpperCase()}`;
    const event = (e: Record<string, unknown>) => w.messageEvent(DEMO_SLACK.teamId, { ...e, channel });
    const root = w.nextTs();
    expect((await w.deliver(event({ ts: root, text: "Hello from the demo" }), demo)).status).toBe(200);
    const reply = w.nextTs();
    await w.deliver(event({ ts: reply, thread_ts: root, text: "In the thread" }), demo);
    const own = w.nextTs();
    await w.deliver(event({ ts: own, user: DEMO_SLACK.botUserId, text: "bot" }), demo);
    const rootItem = (await w.stored(route!.inboxId, `${channel}:${root}`))!;
    expect((await w.stored(route!.inboxId, `${channel}:${reply}`))!.conversationId).toBe(rootItem.conversationId);
    expect(await w.stored(route!.inboxId, `${channel}:${own}`)).toBeUndefined();
    expect((await w.deliver(event({ ts: w.nextTs(), text: "x" }), { secret: SLACK_TEST_SECRET })).status).toBe(403);
  });
});
