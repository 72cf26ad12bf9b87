import { sql } from "drizzle-orm";
import { rowsOf, type Executor } from "../db/connect.ts";

/** A customer who comes back within this long after an interaction ended undoes its first-contact resolution. */
export const FCR_WINDOW_DAYS = 7;

/**
 * The interactions of conversations, as rows of the `interactions` table, from the source rows: every
 * queue entry (work item; a call's entry is the work item its call made) and every assignment by hand
 * of a conversation that was not in a queue (its `assigned` timeline item is its id). One statement
 * writes them all (INSERT … SELECT … ON CONFLICT DO UPDATE), so deriving twice, on two nodes, or after
 * a lost bus message gives the same rows. docs/reports.md defines each figure.
 *
 * The conversations of the same contacts active within the FCR window are derived with them: a
 * customer coming back changes an earlier interaction's first-contact resolution.
 */
export async function deriveInteractions(db: Executor, conversationIds: string[], now = new Date()) {
  if (!conversationIds.length) return 0;
  const ids = sql`${`{${conversationIds.join(",")}}`}::uuid[]`;
  const at = sql`${now.toISOString()}::timestamptz`;
  const fcr = sql`${`${FCR_WINDOW_DAYS} days`}::interval`;
  const rows = rowsOf<{ n: number }>(
    await db.execute(sql`
      WITH targets AS (
        SELECT c.id FROM conversations c WHERE c.id = ANY(${ids})
        UNION
        SELECT c2.id FROM conversations c JOIN conversations c2 ON c2.contact_id = c.contact_id
        WHERE c.id = ANY(${ids}) AND c2.last_activity_at > ${at} - ${fcr} - interval '1 day'
      ),
      queued AS (
        SELECT w.id, w.workspace_id, w.conversation_id, w.channel, w.queue_id, w.state::text AS state, w.agent_id,
          w.enqueued_at AS offered_at, w.answered_at, w.ended_at, w.estimated_wait_seconds AS ewt,
          q.service_level_seconds AS sl
        FROM work_items w LEFT JOIN queues q ON q.id = w.queue_id
        WHERE w.conversation_id IN (SELECT id FROM targets)
      ),
      direct AS (
        SELECT a.id, a.workspace_id, a.conversation_id, c.channel::text AS channel, NULL::uuid AS queue_id,
          CASE WHEN e.at IS NULL THEN 'assigned' ELSE 'done' END AS state, (a.data->>'assigneeId')::uuid AS agent_id,
          a.created_at AS offered_at, a.created_at AS answered_at, e.at AS ended_at, NULL::int AS ewt, NULL::int AS sl
        FROM timeline_items a
        JOIN conversations c ON c.id = a.conversation_id
        LEFT JOIN LATERAL (
          SELECT min(r.created_at) AS at FROM timeline_items r
          WHERE r.conversation_id = a.conversation_id AND r.type = 'event' AND r.event_type = 'status_changed'
            AND r.data->>'to' = 'resolved' AND r.seq > a.seq
        ) e ON true
        WHERE a.conversation_id IN (SELECT id FROM targets) AND a.type = 'event' AND a.event_type = 'assigned'
          AND a.data->>'assigneeId' IS NOT NULL AND a.data->>'previousAssigneeId' IS NULL
          AND NOT EXISTS (
            SELECT 1 FROM work_items w WHERE w.conversation_id = a.conversation_id
              AND w.enqueued_at <= a.created_at AND (w.ended_at IS NULL OR w.ended_at >= a.created_at)
          )
      ),
      src AS (
        SELECT s.*, lead(s.offered_at) OVER (PARTITION BY s.conversation_id ORDER BY s.offered_at, s.id) AS next_offered_at
        FROM (SELECT * FROM queued UNION ALL SELECT * FROM direct) s
      ),
      facts AS (
        SELECT s.id, s.workspace_id, s.conversation_id, c.contact_id, k.id AS call_id, s.channel,
          coalesce(k.inbox_id, c.inbox_id) AS inbox_id, s.queue_id, c.team_id,
          CASE WHEN s.answered_at IS NOT NULL THEN s.agent_id END AS agent_id,
          s.offered_at, s.answered_at, s.ended_at,
          CASE WHEN s.answered_at IS NOT NULL THEN 'answered' WHEN s.state = 'abandoned' THEN 'abandoned'
            WHEN s.state = 'done' THEN 'closed' ELSE 'waiting' END AS outcome,
          CASE WHEN s.answered_at IS NOT NULL THEN extract(epoch from s.answered_at - s.offered_at)
            WHEN s.state = 'abandoned' THEN extract(epoch from s.ended_at - s.offered_at) END AS wait_s,
          extract(epoch from m.first_reply - s.offered_at) AS first_response_s,
          m.next_sum AS next_response_sum_s, coalesce(m.next_n, 0)::int AS next_response_count,
          CASE WHEN s.answered_at IS NOT NULL AND s.ended_at IS NOT NULL
            THEN extract(epoch from s.ended_at - s.offered_at) END AS resolution_s,
          CASE WHEN k.id IS NOT NULL AND k.answered_at IS NOT NULL AND k.ended_at IS NOT NULL
            THEN greatest(extract(epoch from k.ended_at - k.answered_at) - k.hold_seconds, 0) END AS talk_s,
          CASE WHEN k.id IS NOT NULL AND k.answered_at IS NOT NULL THEN k.hold_seconds::float8 END AS hold_s,
          extract(epoch from sp.ended_at - sp.started_at) AS wrap_s,
          coalesce(tr.n, 0)::int AS transfers, s.sl AS service_level_s,
          CASE WHEN s.answered_at IS NOT NULL AND s.sl IS NOT NULL
            THEN extract(epoch from s.answered_at - s.offered_at) <= s.sl
            WHEN s.state = 'abandoned' AND s.sl IS NOT NULL THEN false END AS answered_in_sl,
          s.ewt AS ewt_announced_s,
          k.callback_number IS NOT NULL AS callback,
          CASE WHEN k.callback_number IS NULL THEN NULL WHEN k.answered_at IS NOT NULL THEN true
            WHEN k.ended_at IS NOT NULL THEN false END AS callback_kept,
          coalesce(ro.reopened, false) AS reopened,
          CASE WHEN s.answered_at IS NULL OR s.ended_at IS NULL THEN NULL
            ELSE NOT coalesce(ro.reopened, false) AND NOT EXISTS (
              SELECT 1 FROM conversations c2 JOIN work_items w2 ON w2.conversation_id = c2.id
              WHERE c2.contact_id = c.contact_id AND w2.id <> s.id
                AND w2.enqueued_at > s.ended_at AND w2.enqueued_at <= s.ended_at + ${fcr}) END
            AS first_contact_resolved,
          cr.rating AS csat_score, CASE WHEN cr.rating IS NOT NULL THEN 5 END AS csat_max,
          sla.breached AS sla_breached
        FROM src s
        JOIN conversations c ON c.id = s.conversation_id
        LEFT JOIN LATERAL (
          SELECT * FROM calls k WHERE s.channel = 'voice' AND k.conversation_id = s.conversation_id
            AND coalesce(k.enqueued_at, k.started_at) <= s.offered_at + interval '1 second'
          ORDER BY coalesce(k.enqueued_at, k.started_at) DESC LIMIT 1
        ) k ON true
        LEFT JOIN LATERAL (
          SELECT min(t.at) FILTER (WHERE t.agent) AS first_reply,
            sum(extract(epoch from t.reply_at - t.at)) FILTER (WHERE NOT t.agent AND t.prev_agent AND t.reply_at IS NOT NULL) AS next_sum,
            count(*) FILTER (WHERE NOT t.agent AND t.prev_agent AND t.reply_at IS NOT NULL) AS next_n
          FROM (
            SELECT i.created_at AS at, i.direction = 'out' AS agent,
              lag(i.direction = 'out') OVER (ORDER BY i.seq) AS prev_agent,
              min(i.created_at) FILTER (WHERE i.direction = 'out')
                OVER (ORDER BY i.seq ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS reply_at
            FROM timeline_items i
            WHERE i.conversation_id = s.conversation_id AND i.type = 'message' AND s.channel <> 'voice'
              AND (i.direction = 'in' OR i.sender_type = 'agent')
              AND i.created_at >= s.offered_at AND (s.ended_at IS NULL OR i.created_at <= s.ended_at)
          ) t
        ) m ON true
        LEFT JOIN LATERAL (
          SELECT count(*) AS n FROM timeline_items i
          WHERE i.conversation_id = s.conversation_id AND i.type = 'event' AND i.event_type = 'transferred'
            AND i.created_at >= s.offered_at AND (s.ended_at IS NULL OR i.created_at <= s.ended_at)
        ) tr ON true
        LEFT JOIN LATERAL (
          SELECT true AS reopened FROM timeline_items i
          WHERE s.ended_at IS NOT NULL AND i.conversation_id = s.conversation_id
            AND i.created_at > s.ended_at AND i.created_at <= s.ended_at + ${fcr}
            -- An agent set it open again, or the customer wrote into it again (which reopens a mail thread).
            AND (i.type = 'event' AND i.event_type = 'status_changed' AND i.data->>'from' = 'resolved'
              AND i.data->>'to' = 'open' OR i.type = 'message' AND i.direction = 'in')
          LIMIT 1
        ) ro ON true
        LEFT JOIN LATERAL (
          SELECT sp.started_at, sp.ended_at FROM agent_state_spans sp
          WHERE s.answered_at IS NOT NULL AND s.ended_at IS NOT NULL AND sp.user_id = s.agent_id
            AND sp.presence = 'wrap_up' AND sp.started_at >= s.ended_at - interval '2 seconds'
            AND sp.started_at <= s.ended_at + interval '10 seconds'
          ORDER BY sp.started_at LIMIT 1
        ) sp ON true
        LEFT JOIN csat_responses cr ON cr.conversation_id = s.conversation_id AND s.answered_at IS NOT NULL
          AND cr.created_at >= s.offered_at AND (s.next_offered_at IS NULL OR cr.created_at < s.next_offered_at)
        LEFT JOIN LATERAL (
          SELECT bool_or(x.breached_at IS NOT NULL) AS breached FROM sla_clocks x
          WHERE x.conversation_id = s.conversation_id
            AND x.started_at < coalesce(s.next_offered_at, 'infinity'::timestamptz)
            AND coalesce(x.stopped_at, 'infinity'::timestamptz) >= s.offered_at - interval '1 second'
        ) sla ON true
      ),
      written AS (
        INSERT INTO interactions (id, workspace_id, conversation_id, contact_id, call_id, channel, inbox_id,
          queue_id, team_id, agent_id, offered_at, answered_at, ended_at, outcome, wait_s, first_response_s,
          next_response_sum_s, next_response_count, resolution_s, handle_s, talk_s, hold_s, wrap_s, transfers,
          service_level_s, answered_in_sl, ewt_announced_s, callback, callback_kept, reopened,
          first_contact_resolved, csat_score, csat_max, sla_breached, updated_at)
        SELECT f.id, f.workspace_id, f.conversation_id, f.contact_id, f.call_id, f.channel, f.inbox_id,
          f.queue_id, f.team_id, f.agent_id, f.offered_at, f.answered_at, f.ended_at, f.outcome, f.wait_s,
          f.first_response_s, f.next_response_sum_s, f.next_response_count, f.resolution_s,
          CASE WHEN f.channel = 'voice' THEN
              CASE WHEN f.talk_s IS NOT NULL THEN f.talk_s + coalesce(f.hold_s, 0) + coalesce(f.wrap_s, 0) END
            WHEN f.answered_at IS NOT NULL AND f.ended_at IS NOT NULL
              THEN extract(epoch from f.ended_at - f.answered_at) END,
          f.talk_s, f.hold_s, f.wrap_s, f.transfers, f.service_level_s, f.answered_in_sl, f.ewt_announced_s,
          f.callback, f.callback_kept, f.reopened, f.first_contact_resolved, f.csat_score, f.csat_max,
          f.sla_breached, ${at}
        FROM facts f
        -- Rows in one order on every node, so two nodes deriving overlapping batches cannot deadlock.
        ORDER BY f.id
        ON CONFLICT (id) DO UPDATE SET
          call_id = excluded.call_id, channel = excluded.channel, inbox_id = excluded.inbox_id,
          queue_id = excluded.queue_id, team_id = excluded.team_id, agent_id = excluded.agent_id,
          offered_at = excluded.offered_at, answered_at = excluded.answered_at, ended_at = excluded.ended_at,
          outcome = excluded.outcome, wait_s = excluded.wait_s, first_response_s = excluded.first_response_s,
          next_response_sum_s = excluded.next_response_sum_s, next_response_count = excluded.next_response_count,
          resolution_s = excluded.resolution_s, handle_s = excluded.handle_s, talk_s = excluded.talk_s,
          hold_s = excluded.hold_s, wrap_s = excluded.wrap_s, transfers = excluded.transfers,
          service_level_s = excluded.service_level_s, answered_in_sl = excluded.answered_in_sl,
          ewt_announced_s = excluded.ewt_announced_s, callback = excluded.callback,
          callback_kept = excluded.callback_kept, reopened = excluded.reopened,
          first_contact_resolved = excluded.first_contact_resolved, csat_score = excluded.csat_score,
          csat_max = excluded.csat_max, sla_breached = excluded.sla_breached, updated_at = excluded.updated_at
        RETURNING 1
      )
      SELECT count(*)::int AS n FROM written`),
  );
  return Number(rows[0]?.n ?? 0);
}
