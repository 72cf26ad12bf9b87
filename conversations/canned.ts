import { and, asc, eq, or } from "drizzle-orm";
import { isUniqueViolation, type Executor } from "../db/connect.ts";
import { cannedResponses, type CannedResponse } from "../db/schema/index.ts";
import { containsText } from "../db/text-search.ts";
import { Conflict, NotFound } from "../platform/errors.ts";
import type { Actor } from "./actor.ts";

export type CannedInput = { shortcut: string; title: string; body: string };

export function cannedView(r: CannedResponse) {
  return { id: r.id, shortcut: r.shortcut, title: r.title, body: r.body, updatedAt: r.updatedAt.toISOString() };
}

/** The workspace's canned responses by shortcut; `q` narrows to shortcuts or titles containing it. */
export async function listCanned(db: Executor, workspaceId: string, q?: string) {
  const rows = await db
    .select()
    .from(cannedResponses)
    .where(
      and(
        eq(cannedResponses.workspaceId, workspaceId),
        q ? or(containsText(cannedResponses.shortcut, q), containsText(cannedResponses.title, q)) : undefined,
      ),
    )
    .orderBy(asc(cannedResponses.shortcut), asc(cannedResponses.id));
  return rows.map(cannedView);
}

const taken = (shortcut: string) =>
  new Conflict(`The shortcut "${shortcut}" is already used in this workspace`, "shortcut");

export async function createCanned(db: Executor, actor: Actor, input: CannedInput) {
  const [row] = await db
    .insert(cannedResponses)
    .values({ workspaceId: actor.workspaceId, createdBy: actor.userId, ...input })
    .onConflictDoNothing({ target: [cannedResponses.workspaceId, cannedResponses.shortcut] })
    .returning();
  if (!row) throw taken(input.shortcut);
  return cannedView(row);
}

export async function updateCanned(db: Executor, actor: Actor, id: string, input: CannedInput) {
  const rows = await db
    .update(cannedResponses)
    .set({ ...input, updatedAt: new Date() })
    .where(and(eq(cannedResponses.workspaceId, actor.workspaceId), eq(cannedResponses.id, id)))
    .returning()
    .catch((err: unknown) => {
      throw isUniqueViolation(err) ? taken(input.shortcut) : err;
    });
  if (!rows[0]) throw new NotFound("Canned response");
  return cannedView(rows[0]);
}

export async function deleteCanned(db: Executor, actor: Actor, id: string) {
  const [row] = await db
    .delete(cannedResponses)
    .where(and(eq(cannedResponses.workspaceId, actor.workspaceId), eq(cannedResponses.id, id)))
    .returning({ id: cannedResponses.id });
  if (!row) throw new NotFound("Canned response");
}
