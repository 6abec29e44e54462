"""Login throttling: too many recent failures for one username lock it for a while.

Attempts are stored in the database so every API worker sees the same count. The key is the
lower-cased username whether or not such a user exists, so throttling reveals nothing about which
accounts are real.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Boolean, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from palmvein.core.db import Base, UtcDateTime
from palmvein.core.errors import TooManyAttempts


class LoginAttempt(Base):
    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username_key: Mapped[str] = mapped_column(String(150), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    succeeded: Mapped[bool] = mapped_column(Boolean())
    client: Mapped[str] = mapped_column(String(100), default="")


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window: timedelta
    lockout: timedelta


def username_key(username: str) -> str:
    return username.strip().casefold()


def check_not_throttled(
    session: Session, username: str, *, policy: ThrottlePolicy, now: datetime
) -> None:
    """Raise TooManyAttempts if ``username`` has ``max_failures`` failures since its last success
    within the window and the lockout after the latest of them has not yet run out."""
    key = username_key(username)
    since = now - policy.window
    recent = session.execute(
        select(LoginAttempt.attempted_at, LoginAttempt.succeeded)
        .where(LoginAttempt.username_key == key, LoginAttempt.attempted_at >= since)
        .order_by(LoginAttempt.attempted_at.desc(), LoginAttempt.id.desc())
    ).all()
    failures: list[datetime] = []
    for attempted_at, succeeded in recent:
        if succeeded:
            break
        failures.append(attempted_at)
    if len(failures) < policy.max_failures:
        return
    locked_until = failures[0] + policy.lockout
    if locked_until > now:
        seconds = max(1, int((locked_until - now).total_seconds() + 0.999))
        raise TooManyAttempts(
            f"too many failed logins for this account; try again in {seconds} s",
            retry_after_seconds=seconds,
        )


def record_attempt(
    session: Session, username: str, *, succeeded: bool, now: datetime, client: str = ""
) -> None:
    session.add(
        LoginAttempt(
            username_key=username_key(username),
            attempted_at=now,
            succeeded=succeeded,
            client=client[:100],
        )
    )
    session.flush()


def prune_attempts(session: Session, *, older_than: datetime) -> int:
    """Delete attempts older than ``older_than``; returns how many went."""
    result = session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)
