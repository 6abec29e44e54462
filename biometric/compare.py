"""Template comparison: masked Hamming distance minimised over translations and a small relative
rotation of the code grids.

matcher._hamming.compare_many (the 1:N index's C re-ranking) computes the same scores bit for bit
(same integer counts, same floating-point steps in the same order; tests/matcher/test_rerank.py):
change the arithmetic here and there together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

from biometric.errors import TemplateFormatError
from biometric.template import Template

#: Largest translation searched, in code cells (x 4 px = +/-12 px of a 128 px ROI).
MAX_SHIFT = 3
#: Overlap (in cells) at which a score needs no correction; smaller overlaps
#: are pulled towards chance so a lucky match on a sliver cannot score high.
REFERENCE_OVERLAP = 700
#: Relative rotation (degrees) searched both ways besides none: one template of
#: the pair is turned by it, then the other (see :func:`compare_many`); 0 turns
#: the search off. Residual ROI rotation is the main cause of the lowest genuine
#: scores on PolyU NIR (docs/RECOGNITION.md). 5 degrees, same templates and
#: pairs: PolyU EER 0.30 -> 0.25 %, FNMR at FMR 1e-4 0.62 -> 0.41 %; simulated
#: contactless EER 0.50 -> 0.19 %, FNMR at FMR 1e-4 2.78 -> 1.35 %; on a separate
#: simulated set (seed 7) 4 and 6 degrees were no better (EER 0.16 / 0.09 % vs
#: 0.08 %); ``palmvein eval`` of 500 simulated contactless identities: EER
#: 0.45 -> 0.20 %, FNMR at FMR 1e-4 2.47 -> 1.51 %; of all PolyU NIR: EER
#: 0.31 -> 0.25 %, FNMR at FMR 1e-4 0.71 -> 0.50 %. Three comparisons per pair
#: (about 20,000 pairs/s on one core against a stack). matcher._hamming (the index's C
#: re-ranking) follows it bit for bit, and the shipped impostor distribution
#: records it (matcher.calibration refuses one made with another setting):
#: change it only together with ``python -m matcher.calibration``.
ROTATION = 5.0


@dataclass(frozen=True)
class Comparator:
    """The settings that fix :func:`compare`'s scores for given templates.

    Scores, and so thresholds and impostor distributions, belong to a template algorithm *and*
    a comparator: the same two templates score differently with another translation search or
    rotation search. :attr:`id` names the setting (e.g. in an impostor distribution file).
    """

    max_shift: int
    rotation: float
    reference_overlap: int

    @property
    def id(self) -> str:
        """e.g. ``masked-hamming/shift3/rot5/overlap700``."""
        return (f"masked-hamming/shift{self.max_shift}/rot{self.rotation:g}"
                f"/overlap{self.reference_overlap}")


def comparator() -> Comparator:
    """The comparator :func:`compare` uses now (``ROTATION`` is read at call time, as
    :func:`compare_many` reads it)."""
    return Comparator(MAX_SHIFT, float(ROTATION), REFERENCE_OVERLAP)


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
        self._turned: dict[float, TemplateStack] = {}

    @classmethod
    def _of_arrays(
        cls, planes: npt.NDArray[np.uint32], mask: npt.NDArray[np.uint32], cols: int,
        algorithm: str,
    ) -> TemplateStack:
        stack = cls.__new__(cls)
        stack.algorithm, stack.cols, stack.planes, stack.mask = algorithm, cols, planes, mask
        stack._turned = {}
        return stack

    def rotated(self, degrees: float) -> TemplateStack:
        """The stack of every template turned by ``degrees`` (:func:`rotate_code`), cached."""
        if degrees not in self._turned:
            words = np.concatenate([self.planes, self.mask[:, None]], axis=1)  # (G, P + 1, R)
            turned = _turn_words(words, self.cols, degrees)
            self._turned[degrees] = TemplateStack._of_arrays(
                np.ascontiguousarray(turned[:, :-1]), np.ascontiguousarray(turned[:, -1]),
                self.cols, self.algorithm,
            )
        return self._turned[degrees]

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


@lru_cache(maxsize=64)
def rotation_map(rows: int, cols: int, degrees: float) -> npt.NDArray[np.int32]:
    """Source cell of every cell of a ``rows`` x ``cols`` grid turned by ``degrees``.

    The turn :func:`rotate_code` applies, as a gather map: entry ``r * cols + c`` is the
    flat index ``r' * cols + c'`` of the cell of the unturned grid that cell ``(r, c)`` takes,
    or -1 where that source lies outside the grid. It is made by turning an image of the cells'
    indices with the same OpenCV call that turned the bits themselves (``cv2.warpAffine``,
    nearest neighbour, about ((cols - 1) / 2, (rows - 1) / 2), border 0): nearest-neighbour
    resampling copies one source pixel (or the border value) into each pixel, whatever the
    pixel type, so gathering the bits through this map gives the turned bits exactly
    (tests/biometric/test_compare.py checks it against warping the bits). Cached per
    (rows, cols, degrees); the array is read-only. matcher._hamming turns gallery templates in
    C with the same map.
    """
    matrix = cv2.getRotationMatrix2D(((cols - 1) / 2.0, (rows - 1) / 2.0), degrees, 1.0)
    # 1 + index, so the border's 0 means "outside"; float32 holds these integers exactly.
    index = np.arange(1, rows * cols + 1, dtype=np.float32).reshape(rows, cols)
    turned = cv2.warpAffine(index, matrix, (cols, rows), flags=cv2.INTER_NEAREST, borderValue=0)
    source = np.asarray(turned, dtype=np.int64).ravel() - 1
    out = source.astype(np.int32)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=64)
def _rotation_layers(
    rows: int, cols: int, degrees: float
) -> tuple[tuple[int, npt.NDArray[np.intp], npt.NDArray[np.uint32]], ...]:
    """:func:`rotation_map` as word operations: layers ``(offset, source_rows, masks)`` such that
    the turned row ``r`` is the OR over layers of ``shift(row[source_rows[r]], offset) &
    masks[r]``, ``shift`` moving bits ``offset`` columns up (down if negative). Within one
    destination row, the cells taken from one source row at one column offset form one mask;
    a layer holds at most one such mask per row. A turn of a few degrees needs a few layers."""
    source = rotation_map(rows, cols, degrees).reshape(rows, cols).astype(np.int64)
    segments: dict[tuple[int, int, int], int] = {}  # (row, source row, offset) -> column mask
    for r in range(rows):
        for c in range(cols):
            s = int(source[r, c])
            if s >= 0:
                key = (r, s // cols, c - s % cols)
                segments[key] = segments.get(key, 0) | (1 << c)
    layers: list[tuple[int, dict[int, tuple[int, int]]]] = []  # offset, row -> (source, mask)
    for (r, sr, offset), m in sorted(segments.items(), key=lambda kv: (kv[0][2], kv[0][0])):
        for layer_offset, rows_of in layers:
            if layer_offset == offset and r not in rows_of:
                rows_of[r] = (sr, m)
                break
        else:
            layers.append((offset, {r: (sr, m)}))
    out = []
    for offset, rows_of in layers:
        src = np.zeros(rows, dtype=np.intp)
        masks = np.zeros(rows, dtype=np.uint32)
        for r, (sr, m) in rows_of.items():
            src[r], masks[r] = sr, m
        src.setflags(write=False)
        masks.setflags(write=False)
        out.append((offset, src, masks))
    return tuple(out)


def _turn_words(
    words: npt.NDArray[np.uint32], cols: int, degrees: float
) -> npt.NDArray[np.uint32]:
    """Rows of bits (..., R) uint32 (bit ``c`` = column ``c``) turned by ``degrees``: each cell
    gathered from its source cell (:func:`rotation_map`), 0 where the source is outside; done
    as shifted, masked row gathers (:func:`_rotation_layers`), all layers at once."""
    source_rows, up, down, masks = _stacked_layers(words.shape[-1], cols, degrees)
    moved = (words[..., source_rows] << up) >> down  # (..., L, R)
    return np.ascontiguousarray(np.bitwise_or.reduce(moved & masks, axis=-2))


@lru_cache(maxsize=64)
def _stacked_layers(
    rows: int, cols: int, degrees: float
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint32], npt.NDArray[np.uint32],
           npt.NDArray[np.uint32]]:
    """:func:`_rotation_layers` as arrays: source rows (L, R), shifts up and down (L, 1), masks
    (L, R)."""
    layers = _rotation_layers(rows, cols, degrees)
    if not layers:  # every cell's source is outside the grid
        layers = ((0, np.zeros(rows, dtype=np.intp), np.zeros(rows, dtype=np.uint32)),)
    source_rows = np.stack([src for _, src, _ in layers])
    up = np.array([[max(o, 0)] for o, _, _ in layers], dtype=np.uint32)
    down = np.array([[max(-o, 0)] for o, _, _ in layers], dtype=np.uint32)
    masks = np.stack([m for _, _, m in layers])
    for a in (source_rows, up, down, masks):
        a.setflags(write=False)
    return source_rows, up, down, masks


def rotate_code(template: Template, degrees: float) -> Template:
    """The template's code grid turned by ``degrees`` about its centre.

    Each cell takes the code of the nearest cell of the unturned grid
    (nearest-neighbour resampling); cells whose source lies outside the grid
    are invalid. The bit planes are not exchanged (no filter's bit moves to
    another orientation's plane): a turn of a few degrees is a fraction of
    the 30-degree orientation step, while its displacement
    of the cells (up to 16 x sin(angle) cells at the grid's edge) is what
    decorrelates two codes of one palm. The resampling is a gather through
    :func:`rotation_map` (cached per grid and angle), equal bit for bit to
    turning each bit plane with ``cv2.warpAffine`` (``INTER_NEAREST``).

    Parameters
    ----------
    template : Template
    degrees : float
        Positive turns counter-clockwise in the (column, row) image frame.

    Returns
    -------
    Template
        Same algorithm and shape.

    References
    ----------
    .. [1] A. W.-K. Kong, D. Zhang, "Competitive coding scheme for palmprint
       verification", ICPR 2004 (translated matching of competitive codes).
    .. [2] J. Daugman, "How iris recognition works", IEEE TCSVT 14(1), 2004
       (rotation tolerance by comparing codes at several relative rotations).
    """
    if degrees == 0:
        return template
    words = np.concatenate([template.planes, template.mask[None]])  # (P + 1, R)
    turned = _turn_words(words, template.cols, degrees)
    return Template(np.ascontiguousarray(turned[:-1]), np.ascontiguousarray(turned[-1]),
                    template.cols, template.algorithm)


def compare_many(
    probe: Template,
    gallery: Sequence[Template] | TemplateStack,
    max_shift: int = MAX_SHIFT,
    rotation: float | None = None,
) -> npt.NDArray[np.float64]:
    """Similarity of ``probe`` to every template of ``gallery``.

    Same values as :func:`compare`, vectorised over the gallery.

    Parameters
    ----------
    probe : Template
    gallery : sequence of Template or TemplateStack
    max_shift : int
        Translation searched, in cells each way.
    rotation : float, optional
        Relative rotation searched besides none, in degrees: the score is
        also taken with the probe turned by ``rotation`` against the gallery
        as it is, and with the probe as it is against the gallery turned by
        ``rotation`` (a relative turn of ``+rotation`` and of ``-rotation``),
        and the best of the three kept. Swapping the two templates swaps the
        two turned comparisons, so the score stays symmetric. 0: none;
        default: the module's ``ROTATION`` at call time.

    Returns
    -------
    (G,) float64 ndarray of scores in [0, 1].
    """
    stack = gallery if isinstance(gallery, TemplateStack) else TemplateStack(gallery)
    _check_stack(probe, stack)
    shifted = _ProbeShifts(probe, max_shift)
    scores = shifted.scores(stack)
    rotation = ROTATION if rotation is None else rotation
    if rotation:
        # One template turned, the other not: each pair is resampled once. The probe's shifted
        # copies serve the unturned and the turned gallery alike.
        turned = _ProbeShifts(rotate_code(probe, rotation), max_shift)
        scores = np.maximum(scores, turned.scores(stack))
        scores = np.maximum(scores, shifted.scores(stack.rotated(rotation)))
    return scores


def _check_stack(probe: Template, stack: TemplateStack) -> None:
    if (
        probe.algorithm != stack.algorithm
        or probe.cols != stack.cols
        or (probe.planes.shape != stack.planes.shape[1:])
    ):
        raise TemplateFormatError(
            f"cannot compare a {probe.algorithm} template with a {stack.algorithm} gallery"
        )


class _ProbeShifts:
    """A probe's translated copies, made once and compared with any stack of its shape.

    Copy ``(dc, dr)`` holds at gallery row ``r`` the probe's row ``r - dr`` shifted by ``dc``
    columns, and zero bits (an invalid mask) where that row lies outside the grid, so every
    comparison runs over whole gallery rows: cells outside the overlap have no valid bit and
    count neither as compared nor as differing, exactly as when the rows are cut to the
    overlap. Whole rows let an even number of rows be read as 64-bit words, two rows a word:
    half the elements per array operation for the same integer counts.
    """

    def __init__(self, probe: Template, max_shift: int) -> None:
        n_planes, rows = probe.planes.shape
        self.n_planes = n_planes
        self.wide = rows % 2 == 0
        shifts = [(dc, dr) for dc in range(-max_shift, max_shift + 1)
                  for dr in range(-max_shift, max_shift + 1)]
        planes = np.zeros((len(shifts), n_planes, rows), dtype=np.uint32)
        mask = np.zeros((len(shifts), rows), dtype=np.uint32)
        for i, (dc, dr) in enumerate(shifts):
            # Probe row r is compared with gallery row r + dr.
            pr = slice(max(0, -dr), rows - max(0, dr))
            gr = slice(max(0, dr), rows - max(0, -dr))
            planes[i][:, gr] = _shift_cols(probe.planes, dc, probe.cols)[:, pr]
            mask[i][gr] = _shift_cols(probe.mask, dc, probe.cols)[pr]
        self.planes, self.mask = self._words(planes), self._words(mask)

    def _words(self, a: npt.NDArray[np.uint32]) -> npt.NDArray[np.unsignedinteger]:
        return np.ascontiguousarray(a).view(np.uint64) if self.wide else a

    def scores(self, stack: TemplateStack) -> npt.NDArray[np.float64]:
        """Scores against every template of ``stack`` (:func:`compare_many` without the
        rotation search)."""
        g = len(stack)
        best = np.full(g, np.inf)
        best_n = np.zeros(g)
        g_planes, g_mask = self._words(stack.planes), self._words(stack.mask)
        # Buffers reused for every shift: fresh arrays of this size cost page faults.
        both = np.empty_like(g_mask)
        diff = np.empty_like(g_planes)
        counts = np.empty(g_planes.shape, dtype=np.uint8)
        both_counts = np.empty(g_mask.shape, dtype=np.uint8)
        # Same order as ever: columns outer, rows inner; strict < keeps the first minimum.
        for p_planes, p_mask in zip(self.planes, self.mask, strict=True):
            np.bitwise_and(p_mask, g_mask, out=both)  # (G, W)
            np.bitwise_xor(p_planes, g_planes, out=diff)
            np.bitwise_and(diff, both[:, None, :], out=diff)
            n = np.bitwise_count(both, out=both_counts).sum(axis=1).astype(np.float64)
            wrong = np.bitwise_count(diff, out=counts).reshape(g, -1).sum(axis=1)
            hd = np.where(n > 0, wrong.astype(np.float64) / (self.n_planes * np.maximum(n, 1)),
                          1.0)
            take = hd < best
            best = np.where(take, hd, best)
            best_n = np.where(take, n, best_n)
        # Daugman's normalisation of the distance for the number of bits compared.
        hd_norm = 0.5 - (0.5 - best) * np.sqrt(np.minimum(best_n / REFERENCE_OVERLAP, 1.0))
        return np.asarray(np.clip(1.0 - hd_norm, 0.0, 1.0))


def compare(a: Template, b: Template) -> float:
    """Similarity of two palm templates, in [0, 1]; higher means more likely the same palm.

    The score is one minus the fractional Hamming distance between the
    orientation codes (with the binary orientation code, the fraction of
    filter bits that disagree), over cells valid in both, minimised over
    translations of up to ``MAX_SHIFT`` cells in each direction (residual
    ROI misalignment) and, when ``ROTATION`` is set, over relative
    rotations of the code grids (see :func:`compare_many`), then corrected
    for the number of cells compared.
    It is symmetric, and a template compared with itself scores 1.

    References
    ----------
    .. [1] A. W.-K. Kong, D. Zhang, "Competitive coding scheme for palmprint
       verification", ICPR 2004 (angular distance of competitive codes by
       bit planes, minimised over translations).
    .. [2] Z. Guo, D. Zhang, L. Zhang, W. Zuo, "Palmprint verification using
       binary orientation co-occurrence vector", Pattern Recognition Letters
       30(13), 2009 (Hamming distance of one bit per filter).
    .. [3] J. Daugman, "How iris recognition works", IEEE TCSVT 14(1), 2004
       (score normalisation by the number of bits compared).
    """
    _check_compatible(a, b)
    return float(compare_many(a, [b])[0])
