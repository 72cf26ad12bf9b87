import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import {
  contacts,
  conversations,
  interactions,
  outbox,
  reportSchedules,
  timelineItems,
  workspaceSettings,
} from "../../db/schema/index.ts";
import { createWorkspace } from "../../conversations/workspace.ts";
import { sweepSchedules } from "../../reports/schedule-sweep.ts";
import { until } from "../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../test/server.ts";
import { startSmtpSink } from "../../test/smtp-sink.ts";

let server: TestServer;
let sink: Awaited<ReturnType<typeof startSmtpSink>>;
let admin: string;
let supervisor: string;
let agent: string;
const DAY = 86_400_000;

beforeAll(async () => {
  server = await startTestServer();
  sink = await startSmtpSink();
  admin = await server.login(server.admin.email, server.admin.password);
  supervisor = await server.signInAs("supervisor", "Sue Supervisor");
  agent = await server.login(server.agent.email, server.agent.password);
  const inbox = await api(`${server.url}/api/v1/inboxes`, {
    token: admin,
    body: {
      name: "Reports sender",
      channel: "email",
      email: {
        address: `reports-${crypto.randomUUID().slice(0, 8)}@acme.test`,
        smtp: { host: "127.0.0.1", port: sink.port, security: "none" },
      },
    },
  });
  expect(inbox.status).toBe(201);
  // Reports run in the workspace's time zone: Shanghai, so "yesterday" is not the UTC day.
  await server.rt.core.db
    .insert(workspaceSettings)
    .values({ workspaceId: server.workspaceId, timeZone: "Asia/Shanghai" })
    .onConflictDoUpdate({ target: workspaceSettings.workspaceId, set: { timeZone: "Asia/Shanghai" } });
});

afterAll(async () => {
  await server.rt.core.db.delete(reportSchedules).where(eq(reportSchedules.workspaceId, server.workspaceId));
  await sink.stop();
  await server.stop();
});

const schedules = (token: string, body?: unknown, method?: string, id?: string) =>
  api(`${server.url}/api/v1/reports/schedules${id ? `/${id}` : ""}`, { token, body, method });

