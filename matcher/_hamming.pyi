"""Type stub of the C extension matcher._hamming (source: matcher/_hamming.c)."""

import numpy as np
import numpy.typing as npt

def nearest(
    codes: npt.NDArray[np.uint8], live: npt.NDArray[np.uint8], probes: npt.NDArray[np.uint8],
    start: int, stop: int, k: int, dist: npt.NDArray[np.uint16], slots: npt.NDArray[np.int64], /,
) -> int:
    """Slots in [start, stop) of the k live codes nearest to any probe variant (see the C
    docstring); returns how many were written to ``slots``."""

def kernel() -> str:
    """Name of the scan kernel in use: 'generic', 'popcnt', 'avx2' or 'avx512-vpopcntdq'."""

def set_kernel(name: str, /) -> None:
    """Choose the scan kernel; ValueError if this CPU lacks it."""
