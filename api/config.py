"""Configuration from environment variables, with safe local defaults.

Secrets never live in the repository: local runs get them from `.data/secrets.env`, which
`autodoc db start` generates with random values on first use (git-ignored); any AUTODOC_* variable
set in the environment wins.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("AUTODOC_DATA_DIR", PROJECT_ROOT / ".data"))
SECRETS_FILE = DATA_DIR / "secrets.env"


def _file_values() -> dict[str, str]:
    values: dict[str, str] = {}
    if SECRETS_FILE.exists():
        for line in SECRETS_FILE.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
    return values


def env(name: str, default: str = "") -> str:
    """An AUTODOC_* setting: environment first, then .data/secrets.env, then the default."""
    return os.environ.get(name) or _file_values().get(name) or default


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
    public_base_url: str
    # Side effects (outbox worker, Stripe, mail). Defaults suit local runs and tests.
    stripe_test_payment_method: str = "pm_card_visa"  # confirm new PaymentIntents with it; "" = the client confirms
    mail_dir: str = str(DATA_DIR / "mail")  # where the local SMTP server saves .eml files
    worker_poll_seconds: float = 1.0  # poll even without NOTIFY (NOTIFY is lost when nobody listens)
    worker_lease_seconds: int = 60  # a claimed row is reclaimable after this long without write-back
    worker_batch_size: int = 10

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
            # The API's own address by default, so Stripe webhooks and mail links follow AUTODOC_API_PORT.
            public_base_url=env("AUTODOC_PUBLIC_BASE_URL", f"http://127.0.0.1:{env('AUTODOC_API_PORT', '8000')}"),
            stripe_test_payment_method=os.environ.get("AUTODOC_STRIPE_TEST_PAYMENT_METHOD",
                                                      _file_values().get("AUTODOC_STRIPE_TEST_PAYMENT_METHOD",
                                                                         "pm_card_visa")),
            mail_dir=env("AUTODOC_MAIL_DIR", str(DATA_DIR / "mail")),
            worker_poll_seconds=float(env("AUTODOC_WORKER_POLL_SECONDS", "1.0")),
            worker_lease_seconds=int(env("AUTODOC_WORKER_LEASE_SECONDS", "60")),
            worker_batch_size=int(env("AUTODOC_WORKER_BATCH_SIZE", "10")),
        )
