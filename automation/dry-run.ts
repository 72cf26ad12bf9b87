import { and, desc, eq, gte } from "drizzle-orm";
import { z } from "zod";
import { compileConditions } from "../conversations/condition.ts";
import type { Db } from "../db/connect.ts";
import { conversations, tickets } from "../db/schema/index.ts";
import { Invalid } from "../platform/errors.ts";
import { checkActions, parseActions } from "./action.ts";
import { ruleEvents } from "./rule.ts";
import { conversationFacts, lastCustomerText, ticketFacts } from "./subject.ts";

export const DryRunInput = z.object({
  event: z.enum(ruleEvents),
  conditions: z.array(z.unknown()).max(50).default([]),
  actions: z.array(z.unknown()).max(20).optional(),
  limit: z.number().int().min(1).max(500).default(500),
});

const WINDOW_MS = 7 * 24 * 3600_000;
const TICKET_EVENTS = new Set(["ticket.created", "ticket.updated", "ticket.idle"]);

/**
 * "Which recent conversations would this rule have matched?": the workspace's conversations of the
 * last 7 days (tickets for ticket events), newest first, at most `limit` (500), judged as the rule's
 * event would see them now. Reads only; actions, when given, are only checked.
 */
export async function dryRun(db: Db, workspaceId: string, raw: unknown, now = new Date()) {
  const parsed = DryRunInput.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join(".");
    throw new Invalid(`${field}: ${issue.message}`, field);
  }
  const input = parsed.data;
  const { matches } = compileConditions(input.conditions);
  if (input.actions?.length) await checkActions(db, workspaceId, parseActions(input.actions));
  const since = new Date(now.getTime() - WINDOW_MS);
  const matched: Record<string, unknown>[] = [];
  if (TICKET_EVENTS.has(input.event)) {
    const rows = await db
      .select({ id: tickets.id, title: tickets.title, createdAt: tickets.createdAt })
      .from(tickets)
      .where(and(eq(tickets.workspaceId, workspaceId), gte(tickets.createdAt, since)))
      .orderBy(desc(tickets.createdAt))
      .limit(input.limit);
    for (const t of rows) {
      const facts = await ticketFacts(db, t.id, now);
      if (facts && matches(facts.subject))
        matched.push({ ticketId: t.id, title: t.title, createdAt: t.createdAt.toISOString() });
    }
    return { scanned: rows.length, matched };
  }
  const rows = await db
    .select({
      id: conversations.id,
      lastMessageText: conversations.lastMessageText,
      createdAt: conversations.createdAt,
    })
    .from(conversations)
    .where(and(eq(conversations.workspaceId, workspaceId), gte(conversations.createdAt, since)))
    .orderBy(desc(conversations.createdAt))
    .limit(input.limit);
  for (const c of rows) {
    // conversation.created rules read the first customer message; the others the latest.
    const text = input.event === "conversation.created" ? undefined : await lastCustomerText(db, c.id);
    const facts = await conversationFacts(db, c.id, { text, at: now });
    if (facts && matches(facts.subject))
      matched.push({ conversationId: c.id, lastMessageText: c.lastMessageText, createdAt: c.createdAt.toISOString() });
  }
  return { scanned: rows.length, matched };
}
