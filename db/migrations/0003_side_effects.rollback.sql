SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- The side-effect trigger on sessions (db/triggers/30_outbox.sql) would call into dropped tables.
DROP TRIGGER IF EXISTS sessions_90_side_effects ON app.sessions;

DROP TABLE app.session_reminders;
DROP TABLE app.session_invites;
DROP TABLE app.stripe_events;
DROP TABLE app.payment_refunds;
DROP TABLE app.scheduled_payments;
DROP TABLE app.worker_heartbeats;
DROP TABLE app.outbox;
