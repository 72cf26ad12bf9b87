ALTER TABLE "email_participants" ADD COLUMN "contact_id" uuid;--> statement-breakpoint
ALTER TABLE "email_quarantine" ADD COLUMN "raw_id" uuid;--> statement-breakpoint
ALTER TABLE "email_quarantine" ADD COLUMN "released_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "email_quarantine" ADD COLUMN "released_item_id" uuid;--> statement-breakpoint
ALTER TABLE "email_participants" ADD CONSTRAINT "email_participants_contact_id_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "public"."contacts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "email_quarantine" ADD CONSTRAINT "email_quarantine_raw_id_attachments_id_fk" FOREIGN KEY ("raw_id") REFERENCES "public"."attachments"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "email_quarantine" ADD CONSTRAINT "email_quarantine_released_item_id_timeline_items_id_fk" FOREIGN KEY ("released_item_id") REFERENCES "public"."timeline_items"("id") ON DELETE set null ON UPDATE no action;