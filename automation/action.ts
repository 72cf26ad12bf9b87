import { and, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import type { Executor } from "../db/connect.ts";
import type { RuleAction } from "../db/schema/index.ts";
import { cannedResponses, queues, teams, users, webhooks } from "../db/schema/index.ts";
import { Invalid } from "../platform/errors.ts";

const id = z.string().uuid();
const text = z.string().trim().min(1).max(5000);
export const PRIORITIES = ["low", "normal", "high", "urgent"] as const;
export const TICKET_STATUSES = ["new", "open", "pending_customer", "pending_third_party", "solved", "closed"] as const;

/**
 * What a rule or a macro may do, one shape per type. Ids are checked against the workspace when the
 * rule or macro is saved (`checkActions`), so a run never meets an unknown queue it could have known.
 */
export const actionSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("assign_queue"), queueId: id }).strict(),
  z.object({ type: z.literal("assign_team"), teamId: id }).strict(),
  z.object({ type: z.literal("assign_agent"), userId: id }).strict(),
  z.object({ type: z.literal("set_priority"), value: z.enum(PRIORITIES) }).strict(),
  z.object({ type: z.literal("label"), value: z.string().trim().min(1).max(100) }).strict(),
  z.object({ type: z.literal("remove_label"), value: z.string().trim().min(1).max(100) }).strict(),
  z
    .object({ type: z.literal("reply"), body: text.optional(), cannedId: id.optional() })
    .strict()
    .refine((a) => (a.body === undefined) !== (a.cannedId === undefined), {
      message: "a reply needs either body or cannedId",
      path: ["body"],
    }),
  z.object({ type: z.literal("note"), body: text }).strict(),
  z
    .object({
      type: z.literal("create_ticket"),
      title: z.string().trim().min(1).max(300),
      ticketType: z.string().trim().min(1).max(100).optional(),
      priority: z.enum(PRIORITIES).optional(),
      teamId: id.optional(),
    })
    .strict(),
  z.object({ type: z.literal("set_ticket_status"), value: z.enum(TICKET_STATUSES) }).strict(),
  z.object({ type: z.literal("webhook"), webhookId: id }).strict(),
  z.object({ type: z.literal("close") }).strict(),
]);
export type Action = z.infer<typeof actionSchema>;
export type ActionType = Action["type"];

/** Macros are applied by an agent to a conversation: no ticket status (no ticket in hand), no webhook. */
export const MACRO_ACTIONS: ActionType[] = [
  "label",
  "remove_label",
  "reply",
  "note",
  "set_priority",
  "assign_queue",
  "assign_team",
  "assign_agent",
  "create_ticket",
  "close",
];

/** Parses actions; the first problem is an `Invalid` naming `actions.<i>.<field>`. */
export function parseActions(raw: unknown, allowed?: ActionType[]): Action[] {
  const parsed = z.array(actionSchema).min(1).max(20).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = ["actions", ...issue.path.map(String)].join(".");
    throw new Invalid(`${field}: ${issue.message}`, field);
  }
  if (allowed)
    parsed.data.forEach((a, i) => {
      if (!allowed.includes(a.type)) throw new Invalid(`A macro cannot ${a.type}`, `actions.${i}.type`);
    });
  return parsed.data;
}

/**
 * Every id the actions name must exist in the workspace: a 400 naming `actions.<i>.<field>` (an id
 * from another workspace is as unknown as a made-up one).
 */
export async function checkActions(db: Executor, workspaceId: string, actions: Action[]) {
  const wanted = { queueId: new Set<string>(), teamId: new Set<string>(), userId: new Set<string>() } as Record<
    string,
    Set<string>
  >;
  wanted.cannedId = new Set();
  wanted.webhookId = new Set();
  for (const a of actions)
    for (const key of Object.keys(wanted)) {
      const v = (a as Record<string, unknown>)[key];
      if (typeof v === "string") wanted[key]!.add(v);
    }
  const known = async (table: typeof queues | typeof teams | typeof users, ids: Set<string>) =>
    ids.size
      ? new Set(
          (
            await db
              .select({ id: table.id })
              .from(table)
              .where(and(eq(table.workspaceId, workspaceId), inArray(table.id, [...ids])))
          ).map((r) => r.id),
        )
      : new Set<string>();
  const found: Record<string, Set<string>> = {
    queueId: await known(queues, wanted.queueId!),
    teamId: await known(teams, wanted.teamId!),
    userId: await known(users, wanted.userId!),
    cannedId: wanted.cannedId.size
      ? new Set(
          (
            await db
              .select({ id: cannedResponses.id })
              .from(cannedResponses)
              .where(
                and(eq(cannedResponses.workspaceId, workspaceId), inArray(cannedResponses.id, [...wanted.cannedId])),
              )
          ).map((r) => r.id),
        )
      : new Set(),
    webhookId: wanted.webhookId.size
      ? new Set(
          (
            await db
              .select({ id: webhooks.id })
              .from(webhooks)
              .where(and(eq(webhooks.workspaceId, workspaceId), inArray(webhooks.id, [...wanted.webhookId])))
          ).map((r) => r.id),
        )
      : new Set(),
  };
  actions.forEach((a, i) => {
    for (const key of Object.keys(found)) {
      const v = (a as Record<string, unknown>)[key];
      if (typeof v === "string" && !found[key]!.has(v))
        throw new Invalid(`Unknown ${key.replace(/Id$/, "")} ${v}`, `actions.${i}.${key}`);
    }
  });
}

export const asStored = (actions: Action[]) => actions as unknown as RuleAction[];
