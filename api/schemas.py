"""Request and response bodies of the booking API (msgspec Structs).

Shapes only: types, required fields, no unknown fields, time zones on instants, sane lengths and
integer ranges (so nothing reaches PostgreSQL that it cannot even parse). Every business rule —
allowed values, notice, horizon, overlaps, ownership, roles — is checked by the SQL function the
handler calls, which answers with a stable error code.

Field names follow the original plan: the calendar step's bodies are camelCase
(`{mechanicId, date}` -> `{slots: [{startTime, endTime, available}]}`), the SessionFactory body of
`POST /api/sessions/create` is snake_case (`scheduled_for`, `vehicle_id`, `concern_category`, ...),
like the database's columns that every other response returns as they are.
Optional fields default to UNSET: a field the client leaves out is not passed to SQL at all, so
the SQL function's own default applies (one source of defaults).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

# An instant must carry its offset ("2026-11-01T14:00:00Z"): a naive time is ambiguous.
Instant = Annotated[dt.datetime, msgspec.Meta(tz=True)]
Int32 = Annotated[int, msgspec.Meta(ge=-2_147_483_648, le=2_147_483_647)]
Name = Annotated[str, msgspec.Meta(max_length=200)]
Text = Annotated[str, msgspec.Meta(max_length=10_000)]
PlanCode = Annotated[str, msgspec.Meta(max_length=64)]
# A local wall-clock time in the mechanic's or workshop's zone, "09:00" or "09:00:00".
TimeOfDay = Annotated[str, msgspec.Meta(pattern=r"^\d{1,2}:\d{2}(:\d{2})?$", max_length=8)]
# A whole local day "2026-12-10" or an instant with its offset "2026-12-10T09:00:00Z".
DayOrInstant = Annotated[str, msgspec.Meta(
    pattern=r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?))?$", max_length=40,
    description="A local day YYYY-MM-DD (whole days in the mechanic's time zone) or an instant with its offset")]
# Bounds on every list a client sends (the largest real ones: 7 days of hours, a few dozen brands).
FileRef = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
MAX_FILES = 20
MAX_TAGS = 50
MAX_BLOCKS = 100
Tags = Annotated[list[Name], msgspec.Meta(max_length=MAX_TAGS)]
Metadata = Annotated[dict[str, Any], msgspec.Meta(max_length=50)]
Zone = Annotated[str, msgspec.Meta(max_length=64)]  # an IANA zone name; PostgreSQL checks it is one


class Input(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every request body: unknown fields are an error (a typo is not silently ignored)."""


class CamelInput(Input, rename="camel"):
    """A request body with camelCase field names."""


class CamelOutput(msgspec.Struct, rename="camel", kw_only=True):
    """A response body with camelCase field names."""


# ---------------------------------------------------------------------------- availability


class SlotsRequest(CamelInput):
    mechanic_id: uuid.UUID
    # 'YYYY-MM-DD' (the mechanic's local day); an ISO instant is accepted, its date part is used.
    date: Annotated[str, msgspec.Meta(min_length=10, max_length=40)]
    plan: PlanCode | UnsetType = UNSET


class Slot(CamelOutput):
    start_time: dt.datetime
    end_time: dt.datetime
    available: bool
    local_start: dt.datetime
    reasons: list[str]


class SlotsResponse(CamelOutput):
    mechanic_id: uuid.UUID
    date: dt.date
    slots: list[Slot]


class CheckRequest(CamelInput):
    mechanic_id: uuid.UUID
    start_time: Instant
    end_time: Instant | UnsetType = UNSET   # default: start + the plan's duration
    plan: PlanCode | UnsetType = UNSET


class CheckResponse(CamelOutput):
    mechanic_id: uuid.UUID
    available: bool
    reasons: list[str]
    start_time: dt.datetime
    end_time: dt.datetime


class CalendarDay(CamelOutput):
    date: dt.date
    available_slots: int
    total_slots: int
    available: bool


class CalendarResponse(CamelOutput):
    mechanic_id: uuid.UUID
    days: list[CalendarDay]


class HoldRequest(CamelInput):
    mechanic_id: uuid.UUID
    start_time: Instant
    plan: PlanCode | UnsetType = UNSET
    service_mode: Name | UnsetType = UNSET
    customer_id: uuid.UUID | UnsetType = UNSET   # admins hold for a customer


# ---------------------------------------------------------------------------- sessions


class CreateSessionRequest(Input):
    """The SessionFactory body (the plan's `POST /api/sessions/create`). `scheduled_for` null or
    absent = immediate session; an instant = scheduled appointment."""

    type: Name | UnsetType = UNSET                     # chat | video | diagnostic
    plan: PlanCode | UnsetType = UNSET                 # standard | extended | premium ...
    concern: Text | UnsetType = UNSET
    concern_category: Name | UnsetType = UNSET
    vehicle_id: uuid.UUID | UnsetType | None = UNSET
    is_advice_only: bool | UnsetType = UNSET
    scheduled_for: Instant | UnsetType | None = UNSET
    mechanic_id: uuid.UUID | UnsetType | None = UNSET  # a chosen mechanic (the plan's preferredMechanicId)
    service_mode: Name | UnsetType = UNSET             # online | in_person
    hold_id: uuid.UUID | UnsetType | None = UNSET      # converts a slot hold into the booking
    is_urgent: bool | UnsetType = UNSET
    preparation_notes: Text | UnsetType | None = UNSET
    special_requests: Text | UnsetType | None = UNSET
    uploaded_files: Annotated[list[FileRef], msgspec.Meta(max_length=MAX_FILES)] | UnsetType = UNSET
    metadata: Metadata | UnsetType = UNSET
    customer_id: uuid.UUID | UnsetType = UNSET         # admins book for a customer


