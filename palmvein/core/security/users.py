"""Staff users: creation, lookup and password login with throttling.

Services here flush but never commit; the caller's boundary does. :func:`authenticate` records
failed attempts and returns the outcome instead of raising, so the caller can commit the failure
record before it refuses the login.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from palmvein.core import audit
from palmvein.core.db import Base, UtcDateTime
from palmvein.core.errors import Conflict, NotFound, ValidationFailed
from palmvein.core.security.passwords import (
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from palmvein.core.security.roles import Role
from palmvein.core.security.throttle import (
    ThrottlePolicy,
    check_not_throttled,
    record_attempt,
)

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
_ROLE_NAMES = ", ".join(f"'{r.value}'" for r in Role)
#: The languages a staff user may prefer (the pages' languages; a test keeps the two equal).
LANGUAGE_CODES: tuple[str, ...] = ("ar", "en", "fr")
_LANGUAGE_NAMES = ", ".join(f"'{code}'" for code in LANGUAGE_CODES)


class StaffUser(Base):
    __tablename__ = "staff_users"
    __table_args__ = (
        CheckConstraint(f"language IN ({_LANGUAGE_NAMES})", name="known_language"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(63), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean(), default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    #: The pages' language this user chose; None: the browser's choice (cookie, Accept-Language).
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    role_rows: Mapped[list[StaffUserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(Role(row.role) for row in self.role_rows)


class StaffUserRole(Base):
    __tablename__ = "staff_user_roles"
    __table_args__ = (CheckConstraint(f"role IN ({_ROLE_NAMES})", name="known_role"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(40), primary_key=True)
    user: Mapped[StaffUser] = relationship(back_populates="role_rows")


def normalise_username(username: str) -> str:
    return username.strip().lower()


def check_language(code: str) -> str:
    """``code`` if it is a known language code, else ValidationFailed naming the known ones."""
    if code not in LANGUAGE_CODES:
        raise ValidationFailed(
            f"unknown language {code!r}: choose one of {', '.join(LANGUAGE_CODES)}"
        )
    return code


def create_user(
    session: Session,
    *,
    username: str,
    full_name: str,
    password: str,
    roles: frozenset[Role],
    actor: str,
    now: datetime,
    language: str | None = None,
) -> StaffUser:
    name = normalise_username(username)
    if not USERNAME_PATTERN.match(name):
        raise ValidationFailed(
            f"username {username!r} is invalid: use 2-63 characters a-z, 0-9, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if not full_name.strip():
        raise ValidationFailed("full name must not be empty")
    check_password_policy(password)
    if language is not None:
        check_language(language)
    if session.scalar(select(StaffUser.id).where(StaffUser.username == name)) is not None:
        raise Conflict(f"a staff user named {name!r} already exists")
    user = StaffUser(
        username=name,
        full_name=full_name.strip(),
        password_hash=hash_password(password),
        is_active=True,
        created_at=now,
        language=language,
        role_rows=[StaffUserRole(role=role.value) for role in sorted(roles)],
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="staff_user.created",
        entity_type="staff_user",
        entity_id=str(user.id),
        data={"username": name, "roles": sorted(r.value for r in roles)},
        at=now,
    )
    return user


def get_user(session: Session, user_id: int) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound(f"no staff user with id {user_id}")
    return user


def find_user(session: Session, username: str) -> StaffUser | None:
    return session.scalar(
        select(StaffUser).where(StaffUser.username == normalise_username(username))
    )


def set_language(session: Session, user_id: int, code: str | None) -> StaffUser:
    """Store the user's preferred language (``None``: follow the browser again)."""
    user = get_user(session, user_id)
    user.language = None if code is None else check_language(code)
    session.flush()
    return user


def list_users(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


@dataclass(frozen=True)
class LoginOutcome:
    user: StaffUser | None

    @property
    def succeeded(self) -> bool:
        return self.user is not None


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    policy: ThrottlePolicy,
    now: datetime,
    client: str = "",
) -> LoginOutcome:
    """Check a password login.

    Raises TooManyAttempts while the username is locked (without checking the password, so a
    locked account cannot be brute-forced). Otherwise records the attempt and returns the user,
    or ``None`` for a wrong password, unknown user or inactive account alike.
    """
    check_not_throttled(session, username, policy=policy, now=now)
    user = find_user(session, username)
    valid = verify_password(user.password_hash if user else None, password)
    ok = user is not None and valid and user.is_active
    record_attempt(session, username, succeeded=ok, now=now, client=client)
    if not ok or user is None:
        return LoginOutcome(None)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return LoginOutcome(user)
