-- Security audit: grants and roles. The API login role holds nothing until it SET ROLEs; anon and
-- the worker can execute exactly what they need; application roles cannot become one another;
-- every project object belongs to the owner.
BEGIN;
SELECT plan(16);

------------------------------------------------------------------ autodoc_api (NOINHERIT)
SELECT is_empty($$SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname IN ('app', 'app_private', 'api') AND c.relkind IN ('r', 'v', 'm', 'S')
    AND has_table_privilege('autodoc_api', c.oid, 'SELECT, INSERT, UPDATE, DELETE')$$,
  'the API login role holds no table privilege of its own');
-- Its one privilege of its own: starting a request (app_private.begin_request decides the caller's role
-- from app.users, through one definer lookup), so it needs USAGE on app_private and nothing else.
SELECT is_empty($$SELECT nspname FROM pg_namespace WHERE nspname IN ('app', 'api')
  AND has_schema_privilege('autodoc_api', oid, 'USAGE')$$, 'the API login role has no USAGE on app or api');
SELECT set_eq($$SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname IN ('app', 'app_private', 'api') AND has_function_privilege('autodoc_api', p.oid, 'EXECUTE')$$,
  ARRAY['app_private.begin_request(jsonb)', 'app_private.token_user_role(uuid)'],
  'the API login role executes only the request start (and its role lookup)');
SET LOCAL ROLE autodoc_api;
SELECT throws_ok('SELECT email FROM app.users', '42501', NULL, 'the API login role cannot read tables without SET ROLE');
SELECT throws_ok('SELECT api.whoami()', '42501', NULL, 'nor call api functions');
RESET ROLE;
SELECT ok(NOT pg_has_role('autodoc_api', 'autodoc_owner', 'MEMBER') AND NOT pg_has_role('autodoc_api', 'postgres', 'MEMBER'),
  'the API login role cannot become the owner or the superuser');

------------------------------------------------------------------ application roles
SELECT is_empty($$SELECT m.rolname || ' -> ' || r.rolname FROM pg_auth_members am
  JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
  WHERE m.rolname IN ('autodoc_anon', 'autodoc_customer', 'autodoc_mechanic', 'autodoc_admin', 'autodoc_worker')$$,
  'no application role is a member of another role');
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname IN ('app', 'app_private', 'api') AND p.proowner <> 'autodoc_owner'::regrole$$,
  'every project function belongs to the owner (no definer runs as the superuser)');
SELECT is_empty($$SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname IN ('app', 'app_private', 'api') AND c.relowner <> 'autodoc_owner'::regrole$$,
  'every project table belongs to the owner');
SELECT is_empty($$SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'app' AND c.relkind IN ('r', 'S') AND has_table_privilege('public', c.oid, 'SELECT, INSERT, UPDATE, DELETE')$$,
  'PUBLIC has no privilege on any app table');

------------------------------------------------------------------ what anon and the worker may execute
SELECT set_eq($$SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = 'api' AND has_function_privilege('autodoc_anon', p.oid, 'EXECUTE')$$,
  ARRAY['check_availability', 'mechanic_slots', 'mechanic_calendar', 'list_mechanics', 'list_available_mechanics',
        'health', 'outbox_health', 'whoami',
        -- a signed-in person without a profile runs as anon with their user id (visitors get 401)
        'save_my_customer_profile', 'apply_as_mechanic', 'my_mechanic_application', 'export_my_data',
        'delete_my_account'],
  'anon executes only the public directory, availability (free/busy), health, whoami and self-service');
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = 'app_private' AND p.prosecdef AND has_function_privilege('autodoc_anon', p.oid, 'EXECUTE')$$,
  'anon executes no private SECURITY DEFINER helper');
SELECT set_eq($$SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = 'api' AND has_function_privilege('autodoc_worker', p.oid, 'EXECUTE')$$,
  ARRAY['outbox_claim', 'outbox_complete', 'outbox_complete_many', 'outbox_apply_due', 'outbox_fail', 'outbox_release', 'worker_started', 'worker_heartbeat',
        'stripe_apply_event', 'release_expired_holds', 'check_availability', 'mechanic_slots', 'mechanic_calendar',
        'health', 'outbox_health', 'outbox_kinds', 'whoami', 'live_events_after', 'live_events_head'],
  'the worker executes only the outbox (and its kind registry), webhook, hold-release and live-event relay functions (plus the public ones)');
SELECT is_empty($$SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'app' AND c.relkind = 'r'
    AND c.relname NOT IN ('outbox', 'outbox_kinds', 'outbox_lanes', 'worker_heartbeats', 'plans', 'booking_settings', 'workshops', 'workshop_availability', 'mechanics',
                          'clock_settings', 'live_events')
    AND has_table_privilege('autodoc_worker', c.oid, 'SELECT, INSERT, UPDATE, DELETE')$$,
  'the worker has table rights only on the outbox, its kind registry (read), heartbeats, live events (the relay) and public reference data');

SELECT tests.authenticate_as(NULL, 'anon');
SELECT throws_ok($$SELECT * FROM api.my_appointments()$$, '42501', NULL, 'anon cannot list appointments');
SELECT throws_ok($$SELECT api.appointment_invite(gen_random_uuid())$$, '42501', NULL, 'anon cannot read invites');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;
