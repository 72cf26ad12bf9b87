CREATE TABLE "inbox_routes" (
	"kind" text NOT NULL,
	"key" text NOT NULL,
	"inbox_id" uuid NOT NULL,
	"workspace_id" uuid NOT NULL,
	"verified_at" timestamp with time zone,
	"code_hash" text,
	"code_expires_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_routes_pkey" PRIMARY KEY("kind","key"),
	CONSTRAINT "inbox_routes_key_lower" CHECK ("inbox_routes"."key" = lower("inbox_routes"."key"))
);
--> statement-breakpoint
ALTER TABLE "inbox_routes" ADD CONSTRAINT "inbox_routes_inbox_id_inboxes_id_fk" FOREIGN KEY ("inbox_id") REFERENCES "public"."inboxes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inbox_routes" ADD CONSTRAINT "inbox_routes_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "inbox_routes_inbox_idx" ON "inbox_routes" USING btree ("inbox_id");