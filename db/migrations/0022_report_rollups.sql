CREATE TABLE "interaction_rollups" (
	"workspace_id" uuid NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"dim" text NOT NULL,
	"dim_key" text NOT NULL,
	"offered" integer NOT NULL,
	"answered" integer NOT NULL,
	"abandoned" integer NOT NULL,
	"waiting" integer NOT NULL,
	"abandon_sum" double precision,
	"abandon_n" integer NOT NULL,
	"fr_sum" double precision,
	"fr_n" integer NOT NULL,
	"next_sum" double precision,
	"next_n" integer NOT NULL,
	"resolution_sum" double precision,
	"resolution_n" integer NOT NULL,
	"asa_sum" double precision,
	"asa_n" integer NOT NULL,
	"handle_sum" double precision,
	"handle_n" integer NOT NULL,
	"within_sl" integer NOT NULL,
	"judged_sl" integer NOT NULL,
	"transfers" integer NOT NULL,
	"transferred" integer NOT NULL,
	"fcr_yes" integer NOT NULL,
	"fcr_judged" integer NOT NULL,
	"callbacks" integer NOT NULL,
	"callbacks_kept" integer NOT NULL,
	"ewt_n" integer NOT NULL,
	"ewt_sum" integer,
	"ewt_error_sum" double precision,
	"ewt_error_n" integer NOT NULL,
	"sla_breaches" integer NOT NULL,
	"reopened" integer NOT NULL,
	"csat_sum" integer,
	"csat_n" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "interaction_rollups_workspace_id_bucket_dim_dim_key_pk" PRIMARY KEY("workspace_id","bucket","dim","dim_key")
);
--> statement-breakpoint
ALTER TABLE "interaction_rollups" ADD CONSTRAINT "interaction_rollups_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "interaction_rollups_read_idx" ON "interaction_rollups" USING btree ("workspace_id","dim","bucket");--> statement-breakpoint
-- Written by hand (drizzle-kit has no INCLUDE): the exact first-response percentiles of a report read
-- the period's facts from this index alone (an index-only scan), not the wide rows.
CREATE INDEX "interactions_first_response_idx" ON "interactions" USING btree ("workspace_id","offered_at") INCLUDE ("first_response_s","agent_id","queue_id","channel","inbox_id","team_id");--> statement-breakpoint
-- Written by hand from here on: the rollup's maintenance (reports/rollup.ts calls it too; docs/reports.md).
-- Recomputes the given (workspace, 30-minute interval) pairs from the facts: under transaction-scoped
-- advisory locks, taken in one order (workspaces, then intervals), so two nodes cannot interleave (the
-- second waits, then sees the first's facts; each statement of a plpgsql function reads the latest
-- committed rows). A workspace's interval each, under its workspace's lock shared; more than 32 of one
-- workspace (a backfill, a seed) take its workspace's lock alone, so the lock table cannot fill up.
CREATE FUNCTION "interaction_rollups_refresh"(ws uuid[], buckets timestamptz[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM CASE WHEN s.n > 32 THEN pg_advisory_xact_lock(s.k) ELSE pg_advisory_xact_lock_shared(s.k) END FROM (
    SELECT hashtextextended(t.w::text, 20261208) AS k, count(DISTINCT t.b) AS n
    FROM unnest(ws, buckets) t(w, b) GROUP BY t.w ORDER BY 1
  ) s;
  PERFORM pg_advisory_xact_lock(s.k) FROM (
    SELECT DISTINCT hashtextextended(t.w::text || ':' || extract(epoch FROM t.b)::bigint::text, 20261208) AS k
    FROM unnest(ws, buckets) t(w, b)
    WHERE t.w IN (SELECT u.w FROM unnest(ws, buckets) u(w, b) GROUP BY u.w HAVING count(DISTINCT u.b) <= 32)
    ORDER BY 1
  ) s;
  DELETE FROM interaction_rollups r USING (SELECT DISTINCT w, b FROM unnest(ws, buckets) t(w, b)) t
  WHERE r.workspace_id = t.w AND r.bucket = t.b;
  INSERT INTO interaction_rollups (workspace_id, bucket, dim, dim_key, offered, answered, abandoned, waiting,
    abandon_sum, abandon_n, fr_sum, fr_n, next_sum, next_n, resolution_sum, resolution_n, asa_sum, asa_n,
    handle_sum, handle_n, within_sl, judged_sl, transfers, transferred, fcr_yes, fcr_judged, callbacks,
    callbacks_kept, ewt_n, ewt_sum, ewt_error_sum, ewt_error_n, sla_breaches, reopened, csat_sum, csat_n)
  SELECT i.workspace_id, t.b,
    CASE grouping(i.queue_id, i.agent_id, i.channel, i.inbox_id, i.team_id)
      WHEN 15 THEN 'queue' WHEN 23 THEN 'agent' WHEN 27 THEN 'channel' WHEN 29 THEN 'inbox' WHEN 30 THEN 'team'
      ELSE 'all' END,
    coalesce(CASE grouping(i.queue_id, i.agent_id, i.channel, i.inbox_id, i.team_id)
      WHEN 15 THEN i.queue_id::text WHEN 23 THEN i.agent_id::text WHEN 27 THEN i.channel
      WHEN 29 THEN i.inbox_id::text WHEN 30 THEN i.team_id::text END, ''),
    count(*), count(i.answered_at), count(*) FILTER (WHERE i.outcome = 'abandoned'),
    count(*) FILTER (WHERE i.outcome = 'waiting'),
    sum(i.wait_s) FILTER (WHERE i.outcome = 'abandoned'), count(i.wait_s) FILTER (WHERE i.outcome = 'abandoned'),
    sum(i.first_response_s), count(i.first_response_s),
    sum(i.next_response_sum_s), sum(i.next_response_count),
    sum(i.resolution_s), count(i.resolution_s),
    sum(i.wait_s) FILTER (WHERE i.answered_at IS NOT NULL), count(i.wait_s) FILTER (WHERE i.answered_at IS NOT NULL),
    sum(i.handle_s), count(i.handle_s),
    count(*) FILTER (WHERE i.answered_in_sl),
    count(*) FILTER (WHERE i.outcome IN ('answered', 'abandoned') AND i.service_level_s IS NOT NULL),
    coalesce(sum(i.transfers), 0), count(*) FILTER (WHERE i.transfers > 0 AND i.answered_at IS NOT NULL),
    count(*) FILTER (WHERE i.first_contact_resolved), count(i.first_contact_resolved),
    count(*) FILTER (WHERE i.callback), count(*) FILTER (WHERE i.callback_kept),
    count(i.ewt_announced_s) FILTER (WHERE i.answered_at IS NOT NULL),
    sum(i.ewt_announced_s) FILTER (WHERE i.answered_at IS NOT NULL),
    sum(abs(i.wait_s - i.ewt_announced_s)) FILTER (WHERE i.answered_at IS NOT NULL),
    count(abs(i.wait_s - i.ewt_announced_s)) FILTER (WHERE i.answered_at IS NOT NULL),
    count(*) FILTER (WHERE i.sla_breached), count(*) FILTER (WHERE i.reopened),
    sum(i.csat_score), count(i.csat_score)
  FROM (SELECT DISTINCT w, b FROM unnest(ws, buckets) t(w, b)) t
  -- The interval both ways: the range lets a few intervals read the index, the equality lets many (a
  -- backfill) hash-join one pass over the facts rather than test every fact against every interval.
  JOIN interactions i ON i.workspace_id = t.w
    AND date_bin('30 minutes', i.offered_at, timestamptz '2000-01-01 00:00+00') = t.b
    AND i.offered_at >= t.b AND i.offered_at < t.b + interval '30 minutes'
  GROUP BY i.workspace_id, t.b,
    GROUPING SETS ((), (i.queue_id), (i.agent_id), (i.channel), (i.inbox_id), (i.team_id));
END $$;--> statement-breakpoint
-- Statement triggers: whatever writes or deletes facts (derivation, seeding, erasure, retention, a
-- conversation's or user's deletion cascading) recomputes the intervals of the rows it touched, old and new.
CREATE FUNCTION "interaction_rollups_inserted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM interaction_rollups_refresh(array_agg(t.w), array_agg(t.b)) FROM (
    SELECT DISTINCT workspace_id AS w, date_bin('30 minutes', offered_at, timestamptz '2000-01-01 00:00+00') AS b
    FROM new_rows) t HAVING count(*) > 0;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE FUNCTION "interaction_rollups_deleted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM interaction_rollups_refresh(array_agg(t.w), array_agg(t.b)) FROM (
    SELECT DISTINCT workspace_id AS w, date_bin('30 minutes', offered_at, timestamptz '2000-01-01 00:00+00') AS b
    FROM old_rows) t HAVING count(*) > 0;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE FUNCTION "interaction_rollups_updated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM interaction_rollups_refresh(array_agg(t.w), array_agg(t.b)) FROM (
    SELECT workspace_id AS w, date_bin('30 minutes', offered_at, timestamptz '2000-01-01 00:00+00') AS b FROM old_rows
    UNION
    SELECT workspace_id, date_bin('30 minutes', offered_at, timestamptz '2000-01-01 00:00+00') FROM new_rows) t
  HAVING count(*) > 0;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "interaction_rollups_insert" AFTER INSERT ON "interactions" REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION interaction_rollups_inserted();--> statement-breakpoint
CREATE TRIGGER "interaction_rollups_delete" AFTER DELETE ON "interactions" REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION interaction_rollups_deleted();--> statement-breakpoint
CREATE TRIGGER "interaction_rollups_update" AFTER UPDATE ON "interactions" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION interaction_rollups_updated();--> statement-breakpoint
-- The facts derived before this migration.
SELECT interaction_rollups_refresh(array_agg(t.w), array_agg(t.b)) FROM (
  SELECT DISTINCT workspace_id AS w, date_bin('30 minutes', offered_at, timestamptz '2000-01-01 00:00+00') AS b
  FROM interactions) t HAVING count(*) > 0;
