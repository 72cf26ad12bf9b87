import { sql } from "drizzle-orm";
import { createWorkspace } from "../../conversations/workspace.ts";
import { rowsOf, type Database } from "../../db/connect.ts";

/**
 * A workspace with months of history, generated on the database server (generate_series INSERTs, no
 * rows through the benchmark's process): contacts, conversations over `days` days up to `end`, their
 * timeline items, one queue entry (work item) each and the report facts (`interactions`) of those
 * entries, agents, queues and inboxes. Shared by the reports and forecasting benchmarks.
 *
 * Every row's values come from its number n by fixed arithmetic (no random()), so two runs build the
 * same history and a work item and its fact agree: conversation n arrives at start + n/N of the span
 * (more by day than by night, see `arrival`), waits (n·7919 mod 120) s, is abandoned when n mod 17 = 0,
 * and so on. Ids are md5-derived from the workspace and n, so later statements find a row without a join.
 */
export type BigWorkspaceOptions = {
  conversations: number;
  itemsPerConversation: number;
  days: number;
  end: Date;
  agents?: number;
  queues?: number;
  contacts?: number;
  /** Called after each step with its name and milliseconds. */
  progress?: (step: string, ms: number) => void;
};

export type BigWorkspace = {
  workspaceId: string;
  agentIds: string[];
  queueIds: string[];
  inboxIds: string[];
  start: Date;
  end: Date;
};

const CHANNELS = ["webchat", "voice", "email"] as const;

