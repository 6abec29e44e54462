"""Compact binary shortlist codes derived from palm templates.

The 1:N index cannot afford :func:`biometric.compare` against every enrolled template (it searches
49 translations of 6 bit planes). It first ranks the gallery by the Hamming distance between short
codes, then re-ranks a shortlist exactly. The code is a pure function of the
:class:`biometric.Template`, so an index can always be rebuilt from stored templates.

Coding: the template's code grid (R x C cells, 6 bit planes = 2 filter scales x 3 bits of a
competitive orientation code) is cut into blocks of ``BLOCK`` x ``BLOCK`` cells; per block and bit
plane the code keeps the majority bit over the block's valid cells (0 where no cell is valid).
Because each plane's bits are the thermometer code of the orientation index, the majority per plane
approximates the dominant orientation of the block. The residual misalignment that
:func:`biometric.compare` searches is handled by coding the probe at several one-cell translations
(:data:`PROBE_SHIFTS`). A 32 x 32 grid gives 16 x 16 blocks x 6 planes = 1,536 bits (192 bytes)
with 2-cell blocks, 384 bits (48 bytes) with 4-cell blocks.

Fragile bits: a block whose valid cells vote half 1 and half 0 gets bit 0 by convention, but the
bit is a coin toss (with four cells a tie is common). The gallery's codes keep that convention; the
probe's codes come with a weight mask (:func:`probe_codes`) leaving its tied bits out, and
the scan counts each left-out bit as half a difference whatever the gallery holds, so variants
with different numbers of fragile bits stay comparable (Hollingsworth, Bowyer & Flynn, "The best
bits in an iris code", IEEE TPAMI 31(6), 2009, mask the fragile bits of iris codes the same way).

Measured on dev data (PolyU NIR, 150 palms, 1,755 templates; simulated captures), per-plane majority
over 4-cell blocks beat coarser blocks (8 cells), overlapping blocks of the same size, and random
projections (SimHash) of the pooled bit fractions to 256 or 512 bits; see ``matcher/README.md``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

import biometric
from biometric.compare import rotate_code
from matcher import _hamming

#: Block side in code cells: 2 gives 1,536-bit (192-byte) codes. 4-cell blocks (48 bytes) scan
#: four times faster but lost the true palm far more often on cross-session simulated captures
#: (``palmvein bench identify``: index top-1 = true palm 74 % vs 98 % at 100,000 templates).
BLOCK = 2
#: Translations (rows, columns, in cells) of the probe coded for one search: the probe and its
#: four one-cell neighbours. Residual ROI misalignment moves genuine pairs by up to 2 cells
#: (that is what :func:`biometric.compare` searches); each query variant lands within one cell
#: of most such offsets. On the dev sets this cut the genuine palms missing from a 32-template
#: shortlist (estimated at a million impostors) from 7 of 318 to 0 (simulated) and from 9 to 3
#: of 1,755 (PolyU NIR; the 3 are missed by exhaustive comparison too).
PROBE_SHIFTS: tuple[tuple[int, int], ...] = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))
#: Further variants of the probe, (turn in degrees, rows, columns), that only the full-code stage
#: compares (its ~2,000 candidates cost little per variant; every coarse variant costs a pass
#: over the whole gallery): the four diagonal one-cell translations, one two-cell translation
#: and the probe turned 5 degrees each way (:func:`biometric.compare.rotate_code`) as it is and
#: one cell up and down. 16 variants in all, the most one call of the C scan takes. Measured on a
#: dev gallery of a million templates made as ``palmvein bench identify`` makes it (1,488
#: simulated palms enrolled with three captures, 2,959 cross-session probes), probes lost by the
#: index (the palm's own exact score above the index's answer), exact stage with the rotation
#: search: 27 before; 16 with these variants and 2,048 coarse candidates per shard
#: (``matcher.index.DEFAULT_COARSE``), 13 with the siblings of 32 subjects re-ranked
#: (``EXPAND_SUBJECTS``). Without the rotation search: 16 before, 16 with the variants alone, 12
#: with 2,048 candidates alone, 9 with both (siblings of 32). Turned variants in the coarse stage
#: instead (+/-5 or 4 degrees, 7 variants) did not help: 30 and 34 probes whose palm missed the
#: re-ranked templates against 31.
SHORTLIST_VARIANTS: tuple[tuple[float, int, int], ...] = (
    (0.0, 1, 1), (0.0, 1, -1), (0.0, -1, 1), (0.0, -1, -1), (0.0, 2, 0),
    (5.0, 0, 0), (-5.0, 0, 0), (5.0, 1, 0), (-5.0, 1, 0), (5.0, -1, 0), (-5.0, -1, 0),
)
#: Bit planes kept in the coarse first-stage code: the middle thermometer bit of each filter
#: scale's orientation code (planes 1 and 4 of 6). With 2-cell blocks that is 512 bits (64 bytes),
#: a third of the full code and a size FAISS scans with a specialised popcount loop. Measured on
#: simulated cross-session probes among 100,000 background templates (99 probes): the true palm's
#: rank under this code was at most 383 (median 0), against 739 for planes 0 and 3 (also 64 bytes),
#: 1,006 and 870 for one whole scale (96 bytes), 8,237 for 4-cell blocks (48 bytes), and 2 for the
#: full code. Those figures are of the competitive code (6 planes). With the binary orientation
#: code (``bocv-2s6o-c4-v1``, 12 planes: the signs of the 18 px filters at 0, 30, ... 150 degrees,
#: then the 30 px ones) planes 1 and 4 are the 18 px filters at 30 and 120 degrees; not re-chosen
#: yet. ``palmvein bench identify --gallery 100000``: true palm first 99/99, the index's decisions
#: equal to the exhaustive search's 99/99 (2026-12-07).
COARSE_PLANES: tuple[int, ...] = (1, 4)
#: Chunk of templates coded at once (bounds temporary memory when coding a million templates).
_CHUNK = 16384


def code_bits(n_planes: int, rows: int, cols: int, block: int = BLOCK) -> int:
    """Number of bits of the shortlist code of a ``n_planes`` x ``rows`` x ``cols`` template,
    rounded up to whole bytes."""
    bits = n_planes * (rows // block) * (cols // block)
    return 8 * ((bits + 7) // 8)


def shortlist_codes(
    planes: npt.NDArray[np.uint32],
    mask: npt.NDArray[np.uint32],
    cols: int,
    block: int = BLOCK,
) -> npt.NDArray[np.uint8]:
    """Shortlist codes of many templates at once.

    Parameters
    ----------
    planes : (G, P, R) uint32 ndarray
        Bit planes of G templates (bit ``c`` of a word = column ``c``), as in
        :attr:`biometric.Template.planes`.
    mask : (G, R) uint32 ndarray
        Valid-cell masks.
    cols : int
        Number of used columns.
    block : int
        Block side in cells.

    Returns
    -------
    (G, B) uint8 ndarray
        Packed codes, ``B = code_bits(P, R, cols, block) // 8`` bytes each, bit order as
        :func:`numpy.packbits` (big-endian within a byte), block-major then plane.
    """
    return _codes(planes, mask, cols, block, weights=False)[0]


def _codes(
    planes: npt.NDArray[np.uint32], mask: npt.NDArray[np.uint32], cols: int, block: int,
    *, weights: bool,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Packed codes, and (if ``weights``) packed masks of their decided (untied) bits."""
    if planes.ndim != 3 or mask.shape != (planes.shape[0], planes.shape[2]):
        raise ValueError(f"planes {planes.shape} and mask {mask.shape} do not describe templates")
    g, p, r = planes.shape
    n_bytes = code_bits(p, r, cols, block) // 8
    out = np.zeros((g, n_bytes), dtype=np.uint8)
    decided = np.zeros((g, n_bytes if weights else 0), dtype=np.uint8)
    for start in range(0, g, _CHUNK):
        stop = min(start + _CHUNK, g)
        bits, sure = _majority_bits(planes[start:stop], mask[start:stop], cols, block, weights)
        packed = np.packbits(bits, axis=1)
        out[start:stop, : packed.shape[1]] = packed
        if weights:
            decided[start:stop, : packed.shape[1]] = np.packbits(sure, axis=1)
    return out, decided


