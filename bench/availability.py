"""Availability: one mechanic-day of slots and a 30-day calendar, SQL functions vs the plan's service.

Same data, same mechanic-days, same kind of connection (psycopg over the cluster's Unix socket):
- SQL, client side: `SELECT * FROM api.mechanic_slots(mechanic, date)` / `api.mechanic_calendar(...)`,
  one round trip each, as the `autodoc_anon` role (what any caller gets).
- SQL, server side: `EXPLAIN (ANALYZE)` of the same calls, each in its own transaction like every API
  request (planning + execution time, no network): what the database itself spends per request.
- SQL, server side in one transaction (diagnostic): the same calls in one DO block, each timed with
  clock_timestamp() deltas. The gap to the figure above is per-transaction work: on PostgreSQL 15 a
  LANGUAGE sql helper called from PL/pgSQL is parsed and planned again in every new transaction
  (its plan lives in the calling expression's state, which PL/pgSQL rebuilds per transaction), while
  PL/pgSQL's own statements keep their plans for the whole session.
- baseline: bench.baseline_availability.AvailabilityService (per-slot isAvailable, several queries each).
The ratio is baseline / SQL, both client side.
"""

from __future__ import annotations

from typing import Any

import psycopg

from bench.baseline_availability import AvailabilityService
from bench.common import Ctx, Stopwatch, dist, ratio, target

Q_DAY = "SELECT * FROM api.mechanic_slots(%s, %s)"
Q_CAL = "SELECT * FROM api.mechanic_calendar(%s, %s, 30)"

SERVER_TIMING_SQL = """
DO $$
DECLARE
  r record;
  t0 timestamptz;
BEGIN
  FOR r IN SELECT * FROM bench_sample ORDER BY i LOOP
    t0 := clock_timestamp();
    IF r.kind = 'day' THEN
      PERFORM * FROM api.mechanic_slots(r.mechanic_id, r.day);
    ELSE
      PERFORM * FROM api.mechanic_calendar(r.mechanic_id, r.day, 30);
    END IF;
    INSERT INTO bench_timing VALUES (r.i, r.kind, extract(epoch FROM clock_timestamp() - t0) * 1000);
  END LOOP;
END
$$
"""


def _explain_analyze(ctx: Ctx, days: list[tuple[str, Any]], cals: list[tuple[str, Any]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"day": [], "calendar": []}
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        conn.execute("SET ROLE autodoc_anon")
        for kind, query, rows in (("warm", Q_DAY, days[:10]), ("day", Q_DAY, days), ("calendar", Q_CAL, cals)):
            for mid, day in rows:
                row = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, (mid, day)).fetchone()
                assert row is not None
                plan = row[0][0]
                if kind != "warm":
                    out[kind].append(plan["Planning Time"] + plan["Execution Time"])
    return out


def _one_transaction(ctx: Ctx, days: list[tuple[str, Any]], cals: list[tuple[str, Any]]) -> dict[str, list[float]]:
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE bench_sample (i int, kind text, mechanic_id uuid, day date)")
        conn.execute("CREATE TEMP TABLE bench_timing (i int, kind text, ms float8)")
        with conn.cursor().copy("COPY bench_sample FROM STDIN") as cp:
            i = 0
            for kind, rows in (("warm", days[:10]), ("day", days), ("calendar", cals)):
                for mid, day in rows:
                    cp.write_row((i, "day" if kind == "warm" else kind, mid, day))
                    i += 1
        conn.execute(SERVER_TIMING_SQL)
        out: dict[str, list[float]] = {"day": [], "calendar": []}
        for _, kind, ms in conn.execute("SELECT i, kind, ms FROM bench_timing WHERE i >= 10 ORDER BY i"):
            out[kind].append(ms)
        return out


def _blocks(xs: list[tuple[str, Any]], n: int) -> list[list[tuple[str, Any]]]:
    return [xs[i:i + n] for i in range(0, len(xs), n)]


