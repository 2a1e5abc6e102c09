-- Live events: written with their audience, read back only by that audience, relayed to the worker
-- role, purged after the replay window.
BEGIN;
SELECT plan(8);

SELECT tests.create_user('customer', 'live-a@example.test') AS ua \gset
SELECT tests.create_user('customer', 'live-b@example.test') AS ub \gset
SELECT tests.set_now('2031-05-01 12:00+00');
SELECT app_private.emit_live_event('session.status', ARRAY[:'ua'::uuid, :'ua'::uuid, NULL], '{"status": "waiting"}') AS e1 \gset
SELECT app_private.emit_live_event('offer.created', ARRAY[:'ub'::uuid], '{}') AS e2 \gset
SELECT is((SELECT audience FROM app.live_events WHERE id = :e1), ARRAY[:'ua'::uuid], 'the audience is deduplicated, NULLs dropped');
SELECT throws_ok($$SELECT app_private.emit_live_event('x', '{}'::uuid[], '{}')$$, '23514', NULL,
  'an event without audience is refused');

SELECT tests.authenticate_as(:'ua', 'customer');
SELECT is(ARRAY(SELECT id FROM api.my_live_events(0)), ARRAY[:e1::bigint], 'a customer replays only their own events');
SELECT is(ARRAY(SELECT id FROM api.my_live_events(:e1)), '{}'::bigint[], 'replay starts after Last-Event-ID');
SELECT throws_ok($$SELECT * FROM api.live_events_after(0)$$, '42501', NULL, 'a customer cannot read the relay feed');
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(NULL, 'worker');
SELECT is(ARRAY(SELECT id FROM api.live_events_after(0)), ARRAY[:e1::bigint, :e2::bigint], 'the relay reads every event in order');
SELECT tests.clear_authentication();

SELECT tests.set_now('2031-05-01 13:00:01+00');
SELECT is(api.purge_live_events(), 2, 'events older than the one-hour window are purged');
SELECT is(api.purge_live_events(), 0, 'purging again deletes nothing');

SELECT * FROM finish();
ROLLBACK;
