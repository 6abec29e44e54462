from datetime import UTC, datetime, timedelta

import pytest

from palmvein.core.errors import AuthenticationFailed
from palmvein.core.security.tokens import (
    TokenKind,
    csrf_matches,
    csrf_token,
    issue_token,
    read_token,
)

SECRET = "a-secret-that-is-long-enough-for-tests-000"
NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _access(now: datetime = NOW, minutes: int = 30, secret: str = SECRET) -> str:
    token, _ = issue_token(
        secret, user_id=7, kind=TokenKind.ACCESS, now=now, lifetime=timedelta(minutes=minutes)
    )
    return token


def test_a_fresh_token_names_its_user() -> None:
    claims = read_token(SECRET, _access(), kind=TokenKind.ACCESS, now=NOW + timedelta(minutes=5))
    assert claims.user_id == 7
    assert claims.expires_at == NOW + timedelta(minutes=30)


def test_expired_token_is_refused() -> None:
    with pytest.raises(AuthenticationFailed, match="expired"):
        read_token(SECRET, _access(), kind=TokenKind.ACCESS, now=NOW + timedelta(minutes=30))


def test_token_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(AuthenticationFailed, match="invalid"):
        read_token(SECRET, _access(secret="x" * 40), kind=TokenKind.ACCESS, now=NOW)


def test_a_session_token_is_not_an_access_token() -> None:
    session, _ = issue_token(
        SECRET, user_id=7, kind=TokenKind.SESSION, now=NOW, lifetime=timedelta(hours=8)
    )
    with pytest.raises(AuthenticationFailed):
        read_token(SECRET, session, kind=TokenKind.ACCESS, now=NOW)


def test_tampered_payload_is_refused() -> None:
    header, payload, signature = _access().split(".")
    forged = f"{header}.{payload[:-2]}AA.{signature}"
    with pytest.raises(AuthenticationFailed):
        read_token(SECRET, forged, kind=TokenKind.ACCESS, now=NOW)


def test_csrf_token_is_bound_to_its_session() -> None:
    token = csrf_token(SECRET, "session-a")
    assert csrf_matches(SECRET, "session-a", token)
    assert not csrf_matches(SECRET, "session-b", token)
    assert not csrf_matches(SECRET, "session-a", None)
    assert not csrf_matches(SECRET, "session-a", "")
