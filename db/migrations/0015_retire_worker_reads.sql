-- depends: 0014_waitlist
-- Version 0002 let the worker read people's rows directly (SELECT grants plus eight "the worker
-- reads ..." policies). Since version 0003 it reads them only through definer functions, and the
-- policy files carried REVOKE and `DROP POLICY IF EXISTS` lines for what 0002 had created: removals
-- that only mattered to databases upgraded from 0002. A removal is a migration's job
-- (docs/migrations.md), so it is done here once and the files now only create. On a database
-- created after 0002 this changes nothing.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

REVOKE ALL ON app.users, app.customers, app.vehicles, app.sessions, app.session_assignments, app.session_events,
              app.mechanic_availability_blocks, app.mechanic_time_off
  FROM autodoc_worker, autodoc_anon;

DROP POLICY IF EXISTS "the worker reads users to address email" ON app.users;
DROP POLICY IF EXISTS "the worker reads customers" ON app.customers;
DROP POLICY IF EXISTS "the worker reads vehicles" ON app.vehicles;
DROP POLICY IF EXISTS "the worker reads every session" ON app.sessions;
DROP POLICY IF EXISTS "the worker reads every assignment" ON app.session_assignments;
DROP POLICY IF EXISTS "the worker reads every event" ON app.session_events;
DROP POLICY IF EXISTS "the worker reads availability blocks" ON app.mechanic_availability_blocks;
DROP POLICY IF EXISTS "the worker reads time off" ON app.mechanic_time_off;
