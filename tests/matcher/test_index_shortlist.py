"""The two-stage shortlist equals its definition computed by brute force in NumPy: per shard
(slot range), the ``coarse`` codes nearest to any scanned probe variant, then of all of those the
``n`` whose full codes are nearest to any variant, ties by slot."""

from __future__ import annotations

import numpy as np
import pytest

import biometric
from matcher import PalmIndex
from matcher import index as index_module
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


def _best_per_subject_reference(subjects: list[str | None], scores: np.ndarray,
                                k: int) -> list[tuple[str, float]]:
    best: dict[str, float] = {}
    for subject, score in zip(subjects, scores.tolist(), strict=True):
        if subject is not None and score > best.get(subject, -1.0):
            best[subject] = score
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]


@pytest.mark.parametrize("seed", range(40))
def test_best_per_subject_stops_early_with_the_full_walks_answer(seed: int) -> None:
    # Few distinct scores and subjects with several templates: ties at the k-th place must be
    # resolved by subject id as the full walk resolves them.
    rng = np.random.default_rng(seed)
    g = int(rng.integers(1, 300))
    subjects: list[str | None] = [f"s{int(i)}" for i in rng.integers(0, max(1, g // 3), g)]
    if g > 3:
        subjects[1] = None
    scores = rng.choice(np.array([0.0, 0.55, 0.6, 0.61, 0.7, 1.0]), g)
    for k in (1, 2, 5, 50):
        got = [(c.subject_id, c.score) for c in index_module._best_per_subject(subjects, scores, k)]
        assert got == _best_per_subject_reference(subjects, scores, k)


def test_split_re_ranking_gives_the_single_threads_scores() -> None:
    rng = np.random.default_rng(9)
    g = 300
    planes = rng.integers(0, 2**32, (g, 6, 32), dtype=np.uint32)
    mask = rng.integers(0, 2**32, (g, 32), dtype=np.uint32) | np.uint32(0x0FFFFFF0)
    index = PalmIndex(shards=3)
    index.add_many([f"s{i}" for i in range(g)], planes, mask,
                   Geometry(biometric.ALGORITHM, 6, 32, 32))
    probe = biometric.Template(planes[7] ^ (rng.random((6, 32)) < 0.1).astype(np.uint32),
                               mask[7], 32)
    slots = rng.permutation(g).astype(np.int64)
    split = np.empty(g)
    with index._lock.read():
        index._rerank(probe, slots, 32, split)
    whole = np.empty(g)
    index_module._exact_scores(probe, planes[slots], mask[slots], 32, whole)
    assert np.array_equal(split, whole)
    index.close()
