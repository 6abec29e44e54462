"""The index's exact re-ranking (matcher._hamming.compare_many) gives biometric.compare_many's
scores bit for bit: the index decides with the same numbers as the contract's compare."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import biometric
from biometric.compare import MAX_SHIFT, REFERENCE_OVERLAP, ROTATION
from matcher import _hamming


def c_scores(probe: biometric.Template, gallery: list[biometric.Template],
             max_shift: int = MAX_SHIFT) -> np.ndarray:
    stack = biometric.TemplateStack(gallery)
    out = np.empty(len(gallery))
    _hamming.compare_many(probe.planes, probe.mask, stack.planes, stack.mask, probe.cols,
                          max_shift, float(REFERENCE_OVERLAP), out)
    return out


def random_template(rng: np.random.Generator, cols: int, coverage: float) -> biometric.Template:
    planes = rng.integers(0, 2**cols, (6, 32), dtype=np.uint64).astype(np.uint32)
    bits = rng.random((32, cols)) < coverage
    mask = (bits.astype(np.uint64) << np.arange(cols, dtype=np.uint64)).sum(axis=1)
    return biometric.Template(planes, mask.astype(np.uint32), cols, "compcode-2s6o-c4-v3")


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cols=st.sampled_from([32, 31, 17, 3]),
       coverage=st.sampled_from([1.0, 0.8, 0.05, 0.0]), n=st.integers(1, 12),
       max_shift=st.integers(0, 4))
def test_scores_equal_biometric_compare_many_bit_for_bit(
        seed: int, cols: int, coverage: float, n: int, max_shift: int) -> None:
    rng = np.random.default_rng(seed)
    probe = random_template(rng, cols, coverage)
    gallery = [random_template(rng, cols, coverage) for _ in range(n)]
    gallery.append(probe)  # a self-match among them
    want = biometric.compare_many(probe, gallery, max_shift=max_shift)
    assert np.array_equal(c_scores(probe, gallery, max_shift), want)


def test_scores_equal_on_simulated_palms(simulated_templates) -> None:  # type: ignore[no-untyped-def]
    probe, *gallery = simulated_templates
    assert np.array_equal(c_scores(probe, gallery), biometric.compare_many(probe, gallery))


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


def test_the_contract_compare_has_no_rotation_search_the_c_reranking_lacks() -> None:
    # matcher._hamming.compare_many re-implements compare_many without the opt-in rotation search
    # (biometric.compare.ROTATION); the shipped impostor distribution was made without it too.
    # Turning it on must come with both, or the index would decide on other numbers than compare.

    assert ROTATION == 0
