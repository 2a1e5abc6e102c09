"""`python -m tests.py.faulty_worker`: the real outbox worker with fault injection, for crash tests.

The runtime worker (api/worker.py) knows nothing of this: here a subclass wraps its effects and
its write-back. Environment:

- AUTODOC_WORKER_CRASH_AT = before_call | after_call | after_writeback | mid_apply (comma-separated):
  the process SIGKILLs itself at that point; AUTODOC_WORKER_CRASH_KIND limits it to one outbox kind.
  mid_apply: the database lane's api.outbox_apply_due has run (the booking events fanned out, marked
  done) but its transaction is not committed.
- AUTODOC_WORKER_FAULT_UNSTABLE_KEYS=1: every attempt calls its effect with a fresh idempotency key
  (the negative control that shows why keys must be persisted).

Same arguments as `python -m api.worker` (--worker-id, --exit-when-idle).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any

from api.config import Settings
from api.effects import Effect, Job
from api.worker import Worker, main

log = logging.getLogger("autodoc.worker.faults")

CRASH_ENV = "AUTODOC_WORKER_CRASH_AT"
CRASH_KIND_ENV = "AUTODOC_WORKER_CRASH_KIND"
UNSTABLE_KEYS_ENV = "AUTODOC_WORKER_FAULT_UNSTABLE_KEYS"
CRASH_POINTS = frozenset({"before_call", "after_call", "after_writeback", "mid_apply"})


class FaultyWorker(Worker):
    def __init__(self, settings: Settings, *, worker_id: str | None = None,
                 effects: Mapping[str, Effect] | None = None) -> None:
        super().__init__(settings, worker_id=worker_id, effects=effects)
        crash = {p.strip() for p in os.environ.get(CRASH_ENV, "").split(",") if p.strip()}
        if crash - CRASH_POINTS:
            raise ValueError(f"{CRASH_ENV} must be among {sorted(CRASH_POINTS)}")
        self.crash_at = crash
        self.crash_kind = os.environ.get(CRASH_KIND_ENV) or None
        unstable = os.environ.get(UNSTABLE_KEYS_ENV) == "1"
        self.effects = {kind: self._faulty(effect, unstable) for kind, effect in self.effects.items()}

    def crash_if(self, point: str, job: Job) -> None:
        if point in self.crash_at and (self.crash_kind is None or self.crash_kind == job.kind):
            log.error("fault injection: SIGKILL at %s (outbox row %s)", point, job.id)
            os.kill(os.getpid(), signal.SIGKILL)

    def _faulty(self, effect: Effect, unstable_keys: bool) -> Effect:
        def run(settings: Settings, job: Job) -> dict[str, Any]:
            self.crash_if("before_call", job)
            result = effect(settings, job.with_key(f"{job.idempotency_key}:attempt-{job.attempts}")
                            if unstable_keys else job)
            self.crash_if("after_call", job)  # the effect happened; its outcome is not written back
            return result
        return run

    async def apply_due(self, limit: int) -> int:
        if "mid_apply" not in self.crash_at:
            return await super().apply_due(limit)
        conn = await self._db()
        async with conn.transaction():  # the same call, in a transaction this process never commits
            cur = await conn.execute("SELECT api.outbox_apply_due(%s, %s) AS n", [self.worker_id, limit])
            row = await cur.fetchone()
            applied = int(row["n"]) if row else 0
            if applied:
                log.error("fault injection: SIGKILL after applying %s row(s), before the commit", applied)
                os.kill(os.getpid(), signal.SIGKILL)
        return applied

    async def process(self, job: Job, stop: asyncio.Event | None = None) -> str:
        status = await super().process(job, stop)
        if status == "done":
            self.crash_if("after_writeback", job)
        return status


if __name__ == "__main__":
    sys.exit(main(argv=sys.argv[1:], worker_class=FaultyWorker))
