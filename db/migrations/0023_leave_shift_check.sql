-- depends: 0022_matching_unmatched_refund
-- Going off shift with an immediate session in progress is refused for every writer, not only
-- api.set_shift: the check moves into a trigger on app.mechanics (mechanics_leave_shift_keeps_sessions,
-- db/triggers/10_mechanic_time.sql), so a DBA's direct UPDATE passes it too. And changing the default
-- opening window (app.booking_settings) is checked like any other hours change
-- (booking_settings_keep_bookings_inside). No table changes; this migration marks the version whose
-- files add the two triggers, so that its rollback removes them.
SET lock_timeout = '5s';
SET statement_timeout = '60s';
