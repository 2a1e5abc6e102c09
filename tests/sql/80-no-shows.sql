-- Unsigned waivers: the mechanic's missing-waiver cancellation from 10 minutes after the start, and
-- the no-show job at 15 minutes: at the boundaries, run twice, run late, sessions signed, completed
-- or cancelled in the meantime left alone, the no_show event, live event and email exactly once.
-- (Real concurrent runs: tests/py/test_live_session.py.)
BEGIN;
SELECT plan(36);
SET LOCAL timezone = 'UTC';

SELECT tests.se_customer() AS c \gset
SELECT tests.se_customer() AS c2 \gset
SELECT tests.se_mechanic() AS m \gset
SELECT tests.se_mechanic('America/Toronto', true) AS mw \gset
SELECT tests.lv_open_all_day(:'m'), tests.lv_open_all_day(:'mw');  -- any local time can be booked

CREATE FUNCTION pg_temp.err(p_user uuid, p_role text, p_sql text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_old text := tests.with_claims(p_user, p_role);
  v jsonb;
BEGIN
  v := tests.error_of(p_sql);
  PERFORM tests.restore_claims(v_old);
  RETURN v;
END
$$;
CREATE FUNCTION pg_temp.run(p_at timestamptz) RETURNS int LANGUAGE sql AS
  $$SELECT tests.set_now(p_at); SELECT api.mark_no_shows()$$;
CREATE FUNCTION pg_temp.reason(p_session uuid) RETURNS text LANGUAGE sql AS
  $$SELECT coalesce(cancel_reason, status) FROM app.sessions WHERE id = p_session$$;

------------------------------------------------------------------ missing waiver: the mechanic cancels from start + 10 min
SELECT tests.set_now('2031-01-05 12:00+00');
SELECT tests.se_session(:'c', :'m', '2031-01-07 15:00+00') AS w \gset
SELECT tests.se_charge_done((SELECT id FROM app.scheduled_payments WHERE session_id = :'w')) IS NOT NULL AS paid;
CREATE FUNCTION pg_temp.receipt(p_session uuid) RETURNS TABLE (tier text, paid int, refund int, credit int, mechanic int)
LANGUAGE sql AS $$SELECT tier, paid_cents, refund_cents, credit_cents, mechanic_cents FROM app.session_cancellations
                   WHERE session_id = p_session$$;
SELECT tests.set_now('2031-01-07 15:09:59.999999+00');
SELECT is(pg_temp.err(:'m', 'mechanic', format('SELECT api.cancel_for_missing_waiver(%L)', :'w')) ->> 'hint', 'too_early_to_cancel',
  '10 min - 1 us after the start: too early');
SELECT is((pg_temp.err(:'m', 'mechanic', format('SELECT api.cancel_for_missing_waiver(%L)', :'w')) ->> 'detail')::jsonb ->> 'allowed_from',
  '2031-01-07T15:10:00+00:00', '... the detail says from when');
SELECT tests.set_now('2031-01-07 15:10+00');
SELECT is(pg_temp.err(:'c', 'customer', format('SELECT api.cancel_for_missing_waiver(%L)', :'w')) ->> 'hint', 'session_not_found',
  'the customer cannot use the mechanic''s cancellation');
SELECT is(pg_temp.err(:'mw', 'mechanic', format('SELECT api.cancel_for_missing_waiver(%L)', :'w')) ->> 'hint', 'session_not_found',
  'nor another mechanic');
SELECT is(tests.lv_as(:'m', 'mechanic', format('SELECT api.cancel_for_missing_waiver(%L, %L)', :'w', 'Customer never showed')) ->> 'cancel_reason',
  'waiver_missing', 'exactly 10 min after the start the mechanic cancels: reason waiver_missing');
SELECT results_eq(format('SELECT * FROM pg_temp.receipt(%L)', :'w'), $$VALUES ('missing_waiver'::text, 2900, 0, 1450, 1450)$$,
  'the money policy''s missing_waiver tier: of the $29 paid, 50% account credit, 50% to the mechanic, no card refund');
SELECT is((SELECT count(*)::int FROM app.session_events WHERE session_id = :'w' AND event_type = 'waiver_missing'), 1,
  'a waiver_missing session event');
SELECT is((SELECT count(*)::int FROM app.live_events WHERE session_id = :'w' AND kind = 'session.cancelled'
            AND payload ->> 'cancel_reason' = 'waiver_missing'), 1,
  'a session.cancelled live event (cancel_reason waiver_missing)');
SELECT is(pg_temp.err(:'m', 'mechanic', format('SELECT api.cancel_for_missing_waiver(%L)', :'w')) ->> 'hint', 'not_cancellable',
  'cancelling again: 409 not_cancellable');
SELECT is((SELECT array_agg(template ORDER BY template) FROM tests.se_emails(:'w') WHERE method = 'CANCEL'),
  ARRAY['cancellation', 'mechanic_cancellation'], 'both sides get the cancellation email with a CANCEL invite');

SELECT tests.set_now('2031-01-05 12:00+00');
SELECT tests.se_session(:'c', :'m', '2031-01-08 15:00+00') AS w2 \gset
SELECT tests.set_now('2031-01-08 15:05+00');
SELECT tests.lv_sign(:'w2', :'c') IS NOT NULL AS signed;
SELECT tests.set_now('2031-01-08 15:12+00');
SELECT is(pg_temp.err(:'m', 'mechanic', format('SELECT api.cancel_for_missing_waiver(%L)', :'w2')) ->> 'hint', 'waiver_already_signed',
  'a signed session cannot be cancelled for a missing waiver');

SELECT tests.set_now('2031-01-09 10:00+00');
SELECT tests.lv_immediate(:'c2', :'m') AS imm \gset
SELECT tests.set_now('2031-01-09 10:10+00');
SELECT is(tests.lv_as(:'m', 'mechanic', format('SELECT api.cancel_for_missing_waiver(%L)', :'imm')) ->> 'cancel_reason',
  'waiver_missing', 'an accepted immediate request left unsigned for 10 minutes can be cancelled too');
SELECT results_eq(format('SELECT paid, credit, mechanic FROM pg_temp.receipt(%L)', :'imm'), $$VALUES (0, 0, 0)$$,
  '... nothing was charged (an immediate session is paid after its waiver), so nothing is shared out');

------------------------------------------------------------------ the no-show job at start + 15 min
SELECT tests.set_now('2031-02-01 12:00+00');
SELECT tests.se_session(:'c', :'m', '2031-02-03 15:00+00') AS ns \gset
SELECT tests.se_session(:'c2', :'mw', '2031-02-03 15:00+00', 'in_person') AS ns_ip \gset
SELECT tests.se_session(:'c2', :'m', '2031-02-03 16:00+00') AS signed \gset
SELECT tests.se_session(:'c', :'mw', '2031-02-03 16:00+00', 'in_person') AS done \gset
SELECT tests.se_session(:'c', :'m', '2031-02-03 17:00+00') AS gone \gset
SELECT tests.lv_immediate(:'c2', :'m') AS imm2 \gset
SELECT tests.se_charge_done(p.id) IS NOT NULL AS paid FROM app.scheduled_payments p WHERE p.session_id IN (:'ns', :'ns_ip');

SELECT is(pg_temp.run('2031-02-03 15:14:59.999999+00'), 0, '15 min - 1 us after the start: nobody is a no-show yet');
SELECT is(pg_temp.run('2031-02-03 15:15:00+00'), 2, 'exactly 15 min after: both unsigned sessions are no-shows');
SELECT is(pg_temp.reason(:'ns'), 'no_show', 'online: cancelled, reason no_show');
SELECT is(pg_temp.reason(:'ns_ip'), 'no_show', 'in person: cancelled, reason no_show');
SELECT is(pg_temp.run('2031-02-03 15:15:00+00'), 0, 'the job running twice in a row marks nothing more');
SELECT is(pg_temp.reason(:'imm2'), 'waiting', 'an immediate session is never a no-show of the job');

-- Meanwhile: one is signed in time, one is completed (an admin moved it along), one is cancelled.
SELECT tests.set_now('2031-02-03 15:50+00');
SELECT tests.lv_sign(:'signed', :'c2') IS NOT NULL AS signed_in_time;
UPDATE app.sessions SET status = 'pending' WHERE id = :'done';
UPDATE app.sessions SET status = 'active' WHERE id = :'done';
UPDATE app.sessions SET status = 'completed' WHERE id = :'done';
UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = :'gone';
-- Late: pg_cron was down for hours.
SELECT is(pg_temp.run('2031-02-03 22:00+00'), 0, 'a late run: sessions signed, completed or cancelled meanwhile are left alone');
SELECT results_eq(format($$SELECT pg_temp.reason(x) FROM unnest(ARRAY[%L, %L, %L]::uuid[]) WITH ORDINALITY u (x, n) ORDER BY n$$,
                         :'signed', :'done', :'gone'),
  $$VALUES ('scheduled'::text), ('completed'), ('customer')$$, '... they keep their status');

SELECT tests.set_now('2031-02-01 12:00+00');
SELECT tests.se_session(:'c', :'m', '2031-02-04 09:00+00') AS missed \gset
SELECT is(pg_temp.run('2031-02-05 09:00+00'), 1, 'a run a day late still marks a missed session, once');
SELECT is(pg_temp.run('2031-02-05 09:05+00'), 0, '... and the next run nothing');

------------------------------------------------------------------ what a no-show leaves behind, exactly once
SELECT results_eq(format('SELECT * FROM pg_temp.receipt(%L)', :'ns'), $$VALUES ('no_show'::text, 2900, 0, 1450, 1450)$$,
  'online no-show: of the $29 paid, 50% account credit, 50% to the mechanic (the money policy''s no_show tier)');
SELECT results_eq(format('SELECT * FROM pg_temp.receipt(%L)', :'ns_ip'), $$VALUES ('no_show'::text, 1500, 0, 0, 1500)$$,
  'in-person no-show: the $15 deposit is forfeited to the mechanic');
SELECT is((SELECT count(*)::int FROM app.ledger_transactions WHERE session_id IN (:'ns', :'ns_ip', :'missed') AND kind = 'cancellation'), 3,
  'after runs twice and late: one cancellation posting per no-show, nothing paid twice');
SELECT is((SELECT count(*)::int FROM app.payment_refunds r JOIN app.scheduled_payments p ON p.id = r.payment_id
            WHERE p.session_id IN (:'ns', :'ns_ip', :'missed', :'w')), 0, '... and no card refund');
SELECT is((SELECT count(*)::int FROM app.session_events WHERE session_id = :'ns' AND event_type = 'no_show'), 1,
  'one no_show session event');
SELECT is((SELECT count(*)::int FROM app.session_events WHERE session_id = :'ns' AND event_type = 'status_changed'
            AND metadata ->> 'cancel_reason' = 'no_show'), 1, 'one status change to cancelled (no_show) in the audit log');
SELECT is((SELECT count(*)::int FROM app.live_events WHERE session_id = :'ns' AND kind = 'session.cancelled'
            AND payload ->> 'cancel_reason' = 'no_show' AND audience @> ARRAY[:'c'::uuid, :'m'::uuid]), 1,
  'one session.cancelled live event (cancel_reason no_show) to both sides');
SELECT results_eq(format($$SELECT template, recipient, method FROM tests.se_emails(%L) WHERE method = 'CANCEL' ORDER BY template$$, :'ns'),
  $$VALUES ('mechanic_cancellation'::text, 'mechanic'::text, 'CANCEL'::text), ('no_show', 'customer', 'CANCEL')$$,
  'the customer gets the no-show email, the mechanic the cancellation, each once with a CANCEL invite');
SELECT is((SELECT count(*)::int FROM app.session_reminders WHERE session_id = :'ns' AND sent_at IS NULL AND skipped_at IS NULL), 0,
  'no reminder is left to send');
SELECT is((SELECT count(*)::int FROM app.scheduled_payments WHERE session_id = :'ns'), 1, 'the job itself charges nothing more');
SELECT is(tests.lv_as(:'c', 'customer', format('SELECT to_jsonb(tests.error_of(%L))',
                                               format('SELECT api.join_session(%L)', :'ns'))) ->> 'hint',
  'not_joinable', 'a no-show session can no longer be joined');
SELECT is(tests.lv_as(:'c', 'customer', format('SELECT to_jsonb(tests.error_of(%L))',
                                               format('SELECT api.sign_waiver(%L, %L, true)', :'ns', tests.lv_png()))) ->> 'hint',
  'outside_signing_window', '... nor signed');
SELECT tests.authenticate_as(:'c', 'customer');
SELECT throws_ok('SELECT api.mark_no_shows()', '42501', NULL, 'a customer cannot run the job');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;
