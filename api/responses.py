"""Response bodies of the API (msgspec Structs): the typed contract a generated client builds on.

Every operation returns one of these; each gets a named schema in /schema/openapi.json, and
tests/py/test_openapi_contract.py fails if any operation answers an untyped object. Handlers pass
what the SQL function returned through `shape(Type, value)`, which checks it against the Struct:
a column the database adds or drops is a failing test here, not a silent change for clients
(`forbid_unknown_fields`). Field names are the database's (snake_case), except the calendar
step's camelCase bodies in api/schemas.py.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal, TypeVar

import msgspec

T = TypeVar("T")


class Output(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every response body: every field present (nullable ones as null), except the few
    with a default, which the schema leaves out of `required` (e.g. an immediate session's
    `opens_when`)."""


def shape(kind: type[T], value: Any) -> T:
    """`value` (a row, a list of rows or a jsonb result) as the response type `kind`."""
    return msgspec.convert(value, kind)


# ---------------------------------------------------------------------------- operations


class CronJob(Output):
    name: str
    schedule: str
    active: bool


class PgCron(Output):
    installed: bool
    jobs: list[CronJob]


class LiveWorker(Output):
    worker_id: str
    heartbeat_at: dt.datetime
    started_at: dt.datetime


class OutboxHealth(Output):
    pending: int
    due: int
    running: int
    dead: int
    oldest_pending_age_seconds: float | None
    last_heartbeat_at: dt.datetime | None
    heartbeat_age_seconds: float | None
    workers_alive: int
    workers: list[LiveWorker]


class Health(Output):
    status: Literal["ok", "degraded"]
    reasons: list[str]   # why side effects are not flowing normally: docs/operations.md
    database: bool
    migration: str | None
    pg_cron: PgCron
    outbox: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET   # api.outbox_health(): see docs/operations.md


class Unavailable(Output):
    status: Literal["unavailable"]
    database: bool
    reasons: list[str]


class Me(Output):
    user_id: uuid.UUID | None
    role: str
    db_role: str


# ---------------------------------------------------------------------------- mechanics


class Mechanic(Output):
    mechanic_id: uuid.UUID
    display_name: str
    currently_on_shift: bool
    is_favorite: bool
    is_brand_specialist: bool
    rating: float | None
    rating_count: int | None
    specialties: list[str] | None
    brand_specialist_brands: list[str] | None
    years_of_experience: int | None
    certifications: list[str] | None
    bio: str | None
    workshop_id: uuid.UUID | None
    workshop_name: str | None
    supports_in_person: bool
    timezone: str | None
    country: str | None
    state_province: str | None
    city: str | None
    postal_code: str | None


class MechanicList(Output):
    mechanics: list[Mechanic]


class Shift(Output):
    mechanic_id: uuid.UUID
    currently_on_shift: bool
    shift_changed_at: dt.datetime | None
    changed: bool


class TimeOff(Output):
    id: uuid.UUID
    mechanic_id: uuid.UUID
    start_date: dt.datetime
    end_date: dt.datetime
    reason: str | None


class TimeOffList(Output):
    time_off: list[TimeOff]


class BlockCount(Output):
    blocks: int


class MechanicBlockCount(Output):
    mechanic_id: uuid.UUID
    blocks: int


# ---------------------------------------------------------------------------- booking


class Hold(Output):
    hold_id: uuid.UUID
    expires_at: dt.datetime
    mechanic_id: uuid.UUID
    starts_at: dt.datetime
    ends_at: dt.datetime
    plan_code: str
    service_mode: str


class HoldReleased(Output):
    hold_id: uuid.UUID
    released: bool


class Session(Output):
    """A session as the session factory and reschedule return it (the app.sessions row)."""

    id: uuid.UUID
    customer_id: uuid.UUID
    mechanic_id: uuid.UUID | None
    plan_code: str
    type: str | None
    service_mode: str
    vehicle_id: uuid.UUID | None
    is_advice_only: bool
    concern: str | None
    concern_category: str | None
    is_urgent: bool
    preparation_notes: str | None
    special_requests: str | None
    file_refs: list[Any]
    scheduled_for: dt.datetime | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    is_immediate: bool
    status: str
    cancel_reason: str | None
    hold_expires_at: dt.datetime | None
    metadata: dict[str, Any]
    matching_will_run_at: dt.datetime | None
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    customer_joined_at: dt.datetime | None
    mechanic_joined_at: dt.datetime | None
    completion_notes: str | None
    money_policy_version: int   # the money policy the booking was made under (docs/money.md)


class VehicleSummary(Output):
    id: uuid.UUID
    year: int | None
    make: str
    model: str
    license_plate: str | None


