"""Shared bits of the benchmarks: the run context, percentiles, and target bookkeeping."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.devtools.cluster import Cluster


@dataclass
class Ctx:
    """One benchmark run: a throwaway cluster with one migrated database holding the bench data."""

    cluster: Cluster
    dbname: str
    api_password: str
    quick: bool
    data: dict[str, Any] = field(default_factory=dict)  # what bench.data generated (sizes, samples)

    @property
    def su_dsn(self) -> str:
        """Superuser over the cluster's private Unix socket."""
        return self.cluster.superuser_dsn(self.dbname)

    @property
    def api_url(self) -> str:
        """The API login role over TCP (what the REST API uses)."""
        return self.cluster.tcp_url("autodoc_api", self.api_password, self.dbname)


def pct(values: Iterable[float], p: float) -> float:
    """The p-th percentile (0..100), linear interpolation between closest ranks."""
    xs = sorted(values)
    if not xs:
        return math.nan
    k = (len(xs) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def dist(values_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99/mean/max of a list of milliseconds, rounded for the report."""
    if not values_ms:
        return {"n": 0}
    return {
        "n": len(values_ms),
        "p50": round(pct(values_ms, 50), 3),
        "p95": round(pct(values_ms, 95), 3),
        "p99": round(pct(values_ms, 99), 3),
        "mean": round(sum(values_ms) / len(values_ms), 3),
        "max": round(max(values_ms), 3),
    }


def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else math.inf


def target(name: str, value: float, goal: float, *, higher_is_better: bool, unit: str = "",
           why_missed: str = "") -> dict[str, Any]:
    """One target line for results.json and the summary: met or not, and why when not."""
    met = value >= goal if higher_is_better else value <= goal
    row: dict[str, Any] = {"name": name, "value": value, "goal": ("≥ " if higher_is_better else "≤ ") + f"{goal}{unit}",
                           "met": bool(met)}
    if not met and why_missed:
        row["why"] = why_missed
    return row


class Stopwatch:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000.0

    def s(self) -> float:
        return time.perf_counter() - self.t0


# -- CPU accounting (Linux /proc): who spent the CPU during a load phase --------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_s(pid: int) -> float:
    """user + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def postgres_cpu_s(cluster: Cluster) -> float:
    """CPU seconds of the cluster's postmaster and every child process alive now (backends, walwriter...)."""
    try:
        postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    total = proc_cpu_s(postmaster)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def self_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


class CpuMeter:
    """CPU seconds spent by this process, optional other pids and the cluster between start() and stop()."""

    def __init__(self, cluster: Cluster, pids: dict[str, int] | None = None) -> None:
        self.cluster, self.pids = cluster, pids or {}
        self.t0: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        out = {"load generator (this process)": self_cpu_s(), "postgres": postgres_cpu_s(self.cluster)}
        out |= {name: proc_cpu_s(pid) for name, pid in self.pids.items()}
        return out

    def start(self) -> None:
        self.t0 = self._now()

    def stop(self, units: int, wall_s: float) -> dict[str, Any]:
        """CPU ms per unit (request, booking) for each party, and how busy the machine's CPUs were."""
        t1 = self._now()
        spent = {k: t1[k] - self.t0.get(k, 0.0) for k in t1}
        cpus = os.cpu_count() or 1
        return {"cpu_ms_per_unit": {k: round(v * 1000 / max(units, 1), 3) for k, v in spent.items()},
                "cpu_busy_pct": round(100 * sum(spent.values()) / (wall_s * cpus), 1) if wall_s else None}


def _postgres_children(cluster: Cluster) -> dict[int, float]:
    try:
        postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return {}
    out = {postmaster: proc_cpu_s(postmaster)}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            out[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / _TICK
    return out


# What a PostgreSQL process is, from the title it sets ("postgres: walwriter", "postgres: autovacuum
# worker autodoc_bench", "postgres: postgres autodoc_bench [local] idle" for a client backend).
_BACKGROUND = ("checkpointer", "background writer", "walwriter", "autovacuum launcher", "autovacuum worker",
               "logical replication launcher", "pg_cron", "logger", "archiver", "startup", "walsender",
               "parallel worker")


def process_kind(pid: int) -> str:
    """'client backend', a background process's name (walwriter, checkpointer, autovacuum worker, ...)
    or 'postmaster'."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "gone"
    if not title.startswith("postgres: "):
        return "postmaster"
    rest = title.removeprefix("postgres: ")
    return next((k for k in _BACKGROUND if rest.startswith(k)), "client backend")


class PgCpuSampler:
    """CPU seconds the cluster spent during a phase, including backends that exit before it ends
    (pgbench's): samples every process of the cluster every 0.1 s and keeps each one's last value
    (a backend that exits loses at most its last 0.1 s), with what each process is (process_kind)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.base: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.kinds: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        now = _postgres_children(self.cluster)
        for pid in now.keys() - self.kinds.keys():
            self.kinds[pid] = process_kind(pid)
        self.last.update(now)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    def __enter__(self) -> PgCpuSampler:
        self.base = _postgres_children(self.cluster)
        self.last = dict(self.base)
        self.kinds = {pid: process_kind(pid) for pid in self.base}
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def cpu_s(self) -> float:
        return sum(v - self.base.get(pid, 0.0) for pid, v in self.last.items())

    def by_kind(self, exclude: Iterable[int] = ()) -> dict[str, float]:
        """CPU seconds per process kind during the phase, without the pids in exclude."""
        skip = set(exclude)
        out: dict[str, float] = {}
        for pid, v in self.last.items():
            if pid not in skip and v - self.base.get(pid, 0.0) > 0:
                kind = self.kinds.get(pid, "gone")
                out[kind] = out.get(kind, 0.0) + v - self.base.get(pid, 0.0)
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def backends_s(self) -> float:
        """CPU seconds of the client backends (the processes running the workload's statements)."""
        return self.by_kind().get("client backend", 0.0)


class BackendCpu:
    """CPU seconds of ONE connection's backend process (/proc/<pid>/stat, pid = the connection's
    pg_backend_pid(); the bench runs on the database's host): start() and stop() while the connection
    is open (a backend's /proc entry goes when it exits). Resolution: one clock tick (10 ms at 100 Hz),
    so a phase needs hundreds of bookings."""

    def __init__(self) -> None:
        self.pid = 0
        self.t0 = 0.0
        self.cpu_s = 0.0

    def start(self, conn: Any) -> None:
        self.pid = int(conn.info.backend_pid)
        self.t0 = proc_cpu_s(self.pid)

    def stop(self) -> None:
        self.cpu_s = proc_cpu_s(self.pid) - self.t0


DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


def durability(ctx: Ctx, on: bool) -> dict[str, str]:
    """Durability on (how users run PostgreSQL: every commit waits for its WAL flush, full pages after a
    checkpoint) or back to the bench cluster's own CPU-only settings (all three off). All three are
    reloadable: no restart. Returns the settings in force, read back from the server."""
    import psycopg  # local: common.py is imported by code that never touches the database

    with psycopg.connect(ctx.cluster.superuser_dsn("postgres"), autocommit=True) as conn:
        for k, v in DURABLE.items():
            conn.execute(f"ALTER SYSTEM SET {k} = {v}" if on else f"ALTER SYSTEM RESET {k}")
        conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)
    with psycopg.connect(ctx.cluster.superuser_dsn("postgres")) as conn:
        return {k: str(conn.execute(f"SELECT current_setting('{k}')").fetchone()[0])  # type: ignore[index]
                for k in DURABLE}


def durability_mode(ctx: Ctx, on: bool) -> str:
    """durability(), labelled as the waitlist and money sections of results.json record it:
    "fsync/synchronous_commit" in force, e.g. "on/on"."""
    settings = durability(ctx, on)
    return f"{settings['fsync']}/{settings['synchronous_commit']}"
