"""Device secrets at rest: sealed with AES-256-GCM under the project's key ring.

Why encrypted and not hashed
----------------------------
Passwords are stored as slow one-way hashes because the server only needs to *recognise* them.
An HMAC-signed request is different: to check a signature the server must compute
``HMAC(secret, canonical string)`` itself, so it needs the secret, not a hash of it (a hash
would simply become the secret, and leak exactly as much). The options that keep HMAC
verification are therefore (a) derive each device secret from one master key and the key id,
storing nothing, or (b) store each secret encrypted under a key that is not in the database.
(a) makes every device key fall with the master key and cannot rotate the master without
re-keying every terminal in the field; (b) lets the sealing key rotate independently
(re-seal the rows) and is what this module does.

The sealing key ring is :class:`matcher.crypto.Keyring` (``PALMVEIN_TEMPLATE_KEYS``; derived
from the application secret outside production), the same AES-256-GCM key handling that
protects palm templates: each row records the id of the key that sealed it, and the associated
data binds the ciphertext to its key id and device, so a sealed secret copied into another
device's row does not open. A database dump alone therefore yields no usable device secret.
Before dropping an old sealing key, run :func:`reseal` (``palmvein devices reseal``) so no row
still needs it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.models import Credential
from matcher.crypto import Keyring, Sealed


def _associated(key_id: str, device_id: int) -> bytes:
    return f"palmvein device credential v1\0{key_id}\0{device_id}".encode()


def seal_secret(keyring: Keyring, *, key_id: str, device_id: int, secret: str) -> Sealed:
    return keyring.seal(secret.encode("ascii"), _associated(key_id, device_id))


def open_secret(keyring: Keyring, credential: Credential) -> str:
    """The secret of a stored key; raises matcher.crypto.DecryptionError / KeyringError."""
    sealed = Sealed(credential.sealing_key_id, credential.nonce, credential.ciphertext)
    return keyring.open(sealed, _associated(credential.key_id, credential.device_id)).decode(
        "ascii"
    )


def reseal(session: Session, keyring: Keyring) -> int:
    """Re-encrypt every device secret not sealed with the active key; returns how many."""
    changed = 0
    stale = session.scalars(
        select(Credential).where(Credential.sealing_key_id != keyring.active)
    ).all()
    for credential in stale:
        secret = open_secret(keyring, credential)
        sealed = seal_secret(
            keyring, key_id=credential.key_id, device_id=credential.device_id, secret=secret
        )
        credential.sealing_key_id = sealed.key_id
        credential.nonce = sealed.nonce
        credential.ciphertext = sealed.ciphertext
        changed += 1
    session.flush()
    return changed
