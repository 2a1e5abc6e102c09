"""docs/walkthrough.md cannot rot: this runs exactly the commands of its `sh` blocks.

The first block (`make run`) is started in the background, the way a reader runs it in a first
terminal; every later block runs, in order, in ONE bash process (variables carry over, as in the
reader's second terminal), with `set -eu` so the first failing command fails the test.

The system gets its own data folder and ports so it never meets a developer's own `make run`: the
commands run in a scratch folder that looks like a checkout (`Makefile`, `scripts/`, `pyproject.toml`
and `.venv` link to this one; `.data/` is fresh), with AUTODOC_DATA_DIR pointing at that `.data/`.
Only `make run` is given port variables (free ports); the later commands get none — they must find
the running system from what `make run` recorded in `.data/run.env`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from api.config import PROJECT_ROOT
from api.devtools.cluster import Cluster, free_port

WALKTHROUGH = PROJECT_ROOT / "docs" / "walkthrough.md"
START_TIMEOUT = 240.0  # initdb, migrations, demo data, localstripe, SMTP, API, worker
SCRIPT_TIMEOUT = 180.0


def sh_blocks(markdown: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^```sh\n(.*?)^```", markdown, re.S | re.M)]


def _clean_env(**extra: str) -> dict[str, str]:
    """A reader's shell: no AUTODOC_* settings from this test run, except where PostgreSQL lives."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTODOC_") or k == "AUTODOC_PG_BIN"}
    env.update(extra)
    return env


def _scratch_checkout(root: Path) -> Path:
    root.mkdir()
    for name in ("Makefile", "scripts", "pyproject.toml", ".venv"):
        (root / name).symlink_to(PROJECT_ROOT / name)
    return root


class Output:
    """The lines a process prints, collected by a thread (so its pipe never fills up)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)


def test_the_walkthrough_runs_exactly_as_written(tmp_path: Path) -> None:
    blocks = sh_blocks(WALKTHROUGH.read_text())
    assert blocks and blocks[0].strip() == "make run", "the walkthrough starts with `make run`"
    assert len(blocks) >= 6
    checkout = _scratch_checkout(tmp_path / "checkout")
    data = checkout / ".data"
    reader = _clean_env(AUTODOC_DATA_DIR=str(data))
    ports = {"AUTODOC_DB_PORT": str(free_port()), "AUTODOC_API_PORT": str(free_port()),
             "AUTODOC_SMTP_PORT": str(free_port()), "AUTODOC_STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}",
             "AUTODOC_JWKS_PORT": str(free_port())}

    system = subprocess.Popen(["bash", "-c", blocks[0]], cwd=checkout, env={**reader, **ports}, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    out = Output(system)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "==> AutoDoctor is running" not in out.text():
            assert system.poll() is None, f"make run exited with {system.returncode}:\n{out.text()}"
            assert time.monotonic() < deadline, f"make run did not come up in {START_TIMEOUT:.0f}s:\n{out.text()}"
            time.sleep(0.2)  # waiting for a real event (the banner), bounded by the deadline

        script = "set -eu\n" + "\n".join(blocks[1:])
        run = subprocess.run(["bash", "-c", script], cwd=checkout, env=reader, text=True, capture_output=True,
                             timeout=SCRIPT_TIMEOUT)
        said = run.stdout + run.stderr
        assert run.returncode == 0, f"walkthrough failed ({run.returncode}):\n{said}\n--- make run:\n{out.text()}"

        assert '"status": "ok"' in said
        assert "Oliver Hughes" in said, "search=German finds the mechanic whose bio says 'German cars'"
        assert re.search(r"^Subject: Confirmed: your AutoDoctor appointment on \w+day, ", said, re.M), said
        assert re.search(r"^When: .*[AP]M - \d+:\d\d [AP]M \(America/Toronto\)$", said, re.M), "Emma's own zone"
        assert re.search(r"^Sign the waiver .*: http://localhost:3000/customer/appointments/[0-9a-f-]{36}/waiver$",
                         said, re.M), "links open the frontend"
        assert re.search(r"^ Emma +\| 3 +\|", said, re.M), "psql as Marie: Emma is coming, in her Mazda 3"
        ics = (data / "appointment.ics").read_text()
        assert "SEQUENCE:1" in ics, "the downloaded invite is the rescheduled one"
        assert _wait_for_reschedule_mail(data / "mail"), "the reschedule email reaches .data/mail/ too"
    finally:
        _stop(system)
        _remove_cluster(out.text())


def _wait_for_reschedule_mail(folder: Path, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any("Subject: Rescheduled" in p.read_text(errors="replace") for p in folder.glob("*.eml")):
            return True
        time.sleep(0.2)
    return False


def _stop(system: subprocess.Popen[str]) -> None:
    """Ctrl-C, as the reader would: `make run` stops every process it started and the database."""
    if system.poll() is None:
        os.killpg(system.pid, signal.SIGINT)
        try:
            system.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(system.pid, signal.SIGKILL)
            system.wait()


def _remove_cluster(banner: str) -> None:
    """Make sure the walkthrough's PostgreSQL is stopped (even if `make run` had to be killed) and,
    as root, where it lives outside the data folder (see api/devtools/cluster.py), remove it."""
    found = re.search(r"==> PostgreSQL \(data: (\S+), port", banner)
    if not found:
        return
    home = Path(found.group(1))
    Cluster(home=home, port=0, cron_database="autodoc").stop()
    if "/autodoc/dev-" in str(home):
        shutil.rmtree(home, ignore_errors=True)
