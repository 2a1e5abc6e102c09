-- depends: 0021_money
-- One event per booking (issue 13): a booking transaction writes one compact outbox row of kind
-- `session.booked` (ids only) instead of its charge, two emails and three reminders; the worker's
-- completion fans it out (db/functions/50_booking_fan_out.sql). The kind's registry row is seeded
-- here so rows may use it before the files fill in its apply function and policy.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

INSERT INTO app.outbox_kinds (kind, band, domain, lane) VALUES ('session.booked', 20, 'booking', 'default')
ON CONFLICT (kind) DO NOTHING;
