"""The coarse-stage scan (matcher._hamming) against a NumPy reference, on every kernel this CPU has."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher import _hamming


def _available(kernel: str) -> bool:
    before = _hamming.kernel()
    try:
        _hamming.set_kernel(kernel)
    except ValueError:
        return False
    finally:
        _hamming.set_kernel(before)
    return True


KERNELS = [k for k in ("generic", "popcnt", "avx2", "avx512-vpopcntdq") if _available(k)]


@pytest.fixture(params=KERNELS)
def kernel(request: pytest.FixtureRequest) -> str:
    before = _hamming.kernel()
    _hamming.set_kernel(request.param)
    yield request.param
    _hamming.set_kernel(before)


def reference(codes: np.ndarray, live: np.ndarray, probes: np.ndarray, start: int, stop: int,
              k: int, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Slots (ascending) of the k nearest live codes in [start, stop), ties by slot, and the
    distance of every slot in half bits: min over probe variants of twice the differing bits
    within the variant's weights plus the bits outside them."""
    words = codes.view(np.uint64)
    if weights is None:
        weights = np.full_like(probes, 0xFF)
    dist = np.min([
        2 * np.bitwise_count((words ^ p) & w).sum(axis=1) + (64 * len(w) - np.bitwise_count(w).sum())
        for p, w in zip(probes.view(np.uint64), weights.view(np.uint64), strict=True)
    ], axis=0).astype(np.int64)
    slots = np.arange(start, stop)
    slots = slots[live[start:stop] > 0]
    order = np.lexsort((slots, dist[slots]))[:k]
    return np.sort(slots[order]), dist


def scan(codes: np.ndarray, live: np.ndarray, probes: np.ndarray, start: int, stop: int,
         k: int, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    dist = np.empty(len(live), dtype=np.uint16)
    out = np.empty(k, dtype=np.int64)
    if weights is None:
        weights = np.full_like(probes, 0xFF)
    got = _hamming.nearest(codes, live, probes, weights, start, stop, k, dist, out)
    return np.sort(out[:got]), dist


@pytest.mark.parametrize("width", [64, 8, 192])
@pytest.mark.parametrize(("start", "stop", "k"), [(0, 1003, 50), (17, 611, 1), (0, 1003, 5000),
                                                  (999, 1003, 2), (5, 5, 3)])
def test_nearest_slots_are_those_of_an_exhaustive_numpy_search(
        kernel: str, width: int, start: int, stop: int, k: int) -> None:
    rng = np.random.default_rng(width + k)
    codes = rng.integers(0, 256, (1003, width), dtype=np.uint8)
    live = (rng.random(1003) > 0.1).astype(np.uint8)
    probes = codes[rng.integers(1003, size=5)].copy()
    probes[:, 0] ^= 0x5A  # near, not equal, to some codes
    got, dist = scan(codes, live, probes, start, stop, k)
    want, want_dist = reference(codes, live, probes, start, stop, k)
    assert np.array_equal(got, want)
    live_in_range = np.arange(start, stop)[live[start:stop] > 0]
    assert np.array_equal(dist[live_in_range], want_dist[live_in_range])
    assert (dist[np.arange(start, stop)[live[start:stop] == 0]] == 0xFFFF).all()


def test_a_free_slot_is_never_returned_even_with_an_identical_code(kernel: str) -> None:
    codes = np.zeros((16, 64), dtype=np.uint8)
    codes[3] = 0xFF
    live = np.ones(16, dtype=np.uint8)
    live[3] = 0
    got, _ = scan(codes, live, codes[3:4].copy(), 0, 16, 1)
    assert got.tolist() != [3] and len(got) == 1


def test_ties_at_the_kth_distance_are_taken_in_slot_order(kernel: str) -> None:
    codes = np.zeros((40, 64), dtype=np.uint8)  # every code at distance 0 from the probe
    live = np.ones(40, dtype=np.uint8)
    got, _ = scan(codes, live, codes[:1].copy(), 8, 40, 5)
    assert got.tolist() == [8, 9, 10, 11, 12]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 70), variants=st.integers(1, 16),
       k=st.integers(1, 80))
def test_every_kernel_agrees_with_the_reference(seed: int, n: int, variants: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, 64), dtype=np.uint8)  # few distinct distances: many ties
    live = (rng.random(n) > 0.2).astype(np.uint8)
    probes = rng.integers(0, 4, (variants, 64), dtype=np.uint8)
    # Weights with whole zero bytes, whole 0xFF bytes and mixed ones: every kernel's masking.
    weights = rng.choice(np.array([0, 0xFF, 0x0F, 0xA5], np.uint8), (variants, 64))
    want, want_dist = reference(codes, live, probes, 0, n, k, weights)
    before = _hamming.kernel()
    try:
        for name in KERNELS:
            _hamming.set_kernel(name)
            got, dist = scan(codes, live, probes, 0, n, k, weights)
            assert np.array_equal(got, want), name
            assert np.array_equal(dist[live > 0], want_dist[live > 0]), name
    finally:
        _hamming.set_kernel(before)


