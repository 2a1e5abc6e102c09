-- Reverts 0014_waitlist: the waitlist tables, the triggers its files put on app.mechanics and
-- app.sessions, its functions and its pg_cron schedules.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DO $$
BEGIN
  IF to_regnamespace('cron') IS NOT NULL THEN
    PERFORM cron.unschedule(j.jobid) FROM cron.job j
     WHERE j.jobname IN ('autodoc-waitlist-advance', 'autodoc-waitlist-expire');
  END IF;
END
$$;
DROP TRIGGER IF EXISTS mechanics_waitlist_on_shift ON app.mechanics;
DROP TRIGGER IF EXISTS sessions_fulfil_waitlist ON app.sessions;
DROP FUNCTION IF EXISTS app_private.mechanics_waitlist_on_shift();
DROP FUNCTION IF EXISTS app_private.sessions_fulfil_waitlist();
DROP FUNCTION IF EXISTS app_private.waitlist_preferred_mechanic(uuid);
DROP FUNCTION IF EXISTS app_private.on_shift_mechanics();
DROP FUNCTION IF EXISTS api.join_waitlist(text, uuid, text, uuid);
DROP FUNCTION IF EXISTS api.leave_waitlist(uuid);
DROP FUNCTION IF EXISTS api.my_waitlist(uuid);
DROP FUNCTION IF EXISTS api.list_waitlist(text, int, int);
DROP FUNCTION IF EXISTS api.waitlist_queue();
DROP FUNCTION IF EXISTS api.set_waitlist_settings(int, interval, interval);
DROP FUNCTION IF EXISTS api.advance_waitlist();
DROP FUNCTION IF EXISTS api.expire_waitlist();
-- these take or return the tables' row types
DROP FUNCTION IF EXISTS app_private.waitlist_give_turns(uuid);
DROP FUNCTION IF EXISTS app_private.waitlist_tell(app.waitlist_entries, text);
DROP FUNCTION IF EXISTS app_private.waitlist_entry_json(app.waitlist_entries);
DROP FUNCTION IF EXISTS app_private.waitlist_settings();
DROP TABLE app.waitlist_entries;
DROP TABLE app.waitlist_settings;