def run(ctx: Ctx) -> dict[str, Any]:
    sample: list[tuple[str, str, Any]] = ctx.data["sample"]
    days = [(mid, day) for mid, _, day in sample]
    today = {m[1]: m[3] for m in ctx.data["mechanics"]}
    n_cal = 10 if ctx.quick else 40
    cals = [(mid, today[mid]) for mid, _ in days[:n_cal]]  # 30 days from the mechanic's local today

    sql_day: list[float] = []
    sql_cal: list[float] = []
    base_day: list[float] = []
    base_cal: list[float] = []
    day_rows = day_available = 0
    # Both sides on their own connection, alternating in blocks of 10 calls (which side goes first
    # alternates too), so a change in the machine's load hits both alike while each side still runs
    # back to back like a busy server would (one call after another side's 8 ms of queries would
    # also measure waking up an idle backend).
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn, \
            psycopg.connect(ctx.su_dsn, autocommit=True) as base_conn:
        conn.execute("SET ROLE autodoc_anon")
        svc = AvailabilityService(base_conn)
        for mid, day in days[:10]:  # warm-up: plans cached, buffers hot (both sides get one)
            conn.execute(Q_DAY, (mid, day)).fetchall()
            svc.get_available_slots(mid, day)
        svc.queries = 0
        for b, block in enumerate(_blocks(days, 10)):
            for side in ((0, 1) if b % 2 else (1, 0)):
                for mid, day in block:
                    sw = Stopwatch()
                    if side:
                        rows = conn.execute(Q_DAY, (mid, day)).fetchall()
                        sql_day.append(sw.ms())
                        day_rows += len(rows)
                        day_available += sum(1 for r in rows if r[3])
                    else:
                        svc.get_available_slots(mid, day)
                        base_day.append(sw.ms())
        base_queries = svc.queries
        svc.queries = 0
        for b, block in enumerate(_blocks(cals, 5)):
            for side in ((0, 1) if b % 2 else (1, 0)):
                for mid, day in block:
                    sw = Stopwatch()
                    if side:
                        conn.execute(Q_CAL, (mid, day)).fetchall()
                        sql_cal.append(sw.ms())
                    else:
                        svc.calendar(mid, day, 30)
                        base_cal.append(sw.ms())
        base_cal_queries = svc.queries

    server = _explain_analyze(ctx, days, cals)
    one_tx = _one_transaction(ctx, days, cals)

    d_sql, d_base, d_srv = dist(sql_day), dist(base_day), dist(server["day"])
    c_sql, c_base, c_srv = dist(sql_cal), dist(base_cal), dist(server["calendar"])
    d_one, c_one = dist(one_tx["day"]), dist(one_tx["calendar"])
    res: dict[str, Any] = {
        "mechanic_days": len(days),
        "calendars": len(cals),
        "day": {
            "sql_client_ms": d_sql, "sql_server_ms": d_srv, "sql_server_one_tx_ms": d_one, "baseline_ms": d_base,
            "speedup_p50": ratio(d_base["p50"], d_sql["p50"]), "speedup_p95": ratio(d_base["p95"], d_sql["p95"]),
            "sql_slots_per_day": round(day_rows / len(days), 1),
            "sql_available_per_day": round(day_available / len(days), 1),
            "baseline_queries_per_day": round(base_queries / len(days), 1),
            "baseline_ms_per_query": round(sum(base_day) / max(base_queries, 1), 3),
        },
        "calendar_30d": {
            "sql_client_ms": c_sql, "sql_server_ms": c_srv, "sql_server_one_tx_ms": c_one, "baseline_ms": c_base,
            "speedup_p50": ratio(c_base["p50"], c_sql["p50"]), "speedup_p95": ratio(c_base["p95"], c_sql["p95"]),
            "baseline_queries_per_calendar": round(base_cal_queries / len(cals), 1),
        },
    }
    day = res["day"]
    res["targets"] = [
        target("availability: one day, speedup vs plan's service (p50, client side)", day["speedup_p50"], 20,
               higher_is_better=True, unit="x",
               why_missed=(f"the literal baseline is only {day['baseline_queries_per_day']} queries of "
                           f"~{day['baseline_ms_per_query']} ms each on a local socket (prepared, no HTTP), so "
                           f"{d_base['p50']:.1f} ms a day; 20x would need the SQL day under "
                           f"{d_base['p50'] / 20:.2f} ms round trip, and it spends {d_srv['p50']:.2f} ms in the "
                           f"server, {d_srv['p50'] - d_one['p50']:.2f} ms of it re-planning LANGUAGE sql helpers "
                           "in each new transaction (docs/benchmarks.md)")),
        target("availability: 30-day calendar, speedup vs plan's service (p50, client side)",
               res["calendar_30d"]["speedup_p50"], 20, higher_is_better=True, unit="x"),
        target("availability: one day p95 in SQL (server side, own transaction)", d_srv["p95"], 2.0,
               higher_is_better=False, unit=" ms"),
    ]
    return res

