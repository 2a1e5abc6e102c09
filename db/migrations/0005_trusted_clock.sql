-- depends: 0004_stripe_cancel_intent
-- The trusted clock's switch. Every function, trigger and job reads time from app_private.now()
-- (db/functions/00_clock.sql). A test database may move that clock (SET autodoc.now = '...'); a
-- normal install may not: only the owner role can flip this switch, so no application role can
-- book in the past or stretch a hold by claiming another time.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE app.clock_settings (
  id                boolean PRIMARY KEY DEFAULT true,
  injection_allowed boolean NOT NULL DEFAULT false,
  CONSTRAINT clock_settings_single_row CHECK (id)
);
INSERT INTO app.clock_settings DEFAULT VALUES;
ALTER TABLE app.clock_settings ENABLE ROW LEVEL SECURITY;

-- app_private.now() runs as its caller, anonymous callers included (the clock is needed by public
-- reads such as slots). USAGE only lets a role resolve names; every object keeps its own grant.
GRANT USAGE ON SCHEMA app, app_private TO autodoc_anon;
