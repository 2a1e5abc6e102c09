-- Session status sets, defined once. Every function, trigger and policy names a set through one of
-- these helpers instead of retyping the list. They are plain IMMUTABLE SQL without SET or FROM, so
-- the planner inlines them and folds them to constants: `s.status = ANY (app_private.blocking_statuses())`
-- plans exactly like the literal list (partial indexes and the exclusion constraints' predicates still
-- match). Table constraints in migrations (sessions_no_mechanic_overlap, sessions_status_valid, ...)
-- keep literal lists on purpose: a constraint must not depend on a function that a later file could
-- redefine. So do trigger WHEN clauses, which are not planned (the helper would run as a function for
-- every statement). tests/sql/10-mechanic-time.sql proves the helpers and those literals agree.
-- Callable by every application role (policies and invoker functions use them).

-- blocking_statuses(): the statuses that occupy a mechanic's and a customer's time (a live hold or a
-- booking): exactly the set of the exclusion constraints sessions_no_mechanic_overlap and
-- sessions_no_customer_overlap.
CREATE OR REPLACE FUNCTION app_private.blocking_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT '{held,scheduled,pending,waiting,active}'::text[]
$$;

-- upcoming_statuses(): a booked session that is not over yet (holds excluded): the duplicate-booking
-- rule and "my upcoming appointments".
CREATE OR REPLACE FUNCTION app_private.upcoming_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT '{scheduled,pending,waiting,active}'::text[]
$$;

-- active_statuses(): a session that is under way or about to start (customer ready, mechanic
-- accepted, in progress). A mechanic with an immediate session in one of these cannot go off shift.
CREATE OR REPLACE FUNCTION app_private.active_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT '{pending,waiting,active}'::text[]
$$;

-- final_statuses(): nothing changes any more.
CREATE OR REPLACE FUNCTION app_private.final_statuses() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT '{completed,cancelled}'::text[]
$$;

GRANT EXECUTE ON FUNCTION app_private.blocking_statuses(), app_private.upcoming_statuses(),
                          app_private.active_statuses(), app_private.final_statuses()
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;
