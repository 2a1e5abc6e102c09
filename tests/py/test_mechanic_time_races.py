"""One guarantee for a mechanic's time, proven with real parallel connections.

Every writer that occupies or removes a mechanic's time (bookings, holds, reschedules, time off, weekly
blocks, workshop hours, going off shift, an accepted immediate session) takes the mechanic's lock
before it checks (docs/conventions.md, "Who may change a mechanic's time"). Two proofs:

- a deterministic interleaving per writer pair: connection 1 writes and keeps its transaction open,
  connection 2 starts the conflicting write and must wait for the lock; connection 1 commits, and
  connection 2 then fails with the rule's 409: exactly one wins;
- a random run (bookings x holds x conversions x reschedules x time off x weekly blocks x workshop
  hours, from parallel connections, on a few mechanics) that ends with zero bookings outside the
  mechanic's hours or inside time off, checked by an independent computation in Python.

Connections log in as the API role and become one caller per transaction, as a REST request does;
the trusted clock is injected per transaction (test databases allow it). Nothing sleeps for time.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.rows import dict_row

from api.errors import translate
from tests.py.booking_fixtures import ADMIN, World, call, local
from tests.py.conftest import ClonedDatabase

UTC = dt.UTC
TORONTO = ZoneInfo("America/Toronto")
NOW = dt.datetime(2030, 1, 7, 6, 0, tzinfo=UTC)        # Monday 01:00 in Toronto
DAY = dt.date(2030, 1, 8)                               # Tuesday (day_of_week 2)
DAY2 = dt.date(2030, 1, 9)                              # Wednesday (day_of_week 3)
BOOKED = "('scheduled', 'pending', 'waiting', 'active')"

Writer = Callable[[psycopg.Connection[Any]], Any]


@contextmanager
def api_connection(db: ClonedDatabase) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db.api_url, row_factory=dict_row) as conn:
        yield conn


def become(conn: psycopg.Connection[Any], user_id: str, role: str, now: dt.datetime = NOW) -> None:
    """What api.db.as_caller does per request, plus the trusted clock for this transaction."""
    conn.execute(f"SET LOCAL ROLE autodoc_{role}")
    conn.execute("SELECT set_config('request.jwt.claims', %s, true), set_config('autodoc.now', %s, true)",
                 [json.dumps({"sub": user_id, "role": role}), now.isoformat()])


def as_(user_id: str, role: str, function: str, **args: Any) -> Writer:
    def write(conn: psycopg.Connection[Any]) -> Any:
        become(conn, user_id, role)
        return call(conn, function, **args)
    return write


def blocks(day_of_week: int, start: str, end: str) -> list[dict[str, Any]]:
    return [{"day_of_week": day_of_week, "start_time": start, "end_time": end}]


# ---------------------------------------------------------------------------- deterministic pairs


@dataclass
class Scene:
    world: World
    workshop: str
    ws_mechanic: str          # workshop mechanic, 09:00-18:00 every day (the workshop's hours)
    ind: str                  # independent mechanic, Tuesdays 09:00-17:00
    on_shift: str             # workshop mechanic on shift, for immediate sessions
    customers: list[str]

    def book(self, customer: int, mechanic: str, at: dt.datetime) -> Writer:
        return as_(self.customers[customer], "customer", "create_session", type="video", plan_code="standard",
                   concern="Noise", is_advice_only=True, scheduled_for=at, mechanic_id=mechanic)

    def hold(self, customer: int, mechanic: str, at: dt.datetime) -> Writer:
        return as_(self.customers[customer], "customer", "hold_slot", mechanic_id=mechanic, starts_at=at)

    def time_off(self, mechanic: str, start: dt.datetime, end: dt.datetime) -> Writer:
        return as_(mechanic, "mechanic", "add_time_off", start_date=start, end_date=end)

    def blocks(self, day_of_week: int, start: str, end: str) -> Writer:
        """The independent mechanic replaces their weekly blocks with one block."""
        return as_(self.ind, "mechanic", "set_availability_blocks", mechanic_id=self.ind,
                   blocks=blocks(day_of_week, start, end))


def scene(db: ClonedDatabase) -> Scene:
    world = World(db)
    workshop = str(world.admin("create_workshop", name="Queen St Garage", timezone="America/Toronto",
                               hours=[{"day_of_week": d, "open_time": "09:00", "close_time": "18:00"}
                                      for d in range(7)]))
    ws_mechanic = world.mechanic(workshop_id=workshop)
    on_shift = world.mechanic(workshop_id=workshop, on_shift=True)
    ind = world.mechanic()
    world.admin("set_availability_blocks", mechanic_id=ind, blocks=blocks(2, "09:00", "17:00"))
    customers = [world.customer(vehicle=False)[0] for _ in range(3)]
    return Scene(world, workshop, ws_mechanic, ind, on_shift, customers)


def backend_pid(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
    assert row is not None
    return int(row["pid"])


def waiting_for_a_lock(db: ClonedDatabase, pid: int) -> bool:
    with psycopg.connect(db.superuser_dsn) as su:
        row = su.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
        return row is not None and row[0] == "Lock"


def interleave(db: ClonedDatabase, first: Writer, second: Writer) -> tuple[Any, Any]:
    """1 writes and stays open; 2 starts and must wait for 1's lock; 1 commits; 2 finishes.
    Returns (1's result, 2's result or (status, body) of its error)."""
    outcome: dict[str, Any] = {}
    with api_connection(db) as c1, api_connection(db) as c2:
        pid2 = backend_pid(c2)
        t1 = c1.transaction()
        t1.__enter__()
        try:
            won = first(c1)

            def run_second() -> None:
                try:
                    with c2.transaction():
                        outcome["result"] = second(c2)
                except psycopg.Error as e:
                    outcome["result"] = translate(e)

            thread = threading.Thread(target=run_second)
            thread.start()
            deadline = time.monotonic() + 20
            while not waiting_for_a_lock(db, pid2):   # a real event in the other backend, not a timer
                assert thread.is_alive(), f"the second writer did not wait for the first: {outcome}"
                assert time.monotonic() < deadline, "the second writer never started waiting"
                time.sleep(0.01)
        except BaseException:
            t1.__exit__(None, None, None)
            raise
        t1.__exit__(None, None, None)                 # commit: the lock is released
        thread.join(timeout=30)
        assert not thread.is_alive()
    return won, outcome["result"]


def refused(result: Any, status: int, code: str) -> dict[str, Any]:
    assert isinstance(result, tuple) and result[0] == status and result[1]["code"] == code, result
    body: dict[str, Any] = result[1]
    return body


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return local(day, hour, minute)


PAIRS: dict[str, tuple[Callable[[Scene], Writer], Callable[[Scene], Writer], int, str, list[str] | None]] = {
    # (first, second, status, code the second gets, slot_unavailable reasons)
    "booking, then time off over it": (
        lambda s: s.book(0, s.ws_mechanic, at(DAY, 10)),
        lambda s: s.time_off(s.ws_mechanic, at(DAY, 0), at(DAY2, 0)), 409, "time_off_conflicts", None),
    "time off, then a booking inside it": (
        lambda s: s.time_off(s.ws_mechanic, at(DAY, 0), at(DAY2, 0)),
        lambda s: s.book(0, s.ws_mechanic, at(DAY, 10)), 409, "slot_unavailable", ["time_off"]),
    "hold, then time off over it": (
        lambda s: s.hold(0, s.ws_mechanic, at(DAY, 10)),
        lambda s: s.time_off(s.ws_mechanic, at(DAY, 9), at(DAY, 12)), 409, "time_off_conflicts", None),
    "time off, then a hold inside it": (
        lambda s: s.time_off(s.ws_mechanic, at(DAY, 9), at(DAY, 12)),
        lambda s: s.hold(0, s.ws_mechanic, at(DAY, 10)), 409, "slot_unavailable", ["time_off"]),
    "booking, then weekly blocks that leave it outside": (
        lambda s: s.book(0, s.ind, at(DAY, 15)),
        lambda s: s.blocks(2, "09:00", "12:00"),
        409, "hours_conflict", None),
    "weekly blocks shrink, then a booking outside them": (
        lambda s: s.blocks(2, "09:00", "12:00"),
        lambda s: s.book(0, s.ind, at(DAY, 15)), 409, "slot_unavailable", ["closed"]),
    "hold, then weekly blocks that leave it outside": (
        lambda s: s.hold(0, s.ind, at(DAY, 15)),
        lambda s: s.blocks(3, "09:00", "17:00"),
        409, "hours_conflict", None),
    "booking, then workshop hours that leave it outside": (
        lambda s: s.book(0, s.ws_mechanic, at(DAY, 16)),
        lambda s: as_(ADMIN, "admin", "set_workshop_hours", workshop_id=s.workshop,
                      hours=[{"day_of_week": 2, "open_time": "09:00", "close_time": "12:00"}]),
        409, "hours_conflict", None),
    "workshop hours shrink, then a booking outside them": (
        lambda s: as_(ADMIN, "admin", "set_workshop_hours", workshop_id=s.workshop,
                      hours=[{"day_of_week": 2, "open_time": "09:00", "close_time": "12:00"}]),
        lambda s: s.book(0, s.ws_mechanic, at(DAY, 16)), 409, "slot_unavailable", ["closed"]),
    "booking, then another booking of the same slot": (
        lambda s: s.book(0, s.ind, at(DAY, 10)),
        lambda s: s.book(1, s.ind, at(DAY, 10)), 409, "slot_unavailable", ["overlapping_booking"]),
    "reschedule into a slot, then time off over it": (
        lambda s: reschedule_first(s, at(DAY, 14)),
        lambda s: s.time_off(s.ws_mechanic, at(DAY, 13), at(DAY, 15)), 409, "time_off_conflicts", None),
    "time off, then a reschedule into it": (
        lambda s: s.time_off(s.ws_mechanic, at(DAY, 13), at(DAY, 15)),
        lambda s: reschedule_first(s, at(DAY, 14)), 409, "slot_unavailable", ["time_off"]),
    "an immediate session accepted, then going off shift": (
        lambda s: accept_immediate(s),
        lambda s: as_(s.on_shift, "mechanic", "set_shift", on_shift=False), 409, "sessions_in_progress", None),
    "going off shift, then an immediate session accepted": (
        lambda s: as_(s.on_shift, "mechanic", "set_shift", on_shift=False),
        lambda s: accept_immediate(s), 409, "mechanic_offline", None),
}

_prepared: dict[int, str] = {}


def reschedule_first(s: Scene, to: dt.datetime) -> Writer:
    """Customer 2's booking (arranged beforehand, Tuesday 10:00) moves to `to`."""
    session = _prepared[id(s)]
    return as_(s.customers[2], "customer", "reschedule_session", session_id=session, scheduled_for=to)


