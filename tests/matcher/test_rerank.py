"""The index's exact re-ranking (matcher._hamming.compare_many) gives biometric.compare_many's
scores bit for bit, with and without the rotation search: the index decides with the same numbers
as the contract's compare."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import biometric
from biometric.compare import MAX_SHIFT, REFERENCE_OVERLAP, rotation_map
from matcher import PalmIndex, _hamming
from matcher.index import _exact_scores


def _available_kernels() -> list[str]:
    saved, found = _hamming.kernel(), []
    # scalar 64-bit popcounts; AVX2 and AVX-512 VPOPCNTDQ (32-row templates)
    for name in ("popcnt", "avx2", "avx512-vpopcntdq"):
        try:
            _hamming.set_kernel(name)
        except ValueError:
            continue
        found.append(name)
    _hamming.set_kernel(saved)
    return found


KERNELS = _available_kernels()


def c_scores(probe: biometric.Template, gallery: list[biometric.Template],
             max_shift: int = MAX_SHIFT, rotation: float = 0.0) -> np.ndarray:
    """The C scores, computed by every compare kernel this CPU has, which must agree."""
    stack = biometric.TemplateStack(gallery)
    turn = rotation_map(probe.shape[0], probe.cols, rotation) if rotation else None
    saved, results = _hamming.kernel(), []
    try:
        for name in KERNELS or [saved]:
            _hamming.set_kernel(name)
            out = np.empty(len(gallery))
            _hamming.compare_many(probe.planes, probe.mask, stack.planes, stack.mask, probe.cols,
                                  max_shift, float(REFERENCE_OVERLAP), out, turn)
            results.append(out)
    finally:
        _hamming.set_kernel(saved)
    for other in results[1:]:
        assert np.array_equal(other, results[0])
    return results[0]


def random_template(rng: np.random.Generator, cols: int, coverage: float,
                    rows: int = 32, n_planes: int = 12) -> biometric.Template:
    planes = rng.integers(0, 2**cols, (n_planes, rows), dtype=np.uint64).astype(np.uint32)
    bits = rng.random((rows, cols)) < coverage
    mask = (bits.astype(np.uint64) << np.arange(cols, dtype=np.uint64)).sum(axis=1)
    return biometric.Template(planes, mask.astype(np.uint32), cols, biometric.ALGORITHM)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cols=st.sampled_from([32, 31, 17, 3]),
       coverage=st.sampled_from([1.0, 0.8, 0.05, 0.0]), n=st.integers(1, 12),
       max_shift=st.integers(0, 4), n_planes=st.sampled_from([12, 6, 16, 1]))
def test_scores_equal_biometric_compare_many_bit_for_bit(
        seed: int, cols: int, coverage: float, n: int, max_shift: int, n_planes: int) -> None:
    # 16 planes fill the AVX2 kernel's byte counters (16 x 8 bits a vector of rows).
    rng = np.random.default_rng(seed)
    probe = random_template(rng, cols, coverage, n_planes=n_planes)
    gallery = [random_template(rng, cols, coverage, n_planes=n_planes) for _ in range(n)]
    gallery.append(probe)  # a self-match among them
    want = biometric.compare_many(probe, gallery, max_shift=max_shift, rotation=0.0)
    assert np.array_equal(c_scores(probe, gallery, max_shift), want)


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cols=st.sampled_from([32, 31, 17, 3]),
       rows=st.sampled_from([32, 31, 5]), coverage=st.sampled_from([1.0, 0.8, 0.05, 0.0]),
       n=st.integers(1, 12), max_shift=st.integers(0, 4),
       rotation=st.one_of(st.sampled_from([5.0, -5.0, 4.0, 6.0, 30.0, 90.0]),
                          st.floats(-180.0, 180.0, allow_nan=False).filter(bool)),
       n_planes=st.sampled_from([12, 6, 16]))
def test_scores_with_the_rotation_search_equal_biometric_compare_many_bit_for_bit(
        seed: int, cols: int, rows: int, coverage: float, n: int, max_shift: int,
        rotation: float, n_planes: int) -> None:
    rng = np.random.default_rng(seed)
    probe = random_template(rng, cols, coverage, rows, n_planes)
    gallery = [random_template(rng, cols, coverage, rows, n_planes) for _ in range(n)]
    gallery.append(probe)
    want = biometric.compare_many(probe, gallery, max_shift=max_shift, rotation=rotation)
    assert np.array_equal(c_scores(probe, gallery, max_shift, rotation), want)


@pytest.mark.parametrize("rotation", [0.0, 5.0, -4.0])
def test_scores_equal_on_simulated_palms(  # type: ignore[no-untyped-def]
        simulated_templates, rotation: float) -> None:
    probe, *gallery = simulated_templates
    assert np.array_equal(c_scores(probe, gallery, rotation=rotation),
                          biometric.compare_many(probe, gallery, rotation=rotation))


@pytest.fixture(scope="module")
def simulated_templates() -> list[biometric.Template]:
    from capture.simulated import SimulatedSensor

    sensor = SimulatedSensor(seed=5, cache_size=2)
    out = []
    for identity in range(4):
        for session in (0, 1):
            out.append(biometric.extract(sensor.capture(identity, session, session).image))
    return out


def test_mismatched_shapes_are_refused() -> None:
    rng = np.random.default_rng(0)
    t = random_template(rng, 32, 1.0)
    with pytest.raises(ValueError, match="agree with the probe"):
        _hamming.compare_many(t.planes, t.mask, np.zeros((2, 6, 31), np.uint32),
                              np.zeros((2, 31), np.uint32), 32, 3, 700.0, np.empty(2))
    with pytest.raises(ValueError, match="max_shift"):
        _hamming.compare_many(t.planes, t.mask, t.planes[None], t.mask[None], 32, 9, 700.0,
                              np.empty(1))


def test_a_bad_rotation_map_is_refused() -> None:
    rng = np.random.default_rng(0)
    t = random_template(rng, 32, 1.0)
    args = (t.planes, t.mask, t.planes[None], t.mask[None], 32, 3, 700.0, np.empty(1))
    with pytest.raises(ValueError, match="rotation_map must be"):
        _hamming.compare_many(*args, np.zeros(31 * 32, np.int32))
    with pytest.raises(ValueError, match="entries"):
        _hamming.compare_many(*args, np.full(32 * 32, 32 * 32, np.int32))
    with pytest.raises(ValueError, match="entries"):
        _hamming.compare_many(*args, np.full(32 * 32, -2, np.int32))


@pytest.mark.parametrize("rotation", [None, 0.0, 6.0])
def test_the_index_scores_as_the_contract_compares(  # type: ignore[no-untyped-def]
        simulated_templates, monkeypatch: pytest.MonkeyPatch, rotation: float | None) -> None:
    # The index reads the contract's rotation search (biometric.compare.ROTATION) at each call,
    # as compare_many does: its re-ranking and exhaustive search give compare's numbers whatever
    # the setting (None: as shipped).
    if rotation is not None:
        monkeypatch.setattr(importlib.import_module("biometric.compare"), "ROTATION", rotation)
    probe, *gallery = simulated_templates
    stack = biometric.TemplateStack(gallery)
    out = np.empty(len(gallery))
    _exact_scores(probe, stack.planes, stack.mask, probe.cols, out)
    assert np.array_equal(out, biometric.compare_many(probe, gallery))
    index = PalmIndex(shards=1)
    for i, t in enumerate(gallery):
        index.add(f"s{i}", t)
    want = {f"s{i}": float(v) for i, v in enumerate(biometric.compare_many(probe, gallery))}
    for found in (index.search(probe, k=len(gallery), shortlist=len(gallery)),
                  index.search_exhaustive(probe, k=len(gallery))):
        assert {c.subject_id: c.score for c in found} == want
    assert biometric.compare(probe, gallery[0]) == want["s0"]
