-- Status lifecycle (trigger), the append-only audit log, and api.set_session_status.
BEGIN;
SELECT plan(30);
SET LOCAL timezone = 'UTC';

-- on shift: the immediate request below is offered to them (matching runs at creation)
SELECT tests.create_workshop_mechanic(p_on_shift => true) AS m \gset
SELECT tests.create_customer() AS c \gset
SELECT tests.create_customer() AS c2 \gset
SELECT tests.create_admin() AS admin \gset

-- the whole transition table, for scheduled and for immediate sessions
SELECT results_eq($$
  SELECT f || '->' || t FROM unnest(ARRAY['held','scheduled','pending','waiting','active','completed','cancelled']) WITH ORDINALITY a(f, i)
  CROSS JOIN unnest(ARRAY['held','scheduled','pending','waiting','active','completed','cancelled']) WITH ORDINALITY b(t, j)
  WHERE app_private.session_transition_allowed(f, t, true) ORDER BY i, j$$,
  $$VALUES ('held->scheduled'), ('held->cancelled'), ('scheduled->pending'), ('scheduled->cancelled'),
           ('pending->active'), ('pending->cancelled'), ('waiting->active'), ('waiting->cancelled'), ('active->completed')$$,
  'scheduled sessions: held -> scheduled -> pending -> active -> completed, cancel before active');
SELECT results_eq($$
  SELECT f || '->' || t FROM unnest(ARRAY['pending','waiting','active']) WITH ORDINALITY a(f, i)
  CROSS JOIN unnest(ARRAY['held','scheduled','pending','waiting','active','completed','cancelled']) WITH ORDINALITY b(t, j)
  WHERE app_private.session_transition_allowed(f, t, false) ORDER BY i, j$$,
  $$VALUES ('pending->waiting'), ('pending->cancelled'), ('waiting->active'), ('waiting->cancelled'), ('active->completed')$$,
  'immediate sessions: pending -> waiting -> active -> completed, cancel before active');

------------------------------------------------------------------ scheduled: the happy path
SELECT tests.book(:'c', :'m', '2026-06-12 15:00Z', 'standard', '2026-06-10 12:00Z') AS s \gset
SELECT tests.authenticate_as(:'admin', 'admin');
SELECT lives_ok(format($$UPDATE app.sessions SET status = 'pending' WHERE id = %L$$, :'s'), 'scheduled -> pending');
SELECT lives_ok(format($$UPDATE app.sessions SET status = 'active' WHERE id = %L$$, :'s'), 'pending -> active (scheduled session)');
SELECT ok((SELECT started_at IS NOT NULL FROM app.sessions WHERE id = :'s'), 'becoming active stamps started_at');
SELECT throws_ok(format($$UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = %L$$, :'s'),
  'AD409', 'Cannot change a session from active to cancelled', 'active -> cancelled is illegal: 409 illegal_transition');
SELECT lives_ok(format($$UPDATE app.sessions SET status = 'completed' WHERE id = %L$$, :'s'), 'active -> completed');
SELECT ok((SELECT completed_at IS NOT NULL FROM app.sessions WHERE id = :'s'), 'completing stamps completed_at');
SELECT throws_ok(format($$UPDATE app.sessions SET status = 'scheduled' WHERE id = %L$$, :'s'),
  'AD409', 'Cannot change a session from completed to scheduled', 'completed is final');
SELECT is(tests.error_of(format($$UPDATE app.sessions SET status = 'scheduled' WHERE id = %L$$, :'s')) ->> 'hint',
  'illegal_transition', 'the stable code is illegal_transition');
SELECT throws_ok(format($$UPDATE app.sessions SET scheduled_for = scheduled_for + interval '1 day', ends_at = ends_at + interval '1 day' WHERE id = %L$$, :'s'),
  'AD409', 'A session that is completed cannot be moved', 'a finished session cannot be moved');
SELECT results_eq(format($$SELECT event_type, from_status, to_status, actor_role FROM app.session_events WHERE session_id = %L ORDER BY id$$, :'s'),
  $$VALUES ('created', NULL, 'scheduled', 'customer'), ('status_changed', 'scheduled', 'pending', 'admin'),
           ('status_changed', 'pending', 'active', 'admin'), ('status_changed', 'active', 'completed', 'admin')$$,
  'every status change is appended to session_events with the actor');
SELECT tests.clear_authentication();