def accept_immediate(s: Scene) -> Writer:
    """What accepting an offer does to the session (matching, band 60, will call it through its own
    function): the lock first, then the mechanic is assigned and the session waits to start."""
    session = _prepared[id(s)]

    def write(conn: psycopg.Connection[Any]) -> Any:
        become(conn, ADMIN, "admin")
        return conn.execute("UPDATE app.sessions SET mechanic_id = %s, status = 'waiting' WHERE id = %s RETURNING id",
                            [s.on_shift, session]).fetchone()
    return write


@pytest.mark.parametrize("pair", list(PAIRS))
def test_two_writers_of_one_mechanics_time_one_waits_then_exactly_one_wins(database: ClonedDatabase, pair: str) -> None:
    s = scene(database)
    first, second, status, code, reasons = PAIRS[pair]
    with s.world.as_caller(s.customers[2], "customer", now=NOW) as conn:
        if "reschedule" in pair:    # customer 2's booking, Tuesday 10:00, to be moved
            booked = call(conn, "create_session", type="video", plan_code="standard", concern="Noise",
                          is_advice_only=True, scheduled_for=at(DAY, 10), mechanic_id=s.ws_mechanic)
            _prepared[id(s)] = str(booked["id"])
        if "immediate" in pair:     # customer 2's immediate request, not yet accepted
            _prepared[id(s)] = str(call(conn, "create_session", type="chat", plan_code="standard", concern="Now",
                                        is_advice_only=True)["id"])
    won, lost = interleave(database, first(s), second(s))
    assert not isinstance(won, tuple), won
    body = refused(lost, status, code)
    if reasons is not None:
        assert body["detail"]["reasons"] == reasons, body
    assert violations(database) == [], "the rule holds after the race"