describe("scheduled report e-mails", () => {
  it("creates, lists, changes and deletes schedules; bad input is a 400 naming the field", async () => {
    const good = { name: "Daily figures", frequency: "daily", hour: 7, recipients: ["Boss@Example.test"] };
    expect((await schedules(agent, good)).status).toBe(403);
    for (const [input, field] of [
      [{ ...good, recipients: ["not-an-address"] }, "recipients.0"],
      [{ ...good, recipients: [] }, "recipients"],
      [{ ...good, frequency: "monthly" }, "frequency"],
      [{ ...good, frequency: "weekly" }, "weekday"],
      [{ ...good, hour: 24 }, "hour"],
      [{ ...good, groupBy: "weekday" }, "groupBy"],
      [{ ...good, language: "fr" }, "language"],
      [{ ...good, filters: { queueId: ["x"] } }, "filters.queueId.0"],
      [{ ...good, name: " " }, "name"],
    ] as const) {
      const res = await schedules(supervisor, input);
      expect({ field, status: res.status, got: res.body.error?.field }).toEqual({ field, status: 400, got: field });
    }
    const made = await schedules(supervisor, good);
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ frequency: "daily", weekday: null, hour: 7, groupBy: "day", language: "en" });
    expect(made.body.recipients).toEqual(["boss@example.test"]);
    // 07:00 in Shanghai is 23:00 UTC, within the next day.
    const next = new Date(made.body.nextRunAt);
    expect(next.getUTCHours()).toBe(23);
    expect(next.getTime() - Date.now()).toBeGreaterThan(0);
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(DAY);
    const id: string = made.body.id;

    const list = await schedules(supervisor);
    expect(list.body.items.map((s: { id: string }) => s.id)).toEqual([id]);

    const weekly = await schedules(supervisor, { frequency: "weekly", weekday: 1, groupBy: "agent" }, "PATCH", id);
    expect(weekly.status).toBe(200);
    const monday = new Date(weekly.body.nextRunAt);
    // Monday 07:00 Shanghai is Sunday 23:00 UTC.
    expect([monday.getUTCDay(), monday.getUTCHours()]).toEqual([0, 23]);
    expect((await schedules(supervisor, { recipients: ["x@"] }, "PATCH", id)).body.error.field).toBe("recipients.0");
    expect((await schedules(supervisor, { weekday: null }, "PATCH", id)).body.error.field).toBe("weekday");
    expect((await schedules(agent, { name: "Mine" }, "PATCH", id)).status).toBe(403);

    // Another workspace's schedule is not found: not listed, not changed, not deleted.
    const other = await createWorkspace(server.rt.core.db, `Other ${crypto.randomUUID().slice(0, 8)}`);
    const [theirs] = await server.rt.core.db
      .insert(reportSchedules)
      .values({ workspaceId: other.id, name: "Theirs", frequency: "daily", recipients: ["x@y.test"], nextRunAt: next })
      .returning();
    expect((await schedules(supervisor, { name: "Mine now" }, "PATCH", theirs!.id)).status).toBe(404);
    expect((await schedules(supervisor, undefined, "DELETE", theirs!.id)).status).toBe(404);
    expect((await schedules(supervisor)).body.items.map((s: { id: string }) => s.id)).toEqual([id]);
    await server.rt.core.db.delete(reportSchedules).where(eq(reportSchedules.id, theirs!.id));

    expect((await schedules(supervisor, undefined, "DELETE", id)).status).toBe(200);
    expect((await schedules(supervisor, undefined, "DELETE", id)).status).toBe(404);
    expect((await schedules(supervisor)).body.items).toEqual([]);
  });

  it("mails yesterday's figures with the CSV attached through the outbox, once across two sweeps", async () => {
    const recipients = ["lead@example.test", "ops@example.test"];
    const made = await schedules(supervisor, { name: "Daily figures", frequency: "daily", hour: 7, recipients });
    expect(made.status).toBe(201);
    const runAt = new Date(made.body.nextRunAt);
    // The Shanghai day before the run: 16:00 UTC two days before the run's 23:00 UTC … 16:00 UTC the day before.
    const dayStart = new Date(Date.UTC(runAt.getUTCFullYear(), runAt.getUTCMonth(), runAt.getUTCDate() - 1, 16));
    const db = server.rt.core.db;
    const [contact] = await db.insert(contacts).values({ workspaceId: server.workspaceId, name: "Carol" }).returning();
    const [conversation] = await db
      .insert(conversations)
      .values({ workspaceId: server.workspaceId, contactId: contact!.id, inboxId: server.inbox.id, channel: "webchat" })
      .returning();
    const fact = (minutes: number, f: Partial<typeof interactions.$inferInsert>) => ({
      id: crypto.randomUUID(),
      workspaceId: server.workspaceId,
      conversationId: conversation!.id,
      contactId: contact!.id,
      channel: "webchat",
      offeredAt: new Date(dayStart.getTime() + minutes * 60_000),
      serviceLevelS: 20,
      ...f,
    });
    await db.insert(interactions).values([
      // Hand-computed: offered 3, answered 2, abandoned 1; ASA (10 + 30) / 2 = 0:20; AHT (100 + 200) / 2 = 2:30;
      // service level 1 within 20 s of the 3 judged = 33%.
      fact(60, { outcome: "answered", answeredAt: dayStart, waitS: 10, handleS: 100, answeredInSl: true }),
      fact(120, { outcome: "answered", answeredAt: dayStart, waitS: 30, handleS: 200, answeredInSl: false }),
      fact(180, { outcome: "abandoned", waitS: 45, answeredInSl: false }),
      // The day before the period and the run's own day: not in the report.
      fact(-10, { outcome: "abandoned", waitS: 5 }),
      fact(24 * 60 + 5, { outcome: "abandoned", waitS: 5 }),
    ]);

    const deps = { core: server.rt.core, files: server.rt.files };
    const before = sink.received.length;
    // Two nodes sweeping at the same moment, then a later pass: the report is written once.
    const now = new Date(runAt.getTime() + 1000);
    await Promise.all([sweepSchedules(deps, now), sweepSchedules(deps, now)]);
    await sweepSchedules(deps, new Date(now.getTime() + 60_000));
    server.rt.outbox.wake();
    const mail = await sink.waitFor(before + 1);

    const firstDay = new Date(dayStart.getTime() + 8 * 3_600_000).toISOString().slice(0, 10);
    expect(mail.mail.subject).toBe(`Daily figures (daily report): ${firstDay}`);
    expect(mail.envelope.to.sort()).toEqual(recipients);
    expect(mail.mail.headers.get("auto-submitted")).toBe("auto-replied");
    const text = mail.mail.text ?? "";
    expect(text).toContain("Asia/Shanghai");
    const row = text.split("\n").find((l) => l.startsWith(firstDay))!;
    expect(row.split(/\s{2,}/)).toEqual([firstDay, "3", "2", "1", "33%", "0:20", "2:30", "—", "—"]);
    expect(mail.mail.html).toContain("<table");
    expect(mail.mail.html).toContain('<td style="padding:4px 8px;text-align:right">0:20</td>');
    const [csv] = mail.mail.attachments;
    expect(csv!.filename).toBe(`report-${firstDay}-by-day.csv`);
    expect(csv!.contentType).toBe("text/csv");
    const lines = csv!.content.toString("utf8").trim().split("\r\n");
    expect(lines[0]!.split(",").slice(0, 4)).toEqual(["key", "offered", "answered", "abandoned"]);
    expect(lines.slice(1).map((l) => l.split(",").slice(0, 4))).toEqual([[firstDay, "3", "2", "1"]]);

    // Nothing more leaves: one message in the schedule's conversation, its outbox row sent, and the
    // schedule moved to its next day.
    const written = await db
      .select({ status: outbox.status })
      .from(timelineItems)
      .innerJoin(outbox, eq(outbox.timelineItemId, timelineItems.id))
      .where(
        and(
          eq(timelineItems.workspaceId, server.workspaceId),
          sql`${timelineItems.data}->>'reportScheduleId' = ${made.body.id}`,
        ),
      );
    expect(written.length).toBe(1);
    const sent = await until(
      () => db.select({ status: outbox.status }).from(outbox).where(eq(outbox.workspaceId, server.workspaceId)),
      (rows) => rows.every((r) => r.status === "sent"),
    );
    expect(sent.map((r) => r.status)).toEqual(["sent"]);
    expect(sink.received.length).toBe(before + 1);
    const [after] = await db.select().from(reportSchedules).where(eq(reportSchedules.id, made.body.id));
    expect(after!.nextRunAt.getTime()).toBe(runAt.getTime() + DAY);
    expect(after!.lastSentAt).not.toBeNull();
    // The mails' conversation is resolved, labelled, and not offered to agents.
    const [thread] = await db
      .select()
      .from(conversations)
      .where(
        and(eq(conversations.workspaceId, server.workspaceId), sql`'scheduled-report' = ANY(${conversations.labels})`),
      );
    expect(thread!.status).toBe("resolved");
    const seen = await api(`${server.url}/api/v1/conversations/${thread!.id}`, { token: agent });
    expect(seen.status).toBe(404);
    expect((await schedules(supervisor, undefined, "DELETE", made.body.id)).status).toBe(200);
  });

  it("writes the report in Chinese for a zh-CN schedule", async () => {
    const made = await schedules(supervisor, {
      name: "客服周报",
      frequency: "weekly",
      weekday: 1,
      hour: 8,
      groupBy: "channel",
      language: "zh-CN",
      recipients: ["zhang@example.test"],
    });
    expect(made.status).toBe(201);
    const before = sink.received.length;
    await sweepSchedules({ core: server.rt.core, files: server.rt.files }, new Date(made.body.nextRunAt));
    server.rt.outbox.wake();
    const mail = await sink.waitFor(before + 1);
    expect(mail.mail.subject).toMatch(/^客服周报 \(周报\): \d{4}-\d{2}-\d{2} – \d{4}-\d{2}-\d{2}$/);
    expect(mail.mail.text).toContain("进线");
    expect(mail.mail.text).toContain("按渠道");
    expect(mail.mail.attachments[0]!.filename).toMatch(/-by-channel\.csv$/);
  });
});
