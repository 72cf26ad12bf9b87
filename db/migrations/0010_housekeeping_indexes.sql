CREATE INDEX "events_created_brin" ON "events" USING brin ("created_at");--> statement-breakpoint
CREATE INDEX "calls_recording_due_idx" ON "calls" USING btree ("inbox_id") WHERE recording_sid IS NOT NULL AND recording_id IS NULL;--> statement-breakpoint
CREATE INDEX "calls_recorded_idx" ON "calls" USING btree ("inbox_id","started_at") WHERE recording_id IS NOT NULL;