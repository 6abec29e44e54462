"""Index snapshots: faithful round trip; foreign, changed or truncated files are refused."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from matcher import PalmIndex, SnapshotError
from matcher.crypto import Keyring, new_key
from matcher.snapshot import load_snapshot, read_snapshot, write_snapshot

if TYPE_CHECKING:
    from conftest import Palms

KEYS = Keyring.parse(f"k1:{new_key()}", b"installation secret")


@pytest.fixture
def index(palms: Palms) -> PalmIndex:
    index = PalmIndex()
    for s in palms.subjects():
        for t in palms.enrolment[s]:
            index.add(s, t, key=1000 + len(index))
    return index


def test_round_trip_gives_the_same_search_results(index: PalmIndex, palms: Palms,
                                                  tmp_path: Path) -> None:
    path = tmp_path / "index.snap"
    write_snapshot(path, index, sequence=42, keyring=KEYS)
    loaded, sequence = load_snapshot(path, KEYS)
    assert sequence == 42 and len(loaded) == len(index)
    assert loaded.contents().keys.tolist() == index.contents().keys.tolist()
    for probe in palms.probes.values():
        assert loaded.search(probe, k=3) == index.search(probe, k=3)


def test_templates_are_not_stored_in_clear(index: PalmIndex, tmp_path: Path) -> None:
    path = tmp_path / "index.snap"
    write_snapshot(path, index, sequence=1, keyring=KEYS)
    first = index.contents().planes[0].astype("<u4").tobytes()
    assert first not in path.read_bytes()


def test_changed_byte_is_refused(index: PalmIndex, tmp_path: Path) -> None:
    path = tmp_path / "index.snap"
    write_snapshot(path, index, sequence=1, keyring=KEYS)
    data = bytearray(path.read_bytes())
    for position in (20, len(data) // 2, len(data) - 1):
        changed = data.copy()
        changed[position] ^= 0x01
        path.write_bytes(bytes(changed))
        with pytest.raises(SnapshotError, match="integrity"):
            read_snapshot(path, KEYS)


def test_snapshot_of_another_installation_is_refused(index: PalmIndex, tmp_path: Path) -> None:
    path = tmp_path / "index.snap"
    # Same template key, different installation secret: still not ours.
    other = Keyring.parse(f"k1:{new_key()}", b"another installation")
    write_snapshot(path, index, sequence=1, keyring=other)
    with pytest.raises(SnapshotError, match="not written by this installation"):
        load_snapshot(path, KEYS)


def test_truncated_missing_or_foreign_files_are_refused(index: PalmIndex, tmp_path: Path) -> None:
    path = tmp_path / "index.snap"
    write_snapshot(path, index, sequence=1, keyring=KEYS)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(SnapshotError):
        read_snapshot(path, KEYS)
    with pytest.raises(SnapshotError, match="cannot read"):
        read_snapshot(tmp_path / "absent.snap", KEYS)
    (tmp_path / "junk.snap").write_bytes(b"\x00" * 200)
    with pytest.raises(SnapshotError, match="not a palmvein index snapshot"):
        read_snapshot(tmp_path / "junk.snap", KEYS)


def test_empty_index_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "empty.snap"
    write_snapshot(path, PalmIndex(), sequence=0, keyring=KEYS)
    loaded, sequence = load_snapshot(path, KEYS)
    assert len(loaded) == 0 and sequence == 0
