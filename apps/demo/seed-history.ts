import { and, eq, inArray } from "drizzle-orm";
import { takeSeqs } from "../../conversations/event.ts";
import {
  agentStateSpans,
  contacts,
  conversations,
  inboxes,
  queues,
  timelineItems,
  users,
  workItems,
} from "../../db/schema/index.ts";
import { deriveInteractions } from "../../reports/interaction.ts";
import { mulberry32 } from "../../routing/planner.ts";
import type { Runtime } from "../server/runtime.ts";

/** Weeks of past chats the demo starts with: enough for a weekly season and a held-out week (forecast.md). */
export const HISTORY_WEEKS = 5;
const HALF_HOUR = 30 * 60_000;
const DAY = 24 * 3_600_000;
// Chats per half-hour by hour of the day on a weekday (Asia/Shanghai office hours); weekends get a third.
const WEEKDAY_RATE = [0, 0, 0, 0, 0, 0, 0, 0.5, 1.5, 3, 3.5, 3, 2, 2.5, 3, 3, 2.5, 2, 1, 0.5, 0.5, 0.3, 0, 0];
const CUSTOMER_LINES = [
  "你好，我的订单还没发货",
  "请问可以开发票吗？",
  "我想申请退款",
  "Hi, where is my parcel?",
  "Can I change my delivery address?",
  "How do I reset my password?",
];
const REPLIES = ["您好！我来帮您查一下。", "Hello! Let me check that for you.", "您好，已为您处理，祝您生活愉快！"];

/**
 * The demo's history: five weeks of resolved web chats in its two queues, answered by its two agents in
 * office hours, with the agents' shifts as presence spans, so Reports, Forecast and What-if have real
 * figures on first sign-in. Written straight to the tables (past work sends nothing and routes nothing),
 * then derived into report facts by the same statement the live listener runs.
 */