export async function bigWorkspace(database: Database, o: BigWorkspaceOptions): Promise<BigWorkspace> {
  const db = database.db;
  const agents = o.agents ?? 50;
  const queueCount = o.queues ?? 4;
  const contactCount = o.contacts ?? Math.max(1, Math.round(o.conversations / 3));
  const start = new Date(o.end.getTime() - o.days * 86_400_000);
  const step = async (name: string, statement: ReturnType<typeof sql>) => {
    const t = performance.now();
    await db.execute(statement);
    o.progress?.(name, performance.now() - t);
  };

  const ws = await createWorkspace(db, `Big ${crypto.randomUUID().slice(0, 8)}`);
  const w = ws.id;
  const id = (kind: string, n: ReturnType<typeof sql>) => sql`md5(${w}::text || ${kind} || ${n})::uuid`;
  const hash = await Bun.password.hash(crypto.randomUUID());
  await step(
    "inboxes, queues, agents",
    sql`
    WITH i AS (
      INSERT INTO inboxes (id, workspace_id, channel, name)
      SELECT ${id("i", sql`k`)}, ${w}, (ARRAY['webchat','voice','email'])[k]::channel, 'Inbox ' || k
      FROM generate_series(1, 3) k RETURNING 1
    ), q AS (
      INSERT INTO queues (id, workspace_id, name, service_level_seconds)
      SELECT ${id("q", sql`k`)}, ${w}, 'Queue ' || k, 20 FROM generate_series(1, ${queueCount}) k RETURNING 1
    )
    INSERT INTO users (id, workspace_id, email, name, role, password_hash)
    SELECT ${id("u", sql`k`)}, ${w}, 'agent' || k || '-' || ${w}::text || '@bench.test', 'Agent ' || k, 'agent', ${hash}
    FROM generate_series(1, ${agents}) k`,
  );
  await step(
    "contacts",
    sql`INSERT INTO contacts (id, workspace_id, name)
      SELECT ${id("k", sql`n`)}, ${w}, 'Contact ' || n FROM generate_series(1::bigint, ${contactCount}) n`,
  );
  // Arrival of conversation n: its day is n's share of the span, its time of day bent toward the
  // afternoon (the square root of a uniform share), so hours differ as they do in a real center.
  const arrivalOf = (n: ReturnType<typeof sql>) => sql`(${start.toISOString()}::timestamptz
    + (floor((${n} - 1)::float8 * ${o.days} / ${o.conversations}) * 86400
       + sqrt(((${n} * 2654435761::bigint) % 1000000) / 1000000.0) * 86399) * interval '1 second')`;
  const arrival = arrivalOf(sql`n`);
  const channel = sql`(ARRAY['webchat','voice','email'])[1 + (n % 10 = 0)::int + (n % 10 = 1)::int * 2]`;
  await step(
    "conversations",
    sql`INSERT INTO conversations (id, workspace_id, contact_id, inbox_id, channel, status, created_at, last_activity_at, resolved_at)
      SELECT ${id("c", sql`n`)}, ${w}, ${id("k", sql`1 + n % ${contactCount}`)},
        ${id("i", sql`array_position(ARRAY['webchat','voice','email'], ${channel})`)}, ${channel}::channel,
        'resolved', ${arrival}, ${arrival} + interval '20 minutes', ${arrival} + interval '20 minutes'
      FROM generate_series(1::bigint, ${o.conversations}) n`,
  );
  // Timeline items in slices of a million, so a run shows progress and no statement runs for minutes.
  const perConversation = o.itemsPerConversation;
  const total = o.conversations * perConversation;
  const slice = 1_000_000;
  for (let from = 1; from <= total; from += slice) {
    const to = Math.min(total, from + slice - 1);
    await step(
      `timeline items ${from}–${to}`,
      sql`INSERT INTO timeline_items (workspace_id, seq, conversation_id, type, direction, channel, sender_type, text, created_at)
        SELECT ${w}, m, ${id("c", sql`c`)}, 'message', CASE WHEN k % 2 = 0 THEN 'in' ELSE 'out' END::direction,
          'webchat', CASE WHEN k % 2 = 0 THEN 'contact' ELSE 'agent' END::sender_type,
          CASE WHEN k % 2 = 0 THEN '你好，我的订单 ' || c || ' 还没到' ELSE 'Thanks, checking order ' || c END,
          ${arrivalOf(sql`c`)} + k * interval '40 seconds'
        FROM (SELECT m, 1 + (m - 1) / ${perConversation} AS c, (m - 1) % ${perConversation} AS k
              FROM generate_series(${from}::bigint, ${to}::bigint) m) s`,
    );
  }
  await db.execute(sql`UPDATE workspace_counters SET seq = ${total} WHERE workspace_id = ${w}`);
  // Figures of conversation n, shared by its work item and its fact.
  const figures = sql`
    SELECT n, ${arrival} AS offered, ${channel} AS channel,
      ((n * 7919) % 120)::int AS wait, (n % 17 = 0) AS abandoned,
      (120 + (n * 104729) % 900)::int AS handle, (5 + (n * 31) % 90)::int AS first_response,
      ${id("q", sql`1 + n % ${queueCount}`)} AS queue_id, ${id("u", sql`1 + (n * 13) % ${agents}`)} AS agent_id,
      ${id("k", sql`1 + n % ${contactCount}`)} AS contact_id
    FROM generate_series(1::bigint, ${o.conversations}) n`;
  await step(
    "work items",
    sql`INSERT INTO work_items (id, workspace_id, conversation_id, queue_id, channel, state, agent_id, enqueued_at, answered_at, ended_at, estimated_wait_seconds)
      SELECT ${id("w", sql`f.n`)}, ${w}, ${id("c", sql`f.n`)}, f.queue_id, f.channel,
        CASE WHEN f.abandoned THEN 'abandoned' ELSE 'done' END::work_item_state,
        CASE WHEN NOT f.abandoned THEN f.agent_id END, f.offered,
        CASE WHEN NOT f.abandoned THEN f.offered + f.wait * interval '1 second' END,
        f.offered + (f.wait + CASE WHEN f.abandoned THEN 0 ELSE f.handle END) * interval '1 second',
        (f.n * 53) % 100
      FROM (${figures}) f`,
  );
  await step(
    "interactions",
    sql`INSERT INTO interactions (id, workspace_id, conversation_id, contact_id, channel, inbox_id, queue_id, agent_id,
        offered_at, answered_at, ended_at, outcome, wait_s, first_response_s, next_response_sum_s, next_response_count,
        resolution_s, handle_s, transfers, service_level_s, answered_in_sl, ewt_announced_s, reopened,
        first_contact_resolved, csat_score, csat_max)
      SELECT ${id("w", sql`f.n`)}, ${w}, ${id("c", sql`f.n`)}, f.contact_id, f.channel,
        ${id("i", sql`array_position(ARRAY['webchat','voice','email'], f.channel)`)}, f.queue_id,
        CASE WHEN NOT f.abandoned THEN f.agent_id END, f.offered,
        CASE WHEN NOT f.abandoned THEN f.offered + f.wait * interval '1 second' END,
        f.offered + (f.wait + CASE WHEN f.abandoned THEN 0 ELSE f.handle END) * interval '1 second',
        CASE WHEN f.abandoned THEN 'abandoned' ELSE 'answered' END, f.wait,
        CASE WHEN NOT f.abandoned AND f.channel <> 'voice' THEN f.wait + f.first_response END,
        CASE WHEN NOT f.abandoned AND f.channel <> 'voice' THEN 4 * f.first_response END,
        CASE WHEN NOT f.abandoned AND f.channel <> 'voice' THEN 4 ELSE 0 END,
        CASE WHEN NOT f.abandoned THEN f.wait + f.handle END, CASE WHEN NOT f.abandoned THEN f.handle END,
        (f.n % 23 = 0)::int, 20, f.wait <= 20 AND NOT f.abandoned, (f.n * 53) % 100, f.n % 29 = 0,
        CASE WHEN NOT f.abandoned THEN f.n % 29 <> 0 END,
        CASE WHEN f.n % 7 = 0 AND NOT f.abandoned THEN 1 + f.n % 5 END, CASE WHEN f.n % 7 = 0 AND NOT f.abandoned THEN 5 END
      FROM (${figures}) f`,
  );
  const t = performance.now();
  for (const table of ["contacts", "conversations", "timeline_items", "work_items", "interactions", "users", "queues"])
    await db.execute(sql.raw(`ANALYZE ${table}`));
  o.progress?.("analyze", performance.now() - t);
  const ids = async (kind: string, count: number) =>
    rowsOf<{ id: string }>(
      await db.execute(sql`SELECT ${id(kind, sql`k`)}::text AS id FROM generate_series(1, ${count}) k`),
    ).map((r) => r.id);
  return {
    workspaceId: w,
    agentIds: await ids("u", agents),
    queueIds: await ids("q", queueCount),
    inboxIds: await ids("i", CHANNELS.length),
    start,
    end: o.end,
  };
}
