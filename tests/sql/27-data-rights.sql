-- Data rights: export everything, delete the account. Deletion is refused while appointments are
-- upcoming; afterwards no text, varchar, json, jsonb or text[] column of ANY table in the database
-- holds the person's email, name or phone, while money and audit rows remain (opaque id, amounts,
-- dates), and the account's tokens are refused.
BEGIN;
SELECT plan(25);

SELECT gen_random_uuid() AS z \gset
SELECT tests.create_admin('ada@example.test') AS a \gset
SELECT tests.se_mechanic('America/Toronto', false, 'mona@example.test', 'Mona Mechanic') AS m \gset

-- Zelda applies as a mechanic (rejected), then signs up as a customer, with a vehicle, a favorite,
-- a past appointment that was paid and cancelled, and an upcoming one.
SELECT tests.sign_in(:'z', 'zelda.q@example.test');
SELECT api.apply_as_mechanic('Zelda Quixote-Unique', p_timezone => 'America/Toronto', p_phone => '+1 416 555 0123') ->> 'id' AS app \gset
SELECT tests.clear_authentication();
SELECT tests.sign_in(:'a');
SELECT api.reject_mechanic_application(:'app', 'Not yet');
SELECT tests.clear_authentication();
SELECT tests.sign_in(:'z', 'zelda.q@example.test');
SELECT api.save_my_customer_profile('Zelda Quixote-Unique', 'America/Toronto', '+1 416 555 0123', 'CA', 'ON', 'Toronto', 'M4C 1B5');
SELECT tests.clear_authentication();
SELECT tests.sign_in(:'z', 'zelda.q@example.test');  -- the next request runs as a customer
SELECT api.add_vehicle('Honda', 'Civic', 2018, '2HGFC2F59JH000001', 42000, 'ZELDA 1') AS v \gset
SELECT api.add_vehicle('Mazda', 'CX-5', 2021, NULL, NULL, 'ZQ 22') AS v2 \gset
SELECT api.add_favorite(:'m');
SELECT tests.clear_authentication();

SELECT tests.se_session(:'z', :'m', date_trunc('hour', now()) + interval '3 days') AS past \gset
UPDATE app.sessions SET vehicle_id = :'v', concern = 'Zelda Quixote-Unique here: brakes squeal, call +1 416 555 0123',
                        special_requests = 'Ask for Zelda', metadata = '{"contact": "zelda.q@example.test"}' WHERE id = :'past';
INSERT INTO app.scheduled_payments (session_id, customer_id, payment_intent_id, amount_cents, payment_type, status, idempotency_key, charged_at)
VALUES (:'past', :'z', 'pi_zelda_1', 2900, 'full', 'succeeded', 'charge:zelda:1', now()) RETURNING id AS pay \gset
INSERT INTO app.stripe_events (id, type, payload)
VALUES ('evt_zelda_1', 'payment_intent.succeeded', tests.se_event('evt_zelda_1', 'payment_intent.succeeded',
        '{"id": "pi_zelda_1", "receipt_email": "zelda.q@example.test", "amount": 2900}'));
SELECT app_private.emit_live_event('test.note', ARRAY[:'z'::uuid, :'m'::uuid],
  '{"customer_name": "Zelda Quixote-Unique"}', :'past'::uuid);
UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = :'past';
SELECT tests.se_session(:'z', :'m', date_trunc('hour', now()) + interval '5 days') AS upcoming \gset
INSERT INTO app.waitlist_entries (customer_id, concern, vehicle_id, plan_code, status, closed_at, close_reason)
VALUES (:'z', 'Zelda Quixote-Unique: the car will not start', :'v2', 'standard', 'cancelled', now(), 'customer');

