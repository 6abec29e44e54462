"""Template comparison: masked Hamming distance minimised over translations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from biometric.errors import TemplateFormatError
from biometric.template import Template

#: Largest translation searched, in code cells (x 4 px = +/-12 px of a 128 px ROI).
MAX_SHIFT = 3
#: Overlap (in cells) at which a score needs no correction; smaller overlaps
#: are pulled towards chance so a lucky match on a sliver cannot score high.
REFERENCE_OVERLAP = 700


class TemplateStack:
    """Templates stacked into arrays, for comparing one probe with many.

    Build once for a gallery and reuse: stacking is the only per-template
    Python work, the comparison itself is vectorised.
    """

    def __init__(self, templates: Sequence[Template]) -> None:
        if not templates:
            raise ValueError("a TemplateStack needs at least one template")
        first = templates[0]
        for t in templates:
            _check_compatible(first, t)
        self.algorithm = first.algorithm
        self.cols = first.cols
        self.planes = np.stack([t.planes for t in templates])  # (G, P, R)
        self.mask = np.stack([t.mask for t in templates])  # (G, R)

    def __len__(self) -> int:
        return int(self.planes.shape[0])


def _check_compatible(a: Template, b: Template) -> None:
    if a.algorithm != b.algorithm or a.planes.shape != b.planes.shape or a.cols != b.cols:
        raise TemplateFormatError(
            f"cannot compare templates of {a.algorithm} {a.planes.shape} and "
            f"{b.algorithm} {b.planes.shape}"
        )


def _shift_cols(words: npt.NDArray[np.uint32], shift: int, cols: int) -> npt.NDArray[np.uint32]:
    full = np.uint32((1 << cols) - 1) if cols < 32 else np.uint32(0xFFFFFFFF)
    if shift >= 0:
        return (words << np.uint32(shift)) & full
    return words >> np.uint32(-shift)


def compare_many(
    probe: Template, gallery: Sequence[Template] | TemplateStack, max_shift: int = MAX_SHIFT
) -> npt.NDArray[np.float64]:
    """Similarity of ``probe`` to every template of ``gallery``.

    Same values as :func:`compare`, vectorised over the gallery.

    Returns
    -------
    (G,) float64 ndarray of scores in [0, 1].
    """
    stack = gallery if isinstance(gallery, TemplateStack) else TemplateStack(gallery)
    if (
        probe.algorithm != stack.algorithm
        or probe.cols != stack.cols
        or (probe.planes.shape != stack.planes.shape[1:])
    ):
        raise TemplateFormatError(
            f"cannot compare a {probe.algorithm} template with a {stack.algorithm} gallery"
        )
    n_planes, rows = probe.planes.shape
    best = np.full(len(stack), np.inf)
    best_n = np.zeros(len(stack))
    g_planes, g_mask = stack.planes, stack.mask
    for dc in range(-max_shift, max_shift + 1):
        p_planes = _shift_cols(probe.planes, dc, probe.cols)
        p_mask = _shift_cols(probe.mask, dc, probe.cols)
        for dr in range(-max_shift, max_shift + 1):
            # Probe row r is compared with gallery row r + dr.
            pr = slice(max(0, -dr), rows - max(0, dr))
            gr = slice(max(0, dr), rows - max(0, -dr))
            both = p_mask[pr] & g_mask[:, gr]  # (G, R')
            diff = (p_planes[:, pr] ^ g_planes[:, :, gr]) & both[:, None, :]
            n = np.bitwise_count(both).sum(axis=1).astype(np.float64)
            wrong = np.bitwise_count(diff).sum(axis=(1, 2)).astype(np.float64)
            hd = np.where(n > 0, wrong / (n_planes * np.maximum(n, 1)), 1.0)
            take = hd < best
            best = np.where(take, hd, best)
            best_n = np.where(take, n, best_n)
    # Daugman's normalisation of the distance for the number of bits compared.
    hd_norm = 0.5 - (0.5 - best) * np.sqrt(np.minimum(best_n / REFERENCE_OVERLAP, 1.0))
    return np.clip(1.0 - hd_norm, 0.0, 1.0)


def compare(a: Template, b: Template) -> float:
    """Similarity of two palm templates, in [0, 1]; higher means more likely the same palm.

    The score is one minus the fractional Hamming distance between the
    orientation codes, over cells valid in both, minimised over
    translations of up to ``MAX_SHIFT`` cells in each direction (residual
    ROI misalignment), then corrected for the number of cells compared.
    It is symmetric, and a template compared with itself scores 1.

    References
    ----------
    .. [1] A. W.-K. Kong, D. Zhang, "Competitive coding scheme for palmprint
       verification", ICPR 2004 (angular distance of competitive codes by
       bit planes, minimised over translations).
    .. [2] J. Daugman, "How iris recognition works", IEEE TCSVT 14(1), 2004
       (score normalisation by the number of bits compared).
    """
    _check_compatible(a, b)
    return float(compare_many(a, [b])[0])
