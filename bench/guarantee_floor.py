"""The guarantees' own cost for ONE booking including its fan-out, one client, by backend CPU.

The booking floor (bench.booking_throughput.FLOOR_SCRIPT: the writes a booking must make) is joined
here by the fan-out's floor: the writes the three exactly-once effects of a booking must make however
they are built — the booking event marked done, the payment row, three durable effect rows (the
charge, two invite emails) with their idempotency keys, the calendar invite's row; then each effect
claimed (a lease, one statement for the three) and completed (one statement for the three, the
charge's PaymentIntent linked) — as three transactions, the fewest a worker can use with an external
call between claim and completion. Prepared statements, no PL/pgSQL, the user triggers of the
tables disabled for the phase (the FK triggers stay), on the bench database itself.

Both run as pgbench with one client; the figure is the CPU of pgbench's backend from
/proc/<pid>/stat, the method of `cpu_per_booking`, so the two are comparable. Booking + fan-out
floors together are what no implementation of these guarantees can go below on this schema.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Sequence
from typing import Any

import psycopg

from api.devtools.cluster import PG_BIN
from bench.common import Ctx, proc_cpu_s

FANOUT_FLOOR_TABLES = ("app.outbox", "app.scheduled_payments", "app.session_invites")
# pgbench replaces `:name` everywhere, string literals included: keys use '-' where the product uses ':'
FANOUT_FLOOR_SCRIPT = """\
BEGIN;
SELECT session_id AS sid, customer_id AS c FROM bench.fanout_floor_sessions
 WHERE k = (SELECT nextval('bench.fanout_floor_seq')) \\gset
UPDATE app.outbox SET status = 'done', attempts = attempts + 1, done_at = now(), updated_at = now(), result = '{}'
 WHERE idempotency_key = 'floor' || chr(58) || :sid::text;
INSERT INTO app.scheduled_payments (session_id, customer_id, amount_cents, payment_type, idempotency_key)
VALUES (:sid::uuid, :c::uuid, 2900, 'full', 'ff-charge-' || :sid::text) RETURNING id AS pid \\gset
INSERT INTO app.outbox (kind, idempotency_key, payload, session_id) VALUES
  ('stripe.charge', 'ff-charge-' || :sid::text, jsonb_build_object('payment_id', :pid::text, 'session_id', :sid::text,
   'amount_cents', 2900, 'currency', 'usd', 'payment_type', 'full'), :sid::uuid),
  ('email.send', 'ff-email-c-' || :sid::text, jsonb_build_object('session_id', :sid::text, 'template', 'confirmation',
   'recipient_id', :c::text), :sid::uuid),
  ('email.send', 'ff-email-m-' || :sid::text, jsonb_build_object('session_id', :sid::text, 'template',
   'mechanic_booking', 'recipient_id', :c::text), :sid::uuid);
INSERT INTO app.session_invites (session_id, uid) VALUES (:sid::uuid, :sid::text || '@autodoctor');
COMMIT;
BEGIN;
UPDATE app.outbox SET status = 'running', attempts = attempts + 1, leased_until = now() + interval '60 s',
       locked_by = 'floor', updated_at = now()
 WHERE idempotency_key IN ('ff-charge-' || :sid::text, 'ff-email-c-' || :sid::text, 'ff-email-m-' || :sid::text);
COMMIT;
BEGIN;
UPDATE app.outbox SET status = 'done', done_at = now(), updated_at = now(), leased_until = NULL, locked_by = NULL,
       result = '{}'
 WHERE idempotency_key IN ('ff-charge-' || :sid::text, 'ff-email-c-' || :sid::text, 'ff-email-m-' || :sid::text);
UPDATE app.scheduled_payments SET payment_intent_id = 'pi_' || :pid::text, client_secret = 'pi_secret',
       updated_at = now() WHERE id = :pid::uuid;
