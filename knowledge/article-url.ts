import { eq } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { workspaces } from "../db/schema/index.ts";

/**
 * The public URL of an article in its workspace's help center (`<base>/help/<slug>/articles/<id>`),
 * for links agents paste into replies, the widget shows and the bot answers with; null for a
 * workspace without a help-center slug.
 */
export async function articleUrl(db: Executor, base: string, workspaceId: string, articleId: string) {
  const [ws] = await db.select({ slug: workspaces.slug }).from(workspaces).where(eq(workspaces.id, workspaceId));
  return ws?.slug ? `${base}/help/${ws.slug}/articles/${articleId}` : null;
}