def test_the_histogram_bound_of_a_long_scan_leaves_no_near_code_out(kernel: str) -> None:
    # The AVX-512 scan counts only distances under a bound it tightens every 16,384 codes; over
    # many bound updates, with the nearest codes early, late and tied, the choice and every
    # distance must stay the reference's.
    rng = np.random.default_rng(11)
    n = 70_000
    base = rng.integers(0, 256, (6, 64), dtype=np.uint8)
    codes = base[rng.integers(0, 6, n)] ^ (rng.random((n, 64)) < 0.15).astype(np.uint8)
    near = rng.choice(n, 300, replace=False)
    codes[near] = base[0] ^ (rng.random((300, 64)) < 0.01).astype(np.uint8)
    codes[n - 40:] = base[0]  # the very nearest come last, after every bound update
    live = (rng.random(n) > 0.05).astype(np.uint8)
    probes = base[[0, 3]].copy()
    weights = np.full_like(probes, 0xFF)
    weights[1, :5] = 0x0F
    for start, stop, k in ((0, n, 1), (0, n, 37), (123, n - 5, 3000), (0, n, n)):
        want, want_dist = reference(codes, live, probes, start, stop, k, weights)
        got, dist = scan(codes, live, probes, start, stop, k, weights)
        assert np.array_equal(got, want), (start, stop, k)
        alive = np.arange(start, stop)[live[start:stop] > 0]
        assert np.array_equal(dist[alive], want_dist[alive])


def rows_scan(codes: np.ndarray, rows: np.ndarray, probes: np.ndarray, weights: np.ndarray,
              k: int) -> tuple[np.ndarray, np.ndarray]:
    dist = np.empty(len(rows), dtype=np.uint16)
    chosen = np.empty(k, dtype=np.int64)
    got = _hamming.nearest_rows(codes, rows, probes, weights, k, dist, chosen)
    return chosen[:got], dist


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300), variants=st.integers(1, 16),
       k=st.integers(1, 80), width=st.sampled_from([8, 64, 192, 128, 24]))
def test_nearest_rows_is_nearest_over_the_gathered_codes(seed: int, n: int, variants: int,
                                                         k: int, width: int) -> None:
    # The full-code stage reads the candidates' codes in place: the same positions, order and
    # distances as the scan of a gathered copy, on every kernel, repeated rows included.
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (97, width), dtype=np.uint8)  # few distinct distances: ties
    rows = rng.integers(0, 97, n).astype(np.int64)
    probes = rng.integers(0, 4, (variants, width), dtype=np.uint8)
    weights = rng.choice(np.array([0, 0xFF, 0x0F, 0xA5], np.uint8), (variants, width))
    gathered = codes[rows]
    before = _hamming.kernel()
    try:
        for name in KERNELS:
            _hamming.set_kernel(name)
            got, dist = rows_scan(codes, rows, probes, weights, k)
            if n == 0:
                assert len(got) == 0
                continue
            want, want_dist = scan(gathered, np.ones(n, np.uint8), probes, 0, n, k, weights)
            assert got.tolist() == want.tolist(), name
            assert np.array_equal(dist, want_dist), name
            ref, ref_dist = reference(gathered, np.ones(n, np.uint8), probes, 0, n, k, weights)
            assert got.tolist() == ref.tolist() and np.array_equal(dist, ref_dist), name
    finally:
        _hamming.set_kernel(before)


@pytest.mark.parametrize(("codes", "rows", "k", "dist", "message"), [
    (np.zeros((4, 12), np.uint8), np.zeros(1, np.int64), 1, np.empty(1, np.uint16), "8\\*m"),
    (np.zeros(32, np.uint8), np.zeros(1, np.int64), 1, np.empty(1, np.uint16), "2-d"),
    (np.zeros((4, 8), np.uint8), np.array([4], np.int64), 1, np.empty(1, np.uint16),
     "slots of codes"),
    (np.zeros((4, 8), np.uint8), np.array([-1], np.int64), 1, np.empty(1, np.uint16),
     "slots of codes"),
    (np.zeros((4, 8), np.uint8), np.zeros(2, np.int32), 1, np.empty(2, np.uint16), "int64"),
    (np.zeros((4, 8), np.uint8), np.zeros(3, np.int64), 1, np.empty(2, np.uint16), "dist n"),
    (np.zeros((4, 8), np.uint8), np.zeros(3, np.int64), 0, np.empty(3, np.uint16), "k >= 1"),
])
def test_nearest_rows_refuses_bad_arguments(codes: np.ndarray, rows: np.ndarray, k: int,
                                            dist: np.ndarray, message: str) -> None:
    width = codes.shape[-1] if codes.ndim == 2 else 8
    with pytest.raises(ValueError, match=message):
        _hamming.nearest_rows(codes, rows, np.zeros((1, width), np.uint8),
                              np.zeros((1, width), np.uint8), k, dist,
                              np.empty(max(k, 1), np.int64))


