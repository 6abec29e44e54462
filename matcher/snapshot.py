"""Index snapshots on disk: encrypted, HMAC-signed, refused when foreign or changed.

A worker that restarts loads the newest snapshot instead of decrypting every template in the
database, then follows the enrolment changes made after the snapshot's sequence number.

File layout::

    b"PVSNAP1\\n" | header length (4 bytes, big-endian) | header (JSON) | body | HMAC-SHA256 (32)

The header names the algorithm, grid, template count, change sequence and the key id; the body is
the AES-GCM encryption (associated data: the header) of the template keys, subject ids, planes
and masks. The HMAC, keyed by a key derived from the application secret, covers everything before
it and is checked before anything is parsed, so a file this installation did not write, or any
changed byte, is refused (:class:`matcher.errors.SnapshotError`) and never loaded. Writing goes
through a temporary file and an atomic rename.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from matcher.crypto import DecryptionError, Keyring, KeyringError, Sealed
from matcher.errors import SnapshotError
from matcher.index import DEFAULT_SHORTLIST, Geometry, IndexContents, PalmIndex

MAGIC = b"PVSNAP1\n"
_TAG = 32
_AAD_PREFIX = b"palmvein index snapshot|"


def write_snapshot(path: Path, index: PalmIndex, sequence: int, keyring: Keyring) -> int:
    """Write ``index`` (which reflects changes up to ``sequence``) to ``path``; return the size."""
    contents = index.contents()
    subjects = json.dumps(list(contents.subject_ids)).encode("utf-8")
    body = b"".join([
        struct.pack(">Q", len(subjects)), subjects,
        contents.keys.astype(">i8").tobytes(),
        contents.planes.astype("<u4").tobytes(),
        contents.mask.astype("<u4").tobytes(),
    ])
    g = contents.geometry
    header_fields: dict[str, Any] = {
        "algorithm": g.algorithm, "planes": g.planes, "rows": g.rows, "cols": g.cols,
        "count": len(contents.keys), "sequence": int(sequence),
    }
    sealed = keyring.seal(body, _AAD_PREFIX + json.dumps(header_fields, sort_keys=True).encode())
    header_fields.update(key_id=sealed.key_id, nonce=sealed.nonce.hex())
    header = json.dumps(header_fields, sort_keys=True).encode("utf-8")
    payload = MAGIC + struct.pack(">I", len(header)) + header + sealed.ciphertext
    tag = hmac.new(keyring.snapshot_key, payload, hashlib.sha256).digest()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload + tag)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(payload) + _TAG


def read_snapshot(path: Path, keyring: Keyring) -> tuple[IndexContents, int]:
    """Verify and decode a snapshot; return its contents and change sequence.

    Raises
    ------
    SnapshotError
        Missing, truncated, not signed by this installation's key, changed, or undecodable.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"cannot read index snapshot {path}: {exc.strerror}") from None
    if len(data) < len(MAGIC) + 4 + _TAG or not data.startswith(MAGIC):
        raise SnapshotError(f"{path} is not a palmvein index snapshot")
    payload, tag = data[:-_TAG], data[-_TAG:]
    expected = hmac.new(keyring.snapshot_key, payload, hashlib.sha256).digest()
    if not hmac.compare_digest(tag, expected):
        raise SnapshotError(
            f"index snapshot {path} fails its integrity check: it was not written by this "
            "installation or has been changed; refusing to load it"
        )
    try:
        (hlen,) = struct.unpack_from(">I", payload, len(MAGIC))
        start = len(MAGIC) + 4
        header = json.loads(payload[start:start + hlen])
        ciphertext = payload[start + hlen:]
        key_id, nonce = header.pop("key_id"), bytes.fromhex(header.pop("nonce"))
        body = keyring.open(Sealed(key_id, nonce, ciphertext),
                            _AAD_PREFIX + json.dumps(header, sort_keys=True).encode())
        geometry = Geometry(str(header["algorithm"]), int(header["planes"]), int(header["rows"]),
                            int(header["cols"]))
        n = int(header["count"])
        (slen,) = struct.unpack_from(">Q", body, 0)
        at = 8
        subjects = tuple(json.loads(body[at:at + slen]))
        at += slen
        keys = np.frombuffer(body, ">i8", n, at).astype(np.int64)
        at += 8 * n
        planes = np.frombuffer(body, "<u4", n * geometry.planes * geometry.rows, at)
        at += 4 * n * geometry.planes * geometry.rows
        mask = np.frombuffer(body, "<u4", n * geometry.rows, at)
        if at + 4 * n * geometry.rows != len(body) or len(subjects) != n:
            raise ValueError("lengths disagree with the header")
        contents = IndexContents(
            geometry=geometry, keys=keys, subject_ids=subjects,
            planes=planes.reshape(n, geometry.planes, geometry.rows).astype(np.uint32),
            mask=mask.reshape(n, geometry.rows).astype(np.uint32),
        )
        return contents, int(header["sequence"])
    except (KeyError, ValueError, TypeError, struct.error, KeyringError, DecryptionError) as exc:
        raise SnapshotError(f"index snapshot {path} is signed but undecodable: {exc}") from None


def load_snapshot(
    path: Path, keyring: Keyring, *, shortlist: int = DEFAULT_SHORTLIST, shards: int = 2
) -> tuple[PalmIndex, int]:
    """A new :class:`PalmIndex` from a verified snapshot, and the snapshot's change sequence."""
    contents, sequence = read_snapshot(path, keyring)
    index = PalmIndex(algorithm=contents.geometry.algorithm, shortlist=shortlist, shards=shards)
    if len(contents.keys):
        index.add_many(list(contents.subject_ids), contents.planes, contents.mask,
                       contents.geometry, keys=contents.keys)
    return index, sequence
