import { and, eq, sql } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { articles, articleVotes } from "../db/schema/index.ts";
import { NotFound } from "../platform/errors.ts";
import { recordEvent } from "./events.ts";

/**
 * A help-center reader's "was this helpful?": counted once per article and reader (`voter`, an
 * opaque key such as a hash of the reader's address). A repeated vote changes nothing, so a script
 * cannot push an article up or down. Only published, public articles take votes.
 */
export async function voteOnce(
  db: Executor,
  vote: { workspaceId: string; articleId: string; voter: string; helpful: boolean },
) {
  return db.transaction(async (tx) => {
    const [article] = await tx
      .select({ id: articles.id })
      .from(articles)
      .where(
        and(
          eq(articles.workspaceId, vote.workspaceId),
          eq(articles.id, vote.articleId),
          eq(articles.status, "published"),
          eq(articles.visibility, "public"),
        ),
      );
    if (!article) throw new NotFound("Article");
    const [fresh] = await tx
      .insert(articleVotes)
      .values({ workspaceId: vote.workspaceId, articleId: article.id, voter: vote.voter, helpful: vote.helpful })
      .onConflictDoNothing()
      .returning({ articleId: articleVotes.articleId });
    if (!fresh) return false;
    await tx
      .update(articles)
      .set(
        vote.helpful ? { helpfulYes: sql`${articles.helpfulYes} + 1` } : { helpfulNo: sql`${articles.helpfulNo} + 1` },
      )
      .where(eq(articles.id, article.id));
    const kind = vote.helpful ? "vote_up" : "vote_down";
    await recordEvent(tx, { workspaceId: vote.workspaceId, kind, articleId: article.id });
    return true;
  });
}