class Appointment(Output):
    """An appointment as the customer's, mechanic's and admin's lists show it."""

    id: uuid.UUID
    status: str
    type: str
    service_mode: str
    plan_code: str
    plan_name: str
    price_cents: int
    starts_at: dt.datetime
    scheduled_for: dt.datetime | None
    ends_at: dt.datetime
    is_immediate: bool
    customer_id: uuid.UUID
    mechanic_id: uuid.UUID | None
    mechanic_name: str | None
    workshop_id: uuid.UUID | None
    workshop_name: str | None
    workshop_address: str | None
    timezone: str | None
    vehicle_id: uuid.UUID | None
    vehicle: VehicleSummary | None
    is_advice_only: bool
    concern: str
    concern_category: str
    is_urgent: bool
    preparation_notes: str | None
    special_requests: str | None
    file_refs: list[Any]
    cancel_reason: str | None
    metadata: dict[str, Any]
    created_at: dt.datetime


class Appointments(Output):
    upcoming: list[Appointment]
    past: list[Appointment]


# ---------------------------------------------------------------------------- customers


class Vehicle(Output):
    id: uuid.UUID
    customer_id: uuid.UUID
    year: int | None
    make: str
    model: str
    vin: str | None
    odometer: int | None
    license_plate: str | None
    created_at: dt.datetime


class VehicleRow(Vehicle):
    """A vehicle as `PATCH` returns it: the whole row."""

    updated_at: dt.datetime


class VehicleList(Output):
    vehicles: list[Vehicle]


class Deleted(Output):
    id: uuid.UUID
    deleted: bool


class FavoriteAdded(Output):
    mechanic_id: uuid.UUID
    added: bool


class FavoriteRemoved(Output):
    mechanic_id: uuid.UUID
    removed: bool


class CreatedId(Output):
    id: uuid.UUID


class WorkshopHours(Output):
    id: uuid.UUID
    days: int


# ---------------------------------------------------------------------------- notifications, money, outbox


class ResendQueued(Output):
    outbox_id: int
    queued: bool


class Payment(Output):
    id: uuid.UUID
    session_id: uuid.UUID
    payment_type: str
    amount_cents: int
    currency: str
    status: str
    payment_intent_id: str | None
    client_secret: str | None
    refund_amount_cents: int | None
    refunded_at: dt.datetime | None
    charged_at: dt.datetime | None
    created_at: dt.datetime


class DeadLetter(Output):
    id: int
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    last_error: str | None
    session_id: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime


class OutboxRetried(Output):
    id: int
    kind: str
    status: str
    attempts: int
    run_after: dt.datetime


class WebhookReceived(Output):
    received: bool
    event_id: str
    duplicate: bool
    outcome: str | None


# ---------------------------------------------------------------------------- schedule, profile, waitlist


class ScheduleRow(Appointment):
    """An appointment as the mechanic's schedule shows it: with the customer's first name only, and
    where its waiver stands."""

    customer_first_name: str | None
    waiver_status: str
    waiver_signed_at: dt.datetime | None
    waiver_mode: str | None


class Schedule(Output):
    upcoming: list[ScheduleRow]
    past: list[ScheduleRow]


class CustomerProfile(Output):
    customer_id: uuid.UUID
    email: str
    full_name: str
    timezone: str | None
    phone: str | None
    country: str | None
    state_province: str | None
    city: str | None
    postal_code: str | None
    credit_balance_cents: int


class TurnMechanic(Output):
    id: uuid.UUID
    name: str
    currently_on_shift: bool


class WaitlistEntry(Output):
    id: uuid.UUID
    customer_id: uuid.UUID
    status: str
    is_active: bool
    concern: str
    vehicle_id: uuid.UUID | None
    plan_code: str
    created_at: dt.datetime
    position: int | None
    expires_at: dt.datetime | None
    notified_at: dt.datetime | None
    mechanic: TurnMechanic | None
    turn_expires_at: dt.datetime | None
    closed_at: dt.datetime | None
    close_reason: str | None
    session_id: uuid.UUID | None


class MyWaitlist(Output):
    entry: WaitlistEntry | None


class WaitlistSettings(Output):
    customers_per_mechanic: int
    turn_minutes: int
    max_wait_minutes: int


class WaitlistSettingsChanged(WaitlistSettings):
    updated_at: dt.datetime


class WaitlistQueue(Output):
    pending: int
    notified: int
    oldest_pending_at: dt.datetime | None
    settings: WaitlistSettings


class WaitlistRow(Output):
    id: uuid.UUID
    customer_id: uuid.UUID
    customer_name: str
    customer_email: str
    status: str
    concern: str
    vehicle_id: uuid.UUID | None
    plan_code: str
    created_at: dt.datetime
    notified_at: dt.datetime | None
    notified_mechanic_id: uuid.UUID | None
    mechanic_name: str | None
    turn_expires_at: dt.datetime | None
    closed_at: dt.datetime | None
    close_reason: str | None
    session_id: uuid.UUID | None


