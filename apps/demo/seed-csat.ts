import { and, eq, sql } from "drizzle-orm";
import { ingestInbound } from "../../conversations/ingest.ts";
import { recordResponse } from "../../csat/response.ts";
import type { CsatSettings } from "../../csat/settings.ts";
import { conversations, inboxes, queues, users } from "../../db/schema/index.ts";
import type { Runtime } from "../server/runtime.ts";

/**
 * The demo's satisfaction surveys: the website chat asks with stars as soon as a chat is resolved, the
 * General queue asks callers after the agent hangs up, and three earlier chats of 李娜 were rated, so
 * Settings → Satisfaction has something to show on first sign-in.
 */
export async function seedDemoCsat(rt: Runtime, workspaceId: string) {
  const db = rt.core.db;
  const csat: CsatSettings = { enabled: true, scale: "stars", question: {}, delayMinutes: 0, expiresHours: 72 };
  const [chat] = await db
    .update(inboxes)
    .set({ settings: sql`${inboxes.settings} || ${JSON.stringify({ csat })}::jsonb` })
    .where(and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.channel, "webchat")))
    .returning({ id: inboxes.id });
  await db
    .update(queues)
    .set({ csatIvr: true })
    .where(and(eq(queues.workspaceId, workspaceId), eq(queues.name, "General")));
  const [lina] = await db.select({ id: users.id }).from(users).where(eq(users.email, "lina@demo.test"));
  if (!chat || !lina) return;
  const rated = [
    { name: "陈晨", text: "发票可以重开吗？", rating: 5, comment: "回复很快，谢谢！" },
    { name: "Liam Ford", text: "Do you ship to Canada?", rating: 4, comment: null },
    { name: "赵磊", text: "退款什么时候到账？", rating: 2, comment: "等了很久才有人回复" },
  ];
  for (const [n, r] of rated.entries()) {
    const { conversation } = await ingestInbound(rt.core, workspaceId, {
      channel: "webchat",
      channelAccountId: chat.id,
      externalId: `demo-csat-${n}`,
      from: { kind: "visitor", value: `demo-csat-${n}`, displayName: r.name },
      text: r.text,
    });
    // Straight to resolved, without the bus: these are past chats, no survey is to be sent now.
    await db
      .update(conversations)
      .set({ status: "resolved", assigneeId: lina.id, resolvedAt: new Date(), waitingSince: null })
      .where(eq(conversations.id, conversation.id));
    await recordResponse(rt.core, {
      conversationId: conversation.id,
      rating: r.rating,
      comment: r.comment,
      via: "widget",
    });
  }
}
