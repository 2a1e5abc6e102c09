-- The outbox kind registry: every kind is a row owned by a domain, the queue dispatches claim-time
-- facts and result write-backs through it, decisions not to run an effect are made at claim time,
-- and the retry policy and lane come from it. Who may read or change it.
BEGIN;
SELECT plan(21);

SELECT has_table('app', 'outbox_kinds', 'the registry exists');
SELECT is_empty($$SELECT kind FROM app.outbox_kinds WHERE NOT (kind = ANY (ARRAY['noop', 'stripe.charge', 'stripe.refund',
                                                                               'stripe.cancel_intent', 'stripe.sync',
                                                                               'email.send', 'session.booked']))$$,
  'only the known kinds are registered');
SELECT results_eq($$SELECT kind, band::int, lane FROM app.outbox_kinds ORDER BY kind$$,
  $$VALUES ('email.send'::text, 50, 'email'::text), ('noop', 30, 'default'), ('session.booked', 20, 'database'),
           ('stripe.cancel_intent', 40, 'stripe'),
           ('stripe.charge', 40, 'stripe'), ('stripe.refund', 40, 'stripe'), ('stripe.sync', 40, 'stripe')$$,
  'each kind is owned by its band and runs in its lane');
SELECT is_empty($$SELECT kind FROM app.outbox_kinds
                   WHERE context_fn IS NOT NULL AND (context_fn::regproc::text NOT LIKE 'app_private.%'
                         OR (SELECT p.prorettype FROM pg_proc p WHERE p.oid = context_fn) <> 'jsonb'::regtype
                         OR (SELECT oidvectortypes(p.proargtypes) FROM pg_proc p WHERE p.oid = context_fn) <> 'jsonb')$$,
  'every context function is app_private.<fn>(jsonb) returning jsonb');
SELECT is_empty($$SELECT kind FROM app.outbox_kinds
                   WHERE apply_fn IS NOT NULL AND (apply_fn::regproc::text NOT LIKE 'app_private.%'
                         OR (SELECT p.prorettype FROM pg_proc p WHERE p.oid = apply_fn) <> 'void'::regtype
                         OR (SELECT oidvectortypes(p.proargtypes) FROM pg_proc p WHERE p.oid = apply_fn) <> 'bigint, jsonb, jsonb')$$,
  'every apply function is app_private.<fn>(bigint, jsonb, jsonb) returning void');
SELECT is_empty($$SELECT kind FROM app.outbox_kinds k
                   WHERE NOT has_function_privilege('autodoc_worker', k.context_fn, 'EXECUTE')
                      OR NOT has_function_privilege('autodoc_worker', k.apply_fn, 'EXECUTE')$$,
  'the worker may run every registered function');
SELECT app_private.outbox_enqueue('noop', 'kinds:keep', '{}', NULL, '2040-01-01 00:00:00+00');
SELECT throws_ok($$DELETE FROM app.outbox_kinds WHERE kind = 'noop'$$, '23503', NULL,
  'a kind that rows still use cannot be removed');

-- The budget of a new row is its kind's.
UPDATE app.outbox_kinds SET max_attempts = 4, backoff_base_seconds = 100, backoff_max_seconds = 150 WHERE kind = 'noop';
SELECT app_private.outbox_enqueue('noop', 'kinds:budget', '{}', NULL, '2031-02-01 00:00:00+00') AS b \gset
SELECT is((SELECT max_attempts FROM app.outbox WHERE id = :b), 4, 'a new row gets its kind''s attempt budget');
SELECT tests.set_now('2031-02-01 00:00:00+00');
SELECT tests.authenticate_as(NULL, 'worker');
SELECT is((SELECT lane FROM api.outbox_claim('w1', 1, 60)), 'default', 'the claim says which lane a row runs in');
SELECT api.outbox_fail(:b, 'w1', 'x');
SELECT tests.set_now('2031-02-01 00:01:40+00');
SELECT api.outbox_claim('w1', 1, 60);
SELECT api.outbox_fail(:b, 'w1', 'x');
SELECT is((SELECT run_after FROM app.outbox WHERE id = :b), '2031-02-01 00:04:10+00'::timestamptz,
  'backoff doubles from the kind''s base and stops at its cap (100 s, then min(200, 150) s)');
