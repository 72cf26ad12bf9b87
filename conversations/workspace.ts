import type { Executor } from "../db/connect.ts";
import { workspaceCounters, workspaces } from "../db/schema/index.ts";

/** A workspace is the tenancy root; its counter row numbers all of its events. */
export async function createWorkspace(db: Executor, name: string) {
  return db.transaction(async (tx) => {
    const [ws] = await tx.insert(workspaces).values({ name }).returning();
    await tx.insert(workspaceCounters).values({ workspaceId: ws!.id });
    return ws!;
  });
}