# ---------------------------------------------------------------------------- the invariant, independently


def violations(db: ClonedDatabase) -> list[str]:
    """Bookings (scheduled, pending, waiting, active) inside their mechanic's time off, or scheduled
    ones outside the mechanic's opening hours — computed here from the raw tables with zoneinfo, not
    by the database's own availability functions. Immediate sessions on an off-shift mechanic too."""
    found: list[str] = []
    with psycopg.connect(db.superuser_dsn, row_factory=dict_row) as su:
        for r in su.execute(f"""
                SELECT s.id FROM app.sessions s JOIN app.mechanic_time_off t
                  ON t.mechanic_id = s.mechanic_id AND t.period && s.period
                WHERE s.status IN {BOOKED}""").fetchall():
            found.append(f"in time off: {r['id']}")
        for r in su.execute(f"""
                SELECT s.id FROM app.sessions s JOIN app.mechanics m ON m.user_id = s.mechanic_id
                WHERE s.scheduled_for IS NULL AND s.status IN {BOOKED} AND NOT m.currently_on_shift""").fetchall():
            found.append(f"immediate with an off-shift mechanic: {r['id']}")
        settings = su.execute("SELECT default_open_time, default_close_time FROM app.booking_settings").fetchone()
        assert settings is not None
        sessions = su.execute(f"""
            SELECT s.id, s.mechanic_id, lower(s.period) AS start, upper(s.period) AS end_,
                   m.workshop_id, coalesce(w.timezone, m.timezone) AS tz
            FROM app.sessions s JOIN app.mechanics m ON m.user_id = s.mechanic_id
            LEFT JOIN app.workshops w ON w.id = m.workshop_id
            WHERE s.status IN {BOOKED} AND s.scheduled_for IS NOT NULL""").fetchall()
        for s in sessions:
            if s["workshop_id"]:
                hours = su.execute("SELECT day_of_week, is_open, open_time, close_time FROM app.workshop_availability "
                                   "WHERE workshop_id = %s", [s["workshop_id"]]).fetchall()
            else:
                hours = su.execute("SELECT day_of_week, true AS is_open, start_time AS open_time, "
                                   "end_time AS close_time FROM app.mechanic_availability_blocks "
                                   "WHERE mechanic_id = %s",
                                   [s["mechanic_id"]]).fetchall()
            rules = [(h["day_of_week"], h["open_time"], h["close_time"]) for h in hours if h["is_open"]]
            if not hours:
                rules = [(d, settings["default_open_time"], settings["default_close_time"]) for d in range(7)]
            if not inside_hours(s["start"], s["end_"], ZoneInfo(s["tz"]), rules):
                found.append(f"outside hours: {s['id']}")
    return found


