"""Type stub of the C extension matcher._hamming (source: matcher/_hamming.c)."""

import numpy as np
import numpy.typing as npt

def nearest(
    codes: npt.NDArray[np.uint8], live: npt.NDArray[np.uint8], probes: npt.NDArray[np.uint8],
    weights: npt.NDArray[np.uint8], start: int, stop: int, k: int, dist: npt.NDArray[np.uint16],
    slots: npt.NDArray[np.int64], /,
) -> int:
    """Slots in [start, stop) of the k live codes nearest to any probe variant, bits outside a
    variant's weights counting half (distances in half bits; see the C docstring); returns how
    many were written to ``slots``."""

def nearest_rows(
    codes: npt.NDArray[np.uint8], rows: npt.NDArray[np.int64], probes: npt.NDArray[np.uint8],
    weights: npt.NDArray[np.uint8], k: int, dist: npt.NDArray[np.uint16],
    chosen: npt.NDArray[np.int64], /,
) -> int:
    """The full-code stage in place: of the (capacity, B) codes at slots ``rows``, the k nearest
    to any probe variant, as nearest(codes[rows], ones, ...) chooses them; positions into
    ``rows`` written to ``chosen``, distances to ``dist``; returns how many were chosen."""

def block_codes(
    planes: npt.NDArray[np.uint32], mask: npt.NDArray[np.uint32], cols: int, block: int,
    variants: npt.NDArray[np.int32], keep: npt.NDArray[np.int32], codes: npt.NDArray[np.uint8],
    weights: npt.NDArray[np.uint8], /,
) -> None:
    """matcher.codes' block-majority codes and untied-bit masks of translated templates:
    variant (t, rows, columns) of (T, P, R) ``planes``, the planes ``keep`` of each block,
    written zero-padded to (V, W) ``codes`` and ``weights`` (see the C docstring)."""

def kernel() -> str:
    """Name of the scan kernel in use: 'generic', 'popcnt', 'avx2' or 'avx512-vpopcntdq'."""

def set_kernel(name: str, /) -> None:
    """Choose the scan kernel; ValueError if this CPU lacks it."""

def compare_many(
    probe_planes: npt.NDArray[np.uint32], probe_mask: npt.NDArray[np.uint32],
    planes: npt.NDArray[np.uint32], mask: npt.NDArray[np.uint32], cols: int, max_shift: int,
    reference_overlap: float, out: npt.NDArray[np.float64],
    rotation_map: npt.NDArray[np.int32] | None = None, /,
) -> None:
    """biometric.compare_many's scores of the probe against (G, P, R) planes, bit for bit,
    written to ``out`` (see the C docstring); with ``rotation_map``
    (biometric.compare.rotation_map(R, cols, degrees)) those of ``rotation=degrees``."""
