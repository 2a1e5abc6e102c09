"""Money: what a policy cancellation costs next to a booking, and reading a big credit balance.

Its own database in the run's cluster (`..._money`), migrated like the others: N customers (N/8 per
client), N independent mechanics in America/Toronto (default hours 09:00-18:00), one booking each.

1. **Bookings/s** — 8 clients, each books its customers through `api.create_session` (the session
   factory as the customer: chosen mechanic, 10:00 local three days ahead; the charge, two emails
   with invites and three reminders are written in the same transaction, as in production).
   Untimed: every charge is marked succeeded (the worker's write-back), which posts its ledger
   transaction.
2. **Cancellations/s** — the same 8 clients cancel half of those bookings with
   `api.cancel_session` as their customer (policy tier, receipt, cancellation transaction, refund
   row + its ledger commit + its outbox row, CANCEL invites, reminders stopped), and, as the
   baseline without money, the other half with `api.set_session_status(..., 'cancelled')` as an
   admin (the same lifecycle, invites and reminders; no policy, no ledger, no refund).
   Ratios: cancellations/s vs bookings/s, and policy vs plain cancellation.
3. **Balance of a customer with 10,000 ledger entries** — one customer gets 10,000 credit
   movements (credit adjustments, untimed); then `api.my_credit(100)` as that customer (kept
   balance + the last 100 movements through RLS) and the balance alone, each timed 500 times;
   beside them the balance derived by summing the 10,000 entries (what it would cost without the
   trigger-kept balance).

Measured twice, durable (fsync + synchronous_commit on, as users run it: the headline) and CPU-only
(the bench cluster's fsync off), labelled in results.json.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import psycopg

from api.devtools import migrate
from bench.common import Ctx, Stopwatch, dist, durability_mode, ratio

CLIENTS = 8
ADMIN = "a0000000-0000-4000-8000-00000000f00d"
RICH = "a0000000-0000-4000-8000-00000000ca5e"

SETUP_SQL = """
INSERT INTO app.users (id, email, full_name, role)
SELECT gen_random_uuid(), 'm-c' || i || '@bench.example', 'Customer ' || i, 'customer' FROM generate_series(1, %(n)s) i;
INSERT INTO app.customers (user_id) SELECT id FROM app.users WHERE role = 'customer';
INSERT INTO app.vehicles (customer_id, make, model) SELECT user_id, 'Honda', 'Civic' FROM app.customers;
INSERT INTO app.users (id, email, full_name, role)
SELECT gen_random_uuid(), 'm-m' || i || '@bench.example', 'Mechanic ' || i, 'mechanic' FROM generate_series(1, %(n)s) i;
INSERT INTO app.mechanics (user_id, display_name, timezone)
SELECT id, full_name, 'America/Toronto' FROM app.users WHERE role = 'mechanic';
INSERT INTO app.users (id, email, full_name, role) VALUES
  (%(admin)s, 'm-admin@bench.example', 'Bench Admin', 'admin'),
  (%(rich)s, 'm-rich@bench.example', 'Many Movements', 'customer');