def inside_hours(start: dt.datetime, end: dt.datetime, zone: ZoneInfo,
                 rules: list[tuple[int, dt.time, dt.time]]) -> bool:
    """Is [start, end) inside the union of the weekly windows (day_of_week 0 = Sunday; a window whose
    close <= open ends the next day), with local times made instants in `zone`?"""
    first = start.astimezone(zone).date() - dt.timedelta(days=1)
    windows: list[tuple[dt.datetime, dt.datetime]] = []
    for offset in range(4):
        day = first + dt.timedelta(days=offset)
        dow = (day.weekday() + 1) % 7
        for rule_dow, open_, close in rules:
            if rule_dow == dow:
                opens = dt.datetime.combine(day, open_, tzinfo=zone)
                closes = dt.datetime.combine(day + dt.timedelta(days=1 if close <= open_ else 0), close, tzinfo=zone)
                windows.append((opens, closes))
    merged: list[list[dt.datetime]] = []
    for opens, closes in sorted(windows):
        if merged and opens <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], closes)
        else:
            merged.append([opens, closes])
    return any(opens <= start and end <= closes for opens, closes in merged)


# ---------------------------------------------------------------------------- random parallel load


class Load:
    """Random writes of every kind on a few mechanics from parallel connections."""

    ROUNDS = 600
    THREADS = 8

    def __init__(self, world: World, workshop: str, mechanics: list[str], independents: list[str],
                 customers: list[str], seed: int) -> None:
        self.world = world
        self.workshop = workshop
        self.mechanics = mechanics
        self.independents = independents
        self.customers = customers
        self.seed = seed
        self.rounds = iter(range(self.ROUNDS))
        self.lock = threading.Lock()
        self.holds: dict[str, str] = {}
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.unexpected: list[Any] = []

    def take_round(self) -> bool:
        with self.lock:
            return next(self.rounds, None) is not None

    def slot(self, rng: random.Random) -> dt.datetime:
        return local(rng.choice([DAY, DAY2]), 7) + dt.timedelta(minutes=30 * rng.randrange(0, 26))  # 07:00-19:30

    def hours_pattern(self, rng: random.Random) -> tuple[str, str]:
        return rng.choice([("09:00", "18:00"), ("09:00", "17:00"), ("10:00", "14:00"), ("12:00", "19:00"),
                           ("08:00", "20:00"), ("07:00", "12:00")])

    def op(self, conn: psycopg.Connection[Any], rng: random.Random, now: dt.datetime) -> tuple[str, Any]:
        kind = rng.choices(["book", "hold", "convert", "reschedule", "cancel", "time_off", "remove_time_off",
                            "blocks", "workshop_hours"], weights=[26, 14, 8, 12, 10, 12, 5, 7, 6])[0]
        customer = rng.choice(self.customers)
        if kind == "book":
            become(conn, customer, "customer", now)
            return kind, call(conn, "create_session", type="video", plan_code=rng.choice(["standard", "premium"]),
                              concern="Noise", is_advice_only=True, scheduled_for=self.slot(rng),
                              mechanic_id=rng.choice(self.mechanics))
        if kind == "hold":
            become(conn, customer, "customer", now)
            hold = call(conn, "hold_slot", mechanic_id=rng.choice(self.mechanics), starts_at=self.slot(rng))
            with self.lock:
                self.holds[customer] = hold["hold_id"]
            return kind, hold
        if kind == "convert":
            if customer not in self.holds:
                return kind, None
            become(conn, customer, "customer", now)
            return kind, call(conn, "create_session", type="chat", concern="Paid", is_advice_only=True,
                              hold_id=self.holds[customer])
        if kind == "reschedule":
            become(conn, customer, "customer", now)
            mine = conn.execute("SELECT id FROM api.my_appointments('upcoming') WHERE status = 'scheduled' "
                                "AND mechanic_id IS NOT NULL LIMIT 1").fetchone()
            if mine is None:
                return kind, None
            args: dict[str, Any] = {"session_id": mine["id"], "scheduled_for": self.slot(rng)}
            if rng.random() < 0.4:
                args["mechanic_id"] = rng.choice(self.mechanics)
            return kind, call(conn, "reschedule_session", **args)
        if kind == "cancel":
            become(conn, ADMIN, "admin", now)
            mine = conn.execute("SELECT id FROM app.sessions WHERE customer_id = %s AND status = 'scheduled' LIMIT 1",
                                [customer]).fetchone()
            if mine is None:
                return kind, None
            return kind, call(conn, "set_session_status", session_id=mine["id"], status="cancelled",
                              cancel_reason="customer")
        mechanic = rng.choice(self.mechanics)
        if kind == "time_off":
            become(conn, mechanic, "mechanic", now)
            start = self.slot(rng)
            return kind, call(conn, "add_time_off", start_date=start,
                              end_date=start + dt.timedelta(hours=rng.choice([1, 2, 4, 12])))
        if kind == "remove_time_off":
            become(conn, mechanic, "mechanic", now)
            mine = conn.execute("SELECT id FROM api.my_time_off() LIMIT 1").fetchone()
            return kind, None if mine is None else call(conn, "remove_time_off", time_off_id=mine["id"])
        if kind == "blocks":
            ind = rng.choice(self.independents)
            become(conn, ind, "mechanic", now)
            opens, closes = self.hours_pattern(rng)
            days = rng.choice([[2, 3], [2], [3]])
            return kind, call(conn, "set_availability_blocks", mechanic_id=ind, blocks=[
                {"day_of_week": d, "start_time": opens, "end_time": closes} for d in days])
        become(conn, ADMIN, "admin", now)
        opens, closes = self.hours_pattern(rng)
        return kind, call(conn, "set_workshop_hours", workshop_id=self.workshop, hours=[
            {"day_of_week": d, "open_time": opens, "close_time": closes} for d in rng.choice([[2, 3], [2], [3]])])

    def run_one(self, conn: psycopg.Connection[Any], rng: random.Random) -> None:
        now = NOW + dt.timedelta(minutes=rng.randrange(0, 25))     # holds lapse as "time" moves
        try:
            with conn.transaction():
                kind, result = self.op(conn, rng, now)
            self.count(f"{kind}:{'noop' if result is None else 'ok'}")
        except psycopg.Error as e:
            status, body = translate(e)
            reasons = body.get("detail", {}).get("reasons") if isinstance(body.get("detail"), dict) else None
            self.count(f"{body['code']}{':' + '+'.join(reasons) if reasons else ''}")
            if status >= 500:
                self.unexpected.append((status, body, str(e)))

    def count(self, key: str) -> None:
        with self.lock:
            self.outcomes[key] += 1

    def worker(self, index: int, barrier: threading.Barrier) -> None:
        rng = random.Random(self.seed * 1000 + index)
        with api_connection(self.world.db) as conn:
            barrier.wait(timeout=60)
            while self.take_round():
                self.run_one(conn, rng)


