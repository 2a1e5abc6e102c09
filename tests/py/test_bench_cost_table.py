"""The booking bench's accounting (bench/booking_throughput.py, bench/common.py): how the cost table is
built from per-statement figures, how CPU is read from /proc, how rounds of a workload combine. No
database needed."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace
from typing import Any

from bench.booking_throughput import BOOKING_PARTS, BOOKING_ROOT, _parts, combine_rounds
from bench.common import BackendCpu, process_kind


def _st(query: str, exec_ms: float, calls: float = 1.0, toplevel: bool = False) -> dict[str, Any]:
    return {"query": query, "exec_ms": exec_ms, "plan_ms": 0.0, "calls_per_booking": calls, "toplevel": toplevel,
            "rows_per_booking": calls}


RULES = (
    ("a", "A", None, 1, ((r"^INSERT INTO t", None),)),
    ("b", "B (inside A)", "a", 0, ((r"^SELECT check", None),)),
    ("c", "C (one call of a shared statement)", None, 0, ((r"^SELECT shared", 1),)),
)


def _by_part(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {r["part"]: round(r["ms"], 6) for r in rows}


def test_parts_subtract_nested_parts_and_account_for_the_rest() -> None:
    statements = [_st("SELECT root()", 1.0, toplevel=True), _st("INSERT INTO t VALUES (1)", 0.5),
                  _st("SELECT check()", 0.2), _st("SELECT shared()", 0.3, calls=3.0), _st("SELECT other()", 0.05)]
    rows = _by_part(_parts(statements, RULES, r"^SELECT root", "root rest", 1.25, "outside"))
    assert rows["A"] == 0.3          # 0.5 minus B nested in it
    assert rows["B (inside A)"] == 0.2
    assert rows["C (one call of a shared statement)"] == 0.1   # one call of three at 0.1 ms each
    assert rows["root rest"] == 0.4  # 1.0 - A (0.5, inclusive) - C (0.1); the unnamed statement lands here
    assert rows["outside"] == 0.25   # backend CPU 1.25 - root 1.0
    assert round(sum(rows.values()), 6) == 1.25


def test_parts_when_statement_wall_time_exceeds_the_cpu() -> None:
    statements = [_st("SELECT root()", 2.0, toplevel=True), _st("INSERT INTO t VALUES (1)", 1.0)]
    rows = _by_part(_parts(statements, RULES, r"^SELECT root", "root rest", 1.0, "outside"))
    assert rows["outside"] == 0.0
    assert rows["A"] == 0.5 and rows["root rest"] == 0.5   # shares of the statements' time, applied to the CPU
    assert round(sum(rows.values()), 6) == 1.0


def test_booking_parts_name_parents_that_exist() -> None:
    keys = {r[0] for r in BOOKING_PARTS}
    assert all(parent in keys for _, _, parent, _, _ in BOOKING_PARTS if parent)
    assert len(keys) == len(BOOKING_PARTS)
    rows = _parts([_st("SELECT api.create_session(p_type => $1)", 1.0, toplevel=True)], BOOKING_PARTS,
                  BOOKING_ROOT, "rest", 1.0, "outside")
    assert _by_part(rows)["rest"] == 1.0


def test_backend_cpu_reads_proc_of_the_pid() -> None:
    meter = BackendCpu()
    meter.start(SimpleNamespace(info=SimpleNamespace(backend_pid=os.getpid())))
    t0 = time.process_time()
    spins = 0
    while time.process_time() - t0 < 0.05:  # burn 50 ms of this process's own CPU
        spins += 1
    meter.stop()
    assert meter.pid == os.getpid()
    assert 0.02 <= meter.cpu_s <= 1.0


def test_process_kind_of_a_process_that_exited() -> None:
    assert process_kind(2 ** 22 + 12345) == "gone"


def test_rounds_combine_into_one_figure_weighted_by_transactions() -> None:
    rounds = [{"tps": 100.0, "transactions": 500, "failed": 0, "sessions_created": 500, "latency_avg_ms": 10.0,
               "postgres_cpu_ms_per_tx": 1.0, "backends_cpu_ms_per_tx": 0.8,
               "background_cpu_ms_per_tx": {"walwriter": 0.1}, "command": "first"},
              {"tps": 200.0, "transactions": 1500, "failed": 1, "sessions_created": 1499, "latency_avg_ms": 20.0,
               "postgres_cpu_ms_per_tx": 2.0, "backends_cpu_ms_per_tx": 1.6, "background_cpu_ms_per_tx": {},
               "command": "last"}]
    got = combine_rounds(rounds)
    assert got["tps"] == 2000 / (5.0 + 7.5)            # all transactions over all the rounds' time: 160
    assert got["transactions"] == 2000 and got["failed"] == 1 and got["sessions_created"] == 1999
    assert got["postgres_cpu_ms_per_tx"] == 1.75        # (1.0 * 500 + 2.0 * 1500) / 2000
    assert got["backends_cpu_ms_per_tx"] == 1.4
    assert got["latency_avg_ms"] == 17.5
    assert got["background_cpu_ms_per_tx"] == {"walwriter": 0.025}
    assert got["rounds"] == [100.0, 200.0] and got["command"] == "last"
    assert combine_rounds(rounds[:1]) is rounds[0]     # one round: its own figure
