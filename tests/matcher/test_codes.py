"""Shortlist codes: block-majority bits of the orientation planes, blind to invalid cells."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import biometric
from biometric.compare import rotate_code
from matcher import _hamming
from matcher.codes import (
    BLOCK,
    COARSE_PLANES,
    PROBE_SHIFTS,
    SHORTLIST_VARIANTS,
    _codes,
    coarse_codes,
    code_bits,
    probe_codes,
    search_codes,
    shifted,
    shortlist_code,
    shortlist_codes,
)

if TYPE_CHECKING:
    from conftest import Palms


def _reference(planes: np.ndarray, mask: np.ndarray, cols: int, *,
               decided: bool = False) -> np.ndarray:
    """Straightforward per-cell computation of the block-majority code (or, if ``decided``, of
    the mask of its bits whose vote was not tied)."""
    g, _, r = planes.shape
    cells = (planes[..., None] >> np.arange(32, dtype=np.uint32)) & 1  # (G, P, R, 32)
    valid = ((mask[..., None] >> np.arange(32, dtype=np.uint32)) & 1).astype(bool)
    bits = []
    for br in range(r // BLOCK):
        for bc in range(cols // BLOCK):
            rows, cs = slice(br * BLOCK, (br + 1) * BLOCK), slice(bc * BLOCK, (bc + 1) * BLOCK)
            v = valid[:, rows, cs]
            n = v.sum(axis=(1, 2))
            ones = (cells[:, :, rows, cs] * v[:, None]).sum(axis=(2, 3))
            bits.append(2 * ones != n[:, None] if decided else 2 * ones > n[:, None])
    flat = np.stack(bits, axis=1).reshape(g, -1)
    return np.packbits(flat, axis=1)


words = st.integers(0, 2**32 - 1)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), cols=st.sampled_from([32, 28, 16]),
       mask_density=st.floats(0.0, 1.0))
def test_codes_equal_the_per_cell_definition(seed: int, cols: int, mask_density: float) -> None:
    rng = np.random.default_rng(seed)
    g = 5
    full = np.uint32((1 << cols) - 1) if cols < 32 else np.uint32(0xFFFFFFFF)
    planes = rng.integers(0, 2**32, (g, 6, 32), dtype=np.uint32) & full
    mask_bits = rng.random((g, 32, 32)) < mask_density
    mask = (mask_bits.astype(np.uint32) << np.arange(32, dtype=np.uint32)).sum(
        axis=2, dtype=np.uint32) & full
    codes = shortlist_codes(planes, mask, cols)
    assert codes.shape == (g, code_bits(6, 32, cols) // 8)
    ref = _reference(planes, mask, cols)
    assert np.array_equal(codes[:, : ref.shape[1]], ref)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), mask_density=st.floats(0.0, 1.0))
def test_probe_weights_leave_out_exactly_the_tied_block_votes(seed: int,
                                                             mask_density: float) -> None:
    rng = np.random.default_rng(seed)
    # Sparse planes make ties common (2 of 4 valid cells set), as in real codes' flat regions.
    planes = (rng.integers(0, 2**32, (6, 32), dtype=np.uint32)
              & rng.integers(0, 2**32, (6, 32), dtype=np.uint32))
    mask_bits = rng.random((32, 32)) < mask_density
    mask = (mask_bits.astype(np.uint32) << np.arange(32, dtype=np.uint32)).sum(
        axis=1, dtype=np.uint32)
    template = biometric.Template(planes, mask, 32)
    got = probe_codes(template, shifts=((0, 0),), extra=())
    assert np.array_equal(got.codes, _reference(planes[None], mask[None], 32))
    assert np.array_equal(got.weights, _reference(planes[None], mask[None], 32, decided=True))
    coarse = got.coarse(6)
    assert np.array_equal(coarse.codes, coarse_codes(got.codes, 6))
    assert np.array_equal(coarse.weights, coarse_codes(got.weights, 6))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_coarse_code_is_the_full_code_cut_to_its_planes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    planes = rng.integers(0, 2**32, (4, 6, 32), dtype=np.uint32)
    mask = rng.integers(0, 2**32, (4, 32), dtype=np.uint32)
    kept = _reference(planes[:, list(COARSE_PLANES)], mask, 32)
    coarse = coarse_codes(shortlist_codes(planes, mask, 32), 6)
    assert coarse.shape == (4, code_bits(len(COARSE_PLANES), 32, 32) // 8) == kept.shape
    assert np.array_equal(coarse, kept)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_bits_of_invalid_cells_do_not_change_the_code(seed: int) -> None:
    rng = np.random.default_rng(seed)
    planes = rng.integers(0, 2**32, (6, 32), dtype=np.uint32)
    mask = rng.integers(0, 2**32, 32, dtype=np.uint32)
    noise = rng.integers(0, 2**32, (6, 32), dtype=np.uint32) & ~mask
    a = biometric.Template(planes, mask, 32)
    b = biometric.Template(planes ^ noise, mask.copy(), 32)
    assert np.array_equal(shortlist_code(a), shortlist_code(b))


def test_inputs_are_not_modified() -> None:
    rng = np.random.default_rng(0)
    planes = rng.integers(0, 2**32, (3, 6, 32), dtype=np.uint32)
    mask = rng.integers(0, 2**32, (3, 32), dtype=np.uint32)
    before = planes.copy(), mask.copy()
    shortlist_codes(planes, mask, 32)
    assert np.array_equal(planes, before[0]) and np.array_equal(mask, before[1])


def test_genuine_codes_are_closer_than_impostor_codes(palms: Palms) -> None:
    def distance(a: biometric.Template, b: biometric.Template) -> int:
        return int(np.bitwise_count(shortlist_code(a) ^ shortlist_code(b)).sum())

    subjects = palms.subjects()
    genuine = [distance(palms.probes[s], t) for s in subjects for t in palms.enrolment[s]]
    impostor = [distance(palms.probes[s], t) for s in subjects for o in subjects if o != s
                for t in palms.enrolment[o]]
    assert np.median(genuine) < np.percentile(impostor, 1)


def test_probe_variants_recover_a_one_cell_misalignment(palms: Palms) -> None:
    for subject in palms.subjects():
        t = palms.enrolment[subject][0]
        gallery = shortlist_code(t)
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            planes, mask = shifted(t.planes, t.mask, t.cols, dr, dc)
            moved = biometric.Template(planes, mask, t.cols)
            scanned = probe_codes(moved).codes[: len(PROBE_SHIFTS)]
            distances = np.bitwise_count(scanned ^ gallery).sum(axis=1)
            # Variant 0 is the probe as captured; one of the others undoes the shift.
            assert distances.min() < distances[0]
            assert tuple(-np.array(PROBE_SHIFTS[int(distances.argmin())])) == (dr, dc)


def test_turned_variants_recover_a_turned_probe(palms: Palms) -> None:
    turns = [i for i, (deg, dr, dc) in enumerate(SHORTLIST_VARIANTS) if deg and not dr and not dc]
    assert turns
    for subject in palms.subjects():
        t = palms.enrolment[subject][0]
        gallery = shortlist_code(t)
        for i in turns:
            degrees = SHORTLIST_VARIANTS[i][0]
            code = probe_codes(rotate_code(t, -degrees))
            distances = np.bitwise_count(code.codes ^ gallery).sum(axis=1)
            # The variant turned back lies nearer than the probe as captured.
            assert distances[len(PROBE_SHIFTS) + i] < distances[0]


def test_the_coarse_stage_takes_only_the_scanned_variants() -> None:
    rng = np.random.default_rng(3)
    template = biometric.Template(rng.integers(0, 2**32, (6, 32), dtype=np.uint32),
                                  rng.integers(0, 2**32, 32, dtype=np.uint32), 32)
    code = probe_codes(template)
    assert code.scanned == len(PROBE_SHIFTS)
    assert len(code.codes) == len(code.weights) == len(PROBE_SHIFTS) + len(SHORTLIST_VARIANTS)
    coarse = code.coarse(6)
    assert np.array_equal(coarse.codes, coarse_codes(code.codes[: len(PROBE_SHIFTS)], 6))
    assert np.array_equal(coarse.weights, coarse_codes(code.weights[: len(PROBE_SHIFTS)], 6))
    # The scanned rows are the translations alone, whatever the extra variants.
    alone = probe_codes(template, extra=())
    assert np.array_equal(alone.codes, code.codes[: len(PROBE_SHIFTS)])


def test_shifted_invalidates_cells_moved_in_from_outside() -> None:
    planes = np.full((6, 32), 0xFFFFFFFF, dtype=np.uint32)
    mask = np.full(32, 0xFFFFFFFF, dtype=np.uint32)
    p, m = shifted(planes, mask, 32, 2, -3)
    assert (m[:2] == 0).all() and (m[2:] == 0x1FFFFFFF).all()
    assert (p == 0x1FFFFFFF).all()
    assert np.array_equal(planes, np.full((6, 32), 0xFFFFFFFF, dtype=np.uint32))


def _numpy_probe_codes(template: biometric.Template, shifts: tuple[tuple[int, int], ...],
                       extra: tuple[tuple[float, int, int], ...],
                       block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """The probe variants coded in NumPy: turned (rotate_code), translated (shifted), then the
    block majorities and untied bits of this module's NumPy coding."""
    variants = [shifted(template.planes, template.mask, template.cols, dr, dc)
                for dr, dc in shifts]
    for degrees, dr, dc in extra:
        t = rotate_code(template, degrees) if degrees else template
        variants.append(shifted(t.planes, t.mask, t.cols, dr, dc))
    return _codes(np.stack([v[0] for v in variants]), np.stack([v[1] for v in variants]),
                  template.cols, block, weights=True)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), cols=st.sampled_from([32, 31, 28, 16]),
       mask_density=st.floats(0.0, 1.0), block=st.sampled_from([2, 4, 3]))
