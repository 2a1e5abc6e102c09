-- The checks behind "who may change a mechanic's time" (db/functions/10_mechanic_time.sql). Each
-- takes the mechanic's lock, then checks against what is committed, so the API functions and a DBA's
-- direct INSERT/UPDATE go through the same guarantee. One place per check:
--   opening hours and time off of a booking   -> sessions_occupy_mechanic_time (here; require_slot
--                                                 in 20_booking.sql relies on it and checks only
--                                                 notice, horizon and other bookings)
--   bookings under new time off               -> mechanic_time_off_keeps_bookings
--   bookings under new hours                  -> *_keep_bookings_inside_hours (deferred), and
--                                                 booking_settings_keep_bookings_inside (the default window)
--   bookings against bookings                 -> the exclusion constraints (no lock needed)
--   immediate sessions when going off shift   -> mechanics_leave_shift_keeps_sessions
-- SECURITY DEFINER: mechanics and admins may write these tables directly (RLS decides which rows),
-- and the checks must see every session and take the owner-only lock.

-- sessions_occupy_mechanic_time(): BEFORE INSERT OR UPDATE on app.sessions. When a row starts
-- occupying a mechanic's time — a new hold or booking, a hold becoming a booking, an accepted offer,
-- a reschedule (new time or mechanic) — lock the mechanic and refuse (409 slot_unavailable, detail
-- reasons 'closed' and/or 'time_off') a scheduled session outside the mechanic's opening hours, or
-- any session inside time off; an immediate session given to a mechanic who is off shift is refused
-- with 409 mechanic_offline (api.set_shift refuses the other order under the same lock). Status moves of a row that already occupied the same time (scheduled
-- -> pending -> active ...) and cancellations cost nothing. A hold becoming a booking is checked
-- again: time off may have been added over it after it lapsed and before it was released.
-- Why here and not in require_slot: this is the only place every writer passes (the factory,
-- matching, a DBA), and it runs after the lock; require_slot runs before the INSERT and would
-- only repeat it on the booking hot path.
CREATE OR REPLACE FUNCTION app_private.sessions_occupy_mechanic_time() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_range tstzrange;
  v_reasons text[] := '{}'::text[];
BEGIN
  IF NEW.mechanic_id IS NULL OR NOT NEW.status = ANY (app_private.blocking_statuses()) THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.status = ANY (app_private.blocking_statuses()) AND OLD.status <> 'held'
     AND OLD.mechanic_id = NEW.mechanic_id AND OLD.scheduled_for IS NOT DISTINCT FROM NEW.scheduled_for
     AND OLD.ends_at = NEW.ends_at THEN
    RETURN NEW;   -- it already occupied exactly this time
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.status = 'held' AND NEW.status = 'held' AND OLD.mechanic_id = NEW.mechanic_id
     AND OLD.scheduled_for IS NOT DISTINCT FROM NEW.scheduled_for AND OLD.ends_at = NEW.ends_at THEN
    RETURN NEW;   -- a hold that stays a hold (e.g. its payment moved)
  END IF;

  PERFORM app_private.lock_mechanic_time(NEW.mechanic_id);
  -- Two IFs, not one AND: as one expression the planner folded the AND away for a scheduled row, so
  -- that custom plan always looked cheaper than the generic one and was planned again on every booking.
  IF NEW.scheduled_for IS NULL THEN
    IF NOT coalesce((SELECT m.currently_on_shift FROM app.mechanics m WHERE m.user_id = NEW.mechanic_id), false) THEN
      PERFORM app_private.raise_error(409, 'mechanic_offline', 'That mechanic is offline; schedule instead',
        jsonb_build_object('mechanic_id', NEW.mechanic_id));
    END IF;
  END IF;
  v_range := tstzrange(coalesce(NEW.scheduled_for, NEW.created_at), NEW.ends_at, '[)');
  IF NEW.scheduled_for IS NOT NULL
     AND NOT coalesce(v_range <@ app_private.mechanic_open_during(NEW.mechanic_id, v_range), false) THEN
    v_reasons := v_reasons || 'closed'::text;
  END IF;
  IF v_range && app_private.mechanic_time_off_in(NEW.mechanic_id, v_range) THEN
    v_reasons := v_reasons || 'time_off'::text;
  END IF;
  IF cardinality(v_reasons) > 0 THEN
    PERFORM app_private.raise_error(409, 'slot_unavailable', 'Slot not available',
      jsonb_build_object('mechanic_id', NEW.mechanic_id, 'starts_at', lower(v_range), 'ends_at', upper(v_range),
                         'reasons', to_jsonb(v_reasons)));
  END IF;
  RETURN NEW;
END
$$;