class AdminWaitlist(Output):
    queue: WaitlistQueue
    entries: list[WaitlistRow]


class MyAppointments(Appointments):
    """My appointments, with my waitlist status (customers; null for other roles)."""

    waitlist: WaitlistEntry | None


class MechanicDirectory(MechanicList):
    """The directory; admins also get the waitlist at a glance."""

    waitlist_queue: WaitlistQueue | msgspec.UnsetType = msgspec.UNSET


# ---------------------------------------------------------------------------- identity self-service


class MechanicApplication(Output):
    id: uuid.UUID
    user_id: uuid.UUID
    status: str
    email: str
    full_name: str
    phone: str | None
    bio: str | None
    specialties: list[str]
    brand_specialist_brands: list[str]
    years_of_experience: int
    certifications: list[str]
    country: str | None
    state_province: str | None
    city: str | None
    postal_code: str | None
    timezone: str | None
    workshop_id: uuid.UUID | None
    decided_at: dt.datetime | None
    decision_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class MechanicApplications(Output):
    applications: list[MechanicApplication]


class AccountDeleted(Output):
    user_id: uuid.UUID
    deleted: bool


class ExportAccount(Output):
    email: str
    full_name: str
    role: str
    created_at: dt.datetime


class ExportCredit(Output):
    balance_cents: int | None


class DataExport(Output):
    """Everything held about the caller. The records of each table are as stored (free-form objects:
    the export follows the tables, whatever columns they gain)."""

    format: str
    exported_at: dt.datetime
    user_id: uuid.UUID
    account: ExportAccount | None
    customer: CustomerProfile | None
    vehicles: list[dict[str, Any]]
    favorites: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    credit: ExportCredit
    waitlist: list[dict[str, Any]]
    waivers: list[dict[str, Any]]   # the caller's waiver signatures
    ratings: list[dict[str, Any]]   # the ratings the caller gave
    mechanic_applications: list[MechanicApplication]


# ---------------------------------------------------------------------------- waivers and the live session


class WaiverVersion(Output):
    version: int
    title: str
    body: str
    published_at: dt.datetime


class WaiverState(Output):
    signed: bool
    version: int | None
    mode: str | None
    signed_at: dt.datetime | None


class SigningWindow(Output):
    """When the waiver can be signed: a scheduled session from its opening time; an immediate one
    once a mechanic accepted (`opens_when`)."""

    kind: Literal["scheduled", "immediate"]
    mode: str
    opens_at: dt.datetime | None
    closes_at: dt.datetime
    is_open: bool
    opens_when: str | msgspec.UnsetType = msgspec.UNSET   # immediate sessions only


class JoinWindow(Output):
    opens_at: dt.datetime | None
    closes_at: dt.datetime
    is_open: bool
    opens_when: str | msgspec.UnsetType = msgspec.UNSET   # immediate sessions only


class LiveSession(Output):
    """A session's live state (api.join_session and the waiver page)."""

    session_id: uuid.UUID
    status: str
    cancel_reason: str | None
    is_immediate: bool
    service_mode: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    customer_id: uuid.UUID
    mechanic_id: uuid.UUID | None
    waiver: WaiverState
    signing_window: SigningWindow
    join_window: JoinWindow
    paid: bool
    customer_joined_at: dt.datetime | None
    mechanic_joined_at: dt.datetime | None
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    rated: bool


class CompletedSession(LiveSession):
    completion_notes: str | None


class WaiverSignature(Output):
    id: uuid.UUID
    session_id: uuid.UUID
    waiver_version: int
    mode: str
    signed_at: dt.datetime
    signed_by: uuid.UUID
    ip_address: str | None
    user_agent: str | None
    signature_bytes: int
    agreed: bool


class WaiverSigned(Output):
    signature: WaiverSignature
    already_signed: bool   # signing twice returns the first signature
    session: LiveSession


class SignedWaiver(Output):
    """The signature as the waiver page shows it: with its image (a data: URL)."""

    id: uuid.UUID
    waiver_version: int
    mode: str
    signed_at: dt.datetime
    signed_by: uuid.UUID
    ip_address: str | None
    user_agent: str | None
    signature_bytes: int
    agreed: bool
    signature: str


class SessionWaiver(Output):
    session: LiveSession
    waiver: WaiverVersion | None     # the signed version, else the one in force
    signature: SignedWaiver | None


class SessionRating(Output):
    session_id: uuid.UUID
    mechanic_id: uuid.UUID
    rating: int
    comment: str | None
    created_at: dt.datetime