def test_c_probe_codes_equal_the_numpy_coding(seed: int, cols: int, mask_density: float,
                                              block: int) -> None:
    # matcher._hamming.block_codes against shifted + _codes, for the search's variants and for
    # translations up to 3 cells each way (wrapped rows, columns pushed out), sparse planes so
    # that ties (the weights) are common.
    rng = np.random.default_rng(seed)
    full = np.uint32((1 << cols) - 1) if cols < 32 else np.uint32(0xFFFFFFFF)
    planes = (rng.integers(0, 2**32, (6, 32), dtype=np.uint32)
              & rng.integers(0, 2**32, (6, 32), dtype=np.uint32))
    if seed % 2:
        planes &= full  # templates keep columns past `cols` clear; check both anyway
    mask_bits = rng.random((32, 32)) < mask_density
    mask = (mask_bits.astype(np.uint32) << np.arange(32, dtype=np.uint32)).sum(
        axis=1, dtype=np.uint32) & full
    template = biometric.Template(planes, mask, cols)
    shifts = tuple((int(a), int(b)) for a, b in rng.integers(-3, 4, (4, 2)))
    extra = SHORTLIST_VARIANTS + ((-7.0, 2, -3),)
    got = probe_codes(template, shifts, block, extra)
    want_codes, want_weights = _numpy_probe_codes(template, shifts, extra, block)
    assert np.array_equal(got.codes, want_codes)
    assert np.array_equal(got.weights, want_weights)