class RescheduleRequest(Input):
    scheduled_for: Instant
    mechanic_id: uuid.UUID | UnsetType = UNSET


# ---------------------------------------------------------------------------- customers


class VehicleRequest(Input):
    make: Name
    model: Name
    year: Int32 | UnsetType | None = UNSET
    vin: Name | UnsetType | None = UNSET
    odometer: Int32 | UnsetType | None = UNSET
    license_plate: Name | UnsetType | None = UNSET
    customer_id: uuid.UUID | UnsetType = UNSET   # admins add a vehicle for a customer


class VehicleUpdate(Input):
    make: Name | UnsetType = UNSET
    model: Name | UnsetType = UNSET
    year: Int32 | UnsetType = UNSET
    vin: Name | UnsetType = UNSET
    odometer: Int32 | UnsetType = UNSET
    license_plate: Name | UnsetType = UNSET


class FavoriteRequest(Input):
    mechanic_id: uuid.UUID


# ---------------------------------------------------------------------------- mechanics (self-service)


class ShiftRequest(CamelInput):
    on_shift: bool
    mechanic_id: uuid.UUID | UnsetType = UNSET   # admins


class TimeOffRequest(Input):
    start_date: DayOrInstant   # a day: from the start of that local day
    end_date: DayOrInstant     # a day: to the end of that local day (inclusive)
    reason: Text | UnsetType | None = UNSET


class AvailabilityBlock(Input):
    day_of_week: Int32          # 0 = Sunday ... 6 = Saturday
    start_time: TimeOfDay       # local wall-clock "09:00" in the mechanic's zone
    end_time: TimeOfDay


class AvailabilityBlocksRequest(Input):
    blocks: Annotated[list[AvailabilityBlock], msgspec.Meta(max_length=MAX_BLOCKS)]


# ---------------------------------------------------------------------------- admin onboarding


class OpeningHours(Input):
    day_of_week: Int32          # 0 = Sunday ... 6 = Saturday
    is_open: bool | UnsetType = UNSET
    open_time: TimeOfDay | UnsetType | None = UNSET
    close_time: TimeOfDay | UnsetType | None = UNSET


class WorkshopRequest(Input):
    name: Name
    timezone: Name
    hours: Annotated[list[OpeningHours], msgspec.Meta(max_length=7)] | UnsetType = UNSET
    address_line1: Name | UnsetType | None = UNSET
    address_line2: Name | UnsetType | None = UNSET
    city: Name | UnsetType | None = UNSET
    state_province: Name | UnsetType | None = UNSET
    postal_code: Name | UnsetType | None = UNSET
    country: Name | UnsetType | None = UNSET
    phone: Name | UnsetType | None = UNSET
    id: uuid.UUID | UnsetType = UNSET


class WorkshopHoursRequest(Input):
    hours: Annotated[list[OpeningHours], msgspec.Meta(max_length=7)]


class MechanicRequest(Input):
    email: Name
    full_name: Name
    workshop_id: uuid.UUID | UnsetType | None = UNSET
    timezone: Name | UnsetType | None = UNSET
    specialties: Tags | UnsetType = UNSET
    brand_specialist_brands: Tags | UnsetType = UNSET
    years_of_experience: Int32 | UnsetType = UNSET
    certifications: Tags | UnsetType = UNSET
    rating: Annotated[float, msgspec.Meta(ge=-1e6, le=1e6)] | UnsetType = UNSET
    bio: Text | UnsetType | None = UNSET
    country: Name | UnsetType | None = UNSET
    state_province: Name | UnsetType | None = UNSET
    city: Name | UnsetType | None = UNSET
    postal_code: Name | UnsetType | None = UNSET
    user_id: uuid.UUID | UnsetType = UNSET


class CustomerRequest(Input):
    email: Name
    full_name: Name
    country: Name | UnsetType | None = UNSET
    state_province: Name | UnsetType | None = UNSET
    city: Name | UnsetType | None = UNSET
    postal_code: Name | UnsetType | None = UNSET
    phone: Name | UnsetType | None = UNSET
    user_id: uuid.UUID | UnsetType = UNSET
    # The IANA zone the customer reads times in: what the browser says at sign-up
    # (Intl.DateTimeFormat().resolvedOptions().timeZone). Left out: emails use the appointment's place.
    timezone: Zone | UnsetType | None = UNSET


class CustomerProfileUpdate(Input):
    """PATCH /api/customer/profile: change the zone the customer reads times in."""
    timezone: Zone
    customer_id: uuid.UUID | UnsetType = UNSET   # admins


