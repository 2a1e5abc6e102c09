-- Reverts 0023_lean_booking: the reminder rows (re-planned for every upcoming session, sent ones
-- marked from their outbox rows, so the row-based job neither misses nor repeats one), no
-- watermark, the four indexes and the sessions' foreign key to app.plans (the trigger
-- plans_are_permanent and its function go: the previous files do not create them). The previous version's files bring back plan_reminders,
-- stop_reminders, the row-based api.send_due_reminders and the reminders' RLS policy and grant.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE app.session_reminders (
  session_id    uuid NOT NULL REFERENCES app.sessions (id) ON DELETE CASCADE,
  kind          text NOT NULL,
  scheduled_for timestamptz NOT NULL,
  due_at        timestamptz NOT NULL,
  sent_at       timestamptz,
  skipped_at    timestamptz,
  skip_reason   text,
  outbox_id     bigint,
  PRIMARY KEY (session_id, kind),
  CONSTRAINT session_reminders_kind_is_known CHECK (kind IN ('1d', '1h', '15m')),
  CONSTRAINT session_reminders_sent_or_skipped CHECK (sent_at IS NULL OR skipped_at IS NULL)
);
CREATE INDEX session_reminders_due ON app.session_reminders (due_at) WHERE sent_at IS NULL AND skipped_at IS NULL;
ALTER TABLE app.session_reminders ENABLE ROW LEVEL SECURITY;

INSERT INTO app.session_reminders (session_id, kind, scheduled_for, due_at, sent_at, skipped_at, skip_reason, outbox_id)
SELECT s.id, o.kind, s.scheduled_for, s.scheduled_for - o.due_before,
       x.created_at,
       CASE WHEN x.id IS NULL AND s.scheduled_for - o.due_before < s.created_at THEN now() END,
       CASE WHEN x.id IS NULL AND s.scheduled_for - o.due_before < s.created_at THEN 'booked_late' END,
       x.id
  FROM app.sessions s
 CROSS JOIN (VALUES ('1d'::text, interval '24 hours'), ('1h', interval '1 hour'), ('15m', interval '15 minutes'))
            AS o (kind, due_before)
  LEFT JOIN app.outbox x
    ON x.idempotency_key = format('email:%s:reminder_%s:%s', s.id, o.kind, extract(epoch FROM s.scheduled_for)::bigint)
 WHERE s.status IN ('scheduled', 'pending') AND s.scheduled_for IS NOT NULL;

DROP TABLE app.reminder_watermark;

CREATE INDEX session_assignments_session_status_idx ON app.session_assignments (session_id, status);
CREATE INDEX outbox_pending_due ON app.outbox (run_after, id) WHERE status = 'pending';
CREATE INDEX outbox_kind ON app.outbox (kind);
ALTER TABLE app.session_invites ADD CONSTRAINT session_invites_uid_unique UNIQUE (uid);

DROP TRIGGER IF EXISTS plans_are_permanent ON app.plans;
DROP FUNCTION IF EXISTS app_private.plans_are_permanent();
ALTER TABLE app.sessions ADD CONSTRAINT sessions_plan_code_fkey FOREIGN KEY (plan_code) REFERENCES app.plans (code) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE app.sessions VALIDATE CONSTRAINT sessions_plan_code_fkey;