def test_search_codes_are_the_probe_codes_padded_and_their_coarse_part() -> None:
    rng = np.random.default_rng(5)
    template = biometric.Template(rng.integers(0, 2**32, (6, 32), dtype=np.uint32),
                                  rng.integers(0, 2**32, 32, dtype=np.uint32), 32)
    code = probe_codes(template)
    full, coarse = search_codes(template, 200, 72)
    b = code.codes.shape[1]
    assert full.scanned == code.scanned and full.codes.shape == (len(code.codes), 200)
    assert np.array_equal(full.codes[:, :b], code.codes)
    assert np.array_equal(full.weights[:, :b], code.weights)
    assert not full.codes[:, b:].any() and not full.weights[:, b:].any()
    want = code.coarse(6)
    c = want.codes.shape[1]
    assert coarse.codes.shape == (len(PROBE_SHIFTS), 72)
    assert np.array_equal(coarse.codes[:, :c], want.codes)
    assert np.array_equal(coarse.weights[:, :c], want.weights)
    assert not coarse.codes[:, c:].any() and not coarse.weights[:, c:].any()
    with pytest.raises(ValueError, match="narrower"):
        search_codes(template, 100, 72)


@pytest.mark.parametrize(("planes", "variants", "keep", "width", "message"), [
    (np.zeros((1, 6, 32), np.uint32), [[1, 0, 0]], [0], 192, "variants must be"),
    (np.zeros((1, 6, 32), np.uint32), [[0, 32, 0]], [0], 192, "variants must be"),
    (np.zeros((1, 6, 32), np.uint32), [[0, 0, -32]], [0], 192, "variants must be"),
    (np.zeros((1, 6, 32), np.uint32), [[0, 0, 0]], [6], 192, "plane indices"),
    (np.zeros((1, 6, 32), np.uint32), [[0, 0, 0]], [0, 1], 63, "room for every bit"),
    (np.zeros((6, 32), np.uint32), [[0, 0, 0]], [0], 192, "planes must be"),
])
def test_block_codes_refuses_bad_arguments(planes: np.ndarray, variants: list[list[int]],
                                           keep: list[int], width: int, message: str) -> None:
    n = len(variants)
    with pytest.raises(ValueError, match=message):
        _hamming.block_codes(planes, np.zeros((1, 32), np.uint32), 32, 2,
                             np.array(variants, np.int32), np.array(keep, np.int32),
                             np.empty((n, width), np.uint8), np.empty((n, width), np.uint8))
