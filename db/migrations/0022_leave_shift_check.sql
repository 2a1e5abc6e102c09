-- depends: 0021_money
-- Going off shift with an immediate session in progress is refused for every writer, not only
-- api.set_shift: the check moves into a trigger on app.mechanics (mechanics_leave_shift_keeps_sessions,
-- db/triggers/10_mechanic_time.sql), so a DBA's direct UPDATE passes it too. No table changes; this
-- migration marks the version whose files add the trigger, so that its rollback removes it.
SET lock_timeout = '5s';
SET statement_timeout = '60s';
