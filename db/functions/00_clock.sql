-- The trusted clock: the one source of "now" for every function, trigger and job.

-- injected_now(): `autodoc.now` when this database allows injection (app.clock_settings, readable by
-- every role, changeable by the owner only), else the transaction time. Called by now() only when
-- the setting is present (defined first: now()'s body names it).
CREATE OR REPLACE FUNCTION app_private.injected_now() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN (SELECT c.injection_allowed FROM app.clock_settings c)
              THEN pg_catalog.current_setting('autodoc.now', true)::timestamptz
              ELSE pg_catalog.now() END
$$;

-- now(): the transaction's start time (PostgreSQL's now()), unless this database allows clock
-- injection (app.clock_settings.injection_allowed, which only the owner can set: test databases)
-- and the session or transaction set `autodoc.now` (SET LOCAL autodoc.now = '2030-01-07 10:00Z').
-- In a normal install `autodoc.now` is ignored: a caller who sets it gets the real time, so no
-- application role can book in the past or stretch a hold by claiming another time.
-- Plain SQL without SET and without a sub-select, so the planner inlines it: the usual case (no
-- `autodoc.now` set) costs one setting lookup, also where a query evaluates it per row (measured on
-- the booking path: the clock is read ~16 times per booking; a non-inlined clock showed up among
-- the top functions of the booking profile). Only when the setting is present does injected_now()
-- read the switch. It names only pg_catalog and app_private functions.
CREATE OR REPLACE FUNCTION app_private.now() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN nullif(pg_catalog.current_setting('autodoc.now', true), '') IS NULL THEN pg_catalog.now()
              ELSE app_private.injected_now() END
$$;

GRANT EXECUTE ON FUNCTION app_private.now(), app_private.injected_now()
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;
