"""Encryption of templates at rest (AES-256-GCM) with a key ring, and snapshot signing keys.

Keys come from ``PALMVEIN_TEMPLATE_KEYS``: comma-separated ``key_id:base64(32 bytes)`` entries,
the first being the *active* key new ciphertexts use, the others still readable (rotation: put a
new key first, run ``palmvein keys rotate``, then drop the old key). Every stored ciphertext
records its key id. Without the variable a development or test installation derives one key from
the application secret key (HKDF-SHA256); production refuses to start without explicit keys.

Each ciphertext is bound to its owner through the AES-GCM associated data, so a ciphertext copied
into another person's row does not decrypt.

References
----------
.. [1] NIST SP 800-38D, Recommendation for block cipher modes of operation: Galois/Counter Mode.
.. [2] RFC 5869, HMAC-based extract-and-expand key derivation function (HKDF).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from matcher.errors import MatcherError

ENV_VAR = "PALMVEIN_TEMPLATE_KEYS"
DERIVED_KEY_ID = "derived-1"
NONCE_BYTES = 12


class KeyringError(MatcherError):
    """Key configuration is missing or malformed, or a ciphertext's key is not in the ring."""


class DecryptionError(MatcherError):
    """A ciphertext failed authentication: wrong key, wrong owner, or altered bytes."""


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def new_key() -> str:
    """A fresh random key in the ``PALMVEIN_TEMPLATE_KEYS`` entry format's value part."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


@dataclass(frozen=True)
class Sealed:
    """One ciphertext and what is needed to open it."""

    key_id: str
    nonce: bytes
    ciphertext: bytes


class Keyring:
    """Template encryption keys by id; ``active`` encrypts, all decrypt.

    Parameters
    ----------
    keys : mapping of str to bytes
        Key id -> 32-byte AES key.
    active : str
        Id of the key new ciphertexts use.
    snapshot_secret : bytes
        Secret the index-snapshot HMAC key is derived from.
    """

    def __init__(self, keys: Mapping[str, bytes], active: str, snapshot_secret: bytes) -> None:
        if active not in keys:
            raise KeyringError(f"active key {active!r} is not in the key ring")
        for kid, key in keys.items():
            if not kid or ":" in kid or "," in kid or len(kid) > 40:
                raise KeyringError(f"bad key id {kid!r} (1-40 characters, no ':' or ',')")
            if len(key) != 32:
                raise KeyringError(f"key {kid!r} has {len(key)} bytes; AES-256 needs 32")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active = active
        self.snapshot_key = _derive(snapshot_secret, b"palmvein matcher index snapshot v1")

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    @classmethod
    def parse(cls, spec: str, snapshot_secret: bytes) -> Keyring:
        """Key ring from ``"id1:base64,id2:base64"`` (first entry active)."""
        keys: dict[str, bytes] = {}
        for entry in (e.strip() for e in spec.split(",")):
            if not entry:
                continue
            kid, sep, b64 = entry.partition(":")
            if not sep:
                raise KeyringError(f"{ENV_VAR} entry {kid[:8]!r}... is not KEY_ID:BASE64")
            try:
                keys[kid.strip()] = base64.b64decode(b64.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise KeyringError(f"{ENV_VAR}: key {kid.strip()!r} is not valid base64") from None
        if not keys:
            raise KeyringError(f"{ENV_VAR} holds no key")
        return cls(keys, next(iter(keys)), snapshot_secret)

    @classmethod
    def from_environment(
        cls, secret_key: str, *, production: bool, environ: Mapping[str, str] | None = None
    ) -> Keyring:
        """Key ring from ``PALMVEIN_TEMPLATE_KEYS``; outside production, derived from
        ``secret_key`` when the variable is unset."""
        env = os.environ if environ is None else environ
        spec = env.get(ENV_VAR, "").strip()
        snapshot_secret = secret_key.encode("utf-8")
        if spec:
            return cls.parse(spec, snapshot_secret)
        if production:
            raise KeyringError(
                f"{ENV_VAR} is not set; production needs explicit template keys "
                f"(e.g. {ENV_VAR}=k1:$(python -c 'import matcher.crypto as c; "
                "print(c.new_key())'))"
            )
        derived = _derive(snapshot_secret, b"palmvein template key v1")
        return cls({DERIVED_KEY_ID: derived}, DERIVED_KEY_ID, snapshot_secret)

    def seal(self, plaintext: bytes, associated: bytes) -> Sealed:
        """Encrypt with the active key and a fresh random nonce."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return Sealed(self.active, nonce, self._keys[self.active].encrypt(nonce, plaintext,
                                                                          associated))

    def open(self, sealed: Sealed, associated: bytes) -> bytes:
        """Decrypt and authenticate; raise DecryptionError or KeyringError."""
        aead = self._keys.get(sealed.key_id)
        if aead is None:
            raise KeyringError(
                f"template encrypted with key {sealed.key_id!r}, which is not in {ENV_VAR}"
            )
        try:
            return aead.decrypt(sealed.nonce, sealed.ciphertext, associated)
        except InvalidTag:
            raise DecryptionError(
                "template ciphertext failed authentication (altered, or not this owner's)"
            ) from None