COMMIT;
"""


def _pgbench_backend_cpu(ctx: Ctx, script: str, n: int, defines: dict[str, str], tables: tuple[str, ...],
                         pgoptions: str = "") -> float:
    """Run `script` n times with one pgbench client (user triggers of `tables` disabled meanwhile;
    `pgoptions`: its PGOPTIONS): CPU ms per run of pgbench's backend, found by its application_name and
    sampled until it exits."""
    path = ctx.cluster.home / f"{os.getpid()}-{abs(hash(script))}.sql"
    path.write_text(script)
    app = f"guarantee-floor-{os.getpid()}"
    last: dict[int, float] = {}
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        for t in tables:
            conn.execute(f"ALTER TABLE {t} DISABLE TRIGGER USER")
        conn.execute("CHECKPOINT")
        try:
            args = [str(PG_BIN / "pgbench"), "-h", str(ctx.cluster.home), "-p", str(ctx.cluster.port), "-U",
                    "postgres", "-n", "-M", "prepared", "-c", "1", "-t", str(n), "-f", str(path)]
            for k, v in defines.items():
                args += ["-D", f"{k}={v}"]
            proc = subprocess.Popen([*args, ctx.dbname], env=os.environ | {"PGAPPNAME": app, "PGOPTIONS": pgoptions},
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            done = threading.Event()
            out: list[str] = []

            def wait() -> None:
                out.append(proc.communicate()[0])
                done.set()

            threading.Thread(target=wait, daemon=True).start()
            while not done.wait(0.05):
                for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [app]):
                    last[pid] = max(last.get(pid, 0.0), proc_cpu_s(pid))
            if proc.returncode != 0 or "aborted" in out[0]:
                raise RuntimeError(f"pgbench failed:\n{out[0][-2000:]}")
        finally:
            for t in tables:
                conn.execute(f"ALTER TABLE {t} ENABLE TRIGGER USER")
    return sum(last.values()) * 1000 / n


def prepare_fanout_floor(ctx: Ctx) -> int:
    """bench.fanout_floor_sessions: sessions the booking floor created (customers from
    bench.floor_customers; no invite, no payment), one per fan-out floor run, each with its booking
    event row (`floor:<id>`, pending) as the booking floor wrote it (the cpu_per_booking phase empties
    the outbox, so the rows are written again here, untimed)."""
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench.fanout_floor_sessions")
        conn.execute("DROP SEQUENCE IF EXISTS bench.fanout_floor_seq")
        conn.execute("""
          CREATE TABLE bench.fanout_floor_sessions AS
            SELECT row_number() OVER (ORDER BY s.id) AS k, s.id AS session_id, s.customer_id
            FROM app.sessions s JOIN bench.floor_customers fc ON fc.user_id = s.customer_id
            WHERE NOT EXISTS (SELECT FROM app.session_invites i WHERE i.session_id = s.id)
              AND NOT EXISTS (SELECT FROM app.scheduled_payments p WHERE p.session_id = s.id)""")
        conn.execute("ALTER TABLE bench.fanout_floor_sessions ADD PRIMARY KEY (k)")
        conn.execute("CREATE SEQUENCE bench.fanout_floor_seq")
        conn.execute("""INSERT INTO app.outbox (kind, idempotency_key, payload, session_id)
                        SELECT 'noop', 'floor:' || session_id, jsonb_build_object('session_id', session_id), session_id
                        FROM bench.fanout_floor_sessions ON CONFLICT (idempotency_key) DO NOTHING""")
        conn.execute("VACUUM ANALYZE bench.fanout_floor_sessions, app.outbox")
        row = conn.execute("SELECT count(*) FROM bench.fanout_floor_sessions").fetchone()
    return int(row[0]) if row else 0


def floor_slots_left(conn: psycopg.Connection[Any]) -> int:
    """The floor slots (bench.floor_slots) the floors' sequence has not handed out yet."""
    row = conn.execute("SELECT count(*) FROM bench.floor_slots "
                       "WHERE k > (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM bench.floor_seq)"
                       ).fetchone()
    return int(row[0]) if row else 0


def run(ctx: Ctx, floors: Sequence[tuple[str, str, str, tuple[str, ...], str]], defines: dict[str, str],
        n: int, claims_pgoptions: str) -> dict[str, Any]:
    """One booking's guarantees by backend CPU, one client: the booking floor's writes (the first of
    `floors`: bench.booking_throughput.FLOORS) + the fan-out's; beside them the other floors (the floor
    with every trigger), each taking n floor slots."""
    available = prepare_fanout_floor(ctx)
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        slots_left = floor_slots_left(conn)
    n = min(n, available, slots_left // len(floors))
    if n < 50:
        return {"skipped": f"only {available} floor sessions to fan out and {slots_left} floor slots left"}
    fan_out = _pgbench_backend_cpu(ctx, FANOUT_FLOOR_SCRIPT, n, {}, FANOUT_FLOOR_TABLES)
    ms = {name: _pgbench_backend_cpu(ctx, script, n, defines, tables, options.format(claims=claims_pgoptions))
          for name, _, script, tables, options in floors}
    booking = ms[floors[0][0]]
    return {"runs": n, "booking_floor_ms": round(booking, 3), "fan_out_floor_ms": round(fan_out, 3),
            "total_ms": round(booking + fan_out, 3),
            "booking_floors_ms": {name: round(v, 3) for name, v in ms.items()},
            "method": "pgbench -c 1 -M prepared; CPU of its backend from /proc (as cpu_per_booking)"}
