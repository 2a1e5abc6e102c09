-- The version a session was booked under always exists, without the foreign key's lock (migration
-- 0028): the sessions trigger sets it from the version in force and checks an UPDATE of it; a
-- version sessions still name is neither deleted nor renumbered (23503, as the key raised).
BEGIN;
SELECT plan(9);
SELECT tests.set_now('2031-01-05 12:00+00');

SELECT is_empty($$SELECT FROM pg_constraint WHERE conname = 'sessions_money_policy_version_fkey'$$,
  'no foreign key from sessions to the versions: its FOR KEY SHARE made a MultiXact per booking under load');

SELECT tests.money_booking('2031-01-10 15:00+00', 'online', 'standard') AS booking \gset
SELECT is((SELECT money_policy_version FROM app.sessions WHERE id = :'booking'), 1, 'a booking takes the version in force');

-- Version 2 takes effect later; it may still be withdrawn while no session names it.
INSERT INTO app.money_policy_versions (version, effective_from, deposit_cents, commission_pct, note)
VALUES (2, '2031-02-01 00:00+00', 2000, 25, 'test: a later version');
INSERT INTO app.cancellation_policies (version, service_mode, tier, min_lead, max_lead, refund_pct, fee_cents, credit_pct, mechanic_pct, description)
SELECT 2, service_mode, tier, min_lead, max_lead, refund_pct, fee_cents, credit_pct, mechanic_pct, description
  FROM app.cancellation_policies WHERE version = 1;

SELECT throws_ok(format($$UPDATE app.sessions SET money_policy_version = 99 WHERE id = %L$$, :'booking'), '23503', NULL,
  'a session cannot be moved to a version that does not exist');
SELECT lives_ok(format($$UPDATE app.sessions SET money_policy_version = 2 WHERE id = %L$$, :'booking'),
  'a session can be moved to another version that exists (a DBA''s correction)');
SELECT throws_ok($$DELETE FROM app.cancellation_policies WHERE version = 2; DELETE FROM app.money_policy_versions WHERE version = 2$$,
  '23503', NULL, 'a version a session names cannot be withdrawn, even before it takes effect');
SELECT throws_ok($$UPDATE app.money_policy_versions SET version = 3 WHERE version = 2$$, '23503', NULL,
  'nor renumbered');
SELECT lives_ok(format($$UPDATE app.sessions SET money_policy_version = 1 WHERE id = %L$$, :'booking'),
  'moved back to version 1');
SELECT lives_ok($$DELETE FROM app.cancellation_policies WHERE version = 2; DELETE FROM app.money_policy_versions WHERE version = 2$$,
  'a version nobody names may be withdrawn before it takes effect');
SELECT throws_ok($$DELETE FROM app.money_policy_versions WHERE version = 1$$, 'AD409', NULL,
  'a version in force is refused first by the guard (409 policy_in_force)');

SELECT * FROM finish();
ROLLBACK;
