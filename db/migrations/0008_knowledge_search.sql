CREATE TABLE "knowledge_postings" (
	"workspace_id" uuid NOT NULL,
	"term" text NOT NULL,
	"article_id" uuid NOT NULL,
	"impact" real NOT NULL,
	"language" text NOT NULL,
	"public" boolean NOT NULL,
	"category_id" uuid
);
--> statement-breakpoint
CREATE TABLE "knowledge_term_counts" (
	"workspace_id" uuid NOT NULL,
	"term" text NOT NULL,
	"language" text NOT NULL,
	"articles" integer NOT NULL,
	CONSTRAINT "knowledge_term_counts_workspace_id_term_language_pk" PRIMARY KEY("workspace_id","term","language")
);
--> statement-breakpoint
DROP INDEX "knowledge_articles_search_idx";--> statement-breakpoint
DROP INDEX "knowledge_articles_head_idx";--> statement-breakpoint
ALTER TABLE "knowledge_postings" ADD CONSTRAINT "knowledge_postings_article_id_knowledge_articles_id_fk" FOREIGN KEY ("article_id") REFERENCES "public"."knowledge_articles"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "knowledge_term_counts" ADD CONSTRAINT "knowledge_term_counts_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "knowledge_postings_term_idx" ON "knowledge_postings" USING btree ("workspace_id","term","impact" DESC NULLS LAST,"article_id");--> statement-breakpoint
CREATE INDEX "knowledge_postings_article_idx" ON "knowledge_postings" USING btree ("article_id");--> statement-breakpoint
CREATE INDEX "knowledge_articles_category_idx" ON "knowledge_articles" USING btree ("category_id");--> statement-breakpoint
ALTER TABLE "knowledge_articles" DROP COLUMN "head_vector";--> statement-breakpoint
-- Hand-written: the postings and term counts of the articles already published (knowledge/postings.ts writes them from now on).
INSERT INTO "knowledge_postings" ("workspace_id", "term", "article_id", "impact", "language", "public", "category_id")
SELECT a."workspace_id", v.lexeme, a."id",
       1 * 2.0 * cardinality(array_positions(v.weights, 'A')) / (cardinality(array_positions(v.weights, 'A')) + 1)
       + 0.4 * 2.0 * cardinality(array_positions(v.weights, 'B')) / (cardinality(array_positions(v.weights, 'B')) + 1)
       + 0.1 * 2.0 * cardinality(array_positions(v.weights, 'C')) / (cardinality(array_positions(v.weights, 'C')) + 1),
       split_part(a."locale", '-', 1), a."visibility" = 'public', a."category_id"
FROM "knowledge_articles" a, unnest(a."search_vector") v
WHERE a."status" = 'published';--> statement-breakpoint
INSERT INTO "knowledge_term_counts" ("workspace_id", "term", "language", "articles")
SELECT "workspace_id", "term", "language", count(*) FROM "knowledge_postings" GROUP BY "workspace_id", "term", "language"
UNION ALL
SELECT "workspace_id", '', "language", count(DISTINCT "article_id") FROM "knowledge_postings" GROUP BY "workspace_id", "language";
