"""Template encryption: round trip, key ids, owner binding, configuration."""

from __future__ import annotations

import base64

import pytest

from matcher.crypto import (
    DERIVED_KEY_ID,
    DecryptionError,
    Keyring,
    KeyringError,
    Sealed,
    new_key,
)

SECRET = "test-secret-key-of-the-application"


def ring(spec: str) -> Keyring:
    return Keyring.parse(spec, SECRET.encode())


def test_round_trip_records_the_active_key_id() -> None:
    keys = ring(f"new:{new_key()},old:{new_key()}")
    sealed = keys.seal(b"template bytes", b"person-1")
    assert sealed.key_id == "new" and len(sealed.nonce) == 12
    assert b"template bytes" not in sealed.ciphertext
    assert keys.open(sealed, b"person-1") == b"template bytes"


def test_nonces_are_fresh() -> None:
    keys = ring(f"k:{new_key()}")
    assert keys.seal(b"x", b"a").nonce != keys.seal(b"x", b"a").nonce


def test_ciphertext_of_another_owner_or_altered_bytes_is_refused() -> None:
    keys = ring(f"k:{new_key()}")
    sealed = keys.seal(b"template bytes", b"person-1")
    with pytest.raises(DecryptionError):
        keys.open(sealed, b"person-2")
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(DecryptionError):
        keys.open(Sealed(sealed.key_id, sealed.nonce, flipped), b"person-1")


def test_old_keys_still_decrypt_after_a_new_key_is_put_first() -> None:
    old = new_key()
    before = ring(f"old:{old}")
    sealed = before.seal(b"t", b"p")
    after = ring(f"new:{new_key()},old:{old}")
    assert after.active == "new"
    assert after.open(sealed, b"p") == b"t"
    with pytest.raises(KeyringError, match="not in"):
        ring(f"new:{new_key()}").open(sealed, b"p")


@pytest.mark.parametrize("spec", ["", "no-colon", "k:not base64!", f"k:{base64.b64encode(b'short').decode()}",
                                  f"a:b:{base64.b64encode(bytes(32)).decode()}"])
def test_malformed_key_specifications_are_refused(spec: str) -> None:
    with pytest.raises(KeyringError):
        ring(spec)


def test_environment_keys_and_development_fallback() -> None:
    key = new_key()
    assert Keyring.from_environment(SECRET, production=True,
                                    environ={"PALMVEIN_TEMPLATE_KEYS": f"k1:{key}"}).active == "k1"
    dev = Keyring.from_environment(SECRET, production=False, environ={})
    assert dev.active == DERIVED_KEY_ID
    # Derived deterministically: another process with the same secret reads the same data.
    again = Keyring.from_environment(SECRET, production=False, environ={})
    assert again.open(dev.seal(b"t", b"p"), b"p") == b"t"
    with pytest.raises(KeyringError, match="production"):
        Keyring.from_environment(SECRET, production=True, environ={})
