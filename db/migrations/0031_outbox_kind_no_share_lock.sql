-- depends: 0030_matching_tail
-- A booking transaction that carries only its guarantees, part 4 (issue 13): the outbox's foreign key
-- to the kind registry goes, like the sessions' keys to app.plans (0027) and app.money_policy_versions
-- (0028). Its check took FOR KEY SHARE on the kind's one row at every outbox INSERT (the booking's
-- session.booked event and every fan-out row), so with 8 clients booking at once most bookings
-- created a MultiXact and wrote a lock record on that row's page (measured: 0.76 MultiXacts per
-- attempt with this key, after 0028). The same guarantee without the lock lives in
-- db/triggers/30_outbox_kind_registered.sql: a row's kind is checked when written
-- (outbox_kind_registered), and a kind that rows still name is neither deleted, renamed nor
-- truncated away, checked after waiting for the outbox's in-flight writers
-- (outbox_kinds_keep_referenced), both with SQLSTATE 23503 as the key raised.
-- squawk-ignore-file ban-drop-constraint
-- (the rollback re-adds the key and validates it, as 0008 did)
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE app.outbox DROP CONSTRAINT outbox_kind_registered;
