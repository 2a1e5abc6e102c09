-- No double booking by constraint: the exclusion constraints hold even when the friendly checks
-- of the booking functions are bypassed (raw inserts/updates as the superuser).
BEGIN;
SELECT plan(20);
SET LOCAL timezone = 'UTC';

-- raw_session(): insert a session directly, skipping every application check.
CREATE FUNCTION tests.raw_session(p_customer uuid, p_mechanic uuid, p_start timestamptz, p_minutes int DEFAULT 30,
                                  p_status text DEFAULT 'scheduled') RETURNS uuid
LANGUAGE sql AS $$
  INSERT INTO app.sessions (customer_id, mechanic_id, plan_code, type, concern, concern_category, is_advice_only,
                            scheduled_for, ends_at, status, hold_expires_at)
  VALUES (p_customer, p_mechanic, 'standard', CASE WHEN p_status <> 'held' THEN 'video' END,
          CASE WHEN p_status <> 'held' THEN 'x' END, CASE WHEN p_status <> 'held' THEN 'diagnostic' END, true,
          p_start, p_start + make_interval(mins => p_minutes), p_status,
          CASE WHEN p_status = 'held' THEN p_start - interval '1 day' END)
  RETURNING id
$$;

SELECT is((SELECT array_agg(conname::text ORDER BY conname) FROM pg_constraint WHERE conrelid = 'app.sessions'::regclass AND contype = 'x'),
  ARRAY['sessions_no_customer_overlap', 'sessions_no_mechanic_overlap'],
  'sessions carry the two exclusion constraints the API maps to 409 slot_unavailable');

SELECT tests.create_workshop_mechanic() AS m \gset
SELECT tests.create_workshop_mechanic() AS m2 \gset
SELECT tests.create_customer() AS c1 \gset
SELECT tests.create_customer() AS c2 \gset
SELECT tests.create_customer() AS c3 \gset
SELECT tests.create_customer() AS c4 \gset
SELECT tests.create_workshop_mechanic() AS m3 \gset

SELECT tests.raw_session(:'c1', :'m', '2026-06-12 15:00Z') AS s1 \gset
SELECT is(tests.error_of(format($$SELECT tests.raw_session(%L, %L, '2026-06-12 15:15Z')$$, :'c2', :'m'))
          - 'message' - 'detail' - 'hint',
  '{"sqlstate": "23P01", "constraint": "sessions_no_mechanic_overlap"}'::jsonb,
  'an overlapping booking of the same mechanic violates sessions_no_mechanic_overlap');
SELECT lives_ok(format($$SELECT tests.raw_session(%L, %L, '2026-06-12 15:30Z')$$, :'c2', :'m'),
  'back-to-back bookings do not overlap (half-open ranges)');
SELECT lives_ok(format($$SELECT tests.raw_session(%L, %L, '2026-06-12 15:00Z')$$, :'c3', :'m2'),
  'another mechanic at the same time is fine');
SELECT is(tests.error_of(format($$SELECT tests.raw_session(%L, %L, '2026-06-12 15:15Z', 30)$$, :'c1', :'m3')) ->> 'constraint',
  'sessions_no_customer_overlap', 'a customer cannot have two overlapping appointments');
SELECT lives_ok(format($$SELECT tests.raw_session(%L, NULL, '2026-06-12 15:00Z')$$, :'c2'),
  'sessions without a mechanic do not take a mechanic''s time');
SELECT is(tests.error_of(format($$SELECT tests.raw_session(%L, NULL, '2026-06-12 15:10Z')$$, :'c2')) ->> 'constraint',
  'sessions_no_customer_overlap', 'but they still take the customer''s time');

-- statuses that hold time
UPDATE app.sessions SET status = 'pending' WHERE id = :'s1';
SELECT is(tests.error_of(format($$SELECT tests.raw_session(%L, %L, '2026-06-12 15:00Z')$$, :'c4', :'m')) ->> 'constraint',
  'sessions_no_mechanic_overlap', 'a pending session blocks');
UPDATE app.sessions SET status = 'active' WHERE id = :'s1';
SELECT is(tests.error_of(format($$SELECT tests.raw_session(%L, %L, '2026-06-12 15:00Z')$$, :'c4', :'m')) ->> 'constraint',
  'sessions_no_mechanic_overlap', 'an active session blocks');
UPDATE app.sessions SET status = 'completed' WHERE id = :'s1';
SELECT lives_ok(format($$SELECT tests.raw_session(%L, %L, '2026-06-12 15:00Z')$$, :'c4', :'m'),
  'a completed session frees the time');

SELECT tests.raw_session(:'c1', :'m', '2026-06-13 15:00Z') AS s2 \gset
UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = :'s2';
SELECT lives_ok(format($$SELECT tests.raw_session(%L, %L, '2026-06-13 15:00Z')$$, :'c2', :'m'),
  'a cancelled session frees the time');

SELECT tests.raw_session(:'c1', :'m', '2026-06-14 15:00Z', 30, 'held') AS h \gset
SELECT is(tests.error_of(format($$SELECT tests.raw_session(%L, %L, '2026-06-14 15:00Z')$$, :'c2', :'m')) ->> 'constraint',
  'sessions_no_mechanic_overlap', 'a hold blocks bookings through the same constraint');
SELECT is(tests.error_of(format($$SELECT tests.raw_session(%L, %L, '2026-06-14 15:00Z', 30, 'held')$$, :'c2', :'m')) ->> 'constraint',
  'sessions_no_mechanic_overlap', 'a hold blocks other holds');
SELECT is(tests.error_of(format($$SELECT tests.raw_session(%L, %L, '2026-06-14 15:00Z')$$, :'c1', :'m2')) ->> 'constraint',
  'sessions_no_customer_overlap', 'a customer''s hold blocks their own overlapping bookings');
SELECT is((SELECT hold_expires_at FROM app.sessions WHERE id = :'h'), '2026-06-13 15:00Z'::timestamptz,
  'the hold above lapsed a day before its slot: a lapsed hold still counts until released (functions release it first)');
SELECT tests.set_now('2026-06-14 00:00Z');
SELECT is(api.release_expired_holds(), 1, 'releasing it ...');
SELECT lives_ok(format($$SELECT tests.raw_session(%L, %L, '2026-06-14 15:00Z')$$, :'c2', :'m'),
  '... frees the slot');

-- updates are checked too
SELECT tests.raw_session(:'c3', :'m', '2026-06-15 15:00Z') AS s3 \gset
SELECT tests.raw_session(:'c1', :'m', '2026-06-15 16:00Z') AS s4 \gset
SELECT is(tests.error_of(format($$UPDATE app.sessions SET scheduled_for = '2026-06-15 15:15Z', ends_at = '2026-06-15 15:45Z' WHERE id = %L$$, :'s4')) ->> 'constraint',
  'sessions_no_mechanic_overlap', 'moving a booking onto another one violates the constraint');
SELECT lives_ok(format($$UPDATE app.sessions SET scheduled_for = '2026-06-15 16:15Z', ends_at = '2026-06-15 16:45Z' WHERE id = %L$$, :'s4'),
  'moving a booking onto part of its own old time is fine (one row, one update)');
SELECT is((SELECT count(*)::int FROM app.sessions a JOIN app.sessions b ON a.mechanic_id = b.mechanic_id AND a.id < b.id
           AND a.period && b.period
           WHERE a.status IN ('held','scheduled','pending','waiting','active') AND b.status IN ('held','scheduled','pending','waiting','active')),
  0, 'no two active bookings of one mechanic overlap');

SELECT * FROM finish();
ROLLBACK;