class MissingWaiverCancelled(Output):
    session_id: uuid.UUID
    status: str
    cancel_reason: str | None
    cancelled_at: dt.datetime | None
    note: str | msgspec.UnsetType = msgspec.UNSET


class MechanicDay(Output):
    date: dt.date
    timezone: str
    sessions: list[ScheduleRow]


# ---------------------------------------------------------------------------- matching and offers


class MechanicRef(Output):
    id: uuid.UUID
    name: str


class SessionMatching(Output):
    session_id: uuid.UUID
    session_status: str
    status: str | None   # offering, assigned, unmatched, cancelled; null: never matched
    targeted: bool | None
    round: int
    max_rounds: int
    open_offers: int
    offers_expire_at: dt.datetime | None
    mechanic: MechanicRef | None


class RequestedNow(Output):
    session: Session
    matching: SessionMatching


class OfferVehicle(Output):
    year: int | None
    make: str
    model: str


class MatchReason(Output):
    criterion: str
    points: float
    reason: str | None


class OfferSession(Output):
    """The facts a mechanic sees before accepting (no customer identity)."""

    type: str | None
    service_mode: str
    plan_code: str
    plan_name: str | None
    duration_minutes: int | None
    concern: str | None
    concern_category: str | None
    is_urgent: bool
    is_immediate: bool
    starts_at: dt.datetime
    ends_at: dt.datetime
    vehicle: OfferVehicle | None


class Offer(Output):
    offer_id: uuid.UUID
    session_id: uuid.UUID
    status: str
    priority: str | None
    offered_at: dt.datetime | None
    expires_at: dt.datetime | None
    match_score: float | None
    match_reasons: list[MatchReason] | None
    session: OfferSession


class OfferRow(Output):
    offer_id: uuid.UUID
    session_id: uuid.UUID
    status: str
    priority: str | None
    offered_at: dt.datetime | None
    expires_at: dt.datetime | None
    responded_at: dt.datetime | None
    match_score: float | None
    match_reasons: list[MatchReason] | None
    decline_reason: str | None
    type: str | None
    service_mode: str | None
    plan_code: str | None
    plan_name: str | None
    duration_minutes: int | None
    concern: str | None
    concern_category: str | None
    is_urgent: bool | None
    is_immediate: bool | None
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    vehicle: OfferVehicle | None


class Offers(Output):
    offers: list[OfferRow]


class Candidate(Output):
    rank: int
    mechanic_id: uuid.UUID
    display_name: str
    match_score: float
    match_reasons: list[MatchReason]


class Candidates(Output):
    session_id: uuid.UUID
    candidates: list[Candidate]


class Criterion(Output):
    code: str
    label: str
    description: str
    weight: float
    enabled: bool
    sort_order: int
    updated_at: dt.datetime


class Criteria(Output):
    criteria: list[Criterion]


# ---------------------------------------------------------------------------- money (docs/money.md)


class CancellationBreakdown(Output):
    """What a cancellation does with the money paid for the booking (integer cents).
    paid_cents = refund_cents + credit_cents + mechanic_cents + platform_cents; fee_cents is the
    processing fee taken off the refund (part of platform_cents)."""

    session_id: uuid.UUID
    tier: str
    description: str
    policy_version: int
    service_mode: str
    currency: str
    lead_seconds: int
    paid_cents: int
    refund_cents: int
    fee_cents: int
    credit_cents: int
    mechanic_cents: int
    platform_cents: int
    already_cancelled: bool
    payment_pending: bool = False
    reason: str | None = None
    cancelled_at: dt.datetime | None = None


class CreditMovement(Output):
    at: dt.datetime
    kind: str
    amount_cents: int
    balance_after_cents: int | None
    session_id: uuid.UUID | None


class CreditBalance(Output):
    balance_cents: int
    currency: str
    history: list[CreditMovement]


class EarningsItem(Output):
    at: dt.datetime
    kind: str
    session_id: uuid.UUID | None
    amount_cents: int


class Earnings(Output):
    from_: dt.datetime = msgspec.field(name="from")
    to: dt.datetime
    currency: str
    total_cents: int
    balance_cents: int
    items: list[EarningsItem]


class ReconciliationProblem(Output):
    session_id: uuid.UUID | None
    problem: str
    detail: dict[str, Any]


class CancellationTier(Output):
    service_mode: str
    tier: str
    min_lead_seconds: int | None
    max_lead_seconds: int | None
    refund_pct: float
    fee_cents: int
    credit_pct: float
    mechanic_pct: float
    description: str | None


class MoneyPolicy(Output):
    version: int
    effective_from: dt.datetime
    currency: str
    deposit_cents: int
    commission_pct: float
    note: str | None
    tiers: list[CancellationTier]
