"""`autodoc`: the command line for developers and DBAs.

    autodoc db start|stop|status|url|migrate|rollback|psql|dump-schema|docs
    autodoc seed --demo        load the demo data set
    autodoc serve              the API on 127.0.0.1:8000
    autodoc worker             the outbox worker
    autodoc token USER [ROLE]  a signed JWT for local use (docs/identity.md)
    autodoc where [WHAT]       where the running system listens (api, app, db, mail, smtp, stripe)
    autodoc mail [--to ADDR]   the newest email the local SMTP server saved in .data/mail/, decoded
    autodoc dev                everything, in the foreground (what `make run` runs)
    autodoc test               every test on a throwaway cluster (what `make test` runs)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from api.config import PROJECT_ROOT, Settings, env, env_source, record_run
from api.devtools.cluster import Cluster


def _dev_cluster_ready() -> Cluster:
    from api.devtools.cluster import dev_cluster
    from api.devtools.secrets import ensure_local_secrets

    ensure_local_secrets()
    return dev_cluster()


def _port_origin() -> str:
    source = env_source("AUTODOC_DB_PORT")
    return {"environment": "AUTODOC_DB_PORT", "default": "the default"}.get(source, f"recorded in {source}")


def _running(cluster: Cluster) -> Cluster:
    """The project's cluster, which must be running: found by its data folder (postmaster.pid
    names the port it listens on), so no port variable is needed. Otherwise a clear error saying
    which port was tried and why."""
    if not cluster.running():
        raise RuntimeError(f"PostgreSQL is not running (tried port {cluster.port}, {_port_origin()}; data "
                           f"{cluster.home}). Start it with `make run` or `.venv/bin/autodoc db start`.")
    actual = cluster.running_port()
    if actual is not None and actual != cluster.port:
        cluster.port = actual
    return cluster


def _connect(dsn: str, port: int) -> Any:
    import psycopg

    try:
        return psycopg.connect(dsn)
    except psycopg.OperationalError as e:
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise RuntimeError(f"cannot connect to PostgreSQL on port {port} ({_port_origin()}): {reason}") from None


def cmd_db(args: argparse.Namespace) -> int:
    from api.devtools import migrate
    from api.devtools.secrets import api_password

    cluster = _dev_cluster_ready()
    db = "autodoc"
    if args.action == "start":
        cluster.start()
        record_run(AUTODOC_DB_PORT=cluster.port)
        migrate.bootstrap(cluster, db, api_password())
        print(f"PostgreSQL running: {cluster.home} port {cluster.port}")
    elif args.action == "stop":
        cluster.stop()
    elif args.action == "status":
        print("running" if cluster.running() else "stopped", cluster.home, cluster.port)
        return 0 if cluster.running() else 1
    elif args.action == "url":
        print(Settings.from_env().database_url)
    elif args.action == "rollback":
        _running(cluster)
        print("rolled back", migrate.rollback(cluster, db, args.count))
        print("now re-apply the previous version's files: check out its commit and run `autodoc db migrate` "
              "(docs/migrations.md, Rolling back)")
    elif args.action == "migrate":
        cluster.start()
        migrate.bootstrap(cluster, db, api_password())
        applied = migrate.migrate(cluster, db)
        print(f"applied {applied or 'nothing new'}; functions, triggers, policies and jobs re-applied")
    elif args.action == "psql":
        # As an application role: connect as superuser over the private socket and start the
        # session as that role with its claims, exactly as the API's per-request transaction does.
        _running(cluster)
        role = args.role
        env = dict(os.environ)
        dsn = cluster.owner_dsn(db) if role == "owner" else cluster.superuser_dsn(db)
        if role not in ("postgres", "owner"):
            claims = json.dumps({"sub": args.user, "role": role} if args.user else {"role": role})
            env["PGOPTIONS"] = f"-c role=autodoc_{role} -c request.jwt.claims={claims.replace(' ', '')}"
        cmd = [str(migrate.PG_BIN / "psql"), dsn] + (["-c", args.command] if args.command else [])
        os.execvpe(cmd[0], cmd, env)
    elif args.action == "dump-schema":
        cluster.start()
        text = migrate.migrations_only_dump(cluster, "autodoc_schema_dump", api_password())
        migrate.SCHEMA_FILE.write_text(text)
        print(f"wrote {migrate.SCHEMA_FILE.relative_to(PROJECT_ROOT)}")
    elif args.action == "docs":
        from api.devtools.sqldocs import write_sql_docs_fresh

        cluster.start()
        path = PROJECT_ROOT / "docs" / "sql-api.md"
        write_sql_docs_fresh(cluster, api_password(), path)
        print(f"wrote {path.relative_to(PROJECT_ROOT)}")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    cluster = _running(_dev_cluster_ready())
    demo = PROJECT_ROOT / "db" / "seed" / "demo.sql"
    with _connect(cluster.owner_dsn("autodoc"), cluster.port) as conn:
        conn.execute(demo.read_text().encode())
    print("demo data loaded")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run("api.app:create_app", factory=True, host=args.host, port=args.port, log_level="info")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from api.worker import main as worker_main

    return worker_main(Settings.from_env())


def cmd_token(args: argparse.Namespace) -> int:
    """A token for the local run: ES256 with the local key when the run serves its JWKS (what
    `make run` does), else HS256 with the local secret. The database decides the role in the end
    (docs/identity.md): a role the user does not have in app.users gives them nothing."""
    from api.auth import mint_token
    from api.devtools.secrets import LOCAL_KEY_FILE, local_signing_key

    _dev_cluster_ready()  # makes sure the local JWT secret exists
    settings = Settings.from_env()
    role = None if args.role == "none" else args.role
    ttl = timedelta(hours=args.hours)
    local_jwks = settings.jwks_url.startswith("http://127.0.0.1:") and "ES256" in settings.jwt_algorithms
    if local_jwks and LOCAL_KEY_FILE.exists() and not args.hs256:
        key, kid = local_signing_key()
        print(mint_token("", args.user_id, role, ttl=ttl, email=args.email, algorithm="ES256", key=key, kid=kid,
                         issuer=settings.jwt_issuer or None, audience=(settings.jwt_audience or (None,))[0]))
    else:
        print(mint_token(settings.jwt_secret, args.user_id, role, ttl=ttl, email=args.email,
                         issuer=settings.jwt_issuer or None, audience=(settings.jwt_audience or (None,))[0]))
    return 0


WHERE = ("api", "app", "db", "mail", "smtp", "stripe")


def where(what: str) -> str:
    """Where the local system listens, from the environment or what `make run` recorded."""
    settings = Settings.from_env()
    return {
        "api": f"http://127.0.0.1:{env('AUTODOC_API_PORT', '8000')}",
        "app": settings.app_url,
        "db": f"postgresql://autodoc_api@127.0.0.1:{env('AUTODOC_DB_PORT', '54329')}/autodoc",
        "mail": settings.mail_dir,
        "smtp": f"{settings.smtp_host}:{settings.smtp_port}",
        "stripe": settings.stripe_api_base,
    }[what]


def cmd_where(args: argparse.Namespace) -> int:
    if args.what:
        print(where(args.what))
    else:
        for what in WHERE:
            print(f"{what:<7} {where(what)}")
    return 0


def cmd_mail(args: argparse.Namespace) -> int:
    """Print the newest saved email (to ADDR), decoded: file, To, Subject and the plain-text body.
    --wait N: wait up to N seconds for one to arrive (the worker sends asynchronously)."""
    import email
    import email.policy
    import time
    from pathlib import Path

    folder = Path(Settings.from_env().mail_dir)
    deadline = time.monotonic() + args.wait
    while True:
        for path in sorted(folder.glob("*.eml"), reverse=True):  # names start with the arrival time
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if args.to and args.to.lower() not in str(msg["To"]).lower():
                continue
            body = msg.get_body(("plain",))
            print(f"file:    {path}\nTo:      {msg['To']}\nSubject: {msg['Subject']}\n")
            print(body.get_content() if body is not None else "(no plain-text part)")
            return 0
        if time.monotonic() >= deadline:
            who = f" to {args.to}" if args.to else ""
            raise RuntimeError(f"no email{who} in {folder} (is `make run` running?)")
        time.sleep(0.2)


def cmd_dev(args: argparse.Namespace) -> int:
    from api.devtools.devrun import run_dev

    return run_dev()


def cmd_test(args: argparse.Namespace) -> int:
    from api.devtools.testrun import run_tests

    return run_tests(args.pytest_args)


def cmd_lint(args: argparse.Namespace) -> int:
    from api.devtools.testrun import run_linters

    return run_linters()


def cmd_bench(args: argparse.Namespace) -> int:
    return subprocess.call([sys.executable, "-m", "bench.run", *args.bench_args], cwd=PROJECT_ROOT)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="autodoc", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    db = sub.add_parser("db", help="the local database cluster")
    db.add_argument("action", choices=["start", "stop", "status", "url", "migrate", "rollback", "psql",
                                       "dump-schema", "docs"])
    db.add_argument("--count", type=int, default=1, help="rollback: how many migrations (0 = all)")
    db.add_argument("--role", default="owner",
                    help="psql: postgres | owner | customer | mechanic | admin | worker | anon")
    db.add_argument("--user", help="psql: the user id to act as (sets request.jwt.claims)")
    db.add_argument("-c", "--command", help="psql: run one command and exit")
    db.set_defaults(fn=cmd_db)

    seed = sub.add_parser("seed", help="load data")
    seed.add_argument("--demo", action="store_true", required=True)
    seed.set_defaults(fn=cmd_seed)

    serve = sub.add_parser("serve", help="run the API")
    serve.add_argument("--host", default=os.environ.get("AUTODOC_API_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(env("AUTODOC_API_PORT", "8000")))
    serve.set_defaults(fn=cmd_serve)

    sub.add_parser("worker", help="run the outbox worker").set_defaults(fn=cmd_worker)

    tok = sub.add_parser("token", help="mint a JWT for local use")
    tok.add_argument("user_id")
    tok.add_argument("role", nargs="?", default="none", choices=["customer", "mechanic", "admin", "none"],
                     help="the role the token claims (advisory: the database decides); none = signed in, no profile")
    tok.add_argument("--email", help="a verified email claim (signing up needs one)")
    tok.add_argument("--hs256", action="store_true", help="sign with the local shared secret, not the local key")
    tok.add_argument("--hours", type=float, default=12,
                     help="lifetime in hours (default 12); negative: an already expired token, for testing")
    tok.set_defaults(fn=cmd_token)

    w = sub.add_parser("where", help="where the running system listens (recorded by make run)")
    w.add_argument("what", nargs="?", choices=WHERE)
    w.set_defaults(fn=cmd_where)

    mail = sub.add_parser("mail", help="show the newest email saved by the local SMTP server")
    mail.add_argument("--to", help="only emails to this address (or name)")
    mail.add_argument("--wait", type=float, default=0, help="wait up to this many seconds for one")
    mail.set_defaults(fn=cmd_mail)

    sub.add_parser("dev", help="run everything locally (make run)").set_defaults(fn=cmd_dev)
    t = sub.add_parser("test", help="run every test on a throwaway cluster (make test)")
    t.add_argument("pytest_args", nargs=argparse.REMAINDER)
    t.set_defaults(fn=cmd_test)
    sub.add_parser("lint", help="ruff, mypy and squawk").set_defaults(fn=cmd_lint)
    b = sub.add_parser("bench", help="benchmarks (make bench)")
    b.add_argument("bench_args", nargs=argparse.REMAINDER)
    b.set_defaults(fn=cmd_bench)

    # `autodoc test -x` and `autodoc bench --quick`: options after these two belong to pytest / the bench.
    args, extra = p.parse_known_args(argv)
    if extra and args.cmd not in ("test", "bench"):
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.cmd == "test":
        args.pytest_args = [a for a in [*args.pytest_args, *extra] if a != "--"]
    elif args.cmd == "bench":
        args.bench_args = [a for a in [*args.bench_args, *extra] if a != "--"]
    fn: Callable[[argparse.Namespace], int] = args.fn
    try:
        return fn(args)
    except RuntimeError as e:  # our own failures (a port in use, a server that did not start): no traceback
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