-- Export.
SELECT tests.sign_in(:'z', 'zelda.q@example.test');
SELECT api.export_my_data() AS export \gset
SELECT is((:'export'::jsonb) #>> '{account,email}', 'zelda.q@example.test', 'export: the account');
SELECT is((:'export'::jsonb) #>> '{customer,phone}', '+1 416 555 0123', 'the customer profile');
SELECT is(jsonb_array_length((:'export'::jsonb) -> 'vehicles'), 2, 'the vehicles');
SELECT is((:'export'::jsonb) #>> '{favorites,0,mechanic_id}', :'m', 'the favorites');
SELECT is(jsonb_array_length((:'export'::jsonb) -> 'sessions'), 2, 'the sessions');
SELECT is((SELECT max(jsonb_array_length(x -> 'events')) FROM jsonb_array_elements((:'export'::jsonb) -> 'sessions') x), 2,
  'with their audit events (created, then cancelled)');
SELECT is((:'export'::jsonb) #>> '{payments,0,amount_cents}', '2900', 'the payments');
SELECT ok(NOT ((:'export'::jsonb) -> 'payments' -> 0 ? 'client_secret'), 'without the Stripe client secret');
SELECT is((:'export'::jsonb) #>> '{credit,balance_cents}', '0', 'the credit balance');
SELECT is((:'export'::jsonb) #>> '{mechanic_applications,0,status}', 'rejected', 'the mechanic applications');
SELECT is((:'export'::jsonb) #>> '{waitlist,0,status}', 'cancelled', 'the waitlist entries');

-- Deletion is refused while something is upcoming.
SELECT is((tests.error_of($$SELECT api.delete_my_account()$$)) ->> 'hint', 'upcoming_bookings',
  'deletion is refused while an appointment is upcoming (409 upcoming_bookings)');
SELECT is(((tests.error_of($$SELECT api.delete_my_account()$$)) ->> 'detail')::jsonb #>> '{appointments,0,id}', :'upcoming',
  'with the list of what to cancel first');
SELECT tests.clear_authentication();
UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = :'upcoming';

SELECT tests.sign_in(:'z', 'zelda.q@example.test');
SELECT is(api.delete_my_account(), jsonb_build_object('user_id', :'z', 'deleted', true), 'then the account is deleted');
SELECT tests.clear_authentication();

-- Nothing personal remains anywhere.
CREATE TEMP TABLE leftovers (where_found text, n bigint);
DO $$
DECLARE
  r record;
  n bigint;
BEGIN
  FOR r IN
    SELECT c.oid::regclass AS tbl, a.attname
      FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relkind IN ('r', 'p') AND ns.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND ns.nspname NOT LIKE 'pg_temp%' AND ns.nspname NOT LIKE 'pg_toast_temp%'
       AND a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'json'::regtype, 'jsonb'::regtype,
                          'text[]'::regtype, 'varchar[]'::regtype)
  LOOP
    EXECUTE format('SELECT count(*) FROM %s WHERE %I::text ILIKE ANY ($1)', r.tbl, r.attname)
      USING ARRAY['%zelda.q@example.test%', '%Zelda Quixote-Unique%', '%416 555 0123%', '%ZELDA 1%', '%2HGFC2F59JH000001%']
      INTO n;
    IF n > 0 THEN
      INSERT INTO leftovers VALUES (r.tbl || '.' || r.attname, n);
    END IF;
  END LOOP;
END
$$;
SELECT is_empty('SELECT * FROM leftovers', 'no email, name, phone, plate or VIN remains in any column of any table');
SELECT ok((SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace ns ON ns.oid = c.relnamespace
           WHERE ns.nspname = 'app' AND c.relkind = 'r' AND a.atttypid IN ('text'::regtype, 'jsonb'::regtype)) > 50,
  'the scan covered the app tables'' text and jsonb columns');

-- What money and audit need stays.
SELECT is((SELECT count(*)::int FROM app.sessions WHERE customer_id = :'z'), 2, 'the sessions remain (opaque customer id)');
SELECT is((SELECT amount_cents FROM app.scheduled_payments WHERE id = :'pay'), 2900, 'the payment and its amount remain');
SELECT ok((SELECT count(*) FROM app.session_events WHERE session_id = :'past') >= 2, 'the audit log remains');
SELECT is((SELECT make || ' ' || model || ' ' || coalesce(vin, '-') FROM app.vehicles WHERE id = :'v'), 'Honda Civic -',
  'a vehicle a session refers to remains without VIN and plate');
SELECT is((SELECT count(*)::int FROM app.vehicles WHERE id = :'v2'), 0, 'the other vehicle is gone');
SELECT ok((SELECT deleted_at IS NOT NULL AND email LIKE 'deleted+%@deleted.invalid' FROM app.users WHERE id = :'z'),
  'the user row keeps its id only');
SELECT is((SELECT count(*)::int FROM app.outbox WHERE status = 'pending'
             AND (payload #>> '{to,email}' LIKE 'zelda%' OR payload ->> 'recipient_id' = :'z')), 0,
  'no email to the person is left to send');
SELECT ok((SELECT count(*) FROM app.outbox WHERE payload ->> 'recipient_id' = :'z' AND result ->> 'skipped' = 'account_deleted') > 0,
  'her session emails (ids only) that were not sent yet are done as skipped');
SET LOCAL ROLE autodoc_api;
SELECT throws_ok(format($$SELECT app_private.begin_request(jsonb_build_object('sub', %L::uuid))$$, :'z'), 'AD403',
  'This account has been deleted', 'the account''s tokens are refused from now on');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
