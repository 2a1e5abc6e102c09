"""Configuration from environment variables, with safe local defaults.

Secrets never live in the repository: local runs get them from `.data/secrets.env`, which
`autodoc db start` generates with random values on first use (git-ignored); any AUTODOC_* variable
set in the environment wins. `make run` records the ports it used in `.data/run.env`, so every later
command (the CLI, a second shell) finds the running system without repeating port variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("AUTODOC_DATA_DIR", PROJECT_ROOT / ".data"))
SECRETS_FILE = DATA_DIR / "secrets.env"
RUN_FILE = DATA_DIR / "run.env"  # the ports of the last `make run` / `autodoc db start` (see record_run)

# The local frontend's address (a Next.js dev server), for email links and CORS by default.
DEFAULT_APP_URL = "http://localhost:3000"
DEFAULT_CORS_ORIGINS = "http://localhost:3000,http://127.0.0.1:3000"


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
    return values


def _file_values() -> dict[str, str]:
    return {**_read_env_file(RUN_FILE), **_read_env_file(SECRETS_FILE)}


def env(name: str, default: str = "") -> str:
    """An AUTODOC_* setting: environment first, then .data/secrets.env, then the ports recorded in
    .data/run.env by the last `make run`, then the default."""
    return os.environ.get(name) or _file_values().get(name) or default


def env_source(name: str) -> str:
    """Where env(name) comes from, for error messages: 'environment', the file, or 'default'."""
    if os.environ.get(name):
        return "environment"
    for path in (SECRETS_FILE, RUN_FILE):
        if _read_env_file(path).get(name):
            return str(path)
    return "default"


def record_run(**values: str | int) -> None:
    """Remember where the running system listens (`AUTODOC_DB_PORT=54329`, ...) in .data/run.env,
    merged with what is there; later commands read it through env()."""
    current = _read_env_file(RUN_FILE)
    current.update({k: str(v) for k, v in values.items()})
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    RUN_FILE.write_text("# written by `make run` / `autodoc db start`: where the local system listens\n"
                        + "".join(f"{k}={v}\n" for k, v in sorted(current.items())))


def origins(value: str) -> list[str]:
    """AUTODOC_CORS_ORIGINS: comma-separated origins (scheme://host[:port], no path); "*" = any."""
    return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def local_database_url() -> str:
    """The API role on the local cluster of `make run`."""
    port = env("AUTODOC_DB_PORT", "54329")
    return f"postgresql://autodoc_api:{env('AUTODOC_DB_API_PASSWORD')}@127.0.0.1:{port}/autodoc"


@dataclass(frozen=True)
class Settings:
    database_url: str  # the API login role (autodoc_api); SET LOCAL ROLE per request
    jwt_secret: str
    stripe_api_key: str
    stripe_api_base: str
    stripe_webhook_secret: str
    smtp_host: str
    smtp_port: int
    mail_from: str
    public_base_url: str  # the API's own address (Stripe webhooks)
    # Side effects (outbox worker, Stripe, mail). Defaults suit local runs and tests.
    stripe_test_payment_method: str = "pm_card_visa"  # confirm new PaymentIntents with it; "" = the client confirms
    mail_dir: str = str(DATA_DIR / "mail")  # where the local SMTP server saves .eml files
    worker_poll_seconds: float = 1.0  # poll even without NOTIFY (NOTIFY is lost when nobody listens)
    worker_lease_seconds: int = 60  # a claimed row is reclaimable after this long without write-back
    worker_batch_size: int = 10
    events_poll_seconds: float = 1.0  # the live-event relay reads even without NOTIFY this often
    app_url: str = DEFAULT_APP_URL  # the frontend: every link in an email or invite points here
    cors_origins: tuple[str, ...] = tuple(origins(DEFAULT_CORS_ORIGINS))  # browsers allowed to call the API
    # Identity provider (docs/identity.md): which tokens the API accepts and how it reads them.
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_issuer: str = ""
    jwt_audience: tuple[str, ...] = ()
    jwks_url: str = ""
    jwks_cache_seconds: float = 600.0
    jwks_min_refresh_seconds: float = 30.0
    jwt_leeway_seconds: int = 30
    jwt_role_claim: str = "role"
    jwt_email_claim: str = "email"
    jwt_email_verified_claim: str = "email_verified"
    # Faults (docs/operations.md): bounded waits, explicit timeouts, honest health.
    db_pool_timeout: float = 5.0  # wait at most this long for a pooled connection, then 503 database_unavailable
    stripe_timeout_seconds: float = 12.0  # one Stripe HTTP call (the SDK's own default is 80 s)
    smtp_timeout_seconds: float = 10.0  # connecting to and each reply of the SMTP server
    worker_heartbeat_seconds: float = 5.0  # a worker counts as alive this long after its last heartbeat
    health_max_pending_age_seconds: float = 300.0  # /health says degraded when an effect waits longer

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=env("AUTODOC_DATABASE_URL", local_database_url()),
            jwt_secret=env("AUTODOC_JWT_SECRET"),
            stripe_api_key=env("AUTODOC_STRIPE_API_KEY", "sk_test_local"),
            stripe_api_base=env("AUTODOC_STRIPE_API_BASE", "http://127.0.0.1:8420"),
            stripe_webhook_secret=env("AUTODOC_STRIPE_WEBHOOK_SECRET"),
            smtp_host=env("AUTODOC_SMTP_HOST", "127.0.0.1"),
            smtp_port=int(env("AUTODOC_SMTP_PORT", "8025")),
            mail_from=env("AUTODOC_MAIL_FROM", "AutoDoctor <bookings@autodoctor.local>"),
            # The API's own address by default, so Stripe webhooks follow AUTODOC_API_PORT.
            public_base_url=env("AUTODOC_PUBLIC_BASE_URL", f"http://127.0.0.1:{env('AUTODOC_API_PORT', '8000')}"),
            stripe_test_payment_method=os.environ.get("AUTODOC_STRIPE_TEST_PAYMENT_METHOD",
                                                      _file_values().get("AUTODOC_STRIPE_TEST_PAYMENT_METHOD",
                                                                         "pm_card_visa")),
            mail_dir=env("AUTODOC_MAIL_DIR", str(DATA_DIR / "mail")),
            worker_poll_seconds=float(env("AUTODOC_WORKER_POLL_SECONDS", "1.0")),
            worker_lease_seconds=int(env("AUTODOC_WORKER_LEASE_SECONDS", "60")),
            worker_batch_size=int(env("AUTODOC_WORKER_BATCH_SIZE", "10")),
            events_poll_seconds=float(env("AUTODOC_EVENTS_POLL_SECONDS", "1.0")),
            app_url=env("AUTODOC_APP_URL", DEFAULT_APP_URL).rstrip("/"),
            cors_origins=tuple(origins(env("AUTODOC_CORS_ORIGINS", DEFAULT_CORS_ORIGINS))),
            jwt_algorithms=tuple(_csv(env("AUTODOC_JWT_ALGORITHMS", "HS256"))),
            jwt_issuer=env("AUTODOC_JWT_ISSUER"),
            jwt_audience=tuple(_csv(env("AUTODOC_JWT_AUDIENCE"))),
            jwks_url=env("AUTODOC_JWKS_URL"),
            jwks_cache_seconds=float(env("AUTODOC_JWKS_CACHE_SECONDS", "600")),
            jwks_min_refresh_seconds=float(env("AUTODOC_JWKS_MIN_REFRESH_SECONDS", "30")),
            jwt_leeway_seconds=int(env("AUTODOC_JWT_LEEWAY_SECONDS", "30")),
            jwt_role_claim=env("AUTODOC_JWT_ROLE_CLAIM", "role"),
            jwt_email_claim=env("AUTODOC_JWT_EMAIL_CLAIM", "email"),
            # "-" = none: the provider only issues tokens for verified addresses
            jwt_email_verified_claim=env("AUTODOC_JWT_EMAIL_VERIFIED_CLAIM", "email_verified").strip("-"),
            db_pool_timeout=float(env("AUTODOC_DB_POOL_TIMEOUT", "5")),
            stripe_timeout_seconds=float(env("AUTODOC_STRIPE_TIMEOUT_SECONDS", "12")),
            smtp_timeout_seconds=float(env("AUTODOC_SMTP_TIMEOUT_SECONDS", "10")),
            worker_heartbeat_seconds=float(env("AUTODOC_WORKER_HEARTBEAT_SECONDS", "5")),
            health_max_pending_age_seconds=float(env("AUTODOC_HEALTH_MAX_PENDING_AGE_SECONDS", "300")),
        )
