CREATE TYPE "public"."presence" AS ENUM('available', 'busy', 'away', 'wrap_up', 'offline');--> statement-breakpoint
CREATE TYPE "public"."work_item_state" AS ENUM('waiting', 'reserved', 'assigned', 'done', 'abandoned');--> statement-breakpoint
CREATE TABLE "agent_states" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"workspace_id" uuid NOT NULL,
	"presence" "presence" DEFAULT 'offline' NOT NULL,
	"reason" text,
	"since" timestamp with time zone DEFAULT now() NOT NULL,
	"wrap_up_until" timestamp with time zone,
	"capacity" jsonb DEFAULT '{"voice":1,"chat":3,"email":5,"messaging":4}'::jsonb NOT NULL,
	"idle_since" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "entry_rules" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"queue_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"conditions" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "queues" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"name" text NOT NULL,
	"channels" text[] DEFAULT '{}' NOT NULL,
	"required_skills" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"priority_rules" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"business_hours" jsonb,
	"max_wait_seconds" integer,
	"offer_timeout_seconds" integer,
	"service_level_seconds" integer DEFAULT 20 NOT NULL,
	"overflow" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "work_items" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"conversation_id" uuid NOT NULL,
	"queue_id" uuid NOT NULL,
	"channel" text NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"required_skills" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"state" "work_item_state" DEFAULT 'waiting' NOT NULL,
	"agent_id" uuid,
	"sticky_agent_id" uuid,
	"sticky_until" timestamp with time zone,
	"reservation_expires_at" timestamp with time zone,
	"enqueued_at" timestamp with time zone DEFAULT now() NOT NULL,
	"answered_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"overflow_step" integer DEFAULT 0 NOT NULL,
	"estimated_wait_seconds" integer
);
--> statement-breakpoint
ALTER TABLE "agent_states" ADD CONSTRAINT "agent_states_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_states" ADD CONSTRAINT "agent_states_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "entry_rules" ADD CONSTRAINT "entry_rules_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "entry_rules" ADD CONSTRAINT "entry_rules_queue_id_queues_id_fk" FOREIGN KEY ("queue_id") REFERENCES "public"."queues"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "queues" ADD CONSTRAINT "queues_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_items" ADD CONSTRAINT "work_items_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_items" ADD CONSTRAINT "work_items_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_items" ADD CONSTRAINT "work_items_queue_id_queues_id_fk" FOREIGN KEY ("queue_id") REFERENCES "public"."queues"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_items" ADD CONSTRAINT "work_items_agent_id_users_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_items" ADD CONSTRAINT "work_items_sticky_agent_id_users_id_fk" FOREIGN KEY ("sticky_agent_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "entry_rules_workspace_idx" ON "entry_rules" USING btree ("workspace_id","position");--> statement-breakpoint
CREATE UNIQUE INDEX "queues_workspace_name_key" ON "queues" USING btree ("workspace_id","name");--> statement-breakpoint
CREATE INDEX "work_items_waiting_idx" ON "work_items" USING btree ("workspace_id","state","priority","enqueued_at");--> statement-breakpoint
CREATE UNIQUE INDEX "work_items_live_key" ON "work_items" USING btree ("conversation_id") WHERE state IN ('waiting', 'reserved', 'assigned');