-- The trusted clock: the one source of "now" for every function, trigger and job.
--
-- now(): the transaction's start time (PostgreSQL's now()), unless this database allows clock
-- injection (app.clock_settings.injection_allowed, which only the owner can set: test databases)
-- and the session or transaction set `autodoc.now` (SET LOCAL autodoc.now = '2030-01-07 10:00Z').
-- In a normal install `autodoc.now` is ignored: a caller who sets it gets the real time, so no
-- application role can book in the past or stretch a hold. Plain SQL without SET so the planner
-- inlines it; it names only pg_catalog functions and app.clock_settings (readable by every role).
CREATE OR REPLACE FUNCTION app_private.now() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN nullif(current_setting('autodoc.now', true), '') IS NOT NULL
                   AND (SELECT c.injection_allowed FROM app.clock_settings c)
              THEN current_setting('autodoc.now', true)::timestamptz
              ELSE pg_catalog.now() END
$$;
GRANT EXECUTE ON FUNCTION app_private.now()
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;
