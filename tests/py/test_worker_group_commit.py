# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""The worker's group commit of completions (api.outbox_complete_many): completions that finish while
a write-back is in flight go back together in one call, each row exactly once, and a batch whose
apply raises is retried row by row so the other rows are still recorded."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg

from api.config import Settings
from api.effects import Job
from api.worker import Worker
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    fx_settings,
    local_stripe,
    smtp,
    su,
)

Batch = list[tuple[Job, dict[str, Any], "asyncio.Future[None]"]]


class SlowWriteBack(Worker):
    """Records each write-back's rows; every write-back takes 0.2 s, so completions pile up behind it."""

    def __init__(self, settings: Settings, **kw: Any) -> None:
        super().__init__(settings, **kw)
        self.batches: list[list[int]] = []

    async def _complete_many(self, batch: Batch) -> None:
        self.batches.append([job.id for job, _, _ in batch])
        await asyncio.sleep(0.2)
        await super()._complete_many(batch)


def test_completions_that_wait_go_back_together_each_row_once(fx_settings: Settings,
                                                              su: psycopg.Connection[Any]) -> None:
    su.execute("UPDATE app.outbox_lanes SET concurrency = 6 WHERE lane = 'default'")
    for i in range(12):
        su.execute("SELECT app_private.outbox_enqueue('noop', %s, '{}')", [f"group:{i}"])
    ran: list[int] = []

    def effect(settings: Settings, job: Job) -> dict[str, Any]:
        ran.append(job.id)
        time.sleep(0.05)
        return {"n": job.id}

    worker = SlowWriteBack(fx_settings, worker_id="group", effects={"noop": effect})
    stats = asyncio.run(worker.run(asyncio.Event(), exit_when_idle=True))
    assert stats.done == 12 and sorted(ran) == sorted(set(ran)) and len(ran) == 12, "each effect ran once"
    written = [i for b in worker.batches for i in b]
    assert sorted(written) == sorted(ran), "each completion was written back exactly once"
    assert max(len(b) for b in worker.batches) > 1, "completions that waited went back in one call"
    assert len(worker.batches) < 12
    rows = su.execute("SELECT status, attempts, (result ->> 'n')::bigint = id AS own FROM app.outbox "
                      "WHERE idempotency_key LIKE 'group:%%'").fetchall()
    assert [(r["status"], r["attempts"], r["own"]) for r in rows] == [("done", 1, True)] * 12, \
        "done after one attempt, each with its own result"


def test_a_batch_whose_apply_raises_is_written_back_row_by_row(fx_settings: Settings,
                                                               su: psycopg.Connection[Any]) -> None:
    for i in range(3):
        su.execute("SELECT app_private.outbox_enqueue('noop', %s, '{}')", [f"fallback:{i}"])
    # a charge whose payload the apply function cannot read (its write-back raises 22P02)
    su.execute("""SELECT app_private.outbox_enqueue('stripe.charge', 'fallback:bad', '{"payment_id": "x"}')""")
    worker = SlowWriteBack(fx_settings, worker_id="fallback", effects={})

    async def main() -> list[BaseException | None]:
        jobs = await worker.claim(10, None)
        assert len(jobs) == 4

        async def complete(job: Job) -> BaseException | None:
            try:
                await worker._complete(job, {})
            except psycopg.Error as e:
                return e
            return None

        outcomes = await asyncio.gather(*(complete(j) for j in sorted(jobs, key=lambda j: j.id)))
        assert worker._conn is not None
        await worker._conn.close()
        return list(outcomes)

    outcomes = asyncio.run(main())
    assert [o is None for o in outcomes] == [True, True, True, False], "only the bad row's write-back failed"
    assert isinstance(outcomes[3], psycopg.errors.InvalidTextRepresentation)
    assert len(worker.batches[0]) > 1 and all(len(b) == 1 for b in worker.batches[2:]), \
        "the failed batch was retried one row at a time"
    rows = su.execute("SELECT idempotency_key, status FROM app.outbox WHERE idempotency_key LIKE 'fallback:%%' "
                      "ORDER BY id").fetchall()
    assert [(r["idempotency_key"], r["status"]) for r in rows] == [
        ("fallback:0", "done"), ("fallback:1", "done"), ("fallback:2", "done"), ("fallback:bad", "running")], \
        "the others are recorded; the bad row keeps its lease (run again when reclaimed)"


def test_a_lone_completion_is_written_back_at_once(fx_settings: Settings, su: psycopg.Connection[Any]) -> None:
    su.execute("SELECT app_private.outbox_enqueue('noop', 'lone', '{}')")
    worker = SlowWriteBack(fx_settings, worker_id="lone", effects={"noop": lambda s, j: {}})
    asyncio.run(worker.run(asyncio.Event(), exit_when_idle=True))
    assert worker.batches == [[su.execute("SELECT id FROM app.outbox WHERE idempotency_key = 'lone'").fetchone()["id"]]]
