"""Signed bearer tokens (JWT, HS256) and CSRF tokens bound to a web session.

Keys are derived from the one configured secret with a distinct label per purpose, so a token of
one kind can never be replayed as another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import jwt

from palmvein.core.errors import AuthenticationFailed

_ALGORITHM = "HS256"
_ISSUER = "palmvein"


class TokenKind(StrEnum):
    ACCESS = "access"
    SESSION = "session"


def derive_key(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), f"palmvein:{purpose}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    kind: TokenKind
    token_id: str
    expires_at: datetime


def issue_token(
    secret: str, *, user_id: int, kind: TokenKind, now: datetime, lifetime: timedelta
) -> tuple[str, TokenClaims]:
    claims = TokenClaims(
        user_id=user_id,
        kind=kind,
        token_id=secrets.token_urlsafe(16),
        expires_at=now + lifetime,
    )
    token = jwt.encode(
        {
            "iss": _ISSUER,
            "sub": str(user_id),
            "typ": kind.value,
            "jti": claims.token_id,
            "iat": int(now.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
        },
        derive_key(secret, f"token:{kind.value}"),
        algorithm=_ALGORITHM,
    )
    return token, claims


def read_token(secret: str, token: str, *, kind: TokenKind, now: datetime) -> TokenClaims:
    """Validate signature, issuer, kind and expiry; raises AuthenticationFailed otherwise."""
    try:
        payload = jwt.decode(
            token,
            derive_key(secret, f"token:{kind.value}"),
            algorithms=[_ALGORITHM],
            issuer=_ISSUER,
            options={"require": ["exp", "iat", "sub", "jti", "typ"], "verify_exp": False},
        )
    except jwt.PyJWTError:
        raise AuthenticationFailed("the token is invalid") from None
    if payload.get("typ") != kind.value:
        raise AuthenticationFailed("the token is of the wrong kind")
    # Expiry checked against the injected clock, not the wall clock, so tests can move time.
    if int(payload["exp"]) <= int(now.timestamp()):
        raise AuthenticationFailed("the token has expired; log in again")
    try:
        user_id = int(payload["sub"])
    except (TypeError, ValueError):
        raise AuthenticationFailed("the token is invalid") from None
    return TokenClaims(
        user_id=user_id,
        kind=kind,
        token_id=str(payload["jti"]),
        expires_at=datetime.fromtimestamp(int(payload["exp"]), tz=now.tzinfo),
    )


def csrf_token(secret: str, session_token_id: str) -> str:
    """The CSRF token for one web session: an HMAC of the session id, so it needs no storage."""
    return hmac.new(
        derive_key(secret, "csrf"), session_token_id.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def csrf_matches(secret: str, session_token_id: str, presented: str | None) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(csrf_token(secret, session_token_id), presented)