INSERT INTO app.customers (user_id) VALUES (%(rich)s);
"""


def _as(conn: psycopg.Connection[Any], user: str, role: str) -> None:
    conn.execute(f"SET ROLE autodoc_{role}")
    conn.execute("SELECT set_config('request.jwt.claims', %s, false)", [json.dumps({"sub": user, "role": role})])


def _parallel(ctx: Ctx, name: str, work: list[list[Any]], one: Any) -> dict[str, Any]:
    """Run one(conn, item) for every item, CLIENTS threads each with its own connection; wall time."""
    errors: list[str] = []
    lat: list[float] = []
    lock = threading.Lock()

    def client(items: list[Any]) -> None:
        with psycopg.connect(ctx.cluster.tcp_url("autodoc_api", ctx.api_password, name), autocommit=True) as conn:
            for item in items:
                t = time.perf_counter()
                try:
                    one(conn, item)
                except psycopg.Error as e:
                    with lock:
                        errors.append(f"{e.sqlstate}: {e}")
                with lock:
                    lat.append((time.perf_counter() - t) * 1000)

    threads = [threading.Thread(target=client, args=(items,)) for items in work]
    sw = Stopwatch()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = sw.s()
    n = sum(len(w) for w in work)
    return {"n": n, "seconds": round(wall, 2), "per_s": round((n - len(errors)) / wall, 1),
            "latency_ms": dist(lat), "errors": len(errors), "first_error": errors[0] if errors else None}


def _book(conn: psycopg.Connection[Any], item: tuple[str, str, str]) -> None:
    customer, mechanic, vehicle = item
    _as(conn, customer, "customer")
    conn.execute("SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'Noise', "
                 "p_vehicle_id => %s, p_mechanic_id => %s, p_scheduled_for => "
                 "((current_date + 3)::timestamp + time '10:00') AT TIME ZONE 'America/Toronto')",
                 [vehicle, mechanic])
    conn.execute("RESET ROLE")


def _cancel(conn: psycopg.Connection[Any], item: tuple[str, str]) -> None:
    customer, session = item
    _as(conn, customer, "customer")
    conn.execute("SELECT api.cancel_session(%s)", [session])
    conn.execute("RESET ROLE")


def _plain_cancel(conn: psycopg.Connection[Any], item: tuple[str, str]) -> None:
    _, session = item
    _as(conn, ADMIN, "admin")
    conn.execute("SELECT api.set_session_status(%s, 'cancelled', 'admin')", [session])
    conn.execute("RESET ROLE")


def _round(ctx: Ctx, name: str, n: int) -> dict[str, Any]:
    """One fresh database: bookings, then policy and plain cancellations."""
    with psycopg.connect(ctx.cluster.superuser_dsn(name), autocommit=True) as conn:
        conn.execute("DELETE FROM app.outbox")  # the previous round's rows; the ledger is append-only
        customers = conn.execute(
            "SELECT c.user_id::text, v.id::text FROM app.customers c JOIN app.vehicles v ON v.customer_id = c.user_id "
            "WHERE NOT EXISTS (SELECT 1 FROM app.sessions s WHERE s.customer_id = c.user_id) ORDER BY c.user_id "
            "LIMIT %s", [n]).fetchall()
        mechanics = conn.execute(
            "SELECT m.user_id::text FROM app.mechanics m WHERE NOT EXISTS "
            "(SELECT 1 FROM app.sessions s WHERE s.mechanic_id = m.user_id) ORDER BY m.user_id LIMIT %s",
            [n]).fetchall()
    items = [(c, m[0], v) for (c, v), m in zip(customers, mechanics, strict=True)]
    book = _parallel(ctx, name, [items[k::CLIENTS] for k in range(CLIENTS)], _book)
    with psycopg.connect(ctx.cluster.superuser_dsn(name), autocommit=True) as conn:
        conn.execute("UPDATE app.scheduled_payments SET status = 'succeeded', charged_at = now() "
                     "WHERE status = 'pending'")
        booked = conn.execute("SELECT customer_id::text, id::text FROM app.sessions WHERE status = 'scheduled' "
                              "AND customer_id = ANY(%s::uuid[]) ORDER BY id", [[c for c, _, _ in items]]).fetchall()
        conn.execute("VACUUM ANALYZE")
    policy = [tuple(r) for r in booked[0::2]]
    plain = [tuple(r) for r in booked[1::2]]
    cancel = _parallel(ctx, name, [policy[k::CLIENTS] for k in range(CLIENTS)], _cancel)
    plain_cancel = _parallel(ctx, name, [plain[k::CLIENTS] for k in range(CLIENTS)], _plain_cancel)
    return {"bookings": book, "policy_cancellations": cancel, "plain_cancellations": plain_cancel,
            "cancellations_vs_bookings": ratio(cancel["per_s"], book["per_s"]),
            "policy_vs_plain_cancellation": ratio(cancel["per_s"], plain_cancel["per_s"])}


def _balance(ctx: Ctx, name: str, entries: int, runs: int) -> dict[str, Any]:
    with psycopg.connect(ctx.cluster.superuser_dsn(name), autocommit=True) as conn:
        have = conn.execute("SELECT version FROM app.ledger_accounts WHERE kind = 'customer_credit' AND owner_id = %s",
                            [RICH]).fetchone()
        if not have or have[0] < entries:
            conn.execute(f"""DO $$ BEGIN FOR i IN 1..{entries} LOOP
                               UPDATE app.customers SET credit_balance_cents = credit_balance_cents + 1
                                WHERE user_id = '{RICH}';
                             END LOOP; END $$""")
            conn.execute("VACUUM ANALYZE")
    out: dict[str, Any] = {}
    with psycopg.connect(ctx.cluster.tcp_url("autodoc_api", ctx.api_password, name), autocommit=True) as conn:
        _as(conn, RICH, "customer")
        for key, query in (
            ("my_credit_ms", "SELECT api.my_credit(100)"),
            ("balance_only_ms", "SELECT (api.my_credit(1) ->> 'balance_cents')::bigint"),
            ("derived_sum_ms", "SELECT sum(e.amount_cents) FROM app.ledger_entries e JOIN app.ledger_accounts a "
                               "ON a.id = e.account_id WHERE a.kind = 'customer_credit' AND a.owner_id = "
                               "app_private.current_user_id()"),
        ):
            lat = []
            for _ in range(runs):
                t = time.perf_counter()
                conn.execute(query).fetchone()
                lat.append((time.perf_counter() - t) * 1000)
            out[key] = dist(lat)
        row = conn.execute("SELECT version, balance_cents FROM app.ledger_accounts "
                           "WHERE kind = 'customer_credit'").fetchone()
        out["entries"], out["balance_cents"] = (row[0], row[1]) if row else (0, 0)
    return out


def run(ctx: Ctx) -> dict[str, Any]:
    n = 400 if ctx.quick else 2400
    entries = 2000 if ctx.quick else 10_000
    name = ctx.dbname + "_money"
    migrate.bootstrap(ctx.cluster, name, ctx.api_password)
    migrate.migrate(ctx.cluster, name)
    with psycopg.connect(ctx.cluster.superuser_dsn(name)) as conn:
        psycopg.ClientCursor(conn).execute(SETUP_SQL, {"n": 2 * n, "admin": ADMIN, "rich": RICH})
    with psycopg.connect(ctx.cluster.superuser_dsn(name), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    result: dict[str, Any] = {"clients": CLIENTS, "bookings_per_round": n}
    try:
        mode = durability_mode(ctx, True)
        result["durable"] = _round(ctx, name, n) | {"fsync/synchronous_commit": mode}
        result["balance_10k"] = _balance(ctx, name, entries, 200 if ctx.quick else 500)
    finally:
        mode = durability_mode(ctx, False)
    result["cpu_only"] = _round(ctx, name, n) | {"fsync/synchronous_commit": mode}
    return result
