-- depends: 0028_money_policy_no_share_lock
-- The booking's fan-out, cheaper (issue 13): the lane `database` for kinds whose effect is only
-- rows of this database (a booking's `session.booked`): the worker never leases them, it applies
-- them and marks them done in one transaction (api.outbox_apply_due, db/functions/30_outbox.sql).
-- Seeded here like the other lanes (0019_faults); the kind moves to it when
-- db/functions/50_booking_fan_out.sql re-registers it. And session emails carry ids only, their
-- facts read when claimed (app_private.session_email_facts, db/functions/50_notifications.sql):
-- rows already queued carry their facts (`to`) and are sent as written, so no row changes here.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

INSERT INTO app.outbox_lanes (lane, concurrency, description)
VALUES ('database', 1, 'Kinds whose effect is only rows of this database: applied and marked done in one transaction by api.outbox_apply_due, never leased.')
ON CONFLICT (lane) DO NOTHING;
