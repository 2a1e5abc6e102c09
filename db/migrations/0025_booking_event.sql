-- depends: 0024_contract
-- One event per booking (issue 13): a booking transaction writes one compact outbox row of kind
-- `session.booked` (ids only) instead of its charge, two emails and three reminders; the worker's
-- completion fans it out (db/functions/50_booking_fan_out.sql). The kind's registry row is seeded
-- here so rows may use it before the files fill in its apply function and policy.
-- squawk-ignore-file ban-drop-function
-- (the dropped functions' callers change in the same commit: the triggers go, outbox_kinds() is re-created by its file)
SET lock_timeout = '5s';
SET statement_timeout = '60s';

INSERT INTO app.outbox_kinds (kind, band, domain, lane) VALUES ('session.booked', 20, 'booking', 'default')
ON CONFLICT (kind) DO NOTHING;

-- NOTIFY leaves the writing transactions (db/triggers/30_outbox.sql says who wakes whom now): the
-- outbox's statement triggers go. The API and the worker send their wake-ups after commit.
DROP TRIGGER IF EXISTS outbox_10_notify_insert ON app.outbox;
DROP TRIGGER IF EXISTS outbox_20_notify_update ON app.outbox;
DROP FUNCTION IF EXISTS app_private.outbox_notify_insert();
DROP FUNCTION IF EXISTS app_private.outbox_notify_update();
-- api.outbox_kinds() gains `applies` (the kind writes back on completion): a new result row type.
DROP FUNCTION IF EXISTS api.outbox_kinds();