-- Named to fire after sessions_enforce_lifecycle (BEFORE triggers run in name order): an illegal
-- transition is refused before any lock is taken. The WHEN clause is the function's first test, so
-- rows that occupy no mechanic's time (cancelling, completing, sessions without a mechanic) do not
-- call it at all; the tests that read OLD stay in the function (an INSERT trigger's WHEN cannot).
-- The WHEN clause spells blocking_statuses() out, like the exclusion constraints do: a WHEN clause
-- is not planned, so the helper would not be inlined there but run as a SQL function, parsed and
-- planned again for every statement (≈ 20 us of every booking). tests/sql/10-mechanic-time.sql
-- proves the list and the helper agree.
DROP TRIGGER IF EXISTS sessions_occupy_mechanic_time ON app.sessions;
CREATE TRIGGER sessions_occupy_mechanic_time BEFORE INSERT OR UPDATE OF status, mechanic_id, scheduled_for, ends_at
  ON app.sessions FOR EACH ROW
  WHEN (NEW.mechanic_id IS NOT NULL AND NEW.status IN ('held', 'scheduled', 'pending', 'waiting', 'active'))
  EXECUTE FUNCTION app_private.sessions_occupy_mechanic_time();

-- mechanic_time_off_keeps_bookings(): BEFORE INSERT OR UPDATE on app.mechanic_time_off. Locks the
-- mechanic (both, when an UPDATE moves the row to another mechanic) and refuses time off over the
-- mechanic's bookings or live holds: 409 time_off_conflicts (detail.sessions). Removing time off
-- frees time and needs no check.
CREATE OR REPLACE FUNCTION app_private.mechanic_time_off_keeps_bookings() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_conflicts jsonb;
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.mechanic_id <> NEW.mechanic_id THEN
    PERFORM app_private.lock_mechanics_time(ARRAY[OLD.mechanic_id, NEW.mechanic_id]);
  ELSE
    PERFORM app_private.lock_mechanic_time(NEW.mechanic_id);
  END IF;
  -- NEW.period is a generated column, not computed yet in a BEFORE trigger
  v_conflicts := app_private.time_off_conflicts(NEW.mechanic_id, tstzrange(NEW.start_date, NEW.end_date, '[)'));
  IF v_conflicts IS NOT NULL THEN
    PERFORM app_private.raise_error(409, 'time_off_conflicts', 'The time off overlaps booked sessions',
      jsonb_build_object('sessions', v_conflicts));
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS mechanic_time_off_keeps_bookings ON app.mechanic_time_off;
CREATE TRIGGER mechanic_time_off_keeps_bookings BEFORE INSERT OR UPDATE ON app.mechanic_time_off
  FOR EACH ROW EXECUTE FUNCTION app_private.mechanic_time_off_keeps_bookings();

-- mechanics_leave_shift_keeps_sessions(): BEFORE UPDATE OF currently_on_shift on app.mechanics, when
-- the flag goes from true to false. Going off shift takes away the mechanic's time for immediate
-- sessions, so it locks that time and refuses (409 sessions_in_progress, detail.sessions) while an
-- immediate session of theirs is pending, waiting or active. api.set_shift and a DBA's direct UPDATE
-- both pass here; accepting an offer takes the same lock, so the two are decided one after the other
-- (sessions_occupy_mechanic_time refuses the other order: an immediate session for an off-shift mechanic).
CREATE OR REPLACE FUNCTION app_private.mechanics_leave_shift_keeps_sessions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_open jsonb;
BEGIN
  PERFORM app_private.lock_mechanic_time(NEW.user_id);
  SELECT jsonb_agg(jsonb_build_object('session_id', s.id, 'status', s.status, 'starts_at', lower(s.period),
                                      'ends_at', s.ends_at) ORDER BY lower(s.period))
    INTO v_open
    FROM app.sessions s
   WHERE s.mechanic_id = NEW.user_id AND s.scheduled_for IS NULL AND s.status = ANY (app_private.active_statuses());
  IF v_open IS NOT NULL THEN
    PERFORM app_private.raise_error(409, 'sessions_in_progress',
      'Finish or cancel your immediate sessions before going off shift', jsonb_build_object('sessions', v_open));
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS mechanics_leave_shift_keeps_sessions ON app.mechanics;
CREATE TRIGGER mechanics_leave_shift_keeps_sessions BEFORE UPDATE OF currently_on_shift ON app.mechanics
  FOR EACH ROW WHEN (OLD.currently_on_shift AND NOT NEW.currently_on_shift)
  EXECUTE FUNCTION app_private.mechanics_leave_shift_keeps_sessions();

-- Hours. A mechanic's hours are a SET of rows (weekly blocks, a workshop's days) that writers replace
-- wholesale (delete all, insert the new ones), and "no rows" means the default window: a row-by-row
-- check would judge half-written hours. So the check is a DEFERRABLE INITIALLY DEFERRED constraint
-- trigger: it runs on the final hours, at commit, or when the writer asks for it earlier with
-- SET CONSTRAINTS ... IMMEDIATE (the api functions do, so their 409 comes from the call itself).
-- Each locks the mechanics concerned, then checks: 409 hours_conflict (detail.sessions).

