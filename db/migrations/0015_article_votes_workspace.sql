ALTER TABLE "article_votes" ADD COLUMN "workspace_id" uuid;--> statement-breakpoint
UPDATE "article_votes" SET "workspace_id" = "knowledge_articles"."workspace_id" FROM "knowledge_articles" WHERE "knowledge_articles"."id" = "article_votes"."article_id";--> statement-breakpoint
ALTER TABLE "article_votes" ALTER COLUMN "workspace_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "article_votes" ADD CONSTRAINT "article_votes_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;
