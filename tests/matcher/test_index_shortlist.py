"""The two-stage shortlist equals its definition computed by brute force in NumPy: per shard
(slot range), the ``coarse`` codes nearest to any scanned probe variant, then of all of those the
``n`` whose full codes are nearest to any variant, ties by slot."""

from __future__ import annotations

import numpy as np
import pytest

import biometric
from matcher import PalmIndex
from matcher.codes import COARSE_PLANES, coarse_codes, probe_codes, shortlist_codes
from matcher.index import Geometry


def _distances(codes: np.ndarray, probes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Smallest distance in half bits of each code to any probe variant (the C scan's)."""
    left_out = 8 * probes.shape[1] - np.bitwise_count(weights).sum(axis=1)
    per = 2 * np.bitwise_count((codes[:, None, :] ^ probes) & weights).sum(axis=2) + left_out
    out: np.ndarray = per.min(axis=1)
    return out


def _brute_force(planes: np.ndarray, mask: np.ndarray, live: np.ndarray, probe: biometric.Template,
                 shards: int, coarse: int, n: int) -> np.ndarray:
    full = shortlist_codes(planes, mask, 32)
    code = probe_codes(probe)
    near = _distances(coarse_codes(full, 6), *code.coarse(6)[:2])
    bounds = np.linspace(0, len(planes), shards + 1).astype(np.int64)
    candidates = []
    for s in range(shards):
        slots = np.arange(bounds[s], bounds[s + 1])
        slots = slots[live[slots]]
        candidates.append(slots[np.lexsort((slots, near[slots]))[:coarse]])
    cand = np.sort(np.concatenate(candidates))
    far = _distances(full[cand], code.codes, code.weights)
    return cand[np.lexsort((cand, far))[:n]]


@pytest.mark.parametrize(("shards", "coarse"), [(1, 5), (2, 3), (3, 40), (2, 1000)])
def test_shortlist_is_the_brute_force_two_stage_choice(shards: int, coarse: int) -> None:
    rng = np.random.default_rng(shards * 100 + coarse)
    g = 150
    # Few distinct templates, lightly perturbed: many equal distances, so ties matter.
    base = rng.integers(0, 2**32, (6, 6, 32), dtype=np.uint32)
    planes = base[rng.integers(0, 6, g)] ^ (rng.random((g, 6, 32)) < 0.02).astype(np.uint32)
    mask = np.full((g, 32), 0xFFFFFFFF, dtype=np.uint32)
    mask[::7, :3] = 0
    index = PalmIndex(shards=shards, coarse=coarse)
    keys = index.add_many([f"s{i}" for i in range(g)], planes, mask,
                          Geometry(biometric.ALGORITHM, 6, 32, 32))
    live = np.ones(g, dtype=bool)
    for i in (3, 4, 77, 149):
        index.remove_template(int(keys[i]))
        live[i] = False
    assert max(COARSE_PLANES) < 6
    for j in range(6):
        probe = biometric.Template(base[j] ^ rng.integers(0, 2, (6, 32), dtype=np.uint32),
                                   mask[1], 32)
        for n in (1, 4, 32):
            with index._lock.read():
                got = index._shortlist(probe_codes(probe), n)
            want = _brute_force(planes, mask, live, probe, shards, coarse, n)
            assert got.tolist() == want.tolist()
    index.close()
