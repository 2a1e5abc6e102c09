"""The database's versions, read from git history.

"Version N" is migrations 1..N plus the idempotent files (db/functions, triggers, policies, jobs)
as they were in the last commit where N was the newest migration: the code that ran against N
before N+1 existed. The newest version is the working tree. A rollback of N+1 followed by a
re-apply of version N's files must give exactly what a fresh migrate of version N gives.
"""

from __future__ import annotations

import subprocess
import tarfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from api.config import PROJECT_ROOT

MIGRATIONS = "db/migrations"


@dataclass(frozen=True)
class Version:
    migration: str        # the newest migration id of this version, e.g. "0004_stripe_cancel_intent"
    commit: str | None    # None: the working tree

    def db_dir(self, scratch: Path) -> Path:
        """This version's db/ directory (extracted from git into `scratch` for an old version)."""
        if self.commit is None:
            return PROJECT_ROOT / "db"
        target = scratch / self.commit[:12]
        if not target.exists():
            archive = _git("archive", "--format=tar", self.commit, "db")
            with tarfile.open(fileobj=BytesIO(archive)) as tar:
                tar.extractall(target, filter="data")
        return target / "db"


def _git(*args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=PROJECT_ROOT, check=True, capture_output=True).stdout


def _ids(names: list[str]) -> list[str]:
    return sorted(Path(n).stem for n in names if n.endswith(".sql") and not n.endswith(".rollback.sql"))


def migration_ids() -> list[str]:
    """The migrations of the working tree, in order."""
    return sorted(p.stem for p in (PROJECT_ROOT / MIGRATIONS).glob("*.sql") if not p.name.endswith(".rollback.sql"))


def versions() -> list[Version]:
    """One Version per migration of the working tree, oldest first (the last one is the working tree)."""
    ids = migration_ids()
    found: dict[str, str] = {}
    wanted = set(ids[:-1])
    for commit in _git("log", "--topo-order", "--format=%H", "HEAD").decode().split():
        if not wanted - found.keys():
            break
        have = _ids(_git("ls-tree", "--name-only", commit, f"{MIGRATIONS}/").decode().split())
        # Only a commit whose migrations are exactly 1..N of today's list is version N (a branch that
        # merged main before renumbering its own migration had a set that never was a version).
        if have and have[-1] in wanted and have[-1] not in found and have == ids[:len(have)]:
            found[have[-1]] = commit
    missing = sorted(wanted - found.keys())
    if missing:
        raise RuntimeError(f"no commit in git history has these as the newest migration: {missing}")
    return [Version(m, found[m]) for m in ids[:-1]] + [Version(ids[-1], None)]