SELECT tests.clear_authentication();
SELECT tests.set_now(NULL);

-- Claim-time decisions (money). A refund requested while its charge was pending, of a charge that
-- then failed: nothing was taken, so the claim says skip and the skip releases the reservation.
SELECT tests.se_booking(now() + interval '3 days') AS s \gset
SELECT id AS p FROM app.scheduled_payments WHERE session_id = :'s' \gset
SELECT app_private.payment_request_refund(:'p', 1000, 'cancellation', 'kinds_skip') AS r \gset
SELECT api.outbox_complete((SELECT id FROM app.outbox WHERE kind = 'stripe.charge' AND session_id = :'s'), 'w0',
  '{"declined": true, "status": "requires_payment_method", "payment_intent_id": "pi_kinds_1"}');
UPDATE app.outbox SET run_after = now() - interval '1 day' WHERE kind = 'stripe.refund' AND session_id = :'s';
SELECT tests.authenticate_as(NULL, 'worker');
SELECT results_eq(format($$SELECT kind, skip_reason, payload ->> 'payment_status' FROM api.outbox_claim('w1', 10, 60)
                            WHERE session_id = %L AND kind = 'stripe.refund'$$, :'s'),
  $$VALUES ('stripe.refund'::text, 'payment_failed'::text, 'failed'::text)$$,
  'a refund of a failed payment is claimed with skip_reason payment_failed');
SELECT ok(api.outbox_complete((SELECT id FROM app.outbox WHERE kind = 'stripe.refund' AND session_id = :'s'), 'w1',
                              '{"status": "skipped", "reason": "payment_failed"}'), 'the worker completes it as skipped');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT r.status, p.refund_amount_cents FROM app.payment_refunds r
                             JOIN app.scheduled_payments p ON p.id = r.payment_id WHERE r.id = %L$$, :'r'),
  $$VALUES ('failed'::text, 0)$$, 'the skipped refund is failed and its reservation released');

-- A cancel of an intent whose payment already succeeded: skip, nothing changes.
SELECT tests.se_session(tests.se_customer(), tests.se_mechanic(), now() + interval '2 days', 'online', 'held') AS h \gset
SELECT id AS hp FROM app.scheduled_payments WHERE session_id = :'h' \gset
SELECT app_private.outbox_enqueue('stripe.cancel_intent', 'kinds:cancel', jsonb_build_object('payment_id', :'hp'), :'h');
SELECT tests.se_charge_done(:'hp');
SELECT is(app_private.outbox_context('stripe.cancel_intent', jsonb_build_object('payment_id', :'hp')) ->> 'skip',
  'payment_succeeded', 'a cancel of a succeeded payment is skipped at claim time');
SELECT is(app_private.outbox_context('stripe.cancel_intent', jsonb_build_object('payment_id', :'hp')) ->> 'payment_intent_id',
  'pi_' || replace(:'hp', '-', ''), 'with the facts the claim reads');
SELECT is(app_private.outbox_context('stripe.charge', '{}'), NULL, 'a kind without a context function adds nothing');
SELECT api.outbox_complete((SELECT id FROM app.outbox WHERE idempotency_key = 'kinds:cancel'), 'w1',
                           '{"status": "skipped", "reason": "payment_succeeded"}');
SELECT is((SELECT status FROM app.scheduled_payments WHERE id = :'hp'), 'succeeded', 'a skipped cancel changes nothing');

-- Who may read or change the registry.
SELECT tests.authenticate_as(NULL, 'worker');
SELECT is((SELECT count(*)::int FROM api.outbox_kinds()), 7, 'the worker reads the registry');
SELECT throws_ok($$UPDATE app.outbox_kinds SET max_attempts = 1$$, '42501', NULL, 'but cannot change it');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(tests.create_user('admin'), 'admin');
SELECT is((SELECT count(*)::int FROM app.outbox_kinds), 7, 'admins read the registry');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(tests.create_user('customer'), 'customer');
SELECT throws_ok($$SELECT * FROM api.outbox_kinds()$$, '42501', NULL, 'a customer cannot read the registry');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;
