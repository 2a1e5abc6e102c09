"""Local secrets: generated once per checkout into .data/secrets.env (git-ignored, mode 0600)."""

from __future__ import annotations

import secrets

from api.config import DATA_DIR, SECRETS_FILE, env


def ensure_local_secrets() -> None:
    """Create .data/secrets.env with random values for whatever it lacks. Environment still wins."""
    wanted = {
        "AUTODOC_JWT_SECRET": lambda: secrets.token_urlsafe(48),
        "AUTODOC_DB_API_PASSWORD": lambda: secrets.token_urlsafe(24),
        "AUTODOC_STRIPE_WEBHOOK_SECRET": lambda: "whsec_" + secrets.token_hex(24),
    }
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    existing = SECRETS_FILE.read_text() if SECRETS_FILE.exists() else ""
    missing = [k for k in wanted if f"{k}=" not in existing]
    if missing:
        with open(SECRETS_FILE, "a") as f:
            for k in missing:
                f.write(f"{k}={wanted[k]()}\n")
    SECRETS_FILE.chmod(0o600)


def api_password() -> str:
    return env("AUTODOC_DB_API_PASSWORD")