------------------------------------------------------------------ illegal moves and cancellation
SELECT tests.book(:'c2', :'m', '2026-06-12 16:00Z', 'standard', '2026-06-10 12:00Z') AS s2 \gset
SELECT throws_ok(format($$UPDATE app.sessions SET status = 'completed' WHERE id = %L$$, :'s2'),
  'AD409', 'Cannot change a session from scheduled to completed', 'scheduled -> completed is illegal');
SELECT throws_ok(format($$UPDATE app.sessions SET status = 'waiting' WHERE id = %L$$, :'s2'),
  'AD409', 'Cannot change a session from scheduled to waiting', 'scheduled -> waiting is illegal');
SELECT throws_ok(format($$UPDATE app.sessions SET status = 'cancelled' WHERE id = %L$$, :'s2'),
  '23514', NULL, 'a cancellation without a reason violates sessions_cancel_reason_iff_cancelled');
SELECT lives_ok(format($$UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'mechanic' WHERE id = %L$$, :'s2'),
  'scheduled -> cancelled with a reason');
SELECT ok((SELECT cancelled_at IS NOT NULL FROM app.sessions WHERE id = :'s2'), 'cancelling stamps cancelled_at');
SELECT is((SELECT metadata ->> 'cancel_reason' FROM app.session_events WHERE session_id = :'s2' AND to_status = 'cancelled'),
  'mechanic', 'the cancel reason is in the event');
SELECT throws_ok($$INSERT INTO app.sessions (customer_id, plan_code, type, concern, concern_category, is_advice_only, ends_at, status)
  SELECT id, 'standard', 'chat', 'x', 'diagnostic', true, now() + interval '1 hour', 'active' FROM app.users LIMIT 1$$,
  'AD409', 'A session cannot start as active', 'a new session cannot start active');

------------------------------------------------------------------ immediate
SELECT tests.authenticate_as(:'c2', 'customer');
SELECT tests.set_now('2026-06-10 12:00Z');
SELECT (api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true) ->> 'id') AS imm \gset
SELECT tests.clear_authentication();
SELECT throws_ok(format($$UPDATE app.sessions SET status = 'active' WHERE id = %L$$, :'imm'),
  'AD409', 'Cannot change a session from pending to active', 'immediate: pending -> active skips waiting, illegal');
SELECT throws_ok(format($$UPDATE app.sessions SET status = 'waiting' WHERE id = %L$$, :'imm'),
  'AD409', 'A session without a mechanic cannot become waiting', 'waiting needs a mechanic');
SELECT lives_ok(format($$UPDATE app.sessions SET status = 'waiting', mechanic_id = %L WHERE id = %L$$, :'m', :'imm'),
  'immediate: pending -> waiting once a mechanic accepted');

------------------------------------------------------------------ the audit log is append-only
SELECT throws_ok(format($$UPDATE app.session_events SET event_type = 'forged' WHERE session_id = %L$$, :'s'),
  'AD409', 'session_events is append-only', 'events cannot be updated (even by the superuser)');
SELECT throws_ok(format($$DELETE FROM app.session_events WHERE session_id = %L$$, :'s'),
  'AD409', 'session_events is append-only', 'events cannot be deleted');
SELECT throws_ok('TRUNCATE app.session_events CASCADE', 'AD409', 'session_events is append-only', 'events cannot be truncated');

------------------------------------------------------------------ api.set_session_status
SELECT tests.authenticate_as(:'admin', 'admin');
SELECT is(api.set_session_status(:'imm', 'active') ->> 'status', 'active', 'an admin moves a session along the lifecycle');
SELECT throws_ok(format($$SELECT api.set_session_status(%L, 'pending')$$, :'imm'),
  'AD409', 'Cannot change a session from active to pending', 'set_session_status obeys the lifecycle');
SELECT throws_ok($$SELECT api.set_session_status('00000000-0000-0000-0000-000000000000', 'cancelled', 'admin')$$,
  'AD404', 'Session not found', 'set_session_status on an unknown session: 404');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'c', 'customer');
SELECT throws_ok(format($$SELECT api.set_session_status(%L, 'cancelled', 'customer')$$, :'imm'),
  '42501', NULL, 'a customer cannot call set_session_status');
SELECT throws_ok(format($$UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = %L$$, :'s'),
  '42501', NULL, 'a customer cannot update sessions directly');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;
