"""What the compose `migrate` service runs: the project's migrations, as autodoc_owner, against `db`.

    python docker/migrate.py              numbered migrations, then every idempotent file
                                          (functions, triggers, policies, pg_cron jobs)
    python docker/migrate.py --seed-demo  the same, then db/seed/demo.sql (once, on an empty database)

It is `autodoc db migrate` without the embedded cluster: api.devtools.migrate.migrate() with a Cluster whose
`home` is the database's host name. A Cluster puts `home` into libpq's `host`, where a directory
means a Unix socket and a name means TCP, so `db` reaches the compose service. The owner's password
comes from PGPASSWORD (libpq reads it). The superuser steps (roles, database, extensions) already
ran inside the db image (docker/initdb.sh).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import psycopg

from api.config import PROJECT_ROOT
from api.devtools import migrate
from api.devtools.cluster import Cluster


def wait_for(cluster: Cluster, dbname: str, timeout: float = 60) -> None:
    """Compose's healthcheck already waits; this covers a plain `docker run` too."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(cluster.owner_dsn(dbname), connect_timeout=3).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed-demo", action="store_true", help="then load db/seed/demo.sql")
    args = p.parse_args(argv)

    host = os.environ.get("AUTODOC_DB_HOST", "db")
    port = int(os.environ.get("AUTODOC_DB_PORT", "5432"))
    dbname = "autodoc"  # the database docker/initdb.sh created, and pg_cron's cron.database_name
    cluster = Cluster(home=Path(host), port=port, cron_database=dbname)

    wait_for(cluster, dbname)
    applied = migrate.migrate(cluster, dbname)
    print(f"applied {applied or 'nothing new'}; functions, triggers, policies and jobs re-applied", flush=True)
    if args.seed_demo:
        with psycopg.connect(cluster.owner_dsn(dbname)) as conn:
            conn.execute((PROJECT_ROOT / "db" / "seed" / "demo.sql").read_text().encode())
        print("demo data loaded", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
