-- depends: 0027_lean_booking
-- A booking transaction that carries only its guarantees, part 3 (issue 13): the sessions' foreign key
-- to app.money_policy_versions goes, like the one to app.plans in 0027. Its check took FOR KEY SHARE
-- on the one version in force, so with 8 clients booking at once most bookings created a MultiXact and
-- wrote a lock record on that row's page (measured: 1.05 MultiXacts per attempt with this key and the
-- outbox kind's, 0.76 without this one, 0 without both). The same guarantee without the lock lives in
-- db/triggers/40_ledger.sql: a new session takes the version in force (sessions_money_policy), a
-- version in force is never changed or deleted (money_policy_guard), an UPDATE of a session's version
-- is checked (sessions_money_policy), and deleting or renumbering a version that sessions still name
-- is refused after waiting for the sessions' in-flight writers
-- (money_policy_versions_keep_referenced), all with SQLSTATE 23503 as the key raised.
-- squawk-ignore-file ban-drop-constraint
-- (the rollback re-adds it NOT VALID, as 0021 did: validating would lock sessions against reads while it scans)
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE app.sessions DROP CONSTRAINT sessions_money_policy_version_fkey;
