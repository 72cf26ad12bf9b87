import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq, like } from "drizzle-orm";
import { contacts, leases, outbox, workItems } from "../../../db/schema/index.ts";
import { createQueue } from "../../../routing/queue.ts";
import { until } from "../../../test/poll.ts";
import { api, uploadAttachment } from "../../../test/server.ts";
import { SLACK_FILE_BYTES, startSlackWorld } from "../../../test/slack.ts";

/** Agents' replies into Slack threads, Slack's refusals, and the alerts channel. */
let w: Awaited<ReturnType<typeof startSlackWorld>>;

beforeAll(async () => {
  w = await startSlackWorld();
}, 120_000);
afterAll(() => w.stop());

describe("Slack replies and alerts", () => {
  it("posts an agent's reply into the customer's thread, with its file, and records Slack's refusals", async () => {
    const inbox = await w.slackInbox();
    const root = w.nextTs();
    await w.deliver(w.messageEvent(inbox.teamId, { ts: root, text: "Help please" }));
    const rootItem = (await w.stored(inbox.id, `C0SHARED1:${root}`))!;
    w.state.calls.length = 0;
    w.state.postError = undefined;
    const fileId = await uploadAttachment(w.s.url, w.admin, {
      bytes: SLACK_FILE_BYTES,
      type: "application/pdf",
      name: "refund.pdf",
    });
    const sent = await api(`${w.s.url}/api/v1/conversations/${rootItem.conversationId}/messages`, {
      token: w.admin,
      body: { text: "Refund <done>", attachments: [fileId] },
    });
    expect(sent.status).toBe(201);
    const posted = await until(
      async () => w.state.calls.find((c) => c.method === "files.completeUploadExternal"),
      (c) => !!c,
    );
    const post = w.state.calls.find((c) => c.method === "chat.postMessage")!;
    expect(post.body).toMatchObject({ channel: "C0SHARED1", thread_ts: root, text: "Refund &lt;done&gt;" });
    expect(post.auth).toBe(`Bearer xoxb-${inbox.teamId}`);
    expect(w.state.calls.find((c) => c.method === "upload")!.body.size).toBe(SLACK_FILE_BYTES.byteLength);
    expect(JSON.parse(posted!.body.files)).toEqual([{ id: "F0UP", title: "refund.pdf" }]);
    expect(posted!.body).toMatchObject({ channel_id: "C0SHARED1", thread_ts: root });
    const row = await until(
      async () =>
        (await w.s.rt.core.db.select().from(outbox).where(eq(outbox.conversationId, rootItem.conversationId)))[0],
      (r) => r?.status === "sent",
    );
    expect(row!.externalId).toMatch(/^C0SHARED1:\d+/);

    w.state.postError = "not_in_channel";
    await api(`${w.s.url}/api/v1/conversations/${rootItem.conversationId}/messages`, {
      token: w.admin,
      body: { text: "again" },
    });
    const failed = await until(
      async () =>
        (await w.s.rt.core.db.select().from(outbox).where(eq(outbox.conversationId, rootItem.conversationId))).find(
          (r) => r.status === "failed",
        ),
      (r) => !!r,
    );
    expect(failed!.lastError).toContain("not a member of this channel");
    w.state.postError = undefined;
  });

  it("posts a new VIP conversation and a breached wait to the alert channel once, with a link", async () => {
    const inbox = await w.slackInbox({ alertChannel: "C0ALERTS" });
    const first = w.nextTs();
    await w.deliver(w.messageEvent(inbox.teamId, { ts: first, text: "hello", user: "U0VIP" }));
    const firstItem = (await w.stored(inbox.id, `C0SHARED1:${first}`))!;
    await w.s.rt.core.db
      .update(contacts)
      .set({ attributes: { vip: true } })
      .where(eq(contacts.id, firstItem.senderId!));
    w.state.calls.length = 0;
    const second = w.nextTs();
    await w.deliver(w.messageEvent(inbox.teamId, { ts: second, text: "urgent: our line is down", user: "U0VIP" }));
    const vipConversation = (await w.stored(inbox.id, `C0SHARED1:${second}`))!.conversationId;
    const alerts = () => w.state.calls.filter((c) => c.method === "chat.postMessage" && c.body.channel === "C0ALERTS");
    await until(
      async () => alerts(),
      (a) => a.length > 0,
    );
    await w.s.rt.slackAlerts.scan();
    const vip = alerts().filter((a) => a.body.text.includes(vipConversation));
    expect(vip).toHaveLength(1);
    expect(vip[0]!.body.text).toContain("New VIP conversation");
    expect(vip[0]!.body.text).toContain(`/app/#/inbox/all/${vipConversation}|`);

    // A conversation waiting longer than its queue's service level.
    const queue = await createQueue(w.s.rt.core.db, w.s.workspaceId, {
      name: `Slack ${inbox.teamId}`,
      serviceLevelSeconds: 5,
    });
    await w.s.rt.core.db.insert(workItems).values({
      workspaceId: w.s.workspaceId,
      conversationId: firstItem.conversationId,
      queueId: queue.id,
      channel: "slack",
      state: "waiting",
      enqueuedAt: new Date(Date.now() - 60_000),
    });
    await w.s.rt.slackAlerts.scan();
    await w.s.rt.slackAlerts.scan();
    const breach = alerts().filter(
      (a) => a.body.text.includes(firstItem.conversationId) && a.body.text.includes("Waiting too long"),
    );
    expect(breach).toHaveLength(1);
    await w.s.rt.core.db.delete(workItems).where(eq(workItems.queueId, queue.id));
  });

  it("retries an alert Slack did not take, and posts it once it does", async () => {
    const inbox = await w.slackInbox({ alertChannel: "C0ALERTS2" });
    const first = w.nextTs();
    await w.deliver(w.messageEvent(inbox.teamId, { ts: first, text: "hi", user: "U0VIP2" }));
    const firstItem = (await w.stored(inbox.id, `C0SHARED1:${first}`))!;
    await w.s.rt.core.db
      .update(contacts)
      .set({ attributes: { vip: true } })
      .where(eq(contacts.id, firstItem.senderId!));
    w.state.postError = "internal_error";
    const second = w.nextTs();
    await w.deliver(w.messageEvent(inbox.teamId, { ts: second, text: "down again", user: "U0VIP2" }));
    const conversationId = (await w.stored(inbox.id, `C0SHARED1:${second}`))!.conversationId;
    const mark = () =>
      w.s.rt.core.db
        .select()
        .from(leases)
        .where(like(leases.name, `slack-alert:${inbox.id}:${conversationId}:vip`))
        .then((rows) => rows[0]);
    expect((await until(mark, (m) => m?.holder === "pending:1"))?.holder).toBe("pending:1");
    w.state.postError = undefined;
    // Due now (the backoff would wait 10 s): the next scan of any node posts it.
    await w.s.rt.core.db
      .update(leases)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(leases.name, (await mark())!.name));
    await w.s.rt.slackAlerts.scan();
    expect((await mark())?.holder).toBe("sent");
    const posted = w.state.calls.filter(
      (c) => c.method === "chat.postMessage" && c.body.channel === "C0ALERTS2" && c.body.text.includes(conversationId),
    );
    // Two attempts reached Slack (the refused one and the one it took); a further scan posts nothing.
    expect(posted).toHaveLength(2);
    await w.s.rt.slackAlerts.scan();
    expect(
      w.state.calls.filter((c) => c.body.channel === "C0ALERTS2" && String(c.body.text).includes(conversationId)),
    ).toHaveLength(2);
  });
});
