"""Bearer tokens from an identity provider: who is calling (never what they may do).

A token is verified against the configured issuer (docs/identity.md):

- HS256/384/512 with the shared secret AUTODOC_JWT_SECRET (Supabase's legacy mode, `autodoc token`), and/or
- RS256/ES256/... with public keys from AUTODOC_JWKS_URL (Supabase's signing keys, Auth0, Keycloak,
  Cognito, Clerk, ...), cached in this process (see `JWKSCache`).

The algorithms accepted are AUTODOC_JWT_ALGORITHMS, never the token header's word alone: the header
only picks one of them, and a symmetric algorithm is verified with the shared secret only, an
asymmetric one with a JWKS key of a matching type only (so an HS256 token "signed" with a public key
is refused). `exp` and `nbf` are checked with a small leeway, `iss` and `aud` when configured.

What the token gives the API is an identity: the user id (`sub`; a non-UUID subject is mapped to a
stable UUID, see `user_id_for`), the email when the provider says it is verified, and the role the
token claims. The application role (customer, mechanic, admin, or none yet) is decided by the
database per request (`app_private.begin_request`, api/db.py): a claim can never elevate anyone.

Errors: no token on a path that needs one is 401 `unauthorized`; a malformed, wrongly signed,
wrong-issuer/audience token is 401 `invalid_token` (see api/errors.py); an expired one 401
`token_expired`, so a client knows to refresh. Handlers marked `opt={TOKEN_OPTIONAL: True}` (the
public directory and availability) also run without a token, as anon; a token sent to them is still
checked (a bad one is a 401, never a silent anon).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware
from litestar.types import ASGIApp

from api.config import Settings

log = logging.getLogger("autodoc.auth")

# Application roles a token may name; the database has the last word on each (api/db.py).
TOKEN_ROLES = frozenset({"customer", "mechanic", "admin"})
# Role claim values that mean "a signed-in person" with no application role (Supabase: `authenticated`).
SIGNED_IN_ROLES = frozenset({"authenticated"})
# Role claim values of a visitor's token (Supabase's anon key): treated exactly like no token.
ANON_ROLES = frozenset({"anon"})

# Paths anyone may call without a token (anything else needs one).
PUBLIC_PATHS = ["/health", "/schema", "/docs-assets", "/api/webhooks/stripe"]

# Route option: the handler also serves callers without a token, as anon (see the module docstring).
TOKEN_OPTIONAL = "token_optional"

SYMMETRIC = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
# The JWK key type each asymmetric family must come with.
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}

# A non-UUID subject (Auth0's "auth0|abc", Clerk's "user_2x") becomes uuid5(namespace, iss + "|" + sub).
SUBJECT_NAMESPACE = uuid.UUID("6f2b1e44-2c1a-4f4e-9a59-7e0d8a3c1d10")


class TokenError(Exception):
    """A token we refuse. `expired` is told apart so clients know to refresh."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.expired = expired


@dataclass(frozen=True)
class IdentityConfig:
    """How tokens are verified and read (environment: see `from_settings` and docs/identity.md)."""

    secret: str = ""  # AUTODOC_JWT_SECRET: the shared secret for HS* tokens
    algorithms: tuple[str, ...] = ("HS256",)  # AUTODOC_JWT_ALGORITHMS
    issuer: str = ""  # AUTODOC_JWT_ISSUER: required `iss` when set
    audience: tuple[str, ...] = ()  # AUTODOC_JWT_AUDIENCE: required `aud` (one of) when set
    jwks_url: str = ""  # AUTODOC_JWKS_URL
    jwks_cache_seconds: float = 600.0  # refresh a JWKS this old (at most once per min_refresh)
    jwks_min_refresh_seconds: float = 30.0  # at most one fetch per this interval, whatever happens
    jwks_timeout_seconds: float = 5.0
    leeway_seconds: int = 30  # clock skew allowed on exp / nbf / iat
    role_claim: str = "role"  # AUTODOC_JWT_ROLE_CLAIM: dotted path, e.g. app_metadata.role
    email_claim: str = "email"  # AUTODOC_JWT_EMAIL_CLAIM
    email_verified_claim: str = "email_verified"  # "" = the provider only issues tokens for verified emails

    def __post_init__(self) -> None:
        unknown = set(self.algorithms) - SYMMETRIC - ASYMMETRIC
        if not self.algorithms or unknown:
            raise RuntimeError(f"AUTODOC_JWT_ALGORITHMS: unknown or no algorithms {sorted(unknown)}; "
                               f"choose from {sorted(SYMMETRIC | ASYMMETRIC)}")
        if set(self.algorithms) & SYMMETRIC and len(self.secret) < 32:
            raise RuntimeError("AUTODOC_JWT_SECRET must be set to at least 32 characters for HS* algorithms")
        if set(self.algorithms) & ASYMMETRIC and not self.jwks_url:
            raise RuntimeError("AUTODOC_JWKS_URL must be set for asymmetric algorithms (RS256, ES256, ...)")