def _majority_bits(
    planes: npt.NDArray[np.uint32], mask: npt.NDArray[np.uint32], cols: int, block: int,
    ties: bool = False,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Majority bits (G, blocks x P), and where ``ties`` the bits whose vote was not tied."""
    g, p, r = planes.shape
    br, bc = r // block, cols // block
    nibble = np.uint32((1 << block) - 1)
    valid = planes & mask[:, None, :]
    blocks = np.empty((g, br, bc, p), dtype=bool)
    sure = np.empty((g, br, bc, p) if ties else (g, 0, 0, 0), dtype=bool)
    for j in range(bc):
        shift = np.uint32(j * block)
        # Bits set per row within the block's columns, then summed over the block's rows (as
        # strided adds: NumPy reduces tiny inner axes slowly).
        ones = np.bitwise_count((valid >> shift) & nibble)
        cells = np.bitwise_count((mask >> shift) & nibble)
        ones_b = ones[:, :, 0 : br * block : block].astype(np.int16)
        cells_b = cells[:, 0 : br * block : block].astype(np.int16)
        for k in range(1, block):
            ones_b += ones[:, :, k : br * block : block]
            cells_b += cells[:, k : br * block : block]
        blocks[:, :, j, :] = (2 * ones_b > cells_b[:, None, :]).transpose(0, 2, 1)
        if ties:
            sure[:, :, j, :] = (2 * ones_b != cells_b[:, None, :]).transpose(0, 2, 1)
    return blocks.reshape(g, br * bc * p), sure.reshape(g, -1)


def shifted(
    planes: npt.NDArray[np.uint32], mask: npt.NDArray[np.uint32], cols: int, rows_by: int,
    cols_by: int,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """Planes (..., P, R) and mask (..., R) translated by whole cells; cells shifted in from
    outside are invalid (mask 0). Positive shifts move content to higher rows / columns."""
    full = np.uint32((1 << cols) - 1) if cols < 32 else np.uint32(0xFFFFFFFF)
    if cols_by >= 0:
        p = (planes << np.uint32(cols_by)) & full
        m = (mask << np.uint32(cols_by)) & full
    else:
        p, m = planes >> np.uint32(-cols_by), mask >> np.uint32(-cols_by)
    p, m = np.roll(p, rows_by, axis=-1), np.roll(m, rows_by, axis=-1)
    if rows_by > 0:
        m[..., :rows_by] = 0
    elif rows_by < 0:
        m[..., rows_by:] = 0
    return p, m


class ProbeCodes(NamedTuple):
    """A probe's shortlist codes, one row per variant, and their weight masks. The first
    ``scanned`` rows (all if None) are the variants the coarse stage scans (:meth:`coarse`); the
    full-code stage compares every row."""

    #: (V, B) uint8: packed like :func:`shortlist_codes`.
    codes: npt.NDArray[np.uint8]
    #: (V, B) uint8: the bits that count in a distance; 0 where the block's vote was tied (and
    #: in the padding), which the scan counts as half a difference.
    weights: npt.NDArray[np.uint8]
    #: Leading rows scanned by the coarse stage (None: all).
    scanned: int | None = None

    def coarse(self, n_planes: int, planes: tuple[int, ...] | None = None) -> ProbeCodes:
        """The coarse first-stage part of both (see :func:`coarse_codes`), of the ``scanned``
        rows only."""
        keep = COARSE_PLANES if planes is None else planes
        rows = slice(self.scanned)
        return ProbeCodes(coarse_codes(self.codes[rows], n_planes, keep),
                          coarse_codes(self.weights[rows], n_planes, keep))


def probe_codes(
    template: biometric.Template, shifts: tuple[tuple[int, int], ...] = PROBE_SHIFTS,
    block: int = BLOCK, extra: tuple[tuple[float, int, int], ...] = SHORTLIST_VARIANTS,
) -> ProbeCodes:
    """Shortlist codes of ``template`` translated by each of ``shifts`` (the rows the coarse
    stage scans), then of each of ``extra`` (turn in degrees by
    :func:`biometric.compare.rotate_code`, then rows and columns translated; compared by the
    full-code stage only), one row per variant (len(shifts) + len(extra), B), with masks of
    their untied bits (see the module's note on fragile bits).

    The variants are coded in C (:func:`matcher._hamming.block_codes`: :func:`shifted` and the
    block majorities of :func:`shortlist_codes`, bit for bit; ``tests/matcher/test_codes.py``
    checks it against this module's NumPy coding); NumPy took ~0.45 ms for the 16 variants of a
    search, C ~0.01 ms."""
    turned, variants = _variants(template, shifts, extra)
    p, r = template.planes.shape
    codes, weights = _block_codes(turned, template.cols, block, variants, tuple(range(p)),
                                  code_bits(p, r, template.cols, block) // 8)
    return ProbeCodes(codes, weights, len(shifts))


def search_codes(
    template: biometric.Template, full_width: int, coarse_width: int,
    shifts: tuple[tuple[int, int], ...] = PROBE_SHIFTS, block: int = BLOCK,
    extra: tuple[tuple[float, int, int], ...] = SHORTLIST_VARIANTS,
    planes: tuple[int, ...] = COARSE_PLANES,
) -> tuple[ProbeCodes, ProbeCodes]:
    """What a two-stage search compares: :func:`probe_codes` zero-padded to ``full_width``
    bytes, and its :meth:`ProbeCodes.coarse` part (the scanned variants' ``planes``) padded to
    ``coarse_width`` bytes (padding has weight 0: the same constant for every code and
    variant). Both made in C from the translated variants, without the NumPy repacking."""
    turned, variants = _variants(template, shifts, extra)
    p, r = template.planes.shape
    if full_width * 8 < code_bits(p, r, template.cols, block) or coarse_width * 8 < code_bits(
            len(planes), r, template.cols, block):
        raise ValueError("full_width or coarse_width is narrower than the codes")
    codes, weights = _block_codes(turned, template.cols, block, variants, tuple(range(p)),
                                  full_width)
    coarse, coarse_weights = _block_codes(turned, template.cols, block, variants[: len(shifts)],
                                          planes, coarse_width)
    return ProbeCodes(codes, weights, len(shifts)), ProbeCodes(coarse, coarse_weights)


def _variants(
    template: biometric.Template, shifts: tuple[tuple[int, int], ...],
    extra: tuple[tuple[float, int, int], ...],
) -> tuple[list[biometric.Template], list[tuple[int, int, int]]]:
    """The template and its turned copies, and per variant (copy, rows, columns): ``shifts``
    of the template, then ``extra``."""
    turned = [template]
    at = {0.0: 0}
    variants = [(0, dr, dc) for dr, dc in shifts]
    for degrees, dr, dc in extra:
        if degrees not in at:
            at[degrees] = len(turned)
            turned.append(rotate_code(template, degrees))
        variants.append((at[degrees], dr, dc))
    return turned, variants


def _block_codes(
    templates: list[biometric.Template], cols: int, block: int,
    variants: list[tuple[int, int, int]], planes: tuple[int, ...], width: int,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Codes and untied-bit masks (V, ``width``) of ``variants`` of ``templates``, keeping
    ``planes`` of each block (:func:`matcher._hamming.block_codes`)."""
    stacked = np.ascontiguousarray(np.stack([t.planes for t in templates]), dtype=np.uint32)
    masks = np.ascontiguousarray(np.stack([t.mask for t in templates]), dtype=np.uint32)
    codes = np.empty((len(variants), width), dtype=np.uint8)
    weights = np.empty_like(codes)
    _hamming.block_codes(stacked, masks, cols, block,
                         np.array(variants, dtype=np.int32).reshape(-1, 3),
                         np.array(planes, dtype=np.int32), codes, weights)
    return codes, weights


def shortlist_code(template: biometric.Template, block: int = BLOCK) -> npt.NDArray[np.uint8]:
    """Shortlist code of one template: (B,) uint8, see :func:`shortlist_codes`."""
    code: npt.NDArray[np.uint8] = shortlist_codes(
        template.planes[None], template.mask[None], template.cols, block
    )[0]
    return code


def coarse_codes(
    codes: npt.NDArray[np.uint8], n_planes: int, planes: tuple[int, ...] = COARSE_PLANES
) -> npt.NDArray[np.uint8]:
    """The coarse first-stage codes kept from full shortlist codes (G, B): per block, only the
    bits of ``planes`` (see :data:`COARSE_PLANES`). Returns (G, B') uint8, packed like
    :func:`shortlist_codes`."""
    g = codes.shape[0]
    bits = np.unpackbits(codes, axis=1)
    n_blocks = bits.shape[1] // n_planes
    kept = bits[:, : n_blocks * n_planes].reshape(g, n_blocks, n_planes)[:, :, list(planes)]
    return np.packbits(kept.reshape(g, -1), axis=1)
