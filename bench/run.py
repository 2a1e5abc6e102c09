"""`python -m bench.run [--quick] [--only NAME[,NAME]]` (what `make bench` runs).

One run = one throwaway PostgreSQL cluster (api.devtools.cluster.test_cluster: fsync off, like the test cluster),
bootstrapped and migrated from the repository, loaded with the bench data, measured, destroyed.
Every measurement has its baseline in the same run. Figures go to bench/results.json (overwritten)
and a summary to stdout; docs/benchmarks.md explains them. NAMEs: availability, booking, rest, outbox,
waitlist, matching, money (waitlist, matching and money load their own data into databases of their own). With --only,
the other benches' figures already in results.json are kept (each bench's figures carry the run they came from).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from api.devtools import migrate
from api.devtools.cluster import test_cluster
from bench import data
from bench.common import Ctx, Stopwatch

RESULTS = Path(__file__).resolve().parent / "results.json"
DBNAME = "autodoc_bench"
BENCHES = ("availability", "booking", "rest", "outbox", "waitlist", "matching", "money")
NEEDS_DATA = {"availability", "booking", "rest", "outbox"}  # outbox: emails about real sessions


def _bench(name: str) -> Callable[[Ctx], dict[str, Any]]:
    if name == "availability":
        from bench import availability
        return availability.run
    if name == "booking":
        from bench import booking_throughput
        return booking_throughput.run
    if name == "rest":
        from bench import rest
        return rest.run
    if name == "waitlist":
        from bench import waitlist
        return waitlist.run
    if name == "matching":
        from bench import matching
        return matching.run
    if name == "money":
        from bench import money
        return money.run
    from bench import outbox
    return outbox.run


def _fmt_dist(d: dict[str, Any]) -> str:
    return f"p50 {d.get('p50', float('nan')):.3f} ms, p95 {d.get('p95', float('nan')):.3f} ms (n={d.get('n', 0)})"


def summary(results: dict[str, Any]) -> str:
    out: list[str] = []
    meta = results["meta"]
    out.append(f"AutoDoctor bench — {meta['started_at']} — {meta['mode']} — {meta['cpus']} CPUs, "
               f"{meta.get('postgres', '?')} (fsync {meta.get('fsync', '?')}) — {meta['seconds']} s — load average "
               f"{meta['load_average_at_start'][0]} at start, {meta['load_average_at_end'][0]} at end")
    if "data" in results:
        d = results["data"]
        out.append(f"data: {d['mechanics']} mechanics ({d['workshop_mechanics']} in {d['workshops']} workshops, "
                   f"{d['independent_mechanics']} independent) over {len(d['zones'])} zones, {d['sessions']} sessions "
                   f"({d['scheduled_sessions']} scheduled), {d['time_off']} time-off rows; "
                   f"generated in {d['generate_seconds']} s")
    a = results.get("availability")
    if a and "day" in a:
        out.append(f"\navailability ({a['mechanic_days']} mechanic-days, {a['calendars']} calendars):")
        for key, label in (("day", "one day"), ("calendar_30d", "30-day calendar")):
            x = a[key]
            out.append(f"  {label:16} SQL client {_fmt_dist(x['sql_client_ms'])}")
            out.append(f"  {'':16} SQL server {_fmt_dist(x['sql_server_ms'])} (own transaction)")
            out.append(f"  {'':16} SQL server {_fmt_dist(x['sql_server_one_tx_ms'])} (all in one transaction)")
            out.append(f"  {'':16} baseline   {_fmt_dist(x['baseline_ms'])}")
            out.append(f"  {'':16} speedup    {x['speedup_p50']}x at p50, {x['speedup_p95']}x at p95")
        out.append(f"  baseline: {a['day']['baseline_queries_per_day']} queries per day "
                   f"({a['day']['baseline_ms_per_query']} ms each), "
                   f"{a['calendar_30d']['baseline_queries_per_calendar']} per calendar; SQL: 1")
    b = results.get("booking")
    if b and "durable" in b:
        out.append(f"\nbooking throughput ({b['clients']} clients, {b['seconds']} s each phase):")
        for mode, label in (("durable", "durable (fsync, synchronous_commit, full_page_writes on)"),
                            ("cpu_only", "CPU only (all three off)")):
            x = b[mode]
            f = x["factory"]
            out.append(f"  {label}:")
            out.append(f"    pgbench tpcb-like    {x['pgbench']['tps']:.0f} tps "
                       f"(PostgreSQL CPU {x['pgbench']['postgres_cpu_ms_per_tx']} ms/tx)")
            out.append(f"    floor (bare writes)  {x['floor']['tps']:.0f} tps "
                       f"(PostgreSQL CPU {x['floor']['postgres_cpu_ms_per_tx']} ms/tx; "
                       f"{x['floor_vs_tpcb']}x tpcb-like)")
            steps = x.get("steps", {})
            ft = x.get("floor_triggers")
            if ft:
                out.append(f"    floor, every trigger {ft['tps']:.0f} tps (the floor's statements with every trigger "
                           f"on; backends' CPU {ft.get('backends_cpu_ms_per_tx')} ms/tx; "
                           f"{steps.get('floor_triggers_vs_floor')}x the floor)")
            g = x.get("pgbench_factory", {})
            out.append(f"    pgbench factory      {g.get('tps', 0):.0f} bookings/s (api.create_session, pgbench -M "
                       f"prepared, collision-free slots; backends' CPU {g.get('backends_cpu_ms_per_tx')} ms/booking; "
                       f"floor's backends {x['floor'].get('backends_cpu_ms_per_tx')} ms/tx; "
                       f"{g.get('transactions')} transactions, {g.get('failed')} failed, "
                       f"{g.get('sessions_created')} sessions created)")
            out.append(f"    Python factory       {f['bookings_per_s']:.0f} bookings/s "
                       f"({f['attempts_per_s']:.0f} attempts/s, 8 threads, 10% hot slots; backends' CPU "
                       f"{f.get('backends_cpu_ms_per_attempt')} ms/attempt, all PostgreSQL processes "
                       f"{f['postgres_cpu_ms_per_attempt']}; load generator {f['load_generator_cpu_ms_per_attempt']} "
                       f"ms/attempt; outcomes {f['outcomes']})")
            out.append(f"    ratios               pgbench factory {x.get('pgbench_factory_ratio_floor')}x the floor, "
                       f"{x.get('pgbench_factory_ratio_tpcb')}x tpcb-like, "
                       f"{steps.get('pgbench_factory_vs_floor_triggers')}x the floor with every trigger; "
                       f"Python factory {x['ratio_floor']}x the floor, {x['ratio_tpcb']}x tpcb-like")
            by_round = x.get("pgbench_factory_ratio_floor_by_round") or []
            if len(by_round) > 1:
                out.append(f"    by round             pgbench factory ÷ floor {by_round}")
        c = b["cpu_per_booking"]
        out.append(f"  PostgreSQL CPU per booking (one client, {c['bookings']} bookings, the working backends only): "
                   f"transaction {c['booking_tx_ms']} ms + fan-out {c['fan_out_ms']} ms = {c['total_ms']} ms; "
                   f"outbox rows per booking {c['outbox_rows_per_booking']}")
        gf = b.get("guarantee_floor", {})
        if "total_ms" in gf:
            out.append(f"    the guarantees' bare writes (one pgbench client, its backend, {gf['runs']} runs): "
                       f"booking floor {gf['booking_floor_ms']} ms + fan-out floor {gf['fan_out_floor_ms']} ms = "
                       f"{gf['total_ms']} ms; the booking floors one by one {gf.get('booking_floors_ms')} ms")
        elif gf:
            out.append(f"    the guarantees' bare writes: {gf.get('skipped')}")
        if "background_ms_per_booking" in c:
            bg = c["background_ms_per_booking"]
            out.append(f"    beside it, not in it: the cluster's other processes, ms per booking: booking phase "
                       f"{bg['booking']}, fan-out phase {bg['fan_out']}")
        for mode, ct in b.get("contention", {}).items():
            out.append(f"  backend CPU, 8 clients vs one ({mode}): one client {ct['one_client_backend_ms_per_booking']}"
                       f" ms/booking; pgbench factory {ct['pgbench_factory_8_backends_ms_per_booking']} ms/booking "
                       f"({ct['pgbench_factory_vs_one_client']}x); Python factory "
                       f"{ct['python_factory_8_backends_ms_per_attempt']} ms/attempt "
                       f"({ct['python_factory_vs_one_client']}x)")
        sp = b.get("statement_profile", {})
        for phase, label in (("booking", "booking transaction"), ("fan_out", "fan-out")):
            top = sp.get(f"top_{phase}", [])
            if top:
                out.append(f"  top statements of the {label} (pg_stat_statements, per booking: exec ms, plan ms, "
                           f"calls):")
                for st in top:
                    out.append(f"    {st['exec_ms']:7.3f} {st['plan_ms']:6.3f} {st['calls_per_booking']:5.1f}  "
                               f"{'' if st['toplevel'] else '  '}{st['query'][:100]}")
        if "overhead" in sp:
            out.append(f"  profile overhead: {sp['overhead']}")
        if b.get("cost_table"):
            out.append("  one booking's PostgreSQL CPU by part (rows, ms, share):")
            for row in b["cost_table"]:
                out.append(f"    {row['rows'] if row['rows'] is not None else ''!s:>4} {row['ms']:7.3f} "
                           f"{100 * row['share']:5.1f}%  {row['part']}")
        pr = b["profile_single_client"]
        out.append(f"  one client, {pr['bookings']} bookings: {pr['ms_per_booking_own_transactions']} ms each in its "
                   f"own transaction, {pr['ms_per_booking_one_transaction']} ms all in one transaction")
        out.append(f"  overlaps afterwards    mechanic {b['overlaps']['mechanic']}, customer "
                   f"{b['overlaps']['customer']} (self-join over {b['overlaps']['active_sessions']} active sessions)")
    r = results.get("rest")
    if r and "rest" in r:
        out.append(f"\nREST POST /api/mechanics/availability/slots ({r['clients']} clients, {r['seconds']} s):")
        out.append(f"  REST       {r['rest']['rps']:.0f} req/s, {_fmt_dist(r['rest']['latency_ms'])}")
        out.append(f"  REST/httpx {r['rest_httpx']['rps']:.0f} req/s, {_fmt_dist(r['rest_httpx']['latency_ms'])} "
                   "(httpx load generator)")
        out.append(f"  SQL direct {r['sql']['rps']:.0f} calls/s, {_fmt_dist(r['sql']['latency_ms'])}")
        for key, label in (("rest", "REST"), ("rest_httpx", "REST/httpx"), ("sql", "SQL direct")):
            cpu = r[key].get("cpu", {})
            per = ", ".join(f"{k} {v}" for k, v in cpu.get("cpu_ms_per_unit", {}).items())
            out.append(f"  CPU ms per call ({label}): {per}; CPUs {cpu.get('cpu_busy_pct')}% busy")
        out.append(f"  single client: REST {_fmt_dist(r['single']['rest_ms'])}; SQL {_fmt_dist(r['single']['sql_ms'])}")
        out.append(f"  API overhead: throughput {r['overhead_throughput']}x lower, p50 latency "
                   f"{r['overhead_latency_p50']}x (single client {r['overhead_single_p50']}x)")
    elif r and "skipped" in r:
        out.append(f"\nREST: skipped — {r['skipped']}")
    o = results.get("outbox")
    if o and "latency" in o:
        lat = o["latency"]
        out.append("\noutbox:")
        out.append(f"  commit→pickup, API write (wake-up after commit)  {_fmt_dist(lat['notify_ms'])}")
        out.append(f"  commit→pickup, SQL writer (polling only)         {_fmt_dist(lat['poll_ms'])} (poll interval "
                   f"{lat['poll_interval_s']} s)")
        for k, v in o["smtp"].items():
            out.append(f"  SMTP effects/s, {k:10} {v['effects_per_s']:.0f} ({v['emails']} emails in {v['seconds']} s)")
        c = o["chaos"]
        out.append(f"  kill/restart: {c['rows']} rows, {c['kills']} SIGKILLs, done {c['done']}, exactly once "
                   f"{c['exactly_once']}, lost {c['lost']}, duplicates {c['duplicates']}, {c['seconds']} s")
        bl = o.get("backlog")
        if bl:
            out.append(f"  a claim of {bl['claim_rows']} with {bl['large_due']:,} due rows {_fmt_dist(bl['large_ms'])}")
            out.append(f"  {'':14}with {bl['small_due']:,} due rows {_fmt_dist(bl['small_ms'])} "
                       f"({bl['large_vs_small_p50']}x at p50)")
    elif o and "skipped" in o:
        out.append(f"\noutbox: skipped — {o['skipped']}")
    w = results.get("waitlist")
    if w and "durable" in w:
        out.append(f"\nwaitlist: mechanic goes on shift ({w['rounds']} alternating rounds per database):")
        for mode, label in (("durable", "durable (fsync on)"), ("cpu_only", "CPU only (fsync off)")):
            x = w[mode]
            out.append(f"  {label}:")
            out.append(f"    shift UPDATE, nobody waiting   {_fmt_dist(x['shift_update_empty_ms'])}")
            out.append(f"    shift UPDATE, 10 waiting       {_fmt_dist(x['shift_update_10_ms'])}")
            out.append(f"    shift UPDATE, 10,000 waiting   {_fmt_dist(x['shift_update_10k_ms'])}")
            out.append(f"    10,000 vs nobody {x['ratio_10k_vs_empty_p50']}x p50, {x['ratio_10k_vs_empty_p95']}x p95; "
                       f"10,000 vs 10 {x['ratio_10k_vs_10_p50']}x p50, {x['ratio_10k_vs_10_p95']}x p95")
            out.append(f"    commit → event (relay read)    {_fmt_dist(x['event_after_commit_ms'])}")
    m = results.get("matching")
    if m and "matching" in m:
        d, x, e = m["data"], m["matching"], m["events"]
        out.append(f"\nmatching ({d['mechanics']} mechanics, {d['on_shift']} on shift, {d['sessions']} sessions, "
                   f"{x['requests']} requests; data in {d['generate_seconds']} s):")
        out.append(f"  top 3, SQL client   {_fmt_dist(x['sql_client_ms'])}")
        out.append(f"  top 3, SQL server   {_fmt_dist(x['sql_server_ms'])}")
        out.append(f"  app-side baseline   {_fmt_dist(x['baseline_ms'])} (same top 3: {x['baseline_same_top3']})")
        out.append(f"  speedup             {x['speedup_p50']}x at p50, {x['speedup_p95']}x at p95")
        if "offer_1_client_ms" in e:
            out.append(f"  offer commit -> SSE, 1 client      {_fmt_dist(e['offer_1_client_ms'])}")
            out.append(f"  offer commit -> SSE, 200 clients   {_fmt_dist(e['offer_200_clients_ms'])}")
            out.append(f"  one event to all 200 clients       {_fmt_dist(e['broadcast_200_clients_ms'])}")
    m = results.get("money")
    if m and "durable" in m:
        out.append(f"\nmoney ({m['clients']} clients, {m['bookings_per_round']} bookings per round):")
        for mode, label in (("durable", "durable (fsync on)"), ("cpu_only", "CPU only (fsync off)")):
            x = m[mode]
            out.append(f"  {label}: bookings {x['bookings']['per_s']}/s, policy cancellations "
                       f"{x['policy_cancellations']['per_s']}/s ({x['cancellations_vs_bookings']}x bookings), plain "
                       f"status cancellations {x['plain_cancellations']['per_s']}/s (policy/plain "
                       f"{x['policy_vs_plain_cancellation']}x)")
        b = m["balance_10k"]
        out.append(f"  customer with {b['entries']} credit entries: api.my_credit(100) {_fmt_dist(b['my_credit_ms'])}; "
                   f"balance only {_fmt_dist(b['balance_only_ms'])}; "
                   f"summed from entries {_fmt_dist(b['derived_sum_ms'])}")
    for name in BENCHES:
        if name in results and "error" in results[name]:
            out.append(f"\n{name}: ERROR {results[name]['error']}")
    targets = [t for name in BENCHES for t in results.get(name, {}).get("targets", [])]
    if targets:
        out.append("\ntargets:")
        for t in targets:
            line = f"  [{'met ' if t['met'] else 'MISS'}] {t['name']}: {t['value']} (goal {t['goal']})"
            if not t["met"] and t.get("why"):
                line += f" — {t['why']}"
            out.append(line)
    out.append(f"\nfigures: {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small data and short runs (a smoke test, ~1-2 minutes)")
    p.add_argument("--only", default=",".join(BENCHES), help=f"comma-separated subset of {', '.join(BENCHES)}")
    p.add_argument("--keep", action="store_true", help="keep the cluster running afterwards (debugging)")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args([a for a in argv if a != "--"])  # `autodoc bench -- --quick` passes the "--" on
    selected = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(selected) - set(BENCHES)
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    total = Stopwatch()
    results: dict[str, Any] = {"meta": {
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "command": "make bench" if not args.quick else "python -m bench.run --quick",
        "only": selected,
        "cpus": os.cpu_count(),
        "machine": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
    }}
    # pg_cron's launcher watches the maintenance database, where the extension is never created: no jobs
    # run during the bench (they would only add noise).
    # pg_stat_statements is loaded for the booking bench's per-statement profile only; tracking is off
    # ('none') except around that phase, so no other figure pays for it.
    cluster = test_cluster(cron_database="postgres", extra_settings={
        "shared_preload_libraries": "'pg_cron,pg_stat_statements'", "pg_stat_statements.track": "'none'"})
    password = secrets.token_urlsafe(16)
    ctx = Ctx(cluster=cluster, dbname=DBNAME, api_password=password, quick=args.quick)
    print(f"bench: throwaway cluster {cluster.home} on port {cluster.port}", flush=True)
    try:
        cluster.start()
        migrate.bootstrap(cluster, DBNAME, password)
        migrate.migrate(cluster, DBNAME)
        with psycopg.connect(ctx.su_dsn) as conn:
            row = conn.execute("SELECT current_setting('server_version'), current_setting('fsync'), "
                               "current_setting('synchronous_commit'), current_setting('shared_buffers')").fetchone()
            assert row is not None
        results["meta"] |= {"postgres": f"PostgreSQL {row[0]}", "fsync": row[1], "synchronous_commit": row[2],
                            "shared_buffers": row[3]}
        if NEEDS_DATA & set(selected):
            print("bench: generating data ...", flush=True)
            results["data"] = data.generate(ctx)
            print(f"bench: data ready in {results['data']['generate_seconds']} s", flush=True)
        for name in selected:
            print(f"bench: {name} ...", flush=True)
            sw = Stopwatch()
            try:
                results[name] = _bench(name)(ctx)
            except Exception as e:  # one broken bench must not hide the others' figures
                traceback.print_exc()
                results[name] = {"error": f"{type(e).__name__}: {e}"}
            results[name]["bench_seconds"] = round(sw.s(), 1)
            print(f"bench: {name} done in {sw.s():.1f} s", flush=True)
    finally:
        if args.keep:
            print(f"bench: cluster kept: {cluster.superuser_dsn(DBNAME)}")
        else:
            cluster.destroy()
    results["meta"]["seconds"] = round(total.s(), 1)
    results["meta"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    for name in selected:
        results[name]["measured_at"] = results["meta"]["started_at"]
    if set(selected) != set(BENCHES) and RESULTS.exists():
        # a partial run: keep the other benches' figures (and their data and run facts) from the file
        previous = json.loads(RESULTS.read_text())
        kept = {k: v for k, v in previous.items() if k not in selected and k != "meta"}
        if "data" in kept and NEEDS_DATA & set(selected):
            del kept["data"]
        runs = previous.get("runs", {})
        runs.update({n: results["meta"] for n in selected})
        # `meta` stays the last full run's; a partial run's facts are under runs.<bench>
        results = {"meta": previous.get("meta", results["meta"]), **kept, **{n: results[n] for n in selected},
                   **({"data": results["data"]} if "data" in results else {}), "runs": runs}
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print()
    print(summary(results))
    failed = any("error" in results.get(n, {}) for n in selected)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
