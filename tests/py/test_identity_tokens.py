"""Tokens from an identity provider: RS256/ES256 keys from a JWKS the test serves itself (a tiny
local HTTP server), HS256 with a shared secret, issuer/audience checks, alg confusion, key rotation,
the refresh rate limit, a provider outage, and the database deciding the role (a forged role claim
never elevates)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from litestar.testing import TestClient

from api.app import create_app
from api.auth import JWKSCache, mint_token, user_id_for
from api.config import Settings
from tests.py.conftest import JWT_SECRET, ClonedDatabase

ISSUER = "https://idp.example.test/auth/v1"
AUDIENCE = "authenticated"


@dataclass
class KeyPair:
    kid: str
    alg: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        algo = jwt.algorithms.RSAAlgorithm if self.alg.startswith("RS") else jwt.algorithms.ECAlgorithm
        data: dict[str, Any] = json.loads(algo.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_pem(self) -> bytes:
        return bytes(self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo))


def rsa_key(kid: str) -> KeyPair:
    return KeyPair(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str) -> KeyPair:
    return KeyPair(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


@dataclass
class Provider:
    """A JWKS endpoint: serves the keys in `keys`; `down` makes it answer 503; counts requests."""

    keys: list[KeyPair] = field(default_factory=list)
    down: bool = False
    hits: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"

    def start(self) -> Provider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.hits += 1
                if provider.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps({"keys": [k.jwk() for k in provider.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def token(self, key: KeyPair, sub: str, **claims: Any) -> str:
        now = int(time.time())
        payload = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, "role": "authenticated",
                   **claims}
        return jwt.encode({k: v for k, v in payload.items() if v is not None}, key.private, algorithm=key.alg,
                          headers={"kid": key.kid})


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider(keys=[rsa_key("k1"), ec_key("e1")]).start()
    yield p
    p.stop()


def app_settings(settings: Settings, provider: Provider, **overrides: Any) -> Settings:
    base = replace(settings, jwt_algorithms=("RS256", "ES256"), jwks_url=provider.url, jwt_issuer=ISSUER,
                   jwt_audience=(AUDIENCE,), jwks_min_refresh_seconds=0.0)
    return replace(base, **overrides)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_user(db: ClonedDatabase, role: str, user_id: str | None = None) -> str:
    with psycopg.connect(db.superuser_dsn) as conn:
        uid = user_id or str(uuid.uuid4())
        conn.execute("INSERT INTO app.users (id, email, full_name, role) VALUES (%s, %s, 'Test Person', %s)",
                     [uid, f"{role}-{uid[:8]}@example.test", role])
        if role == "customer":
            conn.execute("INSERT INTO app.customers (user_id) VALUES (%s)", [uid])
    return uid


def me(client: TestClient[Any], token: str) -> tuple[int, dict[str, Any]]:
    r = client.get("/api/me", headers=bearer(token))
    return r.status_code, r.json()


# ---------------------------------------------------------------------------- verification


def test_rs256_and_es256_tokens_from_the_jwks_are_accepted(settings: Settings, database: ClonedDatabase,
                                                           provider: Provider) -> None:
    uid = create_user(database, "customer")
    with TestClient(app=create_app(app_settings(settings, provider))) as client:
        for key in provider.keys:
            status, body = me(client, provider.token(key, uid))
            assert status == 200, body
            assert body == {"user_id": uid, "role": "customer", "db_role": "autodoc_customer"}


@pytest.mark.parametrize(("claims", "why"), [
    ({"iss": "https://evil.example.test"}, "wrong issuer"),
    ({"iss": None}, "no issuer"),
    ({"aud": "someone-else"}, "wrong audience"),
    ({"aud": None}, "no audience"),
    ({"nbf": int(time.time()) + 3600}, "not valid yet"),
    ({"exp": None}, "no expiry"),
])
def test_wrong_issuer_audience_or_times_are_401_invalid_token(settings: Settings, provider: Provider,
                                                              claims: dict[str, Any], why: str) -> None:
    with TestClient(app=create_app(app_settings(settings, provider))) as client:
        status, body = me(client, provider.token(provider.keys[0], str(uuid.uuid4()), **claims))
    assert (status, body["code"]) == (401, "invalid_token"), why


def test_small_clock_skew_is_tolerated_and_expiry_is_token_expired(settings: Settings, provider: Provider) -> None:
    now = int(time.time())
    with TestClient(app=create_app(app_settings(settings, provider))) as client:
        status, _ = me(client, provider.token(provider.keys[0], str(uuid.uuid4()), nbf=now + 10))
        assert status == 200, "nbf 10 s ahead is within the 30 s leeway"
        status, body = me(client, provider.token(provider.keys[0], str(uuid.uuid4()), exp=now - 120))
        assert (status, body["code"]) == (401, "token_expired")


@pytest.mark.parametrize("configured", [("RS256",), ("HS256", "RS256")])
def test_alg_confusion_an_hs256_token_signed_with_the_public_key_is_refused(
        settings: Settings, provider: Provider, configured: tuple[str, ...]) -> None:
    rsa_pair = provider.keys[0]
    payload = {"sub": str(uuid.uuid4()), "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 600}
    # PyJWT refuses to sign HS256 with a PEM key; build the token by hand, as an attacker would.
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': rsa_pair.kid}).encode())}." \
                    f"{b64(json.dumps(payload).encode())}"
    signature = hmac.new(rsa_pair.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64(signature)}"
    with TestClient(app=create_app(app_settings(settings, provider, jwt_algorithms=configured))) as client:
        status, body = me(client, forged)
    assert (status, body["code"]) == (401, "invalid_token")


def test_alg_none_and_an_algorithm_not_configured_are_refused(settings: Settings, provider: Provider) -> None:
    sub = str(uuid.uuid4())
    unsigned = jwt.encode({"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60}, key="",
                          algorithm="none")
    with TestClient(app=create_app(app_settings(settings, provider, jwt_algorithms=("RS256",)))) as client:
        assert me(client, unsigned)[0] == 401
        es = provider.token(provider.keys[1], sub)  # a valid ES256 token, but only RS256 is configured
        assert me(client, es) == (401, {"code": "invalid_token", "message": "The token is not valid.", "detail": None})


def test_a_key_of_the_wrong_type_for_the_header_alg_is_refused(settings: Settings, provider: Provider) -> None:
    # an ES256 header naming the RSA key's kid: the key cannot sign ES256
    rsa_pair, ec_pair = provider.keys
    token = jwt.encode({"sub": str(uuid.uuid4()), "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60},
                       ec_pair.private, algorithm="ES256", headers={"kid": rsa_pair.kid})
    with TestClient(app=create_app(app_settings(settings, provider))) as client:
        assert me(client, token)[1]["code"] == "invalid_token"


# ---------------------------------------------------------------------------- the key cache


def test_keys_are_cached_not_fetched_per_request(settings: Settings, provider: Provider) -> None:
    with TestClient(app=create_app(app_settings(settings, provider, jwks_min_refresh_seconds=30.0))) as client:
        for _ in range(10):
            assert me(client, provider.token(provider.keys[0], str(uuid.uuid4())))[0] == 200
    assert provider.hits == 1


def test_rotation_new_kid_accepted_after_refresh_old_refused_after_removal(settings: Settings,
                                                                           provider: Provider) -> None:
    old = provider.keys[0]
    with TestClient(app=create_app(app_settings(settings, provider))) as client:
        assert me(client, provider.token(old, str(uuid.uuid4())))[0] == 200
        new = rsa_key("k2")
        provider.keys.append(new)  # the provider publishes the next key before signing with it
        assert me(client, provider.token(new, str(uuid.uuid4())))[0] == 200, "unknown kid: refreshed, accepted"
        provider.keys.remove(old)  # ... and retires the old one
        assert me(client, provider.token(rsa_key("k3"), str(uuid.uuid4())))[0] == 401, "an unknown kid forces a refresh"
        assert me(client, provider.token(old, str(uuid.uuid4())))[1]["code"] == "invalid_token", \
            "the removed key is refused"
        assert me(client, provider.token(new, str(uuid.uuid4())))[0] == 200


def test_unknown_kids_refresh_at_most_once_per_interval(settings: Settings, provider: Provider) -> None:
    with TestClient(app=create_app(app_settings(settings, provider, jwks_min_refresh_seconds=60.0))) as client:
        assert me(client, provider.token(provider.keys[0], str(uuid.uuid4())))[0] == 200
        for i in range(20):
            assert me(client, provider.token(rsa_key(f"made-up-{i}"), str(uuid.uuid4())))[0] == 401
    assert provider.hits == 1, "made-up kids do not make us hammer the provider"


def test_an_outage_keeps_cached_keys_and_fails_closed_for_unknown_kids(settings: Settings,
                                                                      provider: Provider) -> None:
    with TestClient(app=create_app(app_settings(settings, provider, jwks_cache_seconds=0.0))) as client:
        assert me(client, provider.token(provider.keys[0], str(uuid.uuid4())))[0] == 200
        provider.down = True
        hits = provider.hits
        assert me(client, provider.token(provider.keys[0], str(uuid.uuid4())))[0] == 200, "the cached key still works"
        assert provider.hits > hits, "a refresh was attempted (the cache was stale) and failed"
        status, body = me(client, provider.token(rsa_key("k9"), str(uuid.uuid4())))
        assert (status, body["code"]) == (401, "invalid_token"), "an unknown kid fails closed"
        provider.down = False
        provider.stop()  # the provider is gone entirely: connection refused
        assert me(client, provider.token(provider.keys[1], str(uuid.uuid4())))[0] == 200


def test_refresh_attempts_follow_the_cache_clock() -> None:
    now = [1000.0]
    cache = JWKSCache("http://127.0.0.1:1/jwks", max_age=600, min_refresh=30, timeout=0.2, clock=lambda: now[0])
    assert asyncio.run(cache.get("x")) is None and cache.fetches == 1, "first use fetches (and fails: nothing listens)"
    assert asyncio.run(cache.get("x")) is None and cache.fetches == 1, "within min_refresh: no new attempt"
    now[0] += 31
    assert asyncio.run(cache.get("x")) is None and cache.fetches == 2


# ---------------------------------------------------------------------------- roles and claims


def test_a_forged_role_claim_never_elevates(settings: Settings, database: ClonedDatabase, provider: Provider) -> None:
    customer = create_user(database, "customer")
    stranger = str(uuid.uuid4())
    with TestClient(app=create_app(app_settings(settings, provider))) as client:
        token = provider.token(provider.keys[0], customer, role="admin")
        assert me(client, token)[1]["role"] == "customer", "the database says customer"
        r = client.get("/api/admin/outbox/dead", headers=bearer(token))
        assert r.status_code == 403
        token = provider.token(provider.keys[0], stranger, role="admin", app_metadata={"role": "admin"})
        assert me(client, token)[1] == {"user_id": stranger, "role": "anon", "db_role": "autodoc_anon"}
        assert client.get("/api/admin/outbox/dead", headers=bearer(token)).status_code == 403


def test_supabase_claims_app_metadata_role_and_the_anon_key(settings: Settings, database: ClonedDatabase,
                                                            provider: Provider) -> None:
    admin = create_user(database, "admin")
    s = app_settings(settings, provider, jwt_role_claim="app_metadata.role")
    with TestClient(app=create_app(s)) as client:
        token = provider.token(provider.keys[0], admin, app_metadata={"provider": "email", "role": "admin"})
        assert me(client, token)[1]["role"] == "admin"
        plain = provider.token(provider.keys[0], str(uuid.uuid4()), app_metadata={"provider": "email"})
        assert me(client, plain)[1]["role"] == "anon", "no application role: a person without a profile"
        weird = provider.token(provider.keys[0], str(uuid.uuid4()), app_metadata={"role": "service_role"})
        assert me(client, weird)[0] == 401
    with TestClient(app=create_app(app_settings(settings, provider))) as client:
        anon_key = provider.token(provider.keys[0], None, role="anon")
        assert client.get("/api/mechanics", headers=bearer(anon_key)).status_code == 200, "the anon key is a visitor"
        assert client.get("/api/me", headers=bearer(anon_key)).status_code == 401
        service = provider.token(provider.keys[0], str(uuid.uuid4()), role="service_role")
        assert client.get("/api/mechanics", headers=bearer(service)).status_code == 401


def test_a_non_uuid_subject_maps_to_a_stable_user_id(settings: Settings, provider: Provider) -> None:
    with TestClient(app=create_app(app_settings(settings, provider))) as client:
        first = me(client, provider.token(provider.keys[0], "auth0|64f1c0ffee"))[1]["user_id"]
        again = me(client, provider.token(provider.keys[0], "auth0|64f1c0ffee"))[1]["user_id"]
    assert first == again == user_id_for("auth0|64f1c0ffee", ISSUER)
    assert first != user_id_for("auth0|64f1c0ffee", "https://other-issuer.example.test")


def test_the_shared_secret_still_works_beside_the_jwks(settings: Settings, database: ClonedDatabase,
                                                       provider: Provider) -> None:
    uid = create_user(database, "customer")
    s = app_settings(settings, provider, jwt_algorithms=("HS256", "RS256"), jwt_issuer="", jwt_audience=())
    with TestClient(app=create_app(s)) as client:
        assert me(client, mint_token(JWT_SECRET, uid, "customer"))[1]["role"] == "customer"
        assert me(client, provider.token(provider.keys[0], uid))[1]["role"] == "customer"
        expired = mint_token(JWT_SECRET, uid, "customer", ttl=timedelta(minutes=-5))
        assert me(client, expired)[1]["code"] == "token_expired"


def test_the_email_claim_is_passed_only_when_verified(settings: Settings, database: ClonedDatabase,
                                                     provider: Provider) -> None:
    with TestClient(app=create_app(app_settings(settings, provider))) as client:
        unverified = provider.token(provider.keys[0], str(uuid.uuid4()), email="u@example.test", email_verified=False)
        r = client.put("/api/me/customer", json={"full_name": "Una Verified"}, headers=bearer(unverified))
        assert (r.status_code, r.json()["code"]) == (422, "email_unverified")
        verified = provider.token(provider.keys[0], str(uuid.uuid4()), email="v@example.test", email_verified=True)
        r = client.put("/api/me/customer", json={"full_name": "Vera Verified"}, headers=bearer(verified))
        assert r.status_code == 200 and r.json()["email"] == "v@example.test", r.text
