-- Cluster-level bootstrap, run by a superuser before migrations (idempotent).
-- Roles are global to a cluster, so every name carries the project prefix.
-- Passwords are not set here: `autodoc` sets the API role's password from the environment.
DO $$
DECLARE
  r text;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'autodoc_owner') THEN
    CREATE ROLE autodoc_owner LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'autodoc_api') THEN
    -- NOINHERIT: the API holds no privilege of its own until it SET LOCAL ROLEs per request.
    CREATE ROLE autodoc_api LOGIN NOINHERIT;
  END IF;
  FOREACH r IN ARRAY ARRAY['autodoc_anon', 'autodoc_customer', 'autodoc_mechanic', 'autodoc_admin', 'autodoc_worker'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
    EXECUTE format('GRANT %I TO autodoc_api', r);
  END LOOP;
END
$$;
