import { eq } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { workspaceCounters, workspaces } from "../db/schema/index.ts";

/** "Acme Support" → "acme-support"; the help center's URL name. Non-Latin names fall back to "help". */
export function slugify(name: string) {
  const slug = name
    .normalize("NFKD")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  return slug || "help";
}

/** A workspace is the tenancy root; its counter row numbers all of its events. */
export async function createWorkspace(db: Executor, name: string) {
  return db.transaction(async (tx) => {
    let slug = slugify(name);
    const [taken] = await tx.select({ id: workspaces.id }).from(workspaces).where(eq(workspaces.slug, slug));
    if (taken) slug = `${slug}-${crypto.randomUUID().slice(0, 6)}`;
    const [ws] = await tx.insert(workspaces).values({ name, slug }).returning();
    await tx.insert(workspaceCounters).values({ workspaceId: ws!.id });
    return ws!;
  });
}
