import pytest
from argon2 import PasswordHasher

from palmvein.core.errors import ValidationFailed
from palmvein.core.security import passwords


@pytest.fixture
def production_hasher(monkeypatch: pytest.MonkeyPatch) -> None:
    # Undo the suite's cheap hasher: these tests are about the real parameters.
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher())


@pytest.mark.usefixtures("production_hasher")
def test_hashes_are_argon2id_salted_and_verify() -> None:
    first = passwords.hash_password("correct horse battery staple")
    second = passwords.hash_password("correct horse battery staple")
    assert first.startswith("$argon2id$")
    assert first != second
    assert passwords.verify_password(first, "correct horse battery staple")
    assert not passwords.verify_password(first, "correct horse battery stapler")
    assert not passwords.needs_rehash(first)


def test_unknown_user_never_verifies() -> None:
    assert not passwords.verify_password(None, "palmvein-timing-equaliser")


def test_garbage_hash_does_not_verify() -> None:
    assert not passwords.verify_password("not-a-hash", "anything")


def test_weak_parameters_are_flagged_for_rehash(monkeypatch: pytest.MonkeyPatch) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("pw")
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher())
    assert passwords.needs_rehash(weak)


def test_short_passwords_are_refused() -> None:
    with pytest.raises(ValidationFailed, match="at least 12 characters"):
        passwords.check_password_policy("short")
    passwords.check_password_policy("twelve chars")
