ALTER TABLE "outbox" ADD COLUMN "conversation_id" uuid;--> statement-breakpoint
UPDATE "outbox" SET "conversation_id" = "timeline_items"."conversation_id" FROM "timeline_items" WHERE "timeline_items"."id" = "outbox"."timeline_item_id";--> statement-breakpoint
ALTER TABLE "outbox" ALTER COLUMN "conversation_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "lease_id" uuid;--> statement-breakpoint
ALTER TABLE "outbox" ADD CONSTRAINT "outbox_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "outbox_conversation_idx" ON "outbox" USING btree ("conversation_id","status");--> statement-breakpoint
CREATE INDEX "outbox_item_idx" ON "outbox" USING btree ("timeline_item_id");