-- blocks_keep_bookings_inside_hours(): AFTER INSERT/UPDATE/DELETE on app.mechanic_availability_blocks.
CREATE OR REPLACE FUNCTION app_private.blocks_keep_bookings_inside_hours() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM app_private.require_hours_cover_bookings(ARRAY[NEW.mechanic_id]);
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM app_private.require_hours_cover_bookings(ARRAY[OLD.mechanic_id]);
  ELSE
    PERFORM app_private.require_hours_cover_bookings(ARRAY[OLD.mechanic_id, NEW.mechanic_id]);
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS blocks_keep_bookings_inside_hours ON app.mechanic_availability_blocks;
CREATE CONSTRAINT TRIGGER blocks_keep_bookings_inside_hours
  AFTER INSERT OR UPDATE OR DELETE ON app.mechanic_availability_blocks
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION app_private.blocks_keep_bookings_inside_hours();

-- workshop_hours_keep_bookings_inside(): AFTER INSERT/UPDATE/DELETE on app.workshop_availability:
-- every mechanic of the workshop (locked in one global order).
CREATE OR REPLACE FUNCTION app_private.workshop_hours_keep_bookings_inside() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_workshops uuid[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    v_workshops := ARRAY[NEW.workshop_id];
  ELSIF TG_OP = 'DELETE' THEN
    v_workshops := ARRAY[OLD.workshop_id];
  ELSE
    v_workshops := ARRAY[OLD.workshop_id, NEW.workshop_id];
  END IF;
  PERFORM app_private.require_hours_cover_bookings(ARRAY(
    SELECT m.user_id FROM app.mechanics m WHERE m.workshop_id = ANY (v_workshops)));
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS workshop_hours_keep_bookings_inside ON app.workshop_availability;
CREATE CONSTRAINT TRIGGER workshop_hours_keep_bookings_inside
  AFTER INSERT OR UPDATE OR DELETE ON app.workshop_availability
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION app_private.workshop_hours_keep_bookings_inside();

-- mechanic_zone_keeps_bookings_inside(): AFTER UPDATE OF workshop_id, timezone on app.mechanics: joining or
-- leaving a workshop, or a new zone, moves the mechanic's hours too.
CREATE OR REPLACE FUNCTION app_private.mechanic_zone_keeps_bookings_inside() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM app_private.require_hours_cover_bookings(ARRAY[NEW.user_id]);
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS mechanic_zone_keeps_bookings_inside ON app.mechanics;
CREATE CONSTRAINT TRIGGER mechanic_zone_keeps_bookings_inside
  AFTER UPDATE OF workshop_id, timezone ON app.mechanics
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.workshop_id IS DISTINCT FROM NEW.workshop_id OR OLD.timezone IS DISTINCT FROM NEW.timezone)
  EXECUTE FUNCTION app_private.mechanic_zone_keeps_bookings_inside();

-- workshop_zone_keeps_bookings_inside(): AFTER UPDATE OF timezone on app.workshops: the workshop's
-- hours now mean other instants for every mechanic of it.
CREATE OR REPLACE FUNCTION app_private.workshop_zone_keeps_bookings_inside() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM app_private.require_hours_cover_bookings(ARRAY(
    SELECT m.user_id FROM app.mechanics m WHERE m.workshop_id = NEW.id));
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS workshop_zone_keeps_bookings_inside ON app.workshops;
CREATE CONSTRAINT TRIGGER workshop_zone_keeps_bookings_inside
  AFTER UPDATE OF timezone ON app.workshops
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
  EXECUTE FUNCTION app_private.workshop_zone_keeps_bookings_inside();

-- booking_settings_keep_bookings_inside(): AFTER UPDATE OF default_open_time, default_close_time on
-- app.booking_settings. The default window is the hours of every mechanic who has none defined, so
-- changing it is an hours change for all of them: the mechanics with a scheduled booking or live hold
-- not over yet are locked (in the one global order) and checked. Mechanics with hours of their own
-- pass unchanged. Settings are changed by a DBA (no api function), so this is the check that stands
-- between a new default window and bookings left outside it.
CREATE OR REPLACE FUNCTION app_private.booking_settings_keep_bookings_inside() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM app_private.require_hours_cover_bookings(ARRAY(
    SELECT DISTINCT s.mechanic_id FROM app.sessions s
     WHERE s.mechanic_id IS NOT NULL AND s.scheduled_for IS NOT NULL
       AND s.status = ANY (app_private.blocking_statuses()) AND s.ends_at > app_private.now()));
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS booking_settings_keep_bookings_inside ON app.booking_settings;
CREATE CONSTRAINT TRIGGER booking_settings_keep_bookings_inside
  AFTER UPDATE OF default_open_time, default_close_time ON app.booking_settings
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.default_open_time IS DISTINCT FROM NEW.default_open_time
        OR OLD.default_close_time IS DISTINCT FROM NEW.default_close_time)
  EXECUTE FUNCTION app_private.booking_settings_keep_bookings_inside();
