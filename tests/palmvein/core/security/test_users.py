from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from palmvein.core.audit import verify_chain
from palmvein.core.errors import Conflict, NotFound, TooManyAttempts, ValidationFailed
from palmvein.core.security.roles import Role, parse_roles
from palmvein.core.security.throttle import ThrottlePolicy, prune_attempts
from palmvein.core.security.users import authenticate, create_user, get_user, list_users

PASSWORD = "correct horse battery staple"
POLICY = ThrottlePolicy(max_failures=3, window=timedelta(minutes=10), lockout=timedelta(minutes=5))


@pytest.fixture
def clerk(db: Session, clock) -> int:
    user = create_user(
        db,
        username="Karim.Clerk",
        full_name="Karim",
        password=PASSWORD,
        roles=frozenset({Role.HR_CLERK}),
        actor="test",
        now=clock(),
    )
    db.commit()
    return user.id


def test_created_user_is_normalised_audited_and_listed(db: Session, clerk: int) -> None:
    user = get_user(db, clerk)
    assert user.username == "karim.clerk"
    assert user.roles == {Role.HR_CLERK}
    assert user.password_hash.startswith("$argon2id$")
    assert [u.username for u in list_users(db)] == ["karim.clerk"]
    report = verify_chain(db)
    assert report.ok and report.rows == 1


def test_duplicate_username_is_a_conflict(db: Session, clerk: int, clock) -> None:
    with pytest.raises(Conflict, match="already exists"):
        create_user(
            db,
            username="KARIM.CLERK",
            full_name="K",
            password=PASSWORD,
            roles=frozenset({Role.AUDITOR}),
            actor="test",
            now=clock(),
        )


@pytest.mark.parametrize("username", ["a", "has space", "-dash-first", "x" * 64, "ünï"])
def test_bad_usernames_are_refused(db: Session, clock, username: str) -> None:
    with pytest.raises(ValidationFailed, match="username"):
        create_user(
            db,
            username=username,
            full_name="X",
            password=PASSWORD,
            roles=frozenset({Role.AUDITOR}),
            actor="test",
            now=clock(),
        )


def test_unknown_user_id_is_not_found(db: Session) -> None:
    with pytest.raises(NotFound, match="no staff user with id 999"):
        get_user(db, 999)


def test_parse_roles_names_the_bad_role() -> None:
    assert parse_roles("admin, auditor") == {Role.ADMIN, Role.AUDITOR}
    with pytest.raises(ValueError, match="unknown role 'cashier'"):
        parse_roles(["cashier"])


def test_login_succeeds_with_the_right_password(db: Session, clerk: int, clock) -> None:
    outcome = authenticate(db, "karim.clerk", PASSWORD, policy=POLICY, now=clock())
    assert outcome.succeeded and outcome.user is not None and outcome.user.id == clerk


def test_wrong_password_unknown_user_and_disabled_account_all_just_fail(
    db: Session,
    clerk: int,
    clock,
) -> None:
    assert not authenticate(db, "karim.clerk", "wrong", policy=POLICY, now=clock()).succeeded
    assert not authenticate(db, "nobody", PASSWORD, policy=POLICY, now=clock()).succeeded
    get_user(db, clerk).is_active = False
    assert not authenticate(db, "karim.clerk", PASSWORD, policy=POLICY, now=clock()).succeeded


def test_repeated_failures_lock_the_account_then_the_lock_expires(
    db: Session,
    clerk: int,
    clock,
) -> None:
    for _ in range(3):
        authenticate(db, "karim.clerk", "wrong", policy=POLICY, now=clock())
        clock.advance(seconds=10)
    # Even the right password is refused while locked: the lock is not a password oracle.
    with pytest.raises(TooManyAttempts) as raised:
        authenticate(db, "karim.clerk", PASSWORD, policy=POLICY, now=clock())
    assert raised.value.retry_after_seconds == 5 * 60 - 10
    clock.advance(minutes=5)
    assert authenticate(db, "karim.clerk", PASSWORD, policy=POLICY, now=clock()).succeeded


def test_a_success_resets_the_failure_count(db: Session, clerk: int, clock) -> None:
    for _ in range(2):
        authenticate(db, "karim.clerk", "wrong", policy=POLICY, now=clock())
    clock.advance(seconds=1)
    assert authenticate(db, "karim.clerk", PASSWORD, policy=POLICY, now=clock()).succeeded
    clock.advance(seconds=1)
    for _ in range(2):
        authenticate(db, "karim.clerk", "wrong", policy=POLICY, now=clock())
        clock.advance(seconds=1)
    assert authenticate(db, "karim.clerk", PASSWORD, policy=POLICY, now=clock()).succeeded


def test_failures_older_than_the_window_do_not_count(db: Session, clerk: int, clock) -> None:
    for _ in range(2):
        authenticate(db, "karim.clerk", "wrong", policy=POLICY, now=clock())
    clock.advance(minutes=11)
    authenticate(db, "karim.clerk", "wrong", policy=POLICY, now=clock())
    assert authenticate(db, "karim.clerk", PASSWORD, policy=POLICY, now=clock()).succeeded


def test_unknown_usernames_are_throttled_too(db: Session, clock) -> None:
    for _ in range(3):
        authenticate(db, "ghost", "guess", policy=POLICY, now=clock())
    with pytest.raises(TooManyAttempts):
        authenticate(db, "GHOST", "guess", policy=POLICY, now=clock())


def test_old_attempts_can_be_pruned(db: Session, clock) -> None:
    authenticate(db, "ghost", "guess", policy=POLICY, now=clock())
    clock.advance(days=2)
    assert prune_attempts(db, older_than=clock() - timedelta(days=1)) == 1


def test_a_language_is_stored_checked_and_cleared(db: Session, clerk: int, clock) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from palmvein.core.security.users import set_language

    assert get_user(db, clerk).language is None
    assert set_language(db, clerk, "ar").language == "ar"
    with pytest.raises(ValidationFailed, match="unknown language 'de': choose one of ar, en, fr"):
        set_language(db, clerk, "de")
    assert get_user(db, clerk).language == "ar"
    assert set_language(db, clerk, None).language is None
    with pytest.raises(ValidationFailed, match="unknown language 'xx'"):
        create_user(db, username="nadia", full_name="Nadia", password=PASSWORD,
                    roles=frozenset({Role.AUDITOR}), actor="test", now=clock(), language="xx")
    user = create_user(db, username="nadia", full_name="Nadia", password=PASSWORD,
                       roles=frozenset({Role.AUDITOR}), actor="test", now=clock(), language="fr")
    assert user.language == "fr"
    db.commit()
    # The database refuses an unknown code written behind the service's back.
    with pytest.raises(IntegrityError):
        db.execute(text("UPDATE staff_users SET language = 'de' WHERE id = :id"), {"id": user.id})
    db.rollback()
