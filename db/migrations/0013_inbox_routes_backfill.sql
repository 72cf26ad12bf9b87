-- Custom SQL migration file, put your code below! ---- Routing keys of inboxes made before inbox_routes: the oldest inbox keeps a key several claimed
-- (SMTP-in and the voice webhook picked the oldest before), and they stay live (verified): they
-- were receiving mail and calls already.
INSERT INTO "inbox_routes" ("kind", "key", "inbox_id", "workspace_id", "verified_at", "created_at")
SELECT k.kind, k.key, k.inbox_id, k.workspace_id, now(), k.created_at
FROM (
  SELECT 'email' AS kind, lower(i.settings->>'address') AS key, i.id AS inbox_id, i.workspace_id, i.created_at, 0 AS n
  FROM "inboxes" i WHERE i.channel = 'email' AND i.settings->>'address' IS NOT NULL
  UNION ALL
  SELECT 'email', lower(a.alias), i.id, i.workspace_id, i.created_at, 1
  FROM "inboxes" i, jsonb_array_elements_text(CASE WHEN jsonb_typeof(i.settings->'aliases') = 'array' THEN i.settings->'aliases' ELSE '[]'::jsonb END) AS a(alias)
  WHERE i.channel = 'email'
  UNION ALL
  SELECT 'voice', lower(i.settings->>'phoneNumber'), i.id, i.workspace_id, i.created_at, 0
  FROM "inboxes" i WHERE i.channel = 'voice' AND i.settings->>'phoneNumber' IS NOT NULL
) k
ORDER BY k.created_at, k.inbox_id, k.n
ON CONFLICT DO NOTHING;
