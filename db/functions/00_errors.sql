-- The error catalog: one message per error code, in one place. app_private.raise_error() (in
-- 00_identity.sql) raises a catalogued code with the catalog's message whatever its caller passed,
-- so `slot_unavailable` says the same thing from every function; api/errors.py maps constraint
-- violations to the same codes with the same messages (tests/py/test_error_messages.py compares
-- them, and fails for a code raised in SQL that is not catalogued).
--
-- A code whose message must name the field, value or rule at hand (missing_field: "concern is
-- required") is catalogued with a NULL message: its callers write the message, the code's meaning
-- stays one. A new code goes here, with its message or NULL.

-- error_catalog(): every code raised in SQL, with its one message (NULL: the caller's). Any role
-- (raise_error runs as its caller).
CREATE OR REPLACE FUNCTION app_private.error_catalog() RETURNS TABLE (code text, message text)
LANGUAGE sql IMMUTABLE SET search_path = '' AS $$
  VALUES
    ('account_deleted', 'This account has been deleted'),
    ('agreement_required', 'You must agree to the waiver to sign it'),
    ('already_on_waitlist', 'You are already on the waitlist'),
    ('already_rated', 'You have already rated this session'),
    ('application_not_found', 'Mechanic application not found'),
    ('application_pending', 'You have applied to work as a mechanic; an account is either a customer or a mechanic'),
    ('appointment_not_upcoming', 'Only an upcoming appointment has a confirmation'),
    ('customer_not_found', 'Customer not found'),
    ('customer_overlap', 'You already have an appointment at that time'),
    ('email_unverified', 'Your sign-in has no verified email address; verify it with your identity provider first'),
    ('duplicate_booking', 'You already have an upcoming appointment; reschedule it instead'),
    ('email_taken', 'That email address is already registered'),
    ('hold_expired', 'The slot hold has expired; please pick the slot again'),
    ('hold_mismatch', 'The booking does not match the slot hold'),
    ('hold_not_found', 'Slot hold not found'),
    ('hours_conflict', 'The new hours would leave booked sessions outside opening hours; cancel or move them first'),
    ('in_person_unavailable', 'This mechanic has no workshop for in-person service'),
    ('invalid_amount', 'A refund must be a positive amount'),
    ('invalid_event', 'Not a Stripe event'),
    ('isolation_not_supported', 'Changes to a mechanic''s time must run in READ COMMITTED or SERIALIZABLE transactions'),
    ('mechanic_not_found', 'Mechanic not found'),
    ('mechanic_offline', 'That mechanic is offline; schedule instead'),
    ('mechanics_available', 'Mechanics are on shift now: request a session instead of waiting'),
    ('no_invite', 'This appointment has no calendar invite'),
    ('not_on_waitlist', 'You are not on the waitlist'),
    ('not_rateable', 'Only a completed session can be rated'),
    ('offer_closed', 'This offer is no longer open'),
    ('offer_expired', 'This offer has expired'),
    ('offer_not_found', 'Offer not found'),
    ('outbox_not_dead', 'Only dead letters can be retried'),
    ('outside_session_time', 'The session cannot be joined at this time'),
    ('outside_signing_window', 'The waiver cannot be signed now'),
    ('outbox_not_found', 'No such outbox row'),
    ('past_time', 'Cannot schedule in the past'),
    ('policy_in_force', 'This policy version is in force: bookings were made under it. Publish a new version instead.'),
    ('policy_not_found', 'No such policy version'),
    ('payment_not_found', 'No such payment'),
    ('payment_pending', 'The payment for this booking is still being processed; try again in a minute'),
    ('payment_not_refundable', 'This payment cannot be refunded'),
    ('refund_exceeds_charge', 'The refund would exceed what was charged'),
    ('resend_too_soon', 'The confirmation was just re-sent; try again in a few minutes'),
    ('session_not_found', 'Session not found'),
    ('sessions_in_progress', 'Finish or cancel your immediate sessions before going off shift'),
    ('slot_unavailable', 'That time slot is not available'),
    ('time_off_conflicts', 'The time off overlaps booked sessions'),
    ('time_off_not_found', 'Time off not found'),
    ('too_early_to_cancel', 'It is too early to cancel this session for a missing waiver'),
    ('unauthorized', 'Sign in first'),
    ('upcoming_bookings', 'Cancel your upcoming appointments before deleting your account'),
    ('vehicle_in_use', 'Sessions refer to this vehicle'),
    ('vehicle_not_found', 'Vehicle not found'),
    ('vehicle_not_yours', 'That vehicle is not one of yours'),
    ('waiver_already_signed', 'The waiver of this session is signed'),
    ('waiver_required', 'The waiver must be signed before the session can be joined'),
    ('workshop_mechanic', 'Workshop mechanics follow the workshop''s hours'),
    ('workshop_not_found', 'Workshop not found'),
    -- the caller's message names the field, value or rule
    ('append_only', NULL), ('no_money_policy', NULL),
    ('account_role_conflict', NULL), ('application_decided', NULL),
    ('beyond_horizon', NULL), ('conflict', NULL), ('criterion_not_found', NULL), ('forbidden', NULL),
    ('illegal_transition', NULL), ('invalid_hours', NULL), ('invalid_range', NULL), ('invalid_signature', NULL),
    ('invalid_timezone', NULL), ('invalid_value', NULL), ('missing_field', NULL), ('not_cancellable', NULL),
    ('not_completable', NULL), ('not_joinable', NULL), ('not_reschedulable', NULL), ('off_grid', NULL),
    ('too_short_notice', NULL),
    ('unknown_plan', NULL),
    ('validation_error', NULL)
$$;

-- error_message(code): the catalog's message for a code; NULL when the caller writes it (or the
-- code is not catalogued). Any role.
CREATE OR REPLACE FUNCTION app_private.error_message(p_code text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $$
  SELECT c.message FROM app_private.error_catalog() c WHERE c.code = p_code
$$;

GRANT EXECUTE ON FUNCTION app_private.error_catalog(), app_private.error_message(text)
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;
