-- Waivers: the signing windows of SPEC section 7 at their exact boundaries (trusted clock, a DST
-- day included), who may sign, signing twice, bad signature payloads (422, nothing stored), the
-- immediate charge after signing, versions, and row-level security (the image never listed).
BEGIN;
SELECT plan(58);
SET LOCAL timezone = 'UTC';

SELECT tests.se_customer() AS c \gset
SELECT tests.se_customer() AS c2 \gset
SELECT tests.se_mechanic() AS m \gset
SELECT tests.se_mechanic('America/Toronto', true) AS mw \gset
SELECT tests.lv_open_all_day(:'m'), tests.lv_open_all_day(:'mw');  -- any local time can be booked
SELECT tests.create_admin() AS adm \gset

CREATE FUNCTION pg_temp.sign_err(p_session uuid, p_user uuid, p_role text, p_sig text DEFAULT tests.lv_png(),
                                 p_agreed boolean DEFAULT true, p_mode text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_old text := tests.with_claims(p_user, p_role);
  v jsonb;
BEGIN
  v := tests.error_of(format('SELECT api.sign_waiver(%L, %L, %L, %L, %L, %L)', p_session, p_sig, p_agreed, p_mode,
                             '198.51.100.1', 'pgTAP'));
  PERFORM tests.restore_claims(v_old);
  RETURN v;
END
$$;
CREATE FUNCTION pg_temp.signed(p_session uuid) RETURNS int LANGUAGE sql AS
  $$SELECT count(*)::int FROM app.waiver_signatures WHERE session_id = p_session$$;

------------------------------------------------------------------ scheduled online: [start - 15 min, start + 15 min)
SELECT tests.set_now('2031-01-05 12:00+00');
SELECT tests.se_session(:'c', :'m', '2031-01-07 15:00+00') AS s \gset
SELECT tests.set_now('2031-01-07 14:44:59.999999+00');
SELECT is(pg_temp.sign_err(:'s', :'c', 'customer') ->> 'hint', 'outside_signing_window',
  'online: 15 min - 1 us before the start, signing is refused');
SELECT is((pg_temp.sign_err(:'s', :'c', 'customer') ->> 'detail')::jsonb -> 'window' ->> 'opens_at', '2031-01-07T14:45:00+00:00',
  '... and the detail says when the window opens');
SELECT is((pg_temp.sign_err(:'s', :'c', 'customer') ->> 'sqlstate'), 'AD409', '... as a 409');
SELECT is(pg_temp.signed(:'s'), 0, '... nothing stored');
SELECT tests.set_now('2031-01-07 14:45:00+00');
SELECT is(tests.lv_sign(:'s', :'c') -> 'signature' ->> 'mode', 'online', 'exactly 15 min before: signed, mode online');
SELECT tests.se_session(:'c', :'m', '2031-01-08 15:00+00') AS s_late \gset
SELECT tests.set_now('2031-01-08 15:14:59.999999+00');
SELECT is(tests.lv_sign(:'s_late', :'c') ->> 'already_signed', 'false', '15 min - 1 us after the start: still signable');
SELECT tests.se_session(:'c', :'m', '2031-01-09 15:00+00') AS s_closed \gset
SELECT tests.set_now('2031-01-09 15:15:00+00');
SELECT is(pg_temp.sign_err(:'s_closed', :'c', 'customer') ->> 'hint', 'outside_signing_window',
  'exactly 15 min after the start the window is closed (from then on it is a no-show)');
SELECT is((pg_temp.sign_err(:'s_closed', :'c', 'customer') ->> 'detail')::jsonb -> 'window' ->> 'closes_at',
  '2031-01-09T15:15:00+00:00', '... and the detail says when it closed');

-- A DST day: America/Toronto springs forward on 2031-03-09 at 02:00. A 03:00 EDT start (07:00Z) opens
-- signing at 06:45Z = 01:45 EST: the window is 15 real minutes, not a wall-clock subtraction.
SELECT tests.set_now('2031-03-07 12:00+00');
SELECT tests.se_session(:'c', :'m', '2031-03-09 03:00'::timestamp AT TIME ZONE 'America/Toronto') AS s_dst \gset
SELECT tests.set_now('2031-03-09 01:44:59'::timestamp AT TIME ZONE 'America/Toronto');
SELECT is(pg_temp.sign_err(:'s_dst', :'c', 'customer') ->> 'hint', 'outside_signing_window',
  'DST day: 01:44:59 EST (15 min + 1 s before 03:00 EDT) is outside');
SELECT tests.set_now('2031-03-09 01:45'::timestamp AT TIME ZONE 'America/Toronto');
SELECT ok((tests.lv_sign(:'s_dst', :'c') -> 'signature' ->> 'id') IS NOT NULL, 'DST day: 01:45 EST is exactly 15 min before 03:00 EDT: signed');

------------------------------------------------------------------ in person: on arrival, the customer or the mechanic's device
SELECT tests.set_now('2031-01-05 12:00+00');
SELECT tests.se_session(:'c2', :'mw', '2031-01-07 16:00+00', 'in_person') AS ip \gset
SELECT tests.set_now('2031-01-07 15:44:59+00');
SELECT is(pg_temp.sign_err(:'ip', :'mw', 'mechanic') ->> 'hint', 'outside_signing_window', 'in person: not before arrival time');
SELECT tests.set_now('2031-01-07 15:50+00');
SELECT is(pg_temp.sign_err(:'ip', :'mw', 'mechanic', p_mode => 'online') ->> 'hint', 'invalid_value',
  'in person: a signature in mode online is refused');
SELECT is(tests.lv_sign(:'ip', :'mw', 'mechanic') -> 'signature' ->> 'mode', 'in_person',
  'in person: the customer signs on the mechanic''s device, mode in_person');
SELECT results_eq(format($$SELECT customer_id, signed_by, host(ip_address), user_agent FROM app.waiver_signatures WHERE session_id = %L$$, :'ip'),
  format($$VALUES (%L::uuid, %L::uuid, '203.0.113.7'::text, 'pgTAP/1.0'::text)$$, :'c2', :'mw'),
  'the signature is the customer''s, submitted by the mechanic''s device, with the request''s IP and user agent');
SELECT is(pg_temp.sign_err(:'s', :'m', 'mechanic') ->> 'hint', 'session_not_found',
  'a mechanic cannot submit the signature of an online session');
SELECT is(pg_temp.sign_err(:'ip', :'c', 'customer') ->> 'hint', 'session_not_found', 'another customer cannot sign');
SELECT is(pg_temp.sign_err(:'ip', :'adm', 'admin') ->> 'hint', 'session_not_found', 'an admin cannot sign for a customer');

------------------------------------------------------------------ signing twice returns the first
SELECT tests.set_now('2031-01-07 15:55+00');
SELECT is(tests.lv_sign(:'ip', :'c2') ->> 'already_signed', 'true', 'signing twice returns the existing signature');
SELECT is((tests.lv_sign(:'ip', :'c2') -> 'signature' ->> 'signed_by')::uuid, :'mw'::uuid, '... the first one');
SELECT is(pg_temp.signed(:'ip'), 1, '... and stores one');
SELECT is((SELECT count(*)::int FROM app.session_events WHERE session_id = :'ip' AND event_type = 'waiver_signed'), 1,
  'one waiver_signed session event');
SELECT is((SELECT count(*)::int FROM app.live_events WHERE session_id = :'ip' AND kind = 'waiver.signed'
            AND audience @> ARRAY[:'c2'::uuid, :'mw'::uuid]), 1, 'one waiver.signed live event to both sides');

------------------------------------------------------------------ bad payloads: 422, nothing stored
SELECT tests.set_now('2031-01-05 12:00+00');
SELECT tests.se_session(:'c2', :'m', '2031-01-10 15:00+00') AS bad \gset
SELECT tests.set_now('2031-01-10 14:50+00');
SELECT results_eq(
  format($$SELECT e ->> 'sqlstate', e ->> 'hint', (e ->> 'detail')::jsonb ->> 'reason' FROM (VALUES
    (pg_temp.sign_err(%1$L, %2$L, 'customer', '')),
    (pg_temp.sign_err(%1$L, %2$L, 'customer', NULL)),
    (pg_temp.sign_err(%1$L, %2$L, 'customer', 'data:image/png;base64,')),
    (pg_temp.sign_err(%1$L, %2$L, 'customer', 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==')),
    (pg_temp.sign_err(%1$L, %2$L, 'customer', 'data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ==')),
    (pg_temp.sign_err(%1$L, %2$L, 'customer', 'data:image/png;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==')),
    (pg_temp.sign_err(%1$L, %2$L, 'customer', 'data:image/png;base64,not base64!')),
    (pg_temp.sign_err(%1$L, %2$L, 'customer', tests.lv_png_of_size(131073)))) v (e)$$, :'bad', :'c2'),
  $$VALUES ('AD422', 'invalid_signature', 'empty'), ('AD422', 'invalid_signature', 'empty'),
           ('AD422', 'invalid_signature', 'empty'), ('AD422', 'invalid_signature', 'not_data_url'),
           ('AD422', 'invalid_signature', 'not_data_url'), ('AD422', 'invalid_signature', 'not_png'),
           ('AD422', 'invalid_signature', 'not_base64'), ('AD422', 'invalid_signature', 'too_large')$$,
  'empty, missing, a bare base64 string, a JPEG, a GIF labelled PNG, broken base64, 1 byte over the limit: 422 invalid_signature with the reason');
SELECT is(pg_temp.sign_err(:'bad', :'c2', 'customer', p_agreed => false) ->> 'hint', 'agreement_required',
  'not agreeing is refused (422 agreement_required)');
SELECT is(pg_temp.signed(:'bad'), 0, 'none of them stored anything');
SELECT is((SELECT count(*)::int FROM app.session_events WHERE session_id = :'bad' AND event_type = 'waiver_signed'), 0,
  '... nor logged a signature');
SELECT is((tests.lv_as(:'c2', 'customer', format('SELECT api.sign_waiver(%L, %L, true)', :'bad', tests.lv_png_of_size(131072)))
           -> 'signature' ->> 'signature_bytes')::int, 131072, 'exactly the size limit is accepted');
SELECT throws_ok($$INSERT INTO app.waiver_signatures (session_id, customer_id, waiver_version, mode, signature_data_url,
                     signature_bytes, agreed, signed_by, signed_at)
                   SELECT id, customer_id, 1, 'online', 'data:image/gif;base64,R0lG', 4, true, customer_id, now()
                     FROM app.sessions WHERE status = 'scheduled' LIMIT 1$$, '23514', NULL,
  'the table itself refuses a signature that is not a PNG data URL');

------------------------------------------------------------------ immediate: after a mechanic accepts, before payment
SELECT tests.set_now('2031-01-11 10:00+00');
SELECT tests.lv_immediate(:'c') AS imm \gset
SELECT is(pg_temp.sign_err(:'imm', :'c', 'customer') ->> 'hint', 'outside_signing_window',
  'immediate: no mechanic has accepted yet: refused');
SELECT is((pg_temp.sign_err(:'imm', :'c', 'customer') ->> 'detail')::jsonb -> 'window' ->> 'opens_when', 'mechanic_accepted',
  '... the detail says it opens when a mechanic accepts');
SELECT is((SELECT count(*)::int FROM app.scheduled_payments WHERE session_id = :'imm'), 0, 'an immediate request is not charged');
SELECT tests.clear_authentication();
INSERT INTO app.session_assignments (session_id, mechanic_id, status, offered_at, responded_at)
VALUES (:'imm', :'m', 'accepted', '2031-01-11 10:00+00', '2031-01-11 10:01+00');
UPDATE app.mechanics SET currently_on_shift = true WHERE user_id = :'m';  -- an immediate session needs a mechanic on shift
UPDATE app.sessions SET mechanic_id = :'m', status = 'waiting' WHERE id = :'imm';
SELECT tests.set_now('2031-01-11 10:02+00');
SELECT ok((tests.lv_sign(:'imm', :'c') -> 'session' ->> 'paid')::boolean IS FALSE, 'accepted: signed, not paid yet');
SELECT results_eq(format($$SELECT payment_type, amount_cents, status FROM app.scheduled_payments WHERE session_id = %L$$, :'imm'),
  $$VALUES ('full'::text, 2900, 'pending'::text)$$, 'signing charges the full plan price');
SELECT is((SELECT count(*)::int FROM app.outbox WHERE kind = 'stripe.charge' AND session_id = :'imm'), 1,
  '... through the outbox, once');
SELECT tests.lv_sign(:'imm', :'c') IS NOT NULL AS again;
SELECT is((SELECT count(*)::int FROM app.outbox WHERE kind = 'stripe.charge' AND session_id = :'imm'), 1,
  'signing again charges nothing more');

------------------------------------------------------------------ versions
SELECT is((tests.lv_as(:'c', 'customer', 'SELECT api.current_waiver()')) ->> 'version', '1', 'version 1 is in force');
SELECT is(tests.lv_as(:'c', 'customer', $$SELECT to_jsonb(tests.error_of('SELECT api.publish_waiver(''x'', ''y'')'))$$) ->> 'hint',
  'forbidden', 'a customer cannot publish a waiver');
SELECT is(tests.lv_as(:'adm', 'admin', $$SELECT api.publish_waiver('Waiver v2', 'New terms.')$$) ->> 'version', '2',
  'an admin publishes version 2');
SELECT tests.set_now('2031-01-05 12:00+00');
SELECT tests.se_session(:'c', :'m', '2031-01-12 15:00+00') AS s_v2 \gset
SELECT tests.set_now('2031-01-12 14:50+00');
SELECT is((tests.lv_sign(:'s_v2', :'c') -> 'signature' ->> 'waiver_version')::int, 2, 'a new signature signs version 2');
SELECT is((SELECT waiver_version FROM app.waiver_signatures WHERE session_id = :'s'), 1, 'an old signature keeps version 1');
SELECT is(tests.lv_as(:'c', 'customer', format('SELECT api.session_waiver(%L)', :'s')) -> 'waiver' ->> 'version', '1',
  'the old session''s waiver page shows the version it signed');
SELECT throws_ok($$UPDATE app.waiver_versions SET body = 'changed' WHERE version = 1$$, 'AD409', NULL,
  'a published waiver text cannot be changed');

------------------------------------------------------------------ RLS: own waivers, assigned sessions, the image never listed
SELECT tests.authenticate_as(:'c', 'customer');
SELECT is((SELECT array_agg(session_id ORDER BY session_id) FROM app.waiver_signatures),
  (SELECT array_agg(x ORDER BY x) FROM unnest(ARRAY[:'s', :'s_late', :'s_dst', :'imm', :'s_v2']::uuid[]) x),
  'a customer sees their own waivers');
SELECT throws_ok('SELECT signature_data_url FROM app.waiver_signatures', '42501', NULL, '... but not the image column');
SELECT ok(api.session_waiver(:'s') -> 'signature' ->> 'signature' LIKE 'data:image/png;base64,%',
  '... which only the one session''s waiver read returns');
SELECT throws_ok(format('SELECT api.session_waiver(%L)', :'ip'), 'AD404', NULL, 'another customer''s waiver is not found');
SELECT is_empty(format('SELECT 1 FROM app.waiver_signatures WHERE session_id = %L', :'ip'), '... nor listed');
SELECT throws_ok('INSERT INTO app.waiver_signatures (session_id) VALUES (gen_random_uuid())', '42501', NULL,
  'a customer cannot write signatures directly');
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(:'mw', 'mechanic');
SELECT is((SELECT array_agg(session_id) FROM app.waiver_signatures), ARRAY[:'ip'::uuid],
  'a mechanic sees the waivers of sessions assigned to them only');
SELECT ok(api.session_waiver(:'ip') -> 'signature' ->> 'signature' LIKE 'data:image/png;base64,%', '... and reads that one''s image');
SELECT throws_ok(format('SELECT api.session_waiver(%L)', :'s'), 'AD404', NULL, '... not another mechanic''s');
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(:'adm', 'admin');
SELECT is((SELECT count(*)::int FROM app.waiver_signatures), 7, 'an admin sees every waiver');
SELECT throws_ok('SELECT signature_data_url FROM app.waiver_signatures', '42501', NULL, '... never the image in a list');
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(NULL, 'anon');
SELECT throws_ok('SELECT 1 FROM app.waiver_signatures', '42501', NULL, 'anon reads no waiver');
SELECT tests.clear_authentication();

------------------------------------------------------------------ data rights: export has them, deletion keeps what was agreed
SELECT tests.se_customer() AS c3 \gset
SELECT tests.set_now('2031-01-05 12:00+00');
SELECT tests.se_session(:'c3', :'m', '2031-01-13 15:00+00') AS s_dr \gset
SELECT tests.set_now('2031-01-13 14:50+00');
SELECT tests.lv_sign(:'s_dr', :'c3') IS NOT NULL AS signed;
UPDATE app.sessions SET status = 'pending' WHERE id = :'s_dr';
UPDATE app.sessions SET status = 'active' WHERE id = :'s_dr';
UPDATE app.sessions SET status = 'completed', completion_notes = 'Told the customer to replace the pads' WHERE id = :'s_dr';
SELECT tests.lv_as(:'c3', 'customer', format('SELECT api.rate_session(%L, 4, %L)', :'s_dr', 'Very helpful')) IS NOT NULL AS rated;
SELECT is(tests.lv_as(:'c3', 'customer', 'SELECT api.export_my_data()') -> 'waivers' -> 0 ->> 'signature_data_url', tests.lv_png(),
  'the export holds the customer''s signature with its image');
SELECT is(tests.lv_as(:'c3', 'customer', 'SELECT api.export_my_data()') -> 'ratings' -> 0 ->> 'comment', 'Very helpful',
  '... and their ratings');
SELECT tests.lv_as(:'c3', 'customer', 'SELECT api.delete_my_account()') ->> 'deleted' AS deleted;
SELECT results_eq(format($$SELECT signature_data_url IS NULL, ip_address IS NULL, user_agent IS NULL, waiver_version, mode, agreed
                           FROM app.waiver_signatures WHERE session_id = %L$$, :'s_dr'),
  $$VALUES (true, true, true, 2, 'online'::text, true)$$,
  'deletion keeps what was agreed and when, without the image, IP and user agent');
SELECT results_eq(format($$SELECT r.rating::int, r.comment, s.completion_notes FROM app.session_ratings r
                           JOIN app.sessions s ON s.id = r.session_id WHERE r.session_id = %L$$, :'s_dr'),
  $$VALUES (4, NULL::text, NULL::text)$$, '... the rating without its comment, the session without the mechanic''s notes');

SELECT * FROM finish();
ROLLBACK;
