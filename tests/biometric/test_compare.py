"""compare: symmetric, self-match maximal, tolerant of small shifts, vectorised form agrees."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biometric import Template, TemplateFormatError, TemplateStack, compare, compare_many
from biometric.compare import MAX_SHIFT, rotate_code, rotation_map


def code_and_mask(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Orientation codes are spatially smooth; random blocks mimic that.
    coarse = rng.integers(0, 2, size=(6, 8, 8)).astype(bool)
    bits = np.kron(coarse, np.ones((4, 4), bool)) ^ (rng.random((6, 32, 32)) < 0.05)
    mask = np.ones((32, 32), bool)
    mask[:, : rng.integers(0, 4)] = False
    return bits, mask


def template(seed: int) -> Template:
    return Template.from_bits(*code_and_mask(seed))


seeds = st.integers(0, 2**31)


@settings(max_examples=50, deadline=None)
@given(seeds, seeds)
def test_compare_is_symmetric(a: int, b: int) -> None:
    assert compare(template(a), template(b)) == pytest.approx(compare(template(b), template(a)))


@settings(max_examples=50, deadline=None)
@given(seeds, seeds)
def test_a_template_scores_highest_against_itself(a: int, b: int) -> None:
    ta, tb = template(a), template(b)
    assert compare(ta, ta) == 1.0
    assert compare(ta, tb) <= compare(ta, ta)
    assert 0.0 <= compare(ta, tb) <= 1.0


@settings(max_examples=30, deadline=None)
@given(seeds, st.integers(-MAX_SHIFT, MAX_SHIFT), st.integers(-MAX_SHIFT, MAX_SHIFT))
def test_a_shifted_copy_still_matches_far_above_an_unrelated_code(
    seed: int, drow: int, dcol: int
) -> None:
    bits, mask = code_and_mask(seed)
    moved_bits = np.roll(bits, (drow, dcol), axis=(1, 2))
    moved_mask = np.roll(mask, (drow, dcol), axis=(0, 1))
    # Cells that wrapped around are not the same palm area: mark them invalid.
    if drow > 0:
        moved_mask[:drow] = False
    elif drow < 0:
        moved_mask[drow:] = False
    if dcol > 0:
        moved_mask[:, :dcol] = False
    elif dcol < 0:
        moved_mask[:, dcol:] = False
    original = Template.from_bits(bits, mask)
    moved = Template.from_bits(moved_bits, moved_mask)
    unrelated = template(seed + 1)
    assert compare(original, moved) > 0.95
    assert compare(original, moved) > compare(original, unrelated) + 0.2


def test_compare_many_equals_pairwise_compare() -> None:
    probe = template(1)
    gallery = [template(s) for s in range(2, 12)] + [probe]
    many = compare_many(probe, TemplateStack(gallery))
    assert many.shape == (len(gallery),)
    assert np.allclose(many, [compare(probe, g) for g in gallery])
    assert int(np.argmax(many)) == len(gallery) - 1


def test_no_valid_overlap_scores_zero_not_a_match() -> None:
    bits, _ = code_and_mask(3)
    left = np.zeros((32, 32), bool)
    left[:, :4] = True
    right = np.zeros((32, 32), bool)
    right[:, 28:] = True
    a, b = Template.from_bits(bits, left), Template.from_bits(bits, right)
    assert compare(a, b) < 0.6


def test_templates_of_different_algorithms_are_not_compared() -> None:
    bits, mask = code_and_mask(4)
    a = Template.from_bits(bits, mask)
    b = Template.from_bits(bits, mask, algorithm="other-v9")
    with pytest.raises(TemplateFormatError):
        compare(a, b)


def test_rotate_code_by_a_quarter_turn_moves_every_cell_and_its_validity() -> None:
    bits, mask = code_and_mask(7)
    turned = rotate_code(Template.from_bits(bits, mask), 90.0)
    # Counter-clockwise as displayed (rows down): np.rot90's direction.
    assert turned == Template.from_bits(
        np.rot90(bits, 1, axes=(1, 2)).copy(), np.rot90(mask).copy()
    )
    assert rotate_code(template(7), 0.0) == template(7)


def test_rotate_code_marks_cells_from_outside_the_grid_invalid() -> None:
    turned = rotate_code(template(8), 10.0)
    cells = np.unpackbits(turned.mask.view(np.uint8), bitorder="little").reshape(32, 32)
    assert not cells[0, 0] and not cells[-1, -1]  # corners come from outside
    assert cells[16, 16]


@settings(max_examples=30, deadline=None)
@given(seeds, seeds, st.sampled_from([4.0, 10.0]))
def test_rotation_search_is_symmetric_keeps_self_match_maximal_and_never_lowers_a_score(
    a: int, b: int, rotation: float
) -> None:
    ta, tb = template(a), template(b)
    ab = compare_many(ta, [tb], rotation=rotation)[0]
    assert ab == compare_many(tb, [ta], rotation=rotation)[0]
    assert compare_many(ta, [ta], rotation=rotation)[0] == 1.0
    assert ab >= compare_many(ta, [tb], rotation=0.0)[0]


def test_rotation_search_recovers_a_turned_code_better_than_translation_alone() -> None:
    # A spatially smooth code turned by 8 degrees: at the grid's edge its
    # cells moved by about two cells in different directions, which no single
    # translation undoes.
    rng = np.random.default_rng(5)
    coarse = rng.integers(0, 2, size=(6, 16, 16)).astype(np.uint8)
    bits = np.kron(coarse, np.ones((2, 2), np.uint8)).astype(bool)
    original = Template.from_bits(bits, np.ones((32, 32), bool))
    turned = rotate_code(original, 8.0)
    assert compare_many(original, [turned], rotation=8.0)[0] > compare(original, turned) + 0.05


def test_a_stack_keeps_its_turned_copies() -> None:
    stack = TemplateStack([template(1), template(2)])
    assert stack.rotated(3.0) is stack.rotated(3.0)
    assert np.array_equal(stack.rotated(3.0).planes[1], rotate_code(template(2), 3.0).planes)


def rotate_code_by_warping_the_bits(template: Template, degrees: float) -> Template:
    """rotate_code as it was first written: each bit plane and the mask turned by OpenCV."""
    rows, cols = template.shape
    if degrees == 0:
        return template
    columns = np.arange(cols, dtype=np.uint32)
    bits = ((template.planes[..., None] >> columns) & 1).astype(np.uint8)
    valid = ((template.mask[..., None] >> columns) & 1).astype(np.uint8)
    matrix = cv2.getRotationMatrix2D(((cols - 1) / 2.0, (rows - 1) / 2.0), degrees, 1.0)

    def turn(grid: np.ndarray) -> np.ndarray:
        return np.asarray(
            cv2.warpAffine(grid, matrix, (cols, rows), flags=cv2.INTER_NEAREST, borderValue=0),
            dtype=bool,
        )

    return Template.from_bits(np.stack([turn(p) for p in bits]), turn(valid), template.algorithm)


def random_words(rng: np.random.Generator, planes: int, rows: int, cols: int) -> Template:
    words = rng.integers(0, 2**cols, (planes + 1, rows), dtype=np.uint64).astype(np.uint32)
    return Template(words[:-1], words[-1], cols)


@settings(max_examples=120, deadline=None)
@given(
    seed=seeds,
    shape=st.sampled_from([(32, 32), (32, 31), (31, 32), (17, 5), (64, 32), (2, 3)]),
    degrees=st.one_of(
        st.sampled_from([5.0, -5.0, 4.0, 6.0, 3.0, 8.0, 30.0, 90.0, 180.0, -137.5, 1e-3]),
        st.floats(-360.0, 360.0, allow_nan=False),
    ),
)
def test_rotate_code_gathers_exactly_the_bits_opencv_turns(
    seed: int, shape: tuple[int, int], degrees: float
) -> None:
    template = random_words(np.random.default_rng(seed), 6, *shape)
    assert rotate_code(template, degrees) == rotate_code_by_warping_the_bits(template, degrees)


@pytest.mark.parametrize("degrees", [5.0, -5.0, 4.0, 6.0])
def test_a_turned_stack_equals_each_template_turned_by_opencv(degrees: float) -> None:
    rng = np.random.default_rng(11)
    templates = [random_words(rng, 6, 32, 32) for _ in range(50)] + [template(3)]
    turned = TemplateStack(templates).rotated(degrees)
    for i, t in enumerate(templates):
        want = rotate_code_by_warping_the_bits(t, degrees)
        assert np.array_equal(turned.planes[i], want.planes)
        assert np.array_equal(turned.mask[i], want.mask)


def test_rotation_map_is_a_read_only_cached_gather_of_cells_or_outside() -> None:
    source = rotation_map(32, 32, 5.0)
    assert source is rotation_map(32, 32, 5.0)
    assert not source.flags.writeable
    assert source.dtype == np.int32 and source.shape == (32 * 32,)
    assert source.min() == -1 and source.max() < 32 * 32
    assert source[16 * 32 + 16] == 16 * 32 + 16  # cells near the centre stay
    assert np.array_equal(rotation_map(4, 4, 90.0).reshape(4, 4),
                          np.rot90(np.arange(16).reshape(4, 4)))


def compare_by_cut_rows(probe: Template, gallery: list[Template], max_shift: int) -> np.ndarray:
    """compare_many without the rotation search as first written: rows cut to the overlap of each
    translation, 32-bit words."""
    from biometric.compare import REFERENCE_OVERLAP, _shift_cols

    stack = TemplateStack(gallery)
    n_planes, rows = probe.planes.shape
    best, best_n = np.full(len(stack), np.inf), np.zeros(len(stack))
    for dc in range(-max_shift, max_shift + 1):
        p_planes = _shift_cols(probe.planes, dc, probe.cols)
        p_mask = _shift_cols(probe.mask, dc, probe.cols)
        for dr in range(-max_shift, max_shift + 1):
            pr = slice(max(0, -dr), rows - max(0, dr))
            gr = slice(max(0, dr), rows - max(0, -dr))
            both = p_mask[pr] & stack.mask[:, gr]
            diff = (p_planes[:, pr] ^ stack.planes[:, :, gr]) & both[:, None, :]
            n = np.bitwise_count(both).sum(axis=1).astype(np.float64)
            wrong = np.bitwise_count(diff).sum(axis=(1, 2)).astype(np.float64)
            hd = np.where(n > 0, wrong / (n_planes * np.maximum(n, 1)), 1.0)
            take = hd < best
            best, best_n = np.where(take, hd, best), np.where(take, n, best_n)
    hd_norm = 0.5 - (0.5 - best) * np.sqrt(np.minimum(best_n / REFERENCE_OVERLAP, 1.0))
    return np.clip(1.0 - hd_norm, 0.0, 1.0)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, shape=st.sampled_from([(32, 32), (32, 31), (31, 32), (5, 17), (1, 3)]),
       coverage=st.sampled_from([1.0, 0.7, 0.05, 0.0]), n=st.integers(1, 6),
       max_shift=st.integers(0, 4))
def test_whole_row_64_bit_comparison_equals_cutting_rows_to_the_overlap(
    seed: int, shape: tuple[int, int], coverage: float, n: int, max_shift: int
) -> None:
    rng = np.random.default_rng(seed)
    rows, cols = shape

    def one() -> Template:
        t = random_words(rng, 6, rows, cols)
        valid = rng.random((rows, cols)) < coverage
        return Template(t.planes, Template.from_bits(np.zeros((1, rows, cols), bool), valid).mask,
                        cols)

    probe, gallery = one(), [one() for _ in range(n)]
    gallery.append(probe)
    assert np.array_equal(compare_many(probe, gallery, max_shift=max_shift, rotation=0.0),
                          compare_by_cut_rows(probe, gallery, max_shift))
