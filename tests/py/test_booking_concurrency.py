"""No double booking under real concurrency: parallel PostgreSQL connections released together.

Every connection logs in as the API role and becomes one caller per transaction (SET LOCAL ROLE +
request.jwt.claims), exactly as a REST request does; errors are translated by api/errors.py, so
the assertions are about the codes clients would see. Time is injected (the trusted clock, set per
transaction as a test database allows); nothing sleeps.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from api.errors import translate
from tests.py.booking_fixtures import ADMIN, World, call, local
from tests.py.conftest import ClonedDatabase

UTC = dt.UTC
# A fixed "now" (Monday 2030-01-07 01:00 in Toronto): the booked days below are inside the notice
# and horizon whatever the real clock says.
NOW = dt.datetime(2030, 1, 7, 6, 0, tzinfo=UTC)
DAYS = [dt.date(2030, 1, 8), dt.date(2030, 1, 9)]
ACTIVE = "('held', 'scheduled', 'pending', 'waiting', 'active')"
NOTHING = "nothing to do"   # a reschedule/cancel round for a customer without an appointment


@contextmanager
def api_connection(db: ClonedDatabase) -> Iterator[psycopg.Connection[Any]]:
    """A connection of the API's login role (autodoc_api), as the REST API's pool holds."""
    with psycopg.connect(db.api_url, row_factory=dict_row) as conn:
        yield conn


def become(conn: psycopg.Connection[Any], user_id: str, role: str, now: dt.datetime | None = None) -> None:
    """What api.db.as_caller does at the start of every request's transaction; with `now`, the trusted
    clock reads that time for the rest of this transaction (test databases allow injecting it)."""
    conn.execute(f"SET LOCAL ROLE autodoc_{role}")
    conn.execute("SELECT set_config('request.jwt.claims', %s, true)", [json.dumps({"sub": user_id, "role": role})])
    if now is not None:
        conn.execute("SELECT set_config('autodoc.now', %s, true)", [now.isoformat()])


def make_customers(world: World, n: int, *, vehicles: bool) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    with world.as_caller(ADMIN, "admin") as conn:
        for _ in range(n):
            cid = str(call(conn, "create_customer", email=f"c-{uuid.uuid4().hex[:12]}@example.test",
                           full_name="Racing Customer"))
            vid = str(call(conn, "add_vehicle", make="Honda", model="Civic", customer_id=cid)) if vehicles else None
            out.append((cid, vid))
    return out


def overlaps(world: World, column: str) -> int:
    """Self-join: pairs of active bookings of one mechanic (or one customer) whose times overlap."""
    return int(world.one(f"""
        SELECT count(*) FROM app.sessions a JOIN app.sessions b
          ON a.{column} = b.{column} AND a.id < b.id AND a.period && b.period
        WHERE a.status IN {ACTIVE} AND b.status IN {ACTIVE}"""))


def test_fifty_clients_race_for_one_slot_and_exactly_one_wins(database: ClonedDatabase) -> None:
    world = World(database)
    mechanic = world.mechanic()
    customers = make_customers(world, 50, vehicles=False)
    slot = local(DAYS[0], 10)
    barrier = threading.Barrier(len(customers))
    outcomes: list[Any] = [None] * len(customers)

    def racer(i: int, customer_id: str) -> None:
        with api_connection(database) as conn:
            try:
                with conn.transaction():
                    become(conn, customer_id, "customer", NOW)
                    barrier.wait(timeout=60)           # everyone calls the factory at the same moment
                    session = call(conn, "create_session", type="video", plan_code="standard",
                                   concern="Brakes squeal", is_advice_only=True, scheduled_for=slot,
                                   mechanic_id=mechanic)
                outcomes[i] = ("ok", session["id"])
            except psycopg.Error as e:
                outcomes[i] = translate(e)

    threads = [threading.Thread(target=racer, args=(i, cid)) for i, (cid, _) in enumerate(customers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    winners = [o for o in outcomes if o and o[0] == "ok"]
    losers = [o for o in outcomes if o and o[0] != "ok"]
    assert len(winners) == 1, outcomes
    assert len(losers) == 49, outcomes
    assert all(status == 409 and body["code"] == "slot_unavailable" for status, body in losers), losers
    booked = world.one(f"SELECT array_agg(id::text) FROM app.sessions WHERE mechanic_id = %s AND status IN {ACTIVE}",
                       [mechanic])
    assert booked == [winners[0][1]]


# ---------------------------------------------------------------------------- random overlapping load


class Load:
    """1,000 rounds of random, overlapping booking traffic from parallel connections."""

    ROUNDS = 1000
    THREADS = 12

    def __init__(self, world: World, mechanics: list[str], customers: list[tuple[str, str | None]], seed: int):
        self.world = world
        self.mechanics = mechanics
        self.customers = customers
        self.seed = seed
        self.next_round = iter(range(self.ROUNDS))
        self.lock = threading.Lock()
        self.holds: dict[str, str] = {}                 # customer -> their latest hold
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.unexpected: list[Any] = []

    def take_round(self) -> int | None:
        with self.lock:
            return next(self.next_round, None)

    def random_slot(self, rng: random.Random) -> dt.datetime:
        minutes = 15 * rng.randrange(0, 36)             # 09:00 ... 17:45 local, a 15-minute grid
        return local(rng.choice(DAYS), 9) + dt.timedelta(minutes=minutes)

    def run_one(self, conn: psycopg.Connection[Any], rng: random.Random) -> None:
        customer, vehicle = rng.choice(self.customers)
        now = NOW + dt.timedelta(minutes=rng.randrange(0, 25))   # holds lapse as "time" moves
        op = rng.choices(["book", "hold", "convert", "reschedule", "cancel", "immediate"],
                         weights=[30, 20, 12, 22, 12, 4])[0]
        plan = rng.choice(["standard", "extended", "premium"])
        actions: dict[str, Callable[[], Any]] = {
            "book": lambda: call(conn, "create_session", type="video", plan_code=plan, concern="Noise",
                                 vehicle_id=vehicle, scheduled_for=self.random_slot(rng),
                                 mechanic_id=rng.choice(self.mechanics)),
            "hold": lambda: self.remember_hold(customer, call(
                conn, "hold_slot", mechanic_id=rng.choice(self.mechanics), starts_at=self.random_slot(rng),
                plan_code=plan)),
            "convert": lambda: NOTHING if customer not in self.holds else call(
                conn, "create_session", type="chat", concern="Paid", vehicle_id=vehicle, hold_id=self.holds[customer]),
            "reschedule": lambda: self.reschedule(conn, rng),
            "cancel": lambda: self.cancel(conn),
            "immediate": lambda: call(conn, "create_session", type="chat", plan_code=plan, concern="Now please",
                                      vehicle_id=vehicle),
        }
        try:
            with conn.transaction():
                become(conn, customer, "customer", now)
                result = actions[op]()
            self.count(f"{op}:{'noop' if result == NOTHING else 'ok'}")
        except psycopg.Error as e:
            status, body = translate(e)
            self.count(f"{op}:{body['code']}")
            if status >= 500:
                self.unexpected.append((op, status, body, str(e)))

    def remember_hold(self, customer: str, hold: dict[str, Any]) -> None:
        with self.lock:
            self.holds[customer] = hold["hold_id"]

    def reschedule(self, conn: psycopg.Connection[Any], rng: random.Random) -> Any:
        mine = conn.execute("SELECT id, mechanic_id FROM api.my_appointments('upcoming') "
                            "WHERE scheduled_for IS NOT NULL AND status = 'scheduled' LIMIT 1").fetchone()
        if mine is None:
            return NOTHING
        args: dict[str, Any] = {"session_id": mine["id"], "scheduled_for": self.random_slot(rng)}
        if rng.random() < 0.3:
            args["mechanic_id"] = rng.choice(self.mechanics)
        return call(conn, "reschedule_session", **args)

    def cancel(self, conn: psycopg.Connection[Any]) -> Any:
        # frees the customer to book again (the duplicate-booking rule allows one upcoming appointment)
        mine = conn.execute("SELECT id FROM api.my_appointments('all') "
                            "WHERE status IN ('scheduled', 'pending') LIMIT 1").fetchone()
        if mine is None:
            return NOTHING
        become(conn, ADMIN, "admin")
        return call(conn, "set_session_status", session_id=mine["id"], status="cancelled", cancel_reason="customer")

    def count(self, key: str) -> None:
        with self.lock:
            self.outcomes[key] += 1

    def worker(self, index: int, barrier: threading.Barrier) -> None:
        rng = random.Random(self.seed * 1000 + index)
        with api_connection(self.world.db) as conn:
            barrier.wait(timeout=60)
            while self.take_round() is not None:
                self.run_one(conn, rng)


def test_a_thousand_random_overlapping_requests_never_double_book(database: ClonedDatabase) -> None:
    world = World(database)
    workshop = world.admin("create_workshop", name="Queen St Garage", timezone="America/Toronto",
                           hours=[{"day_of_week": d, "open_time": "08:00", "close_time": "20:00"} for d in range(7)])
    mechanics = [world.mechanic(), world.mechanic(), world.mechanic(workshop_id=str(workshop)),
                 world.mechanic(workshop_id=str(workshop))]
    customers = make_customers(world, 40, vehicles=True)
    load = Load(world, mechanics, customers, seed=20300107)
    barrier = threading.Barrier(Load.THREADS)
    threads = [threading.Thread(target=load.worker, args=(i, barrier)) for i in range(Load.THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    done = sum(load.outcomes.values())
    assert done == Load.ROUNDS, load.outcomes
    assert load.unexpected == [], load.unexpected
    # the traffic really did collide and really did book: otherwise this proves nothing
    assert load.outcomes["book:ok"] + load.outcomes["convert:ok"] >= 20, load.outcomes
    assert load.outcomes["reschedule:ok"] >= 10, load.outcomes
    assert load.outcomes["book:slot_unavailable"] + load.outcomes["hold:slot_unavailable"] >= 20, load.outcomes
    assert overlaps(world, "mechanic_id") == 0
    assert overlaps(world, "customer_id") == 0


# ---------------------------------------------------------------------------- deadlock between bookings


def test_a_deadlock_between_two_bookings_ends_as_slot_unavailable_not_a_retry(database: ClonedDatabase) -> None:
    """Exclusion constraints insert first and check after, so two bookings can each wait for the
    other's uncommitted row. Made deterministic here with two transactions that each hold one slot and
    then reach for the other's: PostgreSQL aborts one of the waits, and that caller must get the same
    409 slot_unavailable a lost race gives (not a 503 'retry'), while the other books."""
    world = World(database)
    m1, m2 = world.mechanic(name="Mechanic One"), world.mechanic(name="Mechanic Two")
    c = [cid for cid, _ in make_customers(world, 4, vehicles=False)]
    slot = local(DAYS[0], 10)
    results: dict[str, Any] = {}
    first_bookings_done = threading.Barrier(2)

    def book(conn: psycopg.Connection[Any], customer: str, mechanic: str) -> Any:
        return call(conn, "create_session", type="video", plan_code="standard", concern="Noise", is_advice_only=True,
                    scheduled_for=slot, mechanic_id=mechanic, customer_id=customer)

    def tx(name: str, first: tuple[str, str], second: tuple[str, str]) -> None:
        with api_connection(database) as conn:
            try:
                with conn.transaction():
                    become(conn, ADMIN, "admin", NOW)
                    book(conn, *first)
                    first_bookings_done.wait(timeout=30)
                    book(conn, *second)           # waits for the other transaction's row
                results[name] = "booked both"
            except psycopg.Error as e:
                results[name] = translate(e)

    a = threading.Thread(target=tx, args=("a", (c[0], m1), (c[2], m2)))
    b = threading.Thread(target=tx, args=("b", (c[1], m2), (c[3], m1)))
    a.start(), b.start()
    a.join(timeout=60), b.join(timeout=60)

    outcomes = sorted(results.values(), key=str)
    assert len(outcomes) == 2, results
    lost = [o for o in outcomes if o != "booked both"]
    assert len(lost) == 1, results
    status, body = lost[0]
    assert (status, body["code"]) == (409, "slot_unavailable"), body
    assert overlaps(world, "mechanic_id") == 0 and overlaps(world, "customer_id") == 0
