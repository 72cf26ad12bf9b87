CREATE TABLE "article_votes" (
	"article_id" uuid NOT NULL,
	"voter" text NOT NULL,
	"helpful" boolean NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "article_votes_article_id_voter_pk" PRIMARY KEY("article_id","voter")
);
--> statement-breakpoint
ALTER TABLE "contacts" ADD COLUMN "visitor_tokens_revoked_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "attachments" ADD COLUMN "uploader_ip" text;--> statement-breakpoint
ALTER TABLE "article_votes" ADD CONSTRAINT "article_votes_article_id_knowledge_articles_id_fk" FOREIGN KEY ("article_id") REFERENCES "public"."knowledge_articles"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "attachments_upload_ip_idx" ON "attachments" USING btree ("uploader_ip","created_at") WHERE "attachments"."uploader_ip" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "attachments_upload_contact_idx" ON "attachments" USING btree ("contact_id","created_at") WHERE "attachments"."uploader_ip" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "attachments_upload_workspace_idx" ON "attachments" USING btree ("workspace_id","created_at") WHERE "attachments"."uploader_ip" IS NOT NULL;