def test_nearest_rows_refuses_a_k_whose_byte_size_wraps_around() -> None:
    # 2**61 int64 entries are 2**64 bytes: a check of k * 8 against the buffer would pass.
    with pytest.raises(ValueError, match="chosen k int64"):
        _hamming.nearest_rows(np.zeros((4, 8), np.uint8), np.zeros(1, np.int64),
                              np.zeros((1, 8), np.uint8), np.zeros((1, 8), np.uint8), 2**61,
                              np.empty(1, np.uint16), np.empty(1, np.int64))


def test_distances_span_the_whole_code_length(kernel: str) -> None:
    # Full-range bytes and the extremes (0 and all 512 bits differing): every kernel's partial
    # sums must hold the largest distance, not only the small ones of near-identical codes.
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 256, (37, 64), dtype=np.uint8)
    codes[5] = 0xFF
    codes[11] = 0
    live = np.ones(37, dtype=np.uint8)
    probes = np.zeros((2, 64), dtype=np.uint8)
    probes[1] = rng.integers(0, 256, 64, dtype=np.uint8)
    want, want_dist = reference(codes, live, probes, 0, 37, 37)
    got, dist = scan(codes, live, probes, 0, 37, 37)
    assert np.array_equal(got, want)
    assert np.array_equal(dist, want_dist)
    # In half bits: 2 per differing bit.
    assert dist[11] == 0 and dist[5] == 2 * min(512, int(np.unpackbits(~probes[1]).sum()))


def test_bits_outside_the_weights_count_half_whatever_the_code_holds(kernel: str) -> None:
    # The probe's fragile bits: a code that differs from the probe only there is as near as one
    # that agrees there, and both are half a bit per left-out bit from a perfect match.
    probe = np.zeros((1, 64), dtype=np.uint8)
    weights = np.full((1, 64), 0xFF, dtype=np.uint8)
    weights[0, :4] = 0  # 32 fragile bits
    codes = np.zeros((3, 64), dtype=np.uint8)
    codes[1, :4] = 0xFF  # differs from the probe only in its fragile bits
    codes[2, 10] = 0x01  # one real difference
    _, dist = scan(codes, np.ones(3, np.uint8), probe, 0, 3, 3, weights)
    assert dist.tolist() == [32, 32, 34]


@pytest.mark.parametrize(
    ("codes", "live", "probes", "start", "stop", "k", "dist", "out", "message"),
    [
        (np.zeros((4, 12), np.uint8), np.ones(4, np.uint8), np.zeros((1, 12), np.uint8), 0, 4, 1,
         np.empty(4, np.uint16), np.empty(1, np.int64), "8\\*m bytes"),
        (np.zeros((4, 8), np.uint8), np.ones(4, np.uint8), np.zeros((17, 8), np.uint8), 0, 4, 1,
         np.empty(4, np.uint16), np.empty(1, np.int64), "1 to 16 rows"),
        (np.zeros((4, 8), np.uint8), np.ones(4, np.uint8), np.zeros((1, 8), np.uint8), 0, 5, 1,
         np.empty(4, np.uint16), np.empty(1, np.int64), "start <= stop"),
        (np.zeros((4, 8), np.uint8), np.ones(4, np.uint8), np.zeros((1, 8), np.uint8), 0, 4, 2,
         np.empty(4, np.uint16), np.empty(1, np.int64), "slots k int64"),
        # k * 8 would wrap around to 0 and pass a multiplied size check.
        (np.zeros((4, 8), np.uint8), np.ones(4, np.uint8), np.zeros((1, 8), np.uint8), 0, 4,
         2**61, np.empty(4, np.uint16), np.empty(1, np.int64), "slots k int64"),
        (np.zeros((4, 8), np.uint8), np.ones(4, np.uint8), np.zeros((1, 8), np.uint8), 0, 4, 1,
         np.empty(3, np.uint16), np.empty(1, np.int64), "dist needs"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_error(codes, live, probes, start, stop, k, dist,
                                                      out, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        _hamming.nearest(codes, live, probes, np.full_like(probes, 0xFF), start, stop, k, dist,
                         out)


@pytest.mark.parametrize(("width", "weight_rows", "message"), [
    (8, 2, "weights must be shaped as the probes"),
    (4096, 1, "shorter than 4096 bytes"),
])
def test_weights_of_the_wrong_shape_and_too_long_codes_are_refused(
        width: int, weight_rows: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _hamming.nearest(np.zeros((2, width), np.uint8), np.ones(2, np.uint8),
                         np.zeros((1, width), np.uint8), np.zeros((weight_rows, width), np.uint8),
                         0, 2, 1, np.empty(2, np.uint16), np.empty(1, np.int64))


def test_a_read_only_output_is_refused() -> None:
    out = np.empty(1, np.int64)
    out.flags.writeable = False
    with pytest.raises(TypeError, match="writable"):
        _hamming.nearest(np.zeros((4, 8), np.uint8), np.ones(4, np.uint8),
                         np.zeros((1, 8), np.uint8), np.zeros((1, 8), np.uint8), 0, 4, 1,
                         np.empty(4, np.uint16), out)


def test_an_unknown_kernel_is_refused() -> None:
    with pytest.raises(ValueError, match="not available"):
        _hamming.set_kernel("sse9")
