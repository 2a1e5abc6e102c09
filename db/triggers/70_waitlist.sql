-- Waitlist triggers (functions in db/functions/70_waitlist.sql).

-- THE waitlist trigger: a mechanic coming on shift (false -> true) hands their free turns to the
-- queue in the same transaction. On the table, not in api.set_shift, so a DBA's or an admin's direct
-- `UPDATE app.mechanics SET currently_on_shift = true` notifies exactly as the API toggle does. The
-- WHEN clause keeps every other update of a mechanic (going off shift, profile edits) free of it.
DROP TRIGGER IF EXISTS mechanics_waitlist_on_shift ON app.mechanics;
CREATE TRIGGER mechanics_waitlist_on_shift
  AFTER UPDATE OF currently_on_shift ON app.mechanics
  FOR EACH ROW WHEN (NEW.currently_on_shift AND NOT OLD.currently_on_shift)
  EXECUTE FUNCTION app_private.mechanics_waitlist_on_shift();

-- An immediate request fulfils the customer's active waitlist entry. Scheduled bookings and holds
-- never reach the function (WHEN clause), so the booking hot path pays nothing for it.
DROP TRIGGER IF EXISTS sessions_fulfil_waitlist ON app.sessions;
CREATE TRIGGER sessions_fulfil_waitlist
  AFTER INSERT ON app.sessions
  FOR EACH ROW WHEN (NEW.scheduled_for IS NULL AND NEW.status = 'pending')
  EXECUTE FUNCTION app_private.sessions_fulfil_waitlist();
