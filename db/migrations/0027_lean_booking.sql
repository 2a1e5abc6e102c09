-- depends: 0026_matching_static
-- A booking transaction that carries only its guarantees, part 2 (issue 13):
-- * reminders are produced set-based by the job from the sessions due in its window, not three rows
--   per booking: app.session_reminders goes, a one-row watermark (the previous run's "now") bounds
--   the job's window (api.send_due_reminders, db/functions/50_notifications.sql);
-- * four indexes that only cost every write: each is covered by another index or a key;
-- * the sessions' foreign key to app.plans: its check took FOR KEY SHARE on the plan's one row, so
--   under load every booking created a MultiXact and wrote WAL on the same page. Plans are never
--   deleted or renamed (trigger plans_are_permanent) and the sessions' lifecycle trigger checks that
--   the plan exists (db/triggers/20_sessions.sql): the same guarantee without a lock.
-- squawk-ignore-file ban-drop-table, require-concurrent-index-deletion, ban-drop-constraint, ban-drop-function
-- (app.session_reminders: the rollback recreates it and re-plans the rows of upcoming sessions; yoyo
-- runs a migration in one transaction, where DROP INDEX CONCURRENTLY cannot run, and each drop holds
-- its table's lock only for the catalog change; the two constraints' guarantees stay, see below)
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- The reminder job's watermark: one row, read and moved FOR UPDATE by the job (two runs at once
-- follow each other). Starts five minutes back, so nothing due since the last run of the row-based
-- job is missed (the outbox keys are the same, so nothing already sent is sent again).
CREATE TABLE app.reminder_watermark (
  id        boolean PRIMARY KEY DEFAULT true,
  watermark timestamptz NOT NULL,
  CONSTRAINT reminder_watermark_one_row CHECK (id)
);
ALTER TABLE app.reminder_watermark ENABLE ROW LEVEL SECURITY;
INSERT INTO app.reminder_watermark (id, watermark) VALUES (true, now() - interval '5 minutes');

DROP TABLE app.session_reminders;
DROP FUNCTION IF EXISTS app_private.plan_reminders(uuid, timestamptz);
DROP FUNCTION IF EXISTS app_private.stop_reminders(uuid, text);

-- Redundant indexes (each maintained on every booking or fan-out write):
-- a session's assignments are found through session_assignments_one_per_mechanic (session_id, ...);
DROP INDEX app.session_assignments_session_status_idx;
-- a lane's claim reads outbox_pending_kind_due; claims without lanes and the health counts read the
-- same (few) pending rows; the registry's FK from outbox_kinds is checked only when a kind is removed;
DROP INDEX app.outbox_pending_due;
DROP INDEX app.outbox_kind;
-- an invite's UID is '<session id>@autodoctor' (app_private.invite_bump, its one writer): unique
-- because session_id is the primary key.
ALTER TABLE app.session_invites DROP CONSTRAINT session_invites_uid_unique;

ALTER TABLE app.sessions DROP CONSTRAINT sessions_plan_code_fkey;
