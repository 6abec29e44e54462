"""The request-signing scheme of palmvein terminals, and a client-side signer.

Both sides use this module: terminals (and tests, the demo, the web pages) sign with
:class:`RequestSigner`; the server rebuilds the same :func:`canonical_string` and compares
signatures with :func:`signatures_match`. It needs only the standard library, so a terminal can
vendor this one file. ``devices/README.md`` states the scheme for implementers in other
languages, with a worked example that ``tests/devices/test_signing.py`` checks.

The canonical string is seven lines joined by ``\\n`` (no trailing newline)::

    PALMVEIN-HMAC-SHA256
    <METHOD, upper case>
    <request target: the path and ?query exactly as sent on the request line>
    <lower-case hex SHA-256 of the exact body bytes (of b"" when there is no body)>
    <timestamp: Unix seconds, decimal>
    <nonce>
    <key id>

and the signature is the lower-case hex HMAC-SHA256 of its UTF-8 bytes, keyed with the 32 bytes
the device secret (unpadded base64url) decodes to.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

SCHEME = "PALMVEIN-HMAC-SHA256"
KEY_ID_HEADER = "X-Palmvein-Key-Id"
TIMESTAMP_HEADER = "X-Palmvein-Timestamp"
NONCE_HEADER = "X-Palmvein-Nonce"
SIGNATURE_HEADER = "X-Palmvein-Signature"
SIGNED_HEADERS = (KEY_ID_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)

SECRET_BYTES = 32
# 16-64 URL-safe characters: at least 96 bits from a 16-character random base64url nonce.
NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
KEY_ID_PATTERN = re.compile(r"^dk_[0-9a-f]{16}$")
TIMESTAMP_PATTERN = re.compile(r"^[0-9]{1,10}$")  # up to the year 2286
SIGNATURE_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class MalformedSecret(ValueError):
    """A device secret that is not unpadded base64url of 32 bytes."""


def new_key_id() -> str:
    return f"dk_{secrets.token_hex(8)}"


def new_secret() -> str:
    """A fresh device secret: 32 random bytes as unpadded base64url (43 characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=").decode()


def new_nonce() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, 144 bits


def secret_key_bytes(secret: str) -> bytes:
    """The HMAC key a secret stands for (its 32 decoded bytes)."""
    try:
        raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    except (binascii.Error, ValueError):
        raise MalformedSecret("a device secret is unpadded base64url") from None
    if len(raw) != SECRET_BYTES or not secret.isascii():
        raise MalformedSecret(f"a device secret decodes to {SECRET_BYTES} bytes")
    return raw


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_string(
    *, method: str, target: str, body_sha256: str, timestamp: str, nonce: str, key_id: str
) -> str:
    """The text that is signed; see the module docstring."""
    lines = (SCHEME, method.upper(), target, body_sha256, timestamp, nonce, key_id)
    return "\n".join(lines)


def signature(key: bytes, canonical: str) -> str:
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def signatures_match(expected: str, given: str) -> bool:
    """Constant-time comparison (the time taken does not depend on where they first differ)."""
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))


@dataclass(frozen=True)
class SignedHeaders:
    key_id: str
    timestamp: str
    nonce: str
    signature: str

    def as_dict(self) -> dict[str, str]:
        return {
            KEY_ID_HEADER: self.key_id,
            TIMESTAMP_HEADER: self.timestamp,
            NONCE_HEADER: self.nonce,
            SIGNATURE_HEADER: self.signature,
        }

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> SignedHeaders | None:
        """The four signature headers of a request (any case), or None if one is missing."""
        lowered = {k.lower(): v for k, v in headers.items()}
        values = [lowered.get(name.lower()) for name in SIGNED_HEADERS]
        if any(v is None or v == "" for v in values):
            return None
        key_id, timestamp, nonce, sig = (str(v) for v in values)
        return cls(key_id=key_id, timestamp=timestamp, nonce=nonce, signature=sig)


class RequestSigner:
    """Signs a terminal's requests with its key id and secret.

    Parameters
    ----------
    key_id : str
        The key id given at registration or rotation.
    secret : str
        The secret shown once with it.
    clock : callable, optional
        Returns Unix seconds; ``time.time`` by default (tests pass a fake clock).

    Examples
    --------
    >>> signer = RequestSigner("dk_0123456789abcdef", new_secret())
    >>> headers = signer.headers("POST", "/devices/heartbeat", b'{"software_version":"1.0"}')
    >>> sorted(headers)  # doctest: +NORMALIZE_WHITESPACE
    ['X-Palmvein-Key-Id', 'X-Palmvein-Nonce', 'X-Palmvein-Signature', 'X-Palmvein-Timestamp']
    """

    def __init__(self, key_id: str, secret: str, clock: object = None) -> None:
        self.key_id = key_id
        self._key = secret_key_bytes(secret)
        self._clock = clock if callable(clock) else time.time

    def headers(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> dict[str, str]:
        """The four signature headers for one request (a fresh nonce each call)."""
        ts = str(int(self._clock()) if timestamp is None else timestamp)
        nonce = nonce or new_nonce()
        canonical = canonical_string(
            method=method,
            target=target,
            body_sha256=body_digest(body),
            timestamp=ts,
            nonce=nonce,
            key_id=self.key_id,
        )
        return SignedHeaders(self.key_id, ts, nonce, signature(self._key, canonical)).as_dict()
