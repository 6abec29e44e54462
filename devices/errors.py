"""Errors the devices services raise on purpose (mapped to problem+json in palmvein.problem).

A request whose signature is refused raises a :class:`SignatureRejected` subclass (401); its
``reason`` is what the audit row records. A correctly signed request from a device that may not
do what it asks (wrong kind, another merchant) is :class:`WrongDevice` (403).
"""

from __future__ import annotations

from palmvein.core.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)

# What a 401 from a signed route asks for, in the WWW-Authenticate header.
CHALLENGE = "PALMVEIN-HMAC-SHA256"


class DeviceNotFound(NotFound):
    code = "device-not-found"


class PayPointNotFound(NotFound):
    code = "pay-point-not-found"


class InvalidBinding(ValidationFailed):
    """A device's binding does not fit its kind (a counter terminal without a merchant...)."""

    code = "invalid-device-binding"


class DeviceRevoked(Conflict):
    """The device is revoked; it gets no new key (register a new device instead)."""

    code = "device-revoked"


class DuplicateDevice(Conflict):
    code = "duplicate-device"


class SignatureRejected(AuthenticationFailed):
    """A device request that does not carry a valid, fresh, unused signature."""

    code = "signature-rejected"
    reason = "rejected"
    challenge = CHALLENGE


class SignatureMissing(SignatureRejected):
    code = "signature-missing"
    reason = "missing"


class SignatureMalformed(SignatureRejected):
    code = "signature-malformed"
    reason = "malformed"


class UnknownKey(SignatureRejected):
    code = "unknown-device-key"
    reason = "unknown-key"


class KeyRevoked(SignatureRejected):
    """The key was revoked, its rotation overlap ended, or its device was revoked."""

    code = "device-key-revoked"
    reason = "revoked-key"


class StaleRequest(SignatureRejected):
    """The timestamp is outside the accepted window around the server's clock."""

    code = "request-outside-time-window"
    reason = "clock-skew"


class NonceReused(SignatureRejected):
    code = "nonce-reused"
    reason = "replayed-nonce"


class BadSignature(SignatureRejected):
    code = "bad-signature"
    reason = "bad-signature"


class WrongDevice(PermissionDenied):
    """A validly signed request from a device that may not make it."""

    code = "wrong-device"
    reason = "wrong-device"