export async function seedDemoHistory(rt: Runtime, workspaceId: string, now = new Date()) {
  const db = rt.core.db;
  const [inbox] = await db
    .select({ id: inboxes.id })
    .from(inboxes)
    .where(and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.channel, "webchat")));
  const queueRows = await db
    .select({ id: queues.id, name: queues.name })
    .from(queues)
    .where(eq(queues.workspaceId, workspaceId));
  const agents = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.workspaceId, workspaceId), inArray(users.email, ["lina@demo.test", "tom@demo.test"])));
  if (!inbox || !queueRows.length || agents.length < 2) return 0;

  const random = mulberry32(2026);
  const poisson = (mean: number) => {
    let n = 0;
    for (let p = Math.exp(-mean), s = random(); s > p; s *= random()) n++;
    return n;
  };
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const first = today - HISTORY_WEEKS * 7 * DAY;
  type Chat = {
    at: number;
    waitS: number;
    handleS: number;
    agent: string;
    queue: string;
    line: string;
    // The customer left before an agent took the chat.
    abandoned: boolean;
  };
  const chats: Chat[] = [];
  for (let t = first; t < today; t += HALF_HOUR) {
    // Office hours in Shanghai (UTC+8) are what the rates describe.
    const local = new Date(t + 8 * 3_600_000);
    const weekend = local.getUTCDay() === 0 || local.getUTCDay() === 6;
    const mean = WEEKDAY_RATE[local.getUTCHours()]! * (weekend ? 1 / 3 : 1);
    for (let k = poisson(mean); k > 0; k--) {
      chats.push({
        at: t + Math.floor(random() * HALF_HOUR),
        waitS: Math.round(-Math.log(1 - random()) * 15),
        handleS: 120 + Math.round(-Math.log(1 - random()) * 360),
        agent: agents[Math.floor(random() * agents.length)]!.id,
        queue: queueRows[Math.floor(random() * queueRows.length)]!.id,
        line: CUSTOMER_LINES[Math.floor(random() * CUSTOMER_LINES.length)]!,
        abandoned: random() < 0.05,
      });
    }
  }
  if (!chats.length) return 0;

  const ids = await db.transaction(async (tx) => {
    const people = await tx
      .insert(contacts)
      // Most customers write once; some come back (what first-contact resolution counts).
      .values(
        Array.from({ length: Math.ceil(chats.length * 0.8) }, (_, i) => ({
          workspaceId,
          name: `客户 Customer ${i + 1}`,
        })),
      )
      .returning({ id: contacts.id });
    // Two items per answered chat (the customer's line, the agent's reply), one per abandoned one, numbered
    // in one range of the workspace's seqs.
    let seq = await takeSeqs(
      tx,
      workspaceId,
      chats.reduce((n, c) => n + (c.abandoned ? 1 : 2), 0),
    );
    const written: string[] = [];
    for (let i = 0; i < chats.length; i += 500) {
      const part = chats.slice(i, i + 500);
      const convs = await tx
        .insert(conversations)
        .values(
          part.map((c, j) => {
            const answered = c.at + c.waitS * 1000;
            const ended = answered + c.handleS * 1000;
            return {
              workspaceId,
              contactId: people[Math.floor(random() * people.length)]!.id,
              inboxId: inbox.id,
              channel: "webchat" as const,
              status: "resolved" as const,
              assigneeId: c.abandoned ? null : c.agent,
              queueId: c.queue,
              firstResponseAt: c.abandoned ? null : new Date(answered + 20_000),
              resolvedAt: new Date(c.abandoned ? answered : ended),
              lastMessageText: c.abandoned ? c.line : REPLIES[(i + j) % REPLIES.length]!,
              lastActivityAt: new Date(c.abandoned ? answered : ended),
              createdAt: new Date(c.at),
            };
          }),
        )
        .returning({ id: conversations.id });
      await tx.insert(workItems).values(
        part.map((c, j) => ({
          workspaceId,
          conversationId: convs[j]!.id,
          queueId: c.queue,
          channel: "webchat",
          state: c.abandoned ? ("abandoned" as const) : ("done" as const),
          agentId: c.abandoned ? null : c.agent,
          enqueuedAt: new Date(c.at),
          answeredAt: c.abandoned ? null : new Date(c.at + c.waitS * 1000),
          endedAt: new Date(c.at + (c.abandoned ? c.waitS : c.waitS + c.handleS) * 1000),
        })),
      );
      const items: (typeof timelineItems.$inferInsert)[] = [];
      for (const [j, c] of part.entries()) {
        const conversationId = convs[j]!.id;
        const base = { workspaceId, conversationId, channel: "webchat" as const, inboxId: inbox.id };
        items.push({
          ...base,
          seq: seq++,
          type: "message",
          direction: "in",
          senderType: "contact",
          text: c.line,
          createdAt: new Date(c.at),
        });
        if (c.abandoned) continue;
        items.push({
          ...base,
          seq: seq++,
          type: "message",
          direction: "out",
          senderType: "agent",
          senderId: c.agent,
          text: REPLIES[(i + j) % REPLIES.length]!,
          deliveryStatus: "delivered",
          createdAt: new Date(c.at + (c.waitS + 20) * 1000),
        });
      }
      await tx.insert(timelineItems).values(items);
      written.push(...convs.map((c) => c.id));
    }
    // Each agent's weekday shift, 09:00–18:00 in Shanghai, as available time.
    const shifts = [];
    for (let d = first; d < today; d += DAY) {
      const weekday = new Date(d + 8 * 3_600_000).getUTCDay();
      if (weekday === 0 || weekday === 6) continue;
      for (const a of agents)
        shifts.push({
          workspaceId,
          userId: a.id,
          presence: "available",
          startedAt: new Date(d + 1 * 3_600_000),
          endedAt: new Date(d + 10 * 3_600_000),
        });
    }
    await tx.insert(agentStateSpans).values(shifts);
    return written;
  });
  for (let i = 0; i < ids.length; i += 200) await deriveInteractions(db, ids.slice(i, i + 200), now);
  return ids.length;
}
