"""Local secrets: generated once per checkout into .data/secrets.env (git-ignored, mode 0600)."""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

from api.config import DATA_DIR, SECRETS_FILE, env

# The local identity provider's signing key (`make run` serves its JWKS; `autodoc token` signs with it).
LOCAL_KEY_FILE = DATA_DIR / "jwt-local-key.pem"
LOCAL_JWKS_PORT = 8426


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


def ensure_local_key(path: Path = LOCAL_KEY_FILE) -> Path:
    """An EC P-256 private key for ES256 tokens, generated once (mode 0600)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        path.touch(mode=0o600)
        path.write_bytes(pem)
    return path


def local_signing_key(path: Path = LOCAL_KEY_FILE) -> tuple[Any, str]:
    """(private key, kid) of the local key; the kid is derived from the public key."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, "local-" + hashlib.sha256(public).hexdigest()[:16]


def local_jwks(path: Path = LOCAL_KEY_FILE) -> dict[str, Any]:
    """The JWKS that publishes the local key's public half."""
    import jwt

    key, kid = local_signing_key(path)
    jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**jwk, "kid": kid, "alg": "ES256", "use": "sig"}]}
