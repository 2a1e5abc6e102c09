-- Foundation: schemas, default privileges, identity table, error helper.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE SCHEMA app;          -- tables (private)
CREATE SCHEMA app_private;  -- definer helpers and trigger functions
CREATE SCHEMA api;          -- the public SQL interface

-- Nothing is executable by PUBLIC unless granted explicitly, argument types and all.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA api REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA app_private REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

GRANT USAGE ON SCHEMA api TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;
GRANT USAGE ON SCHEMA app, app_private TO autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

-- One row per person; customers and mechanics hang off it by user_id.
CREATE TABLE app.users (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email      text NOT NULL,
  full_name  text NOT NULL,
  role       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_role_is_known CHECK (role IN ('customer', 'mechanic', 'admin')),
  CONSTRAINT users_email_looks_valid CHECK (email ~ '^[^@\s]+@[^@\s]+$')
);
CREATE UNIQUE INDEX users_email_unique ON app.users (lower(email));
ALTER TABLE app.users ENABLE ROW LEVEL SECURITY;