# ---------------------------------------------------------------------------- self-service identity


class MyCustomerProfile(Input):
    """PUT /api/me/customer: create or update my customer profile. The email is the token's verified
    email. A field left out keeps its value (on creation: none); "" clears an optional one."""
    full_name: Name | UnsetType = UNSET  # required on creation
    timezone: Zone | UnsetType = UNSET  # the browser's Intl.DateTimeFormat().resolvedOptions().timeZone
    phone: Name | UnsetType = UNSET
    country: Name | UnsetType = UNSET
    state_province: Name | UnsetType = UNSET
    city: Name | UnsetType = UNSET
    postal_code: Name | UnsetType = UNSET


class MechanicApplicationRequest(Input):
    """POST /api/me/mechanic-application: apply to work as a mechanic (again while open: update).
    A workshop mechanic names workshop_id; an independent one gives timezone."""
    full_name: Name
    bio: Text | UnsetType | None = UNSET
    specialties: Tags | UnsetType = UNSET
    brand_specialist_brands: Tags | UnsetType = UNSET
    years_of_experience: Int32 | UnsetType = UNSET
    certifications: Tags | UnsetType = UNSET
    country: Name | UnsetType | None = UNSET
    state_province: Name | UnsetType | None = UNSET
    city: Name | UnsetType | None = UNSET
    postal_code: Name | UnsetType | None = UNSET
    timezone: Zone | UnsetType | None = UNSET
    workshop_id: uuid.UUID | UnsetType | None = UNSET
    phone: Name | UnsetType | None = UNSET


class ApplicationDecision(Input):
    """POST /api/admin/mechanic-applications/{id}/reject: the reason the applicant is told (optional)."""
    reason: Text | UnsetType | None = UNSET


# ---------------------------------------------------------------------------- waitlist


class WaitlistJoinRequest(Input):
    concern: Text
    vehicle_id: uuid.UUID | UnsetType | None = UNSET
    plan: PlanCode | UnsetType = UNSET
    customer_id: uuid.UUID | UnsetType = UNSET   # admins put a customer on the waitlist


class WaitlistSettingsRequest(Input):
    customers_per_mechanic: Int32 | UnsetType = UNSET
    turn_minutes: Int32 | UnsetType = UNSET
    max_wait_minutes: Int32 | UnsetType = UNSET


# ---------------------------------------------------------------------------- waivers and the live session


class SignWaiverRequest(Input):
    # A data:image/png;base64 URL (canvas.toDataURL()). Only the request body's own bound here (256 KiB):
    # the database checks the image (real PNG, its size limit) and answers 422 invalid_signature with the reason.
    signature: Annotated[str, msgspec.Meta(max_length=262_144)] | None
    agreed: bool
    mode: Annotated[str, msgspec.Meta(max_length=20)] | UnsetType = UNSET   # must be the session's mode


class CompleteSessionRequest(Input):
    notes: Text | UnsetType | None = UNSET   # at most 10,000 characters


class RateSessionRequest(Input):
    rating: Int32   # 1-5 (checked by the database: 422)
    comment: Annotated[str, msgspec.Meta(max_length=2_000)] | UnsetType | None = UNSET


class MissingWaiverCancelRequest(Input):
    note: Annotated[str, msgspec.Meta(max_length=500)] | UnsetType | None = UNSET


class PublishWaiverRequest(Input):
    title: Name
    body: Annotated[str, msgspec.Meta(max_length=100_000)]


# ---------------------------------------------------------------------------- matching and offers


class RequestNowRequest(Input):
    """`POST /api/sessions/request-now`: "find me a mechanic now" — an immediate session through the
    session factory; matching starts at once and the top mechanics get offers. `mechanic_id` (a
    chosen, on-shift mechanic) skips matching: only that mechanic is offered the session."""

    type: Name | UnsetType = UNSET
    plan: PlanCode | UnsetType = UNSET
    concern: Text | UnsetType = UNSET
    concern_category: Name | UnsetType = UNSET
    vehicle_id: uuid.UUID | UnsetType | None = UNSET
    is_advice_only: bool | UnsetType = UNSET
    mechanic_id: uuid.UUID | UnsetType | None = UNSET
    service_mode: Name | UnsetType = UNSET
    is_urgent: bool | UnsetType = UNSET
    uploaded_files: Annotated[list[FileRef], msgspec.Meta(max_length=MAX_FILES)] | UnsetType = UNSET
    metadata: Metadata | UnsetType = UNSET
    brand_specialist_only: bool | UnsetType = UNSET   # the brand-specialist tab (stored in metadata)
    customer_id: uuid.UUID | UnsetType = UNSET         # admins request for a customer


class DeclineRequest(Input):
    reason: Annotated[str, msgspec.Meta(max_length=500)] | UnsetType | None = UNSET


class CancelRequest(Input):
    """Optional body of a cancellation: a free-text note kept with the receipt."""
    reason: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class CriterionUpdate(Input):
    weight: Annotated[float, msgspec.Meta(ge=0, le=1000)] | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