def identity_config(settings: Settings) -> IdentityConfig:
    return IdentityConfig(
        secret=settings.jwt_secret, algorithms=settings.jwt_algorithms, issuer=settings.jwt_issuer,
        audience=settings.jwt_audience, jwks_url=settings.jwks_url, jwks_cache_seconds=settings.jwks_cache_seconds,
        jwks_min_refresh_seconds=settings.jwks_min_refresh_seconds, leeway_seconds=settings.jwt_leeway_seconds,
        role_claim=settings.jwt_role_claim, email_claim=settings.jwt_email_claim,
        email_verified_claim=settings.jwt_email_verified_claim)


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (`app_metadata.role`), None when any part is missing."""
    value: Any = claims
    for part in path.split(".") if path else []:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def user_id_for(sub: str, issuer: str) -> str:
    """Our user id for a token subject: the subject itself when it is a UUID (Supabase, Keycloak,
    Cognito), else a UUID derived from issuer and subject, stable across sign-ins."""
    try:
        return str(uuid.UUID(sub))
    except ValueError:
        return str(uuid.uuid5(SUBJECT_NAMESPACE, f"{issuer}|{sub}"))


class JWKSCache:
    """The provider's public keys by `kid`, fetched from the JWKS URL.

    Fetched when first needed, then again only when the set is older than `max_age` or a token names
    a `kid` we do not know (key rotation) — and never more than once per `min_refresh`, so a flood of
    tokens with made-up kids cannot make us hammer the provider. A failed fetch (provider down) keeps
    the keys we have: tokens signed with them keep working, unknown kids are refused (fail closed).
    A key removed from the set is refused after the next successful fetch.
    """

    def __init__(self, url: str, *, max_age: float = 600.0, min_refresh: float = 30.0, timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url, self.max_age, self.min_refresh, self.timeout, self.clock = url, max_age, min_refresh, timeout, clock
        self.keys: dict[str, jwt.PyJWK] = {}
        self.declared_algs: dict[str, str | None] = {}  # the JWK's own "alg", when it names one
        self.fetched_at: float | None = None  # last successful fetch
        self.attempted_at: float | None = None  # last attempt, successful or not
        self.fetches = 0  # attempts, for tests and logs
        self._lock = asyncio.Lock()

    def _fetch(self) -> tuple[dict[str, jwt.PyJWK], dict[str, str | None]]:
        req = urllib.request.Request(self.url, headers={"Accept": "application/json", "User-Agent": "autodoc-api"})
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            data = json.loads(resp.read())
        keys: dict[str, jwt.PyJWK] = {}
        algs: dict[str, str | None] = {}
        for jwk in data.get("keys", []) if isinstance(data, dict) else []:
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig" or "kid" not in jwk:
                continue
            try:
                keys[str(jwk["kid"])] = jwt.PyJWK(jwk)
                algs[str(jwk["kid"])] = jwk.get("alg")
            except (jwt.PyJWKError, jwt.InvalidKeyError) as e:  # an algorithm we cannot use: skip that key
                log.info("JWKS %s: skipping key %s: %s", self.url, jwk.get("kid"), e)
        return keys, algs

    def _may_fetch(self, now: float) -> bool:
        return self.attempted_at is None or now - self.attempted_at >= self.min_refresh

    async def refresh(self) -> None:
        async with self._lock:
            now = self.clock()
            if not self._may_fetch(now):
                return  # another request just fetched (or failed to): use what that gave
            self.attempted_at = now
            self.fetches += 1
            try:
                keys, algs = await asyncio.to_thread(self._fetch)
            except (OSError, ValueError) as e:
                log.warning("JWKS %s unreachable (%s); keeping %d cached key(s)", self.url, e, len(self.keys))
                return
            self.keys, self.declared_algs, self.fetched_at = keys, algs, self.clock()

    async def get(self, kid: str) -> jwt.PyJWK | None:
        now = self.clock()
        stale = self.fetched_at is None or now - self.fetched_at >= self.max_age
        if (kid not in self.keys or stale) and self._may_fetch(now):
            await self.refresh()
        return self.keys.get(kid)


@dataclass
class TokenVerifier:
    config: IdentityConfig
    jwks: JWKSCache | None = field(default=None)

    def __post_init__(self) -> None:
        if self.jwks is None and self.config.jwks_url:
            self.jwks = JWKSCache(self.config.jwks_url, max_age=self.config.jwks_cache_seconds,
                                  min_refresh=self.config.jwks_min_refresh_seconds,
                                  timeout=self.config.jwks_timeout_seconds)

    async def _key(self, token: str) -> tuple[Any, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise TokenError(f"malformed token: {e}") from e
        alg = header.get("alg")
        if alg not in self.config.algorithms:  # "none" and anything else not configured
            raise TokenError(f"algorithm {alg!r} is not accepted")
        if alg in SYMMETRIC:
            return self.config.secret, alg
        kid = header.get("kid")
        if not isinstance(kid, str) or self.jwks is None:
            raise TokenError("token has no key id (kid)")
        jwk = await self.jwks.get(kid)
        if jwk is None:
            raise TokenError(f"unknown signing key {kid!r}")
        if jwk.key_type != KEY_TYPES.get(alg[:2]) or self.jwks.declared_algs.get(kid) not in (None, alg):
            raise TokenError(f"key {kid!r} does not sign {alg}")
        return jwk.key, alg

    async def verify(self, token: str) -> dict[str, Any]:
        key, alg = await self._key(token)
        c = self.config
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[alg], leeway=c.leeway_seconds,
                issuer=c.issuer or None, audience=list(c.audience) or None,
                # `sub` is checked by identity(): a visitor's token (Supabase's anon key) has none
                options={"require": ["exp"], "verify_aud": bool(c.audience)})
        except jwt.ExpiredSignatureError as e:
            raise TokenError("token has expired", expired=True) from e
        except jwt.PyJWTError as e:
            raise TokenError(str(e)) from e
        return claims

    def identity(self, claims: dict[str, Any]) -> dict[str, Any] | None:
        """What the database is told about the caller (`request.jwt.claims`, without `role`: the
        database decides it), or None for a visitor's token. Raises TokenError for a role claim we do
        not serve (Supabase's service_role, our internal worker)."""
        c = self.config
        claimed = claim_at(claims, c.role_claim)
        if claimed in ANON_ROLES:
            return None
        if claimed is not None and claimed not in TOKEN_ROLES | SIGNED_IN_ROLES:
            raise TokenError(f"role {claimed!r} is not accepted")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise TokenError("token has no subject")
        out: dict[str, Any] = {"sub": user_id_for(sub, str(claims.get("iss") or c.issuer))}
        if claimed in TOKEN_ROLES:
            out["token_role"] = claimed  # advisory only: see app_private.begin_request
        email = claim_at(claims, c.email_claim)
        verified = True if not c.email_verified_claim else claim_at(claims, c.email_verified_claim) is True
        if isinstance(email, str) and email and verified:
            out["email"] = email
        return out


class TokenAuthMiddleware(AbstractAuthenticationMiddleware):
    """Reads `Authorization: Bearer <token>`, verifies it, and sets `request.user` to the identity
    (a dict, or None for anon on TOKEN_OPTIONAL handlers)."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier, exclude: list[str]) -> None:
        super().__init__(app, exclude=exclude)
        self.verifier = verifier

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        handler = connection.scope.get("route_handler")
        optional = handler is not None and bool(handler.opt.get(TOKEN_OPTIONAL))
        header = connection.headers.get("Authorization")
        if not header:
            if optional:
                return AuthenticationResult(user=None, auth=None)
            raise NotAuthorizedException("No JWT token found in request header")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("Invalid Authorization header: expected 'Bearer <token>'")
        try:
            identity = self.verifier.identity(await self.verifier.verify(token.strip()))
        except TokenError as e:
            log.info("refused a token: %s", e)
            # __cause__ tells the error handler which code to answer with (api/errors.py)
            raise NotAuthorizedException("The token has expired" if e.expired else "Invalid token") from (
                jwt.ExpiredSignatureError() if e.expired else jwt.InvalidTokenError())
        if identity is None and not optional:  # a visitor's token where a person is needed
            raise NotAuthorizedException("No JWT token found in request header")
        return AuthenticationResult(user=identity, auth=token)


def make_auth_middleware(verifier: TokenVerifier) -> DefineMiddleware:
    return DefineMiddleware(TokenAuthMiddleware, verifier=verifier, exclude=PUBLIC_PATHS)


def mint_token(secret: str, user_id: str, role: str | None = "customer", *, ttl: timedelta = timedelta(hours=12),
               email: str | None = None, algorithm: str = "HS256", key: Any = None, kid: str | None = None,
               issuer: str | None = None, audience: str | None = None, extra: dict[str, Any] | None = None) -> str:
    """A signed token for local use (`autodoc token`) and tests: HS256 with `secret`, or with `key`
    (a private key) and `kid` for an asymmetric algorithm. `role` None makes a signed-in person's
    token with no application role (Supabase's `authenticated`). A negative `ttl` makes a token that
    has already expired (the API answers 401 token_expired)."""
    if role is not None and role not in TOKEN_ROLES | SIGNED_IN_ROLES:
        raise ValueError(f"role must be one of {sorted(TOKEN_ROLES)}")
    now = int(time.time())
    payload: dict[str, Any] = {"sub": user_id, "iat": now, "exp": now + int(ttl.total_seconds()),
                               "role": role or "authenticated"}
    if email:
        payload.update(email=email, email_verified=True)
    if issuer:
        payload["iss"] = issuer
    if audience:
        payload["aud"] = audience
    payload.update(extra or {})
    headers = {"kid": kid} if kid else None
    return jwt.encode(payload, key if key is not None else secret, algorithm=algorithm, headers=headers)
