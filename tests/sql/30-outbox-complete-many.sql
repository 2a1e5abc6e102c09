-- Batched completion (api.outbox_complete_many): several results written back and applied in one
-- transaction, each row exactly once (a second worker, an id given twice), all or nothing when an
-- apply raises, who may call it.
BEGIN;
SELECT plan(16);

SELECT has_function('api', 'outbox_complete_many', ARRAY['text', 'bigint[]', 'jsonb[]'], 'the batched call exists');
SELECT ok(has_function_privilege('autodoc_worker', 'api.outbox_complete_many(text, bigint[], jsonb[])', 'EXECUTE'),
  'the worker may call it');
SELECT ok(NOT has_function_privilege('autodoc_customer', 'api.outbox_complete_many(text, bigint[], jsonb[])', 'EXECUTE')
          AND NOT has_function_privilege('autodoc_anon', 'api.outbox_complete_many(text, bigint[], jsonb[])', 'EXECUTE')
          AND NOT has_function_privilege('autodoc_mechanic', 'api.outbox_complete_many(text, bigint[], jsonb[])', 'EXECUTE'),
  'customers, mechanics and anon may not');

-- A booking's charge and its two emails, claimed by w1.
SELECT tests.se_booking(now() + interval '3 days') AS s \gset
SELECT id AS pay FROM app.scheduled_payments WHERE session_id = :'s' \gset
SELECT id AS charge FROM app.outbox WHERE kind = 'stripe.charge' AND session_id = :'s' \gset
SELECT min(id) AS e1, max(id) AS e2 FROM app.outbox WHERE kind = 'email.send' AND session_id = :'s' \gset
UPDATE app.outbox SET run_after = now() - interval '1 minute' WHERE session_id = :'s' AND status = 'pending';
SELECT tests.authenticate_as(NULL, 'worker');
SELECT is((SELECT count(*)::int FROM api.outbox_claim('w1', 10, 60) WHERE session_id = :'s'), 3,
  'w1 claims the charge and both emails');

-- One call writes the three back, each with its own result; the charge's result is applied.
SELECT is(api.outbox_complete_many('w1', ARRAY[:charge, :e1, :e2]::bigint[],
            ARRAY['{"status": "processing", "payment_intent_id": "pi_many_1", "client_secret": "sec_1"}',
                  '{"message_id": "m1"}', NULL]::jsonb[]),
  ARRAY[:charge, :e1, :e2]::bigint[], 'the call completes all three and returns their ids');
SELECT results_eq(format($$SELECT id, status, result, leased_until IS NULL AND locked_by IS NULL, done_at IS NOT NULL
                             FROM app.outbox WHERE id IN (%s, %s, %s) ORDER BY id$$, :charge, :e1, :e2),
  format($$VALUES (%s::bigint, 'done'::text, '{"status": "processing", "payment_intent_id": "pi_many_1", "client_secret": "sec_1"}'::jsonb, true, true),
                  (%s, 'done', '{"message_id": "m1"}'::jsonb, true, true),
                  (%s, 'done', '{}'::jsonb, true, true)$$, :charge, :e1, :e2),
  'each row is done with its own result (NULL = {}), its lease cleared');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT payment_intent_id, client_secret FROM app.scheduled_payments WHERE id = %L$$, :'pay'),
  $$VALUES ('pi_many_1'::text, 'sec_1'::text)$$, 'the charge''s result is applied (its PaymentIntent linked)');
SELECT tests.authenticate_as(NULL, 'worker');

-- Exactly once: a second worker (its lease lost) completing the same rows changes nothing.
SELECT is(api.outbox_complete_many('w2', ARRAY[:charge, :e1]::bigint[],
            ARRAY['{"status": "succeeded", "payment_intent_id": "pi_many_2"}', '{"message_id": "m2"}']::jsonb[]),
  '{}'::bigint[], 'completing rows already done returns no id');
SELECT results_eq(format($$SELECT result ->> 'payment_intent_id' FROM app.outbox WHERE id = %s$$, :charge),
  $$VALUES ('pi_many_1'::text)$$, 'and keeps the first result');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT status, payment_intent_id FROM app.scheduled_payments WHERE id = %L$$, :'pay'),
  $$VALUES ('pending'::text, 'pi_many_1'::text)$$, 'the late "succeeded" is not applied: the payment is unchanged');
SELECT tests.authenticate_as(NULL, 'worker');
SELECT ok(NOT api.outbox_complete(:e2, 'w2', '{"message_id": "m3"}'), 'the single call agrees: already done');

-- Mixed batch, an id given twice: only the rows not yet done, each once, with its first result.
SELECT tests.clear_authentication();
SELECT app_private.outbox_enqueue('noop', 'many:a', '{}') AS a \gset
SELECT app_private.outbox_enqueue('noop', 'many:b', '{}') AS b \gset
SELECT tests.authenticate_as(NULL, 'worker');
SELECT is(api.outbox_complete_many('w1', ARRAY[:e1, :b, :a, :b]::bigint[],
            ARRAY['{}', '{"n": 1}', '{"n": 2}', '{"n": 3}']::jsonb[]),
  ARRAY[:a, :b]::bigint[], 'a mixed batch completes only the rows not done yet, a repeated id once');
SELECT results_eq(format($$SELECT result ->> 'n' FROM app.outbox WHERE id IN (%s, %s) ORDER BY id$$, :a, :b),
  $$VALUES ('2'::text), ('1'::text)$$, 'each with the first result given for it');

-- All or nothing: an apply that raises rolls the whole call back (the worker then retries one by one).
SELECT tests.clear_authentication();
SELECT app_private.outbox_enqueue('noop', 'many:c', '{}') AS c \gset
SELECT app_private.outbox_enqueue('stripe.charge', 'many:bad', '{"payment_id": "not-a-uuid"}') AS bad \gset
SELECT tests.authenticate_as(NULL, 'worker');
SELECT throws_ok(format($$SELECT api.outbox_complete_many('w1', ARRAY[%s, %s]::bigint[], ARRAY['{}', '{}']::jsonb[])$$,
                        :c, :bad), '22P02', NULL, 'a row whose apply raises fails the call');
SELECT is_empty(format($$SELECT 1 FROM app.outbox WHERE id IN (%s, %s) AND status = 'done'$$, :c, :bad),
  'and neither row of that call is done');
SELECT throws_ok(format($$SELECT api.outbox_complete_many('w1', ARRAY[%s]::bigint[], ARRAY['{}', '{}']::jsonb[])$$, :c),
  'AD422', NULL, 'arrays of different lengths are refused (422 invalid_value)');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;