def test_random_parallel_writers_never_leave_a_booking_outside_hours_or_inside_time_off(
        database: ClonedDatabase, capsys: pytest.CaptureFixture[str]) -> None:
    world = World(database)
    workshop = str(world.admin("create_workshop", name="Race Garage", timezone="America/Toronto",
                               hours=[{"day_of_week": d, "open_time": "09:00", "close_time": "18:00"} for d in (2, 3)]))
    independents = [world.mechanic(), world.mechanic(timezone="America/Vancouver")]
    mechanics = [*independents, world.mechanic(workshop_id=workshop), world.mechanic(workshop_id=workshop)]
    with world.as_caller(ADMIN, "admin") as conn:
        for m in independents:
            call(conn, "set_availability_blocks", mechanic_id=m, blocks=[
                {"day_of_week": d, "start_time": "09:00", "end_time": "18:00"} for d in (2, 3)])
        customers = [str(call(conn, "create_customer", email=f"r-{uuid.uuid4().hex[:12]}@example.test",
                              full_name="Racing Customer")) for _ in range(40)]
    load = Load(world, workshop, mechanics, independents, customers, seed=20300108)
    barrier = threading.Barrier(Load.THREADS)
    threads = [threading.Thread(target=load.worker, args=(i, barrier)) for i in range(Load.THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    rounds = sum(load.outcomes.values())
    found = violations(database)
    with capsys.disabled():
        print(f"\nmechanic-time race: rounds={rounds} violations={len(found)}")
        print(f"outcomes: {dict(sorted(load.outcomes.items()))}")
    assert rounds == Load.ROUNDS
    assert load.unexpected == [], load.unexpected
    assert found == [], found
    # the writers really did collide and really did succeed; otherwise this proves nothing
    o = load.outcomes
    assert o["book:ok"] + o["convert:ok"] >= 20, o
    assert o["time_off:ok"] >= 10 and o["blocks:ok"] + o["workshop_hours:ok"] >= 10, o
    assert o["time_off_conflicts"] >= 5 and o["hours_conflict"] >= 5, o
    refused_by_trigger = [n for k, n in o.items()
                          if k.startswith("slot_unavailable") and ("closed" in k or "time_off" in k)]
    assert sum(refused_by_trigger) >= 10, o


def test_a_repeatable_read_writer_is_refused(database: ClonedDatabase) -> None:
    """After waiting for the lock, REPEATABLE READ would check against its old snapshot: refused."""
    world = World(database)
    mechanic = world.mechanic()
    with api_connection(database) as conn:
        with pytest.raises(psycopg.Error) as caught, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            become(conn, mechanic, "mechanic")
            call(conn, "add_time_off", start_date=at(DAY, 9), end_date=at(DAY, 12))
        assert translate(caught.value)[1]["code"] == "isolation_not_supported"
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            become(conn, mechanic, "mechanic")
            assert call(conn, "add_time_off", start_date=at(DAY, 9), end_date=at(DAY, 12))

