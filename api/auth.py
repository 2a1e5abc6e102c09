"""Bearer JWT authentication (HS256, Litestar's JWT support).

A token carries `sub` (the user's uuid) and `role`. Malformed, wrongly signed tokens and tokens with
an unknown role are rejected with 401 invalid_token, expired ones with 401 token_expired (so a
client knows to refresh), a missing one with 401 unauthorized, before any handler runs. The claims become
`request.user` and, per transaction, `request.jwt.claims` in PostgreSQL (see api/db.py).

Handlers marked `opt={TOKEN_OPTIONAL: True}` (the public mechanic directory and availability) also
run without a token, as the database role `autodoc_anon`, so the SQL grants alone decide what a
visitor may read. A token sent to them is still checked (a bad one is a 401, never a silent anon),
and a valid one is used (a customer's favorites come first).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from litestar.connection import ASGIConnection
from litestar.middleware.authentication import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token

# Roles a token may carry. `anon` is what you are without a token; `worker` is internal only.
TOKEN_ROLES = frozenset({"customer", "mechanic", "admin"})

# Paths anyone may call without a token (anything else needs one).
PUBLIC_PATHS = ["/health", "/schema", "/docs-assets", "/api/webhooks/stripe"]

# Route option: the handler also serves callers without a token, as anon (see the module docstring).
TOKEN_OPTIONAL = "token_optional"


class OptionalTokenMiddleware(JWTAuthenticationMiddleware):
    """The JWT middleware, except that a request without an Authorization header to a handler
    marked TOKEN_OPTIONAL goes through as anon (request.user None) instead of a 401."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        handler = connection.scope.get("route_handler")
        if not connection.headers.get(self.auth_header) and handler is not None and handler.opt.get(TOKEN_OPTIONAL):
            return AuthenticationResult(user=None, auth=None)
        return await super().authenticate_request(connection)


async def claims_from_token(token: Token, _: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any] | None:
    role = token.extras.get("role")
    try:
        uuid.UUID(token.sub)
    except ValueError:
        return None
    if role not in TOKEN_ROLES:
        return None  # Litestar answers 401
    return {"sub": token.sub, "role": role}


def make_jwt_auth(secret: str) -> JWTAuth[dict[str, Any], Token]:
    if len(secret) < 32:
        raise RuntimeError("AUTODOC_JWT_SECRET must be set to at least 32 characters")
    return JWTAuth[dict[str, Any], Token](
        retrieve_user_handler=claims_from_token,
        token_secret=secret,
        algorithm="HS256",
        exclude=PUBLIC_PATHS,
        require_claims=["exp", "sub"],
        authentication_middleware_class=OptionalTokenMiddleware,
    )


def mint_token(secret: str, user_id: str, role: str, *, ttl: timedelta = timedelta(hours=12)) -> str:
    """A signed token for local use (`autodoc token`) and tests. A negative `ttl` makes a token that
    has already expired (to try a client's refresh path: the API answers 401 token_expired).
    Same claims as Litestar's own tokens: `sub`, `exp`, `iat` and `extras.role`."""
    if role not in TOKEN_ROLES:
        raise ValueError(f"role must be one of {sorted(TOKEN_ROLES)}")
    uuid.UUID(user_id)
    now = datetime.now(UTC)
    payload = {"sub": user_id, "iat": int(now.timestamp()), "exp": int((now + ttl).timestamp()),
               "extras": {"role": role}}
    return jwt.encode(payload, secret, algorithm="HS256")
