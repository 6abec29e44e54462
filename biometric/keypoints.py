"""Finger-valley key points from the hand silhouette."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from scipy.signal import find_peaks

from biometric._validate import mask_u8
from biometric.errors import RoiError

# Weights of the valley-pair cost (see _rank_valleys), set on simulated
# contactless hands and PolyU pegged palms.
W_ALONG = 2.0
W_EVEN = 0.5
#: Extra smoothing (pixels) of a pegged palm's outline before valley search.
CONTACT_SMOOTHING = 9.0
#: Fraction of the frame a pegged palm covers at least.
MIN_CONTACT_FILL = 0.45
#: Fraction of a pegged palm's outline that runs along the frame border at least
#: (was 0.12, which left 163 of the 6000 PolyU NIR frames, 37 palms, treated as
#: whole hands; all 500 palms cross-session: EER 0.43 -> 0.31 %, FNMR at FMR
#: 1e-4 1.06 -> 0.71 %; no simulated contactless frame changes).
CONTACT_BORDER_FRACTION = 0.08
#: A pegged device holds the hand along one frame axis, so both outer finger
#: gaps open towards the same frame edge. A pair whose gaps open towards
#: different edges is refused when its finger direction is more than this many
#: degrees off the nearest frame axis (mostly the thumb notch on the palm's side
#: edge paired with one finger gap); closer to the axis, widely spread fingers
#: may make an outer gap open past 45 degrees, so the pair is kept. PolyU NIR,
#: 6000 frames: all 37 wrong first choices refused, 1 of 5524 right ones.
CONTACT_GAP_AXIS_DEG = 12.0
# A valley's sides meet at less than 110 degrees (wider bays are wrist or peg notches).
_COS_110 = float(np.cos(np.deg2rad(110)))
#: Column alignment of the distance-transform window (see palm_center).
_DIST_ALIGN = 16
#: Outline smoothing (pixels) of a second look for the outer finger gap that a
#: pegged palm seems to lack (see one_valley_geometry): CONTACT_SMOOTHING fills
#: a gap narrower than about its width (fingers held close, PolyU NIR 0330/2_03),
#: which a lighter smoothing keeps open.
NARROW_GAP_SMOOTHING = 3.0
#: How far from where the device's valley spacing puts it that narrow gap may lie,
#: in units of that spacing.
NARROW_GAP_REACH = 0.25
#: A pegged palm's valleys are chosen on the outline smoothed by
#: CONTACT_SMOOTHING, which also pulls each tip out of its gap; each chosen tip
#: then moves to the tip found on an outline smoothed by this much (pixels),
#: if one lies within TIP_REACH palm radii (see finger_valleys).
TIP_SMOOTHING = 6.0
TIP_REACH = 0.12


@dataclass(frozen=True)
class PalmGeometry:
    """Key points of a hand silhouette, in the silhouette's pixel grid.

    Attributes
    ----------
    valleys : (K, 2) float ndarray
        Finger valleys used for alignment as (row, col), K in {2, 3}, in
        contour order; the first and last are the outer valleys
        (index-middle and ring-little, in either order).
    palm_center : (2,) float ndarray
        Centre of the largest circle inscribed in the palm, (row, col).
    palm_radius : float
        Radius of that circle in pixels.
    contact : bool
        True when the silhouette runs along the frame border (pegged or
        cropped palm images), False for a whole hand on a dark background.
    candidates : (L, 2) float ndarray
        Every concavity that passed the depth test, for diagnostics.
    alternatives : tuple of (K, 2) float ndarrays
        The other plausible valley choices, best first (``valleys`` is the
        best); a pegged palm whose first choice puts the ROI off the hand
        falls back on them (see :func:`biometric.roi.palm_roi`).
    """

    valleys: npt.NDArray[np.float64]
    palm_center: npt.NDArray[np.float64]
    palm_radius: float
    contact: bool
    candidates: npt.NDArray[np.float64]
    alternatives: tuple[npt.NDArray[np.float64], ...] = ()


def palm_center(mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.float64], float]:
    """Centre and radius of the largest circle inscribed in the hand mask.

    The frame border counts as background, so a palm cut off by the border
    has its circle kept inside the frame.

    References
    ----------
    .. [1] G. Borgefors, "Distance transformations in digital images",
       CVGIP 34, 1986.
    """
    mask_bytes = mask_u8(mask)
    # Only the rows and columns around the hand need the transform: every pixel
    # outside its bounding box is background, and the nearest background pixel
    # of any pixel inside is no farther than the box's one-pixel surround, so
    # the distances inside, and the first maximum in row-major order, are those
    # of the whole frame padded with one background pixel (the frame border
    # counts as background). OpenCV's IPP transform rounds its float sums by
    # column phase, so the window starts on a multiple of _DIST_ALIGN columns
    # of that padded frame: the very same floats.
    left, top, width, height = cv2.boundingRect(mask_bytes)
    if width == 0:
        return np.zeros(2), 0.0  # an empty mask, as the whole-frame transform gives
    first = left // _DIST_ALIGN * _DIST_ALIGN  # padded column of the window's column 0
    window = np.zeros((height + 2, left + width + 2 - first), dtype=np.uint8)
    window[1:-1, left + 1 - first : -1] = mask_bytes[top : top + height, left : left + width]
    dist = cv2.distanceTransform(window, cv2.DIST_L2, 5)
    flat = int(np.argmax(dist))
    row, col = divmod(flat, dist.shape[1])
    radius = float(dist[row, col])
    return np.array([top - 1 + row, first - 1 + col], dtype=np.float64), radius


def finger_valleys(mask: npt.NDArray[np.bool_]) -> PalmGeometry:
    """Locate the finger valleys that fix the palm's position and rotation.

    Concavities of the hand contour are found as prominent minima of its
    distance from the palm centre (on a pegged palm, chosen on a smoothed
    outline and placed on a less smoothed one, ``TIP_SMOOTHING``); those too
    shallow, too wide open, or opening towards the palm are dropped.
    Among the rest, the pair (or triple, when the middle valley is also
    seen) of valleys whose spacing, collinearity and position relative to
    the palm centre best fit a hand is chosen. Wrist, sleeve and peg
    notches fail those geometric tests. On a pegged palm both outer gaps
    open towards the same frame edge (the device holds the hand along a
    frame axis): a pair whose gaps open towards different edges while its
    fingers lie more than ``CONTACT_GAP_AXIS_DEG`` off the frame axis (a
    finger gap and the thumb notch on the palm's side) is not plausible.

    Parameters
    ----------
    mask : (M, N) bool ndarray
        Hand silhouette from :func:`biometric.segmentation.segment_hand`.

    Returns
    -------
    PalmGeometry

    Raises
    ------
    RoiError
        If no plausible pair of finger valleys is found (fingers closed,
        hand cut off, not a hand).

    References
    ----------
    .. [1] D. Zhang, W.-K. Kong, J. You, M. Wong, "Online palmprint
       identification", IEEE TPAMI 25(9), 2003.
    .. [2] M. Aykut, M. Ekinci, "Developing a contactless palmprint
       authentication system by introducing a novel ROI extraction method",
       Image and Vision Computing 40, 2015 (valleys as minima of the
       contour's distance profile).
    """
    found = _valley_candidates(mask)
    points, depths, openings = found.points, found.depths, found.openings
    center, radius, contact = found.center, found.radius, found.contact
    if len(points) < 2:
        raise RoiError(f"found {len(points)} finger valley(s); spread the fingers", ("no_valleys",))
    if not contact and len(points) >= 4:
        keep = _drop_thumb_valley(points)
        points, depths, openings = points[keep], depths[keep], openings[keep]
    ranked = _rank_valleys(points, depths, openings, center, radius, contact)
    if not ranked:
        raise RoiError(
            "finger valleys do not form a plausible hand geometry", ("implausible_valleys",)
        )
    tips = points
    if contact:
        # The heavier smoothing picks steadier valleys among the pegs' notches
        # but pulls each tip out of its gap by a few pixels, more for a narrow
        # gap than a wide one, which turns the valley line: the tips are taken
        # from a lighter-smoothed outline.
        tips = _sharper_tips(mask, found, points, TIP_REACH * radius)
    return PalmGeometry(
        valleys=tips[list(ranked[0])],
        palm_center=center,
        palm_radius=radius,
        contact=contact,
        candidates=points,
        alternatives=tuple(tips[list(chosen)] for chosen in ranked[1:]),
    )


def _sharper_tips(
    mask: npt.NDArray[np.bool_], found: _Candidates, points: npt.NDArray[np.float64],
    reach: float,
) -> npt.NDArray[np.float64]:
    """``points`` each moved to the nearest valley of a lighter-smoothed pegged outline
    (``TIP_SMOOTHING``) within ``reach`` pixels, if any (``found``: the mask's candidates)."""
    try:
        fine = _valley_candidates(mask, smoothing=TIP_SMOOTHING, of=found).points
    except RoiError:
        return points
    if not len(fine):
        return points
    out = points.copy()
    for i, point in enumerate(points):
        offset = np.linalg.norm(fine - point, axis=1)
        j = int(np.argmin(offset))
        if offset[j] < reach:
            out[i] = fine[j]
    return out


@dataclass(frozen=True)
class _Candidates:
    """Valley candidates of a silhouette, in contour order, with its palm circle."""

    points: npt.NDArray[np.float64]  # (L, 2) (row, col)
    depths: npt.NDArray[np.float64]  # (L,) prominence in the distance profile
    openings: npt.NDArray[np.float64]  # (L, 2) unit (row, col): where each valley opens to
    center: npt.NDArray[np.float64]
    radius: float
    contact: bool


def _valley_candidates(
    mask: npt.NDArray[np.bool_],
    smoothing: float = CONTACT_SMOOTHING,
    of: _Candidates | None = None,
) -> _Candidates:
    """Valley candidates of ``mask``; a pegged palm's on its outline smoothed by ``smoothing``.
    ``of``: candidates of the same mask found before (another smoothing), whose palm circle and
    contact decision are taken instead of measured again (the distance transform is most of
    the cost)."""
    mask_bytes = mask_u8(mask)
    contour: npt.NDArray[np.int32] | None = None
    if of is None:
        center, radius = palm_center(mask)
        if radius < 10:
            raise RoiError("the hand region is too thin to hold a palm", ("no_palm",))
        contour, on_border = _outline(mask_bytes)
        # A forearm leaving the frame touches the border in one stretch; a pegged or
        # cropped palm runs along it in several (finger stubs, palm sides).
        border_runs = int(np.count_nonzero(np.diff(on_border.astype(np.int8)) == 1)) + int(
            on_border[0] and not on_border[-1]
        )
        # A pegged palm also fills most of the frame (measured: 0.6-0.75 of it on
        # PolyU and simulated pegged frames; a whole hand, even with fingertips cut
        # off, covers 0.1-0.3).
        contact = bool(
            on_border.mean() > CONTACT_BORDER_FRACTION
            and border_runs >= 2
            and _filled_fraction(mask) > MIN_CONTACT_FILL
        )
    else:
        center, radius, contact = of.center, of.radius, of.contact
    if contact and smoothing > 0:
        # Pegs and device edges leave ragged notches along a pegged palm's
        # outline; a smoother outline gives steadier valley tips there.
        soft = cv2.GaussianBlur(mask_bytes.astype(np.float32), (0, 0), smoothing)
        contour, on_border = _outline((soft > 0.5).astype(np.uint8))
    elif contour is None:
        contour, on_border = _outline(mask_bytes)
    n_points = contour.shape[0]

    # Valleys are the prominent minima of the contour's distance from the
    # palm centre (a fingertip-to-valley profile); unlike convexity defects
    # this sees every valley even when several share one hull edge.
    dist = np.hypot(contour[:, 1] - center[0], contour[:, 0] - center[1])
    width = max(3, round(0.08 * radius))
    smooth = np.convolve(
        np.concatenate([dist[-width:], dist, dist[:width]]), np.ones(width) / width, mode="same"
    )[width:-width]
    wrapped = np.concatenate([smooth, smooth])
    minima, props = find_peaks(-wrapped, prominence=0.2 * radius, distance=width)
    keep = (minima >= n_points // 2) & (minima < n_points + n_points // 2)
    arm = max(4, round(0.35 * radius))
    cands: list[tuple[int, float, float, float]] = []
    # Plain floats for the few candidates: the same IEEE operations in the same
    # order as on NumPy 2-vectors (exact integer dot products, correctly
    # rounded square roots), at a fraction of the call overhead.
    cx, cy = float(center[1]), float(center[0])
    tips = minima[keep] % n_points
    ends = zip(
        contour[tips].tolist(),
        contour[(tips - arm) % n_points].tolist(),
        contour[(tips + arm) % n_points].tolist(),
        strict=True,
    )
    for idx, depth, ((tx, ty), (bx, by), (ax, ay)) in zip(
        tips, props["prominences"][keep], ends, strict=True
    ):
        far = int(idx)
        if on_border[far]:
            continue
        v1x, v1y, v2x, v2y = float(bx - tx), float(by - ty), float(ax - tx), float(ay - ty)
        n1, n2 = math.sqrt(v1x * v1x + v1y * v1y), math.sqrt(v2x * v2x + v2y * v2y)
        cos_angle = (v1x * v2x + v1y * v2y) / (n1 * n2 + 1e-9)
        if cos_angle < _COS_110:
            continue  # a wide, shallow bay: wrist or peg notch, not a finger valley
        ox = v1x / (n1 + 1e-9) + v2x / (n2 + 1e-9)
        oy = v1y / (n1 + 1e-9) + v2y / (n2 + 1e-9)
        # A finger valley opens away from the palm centre.
        if ox * (cx - tx) + oy * (cy - ty) > 0:
            continue
        norm = math.sqrt(ox * ox + oy * oy) + 1e-9
        ox, oy = ox / norm, oy / norm
        if not contact:
            # The valley is the deepest point of the gap along its own axis, not
            # the point nearest the palm centre (which slides sideways as the hand
            # turns). Pegged gaps are long wedges whose tip the pegs fix better.
            near = [(far + k) % n_points for k in range(-arm // 2, arm // 2 + 1)]
            far = near[int(np.argmin(contour[near].astype(np.float64) @ np.array([ox, oy])))]
        # (contour index, depth, opening direction as (row, col))
        cands.append((far, float(depth), oy, ox))
    cands.sort()
    return _Candidates(
        points=np.array(
            [[contour[c[0], 1], contour[c[0], 0]] for c in cands], dtype=np.float64
        ).reshape(-1, 2),
        depths=np.array([c[1] for c in cands], dtype=np.float64),
        openings=np.array([[c[2], c[3]] for c in cands], dtype=np.float64).reshape(-1, 2),
        center=center,
        radius=radius,
        contact=contact,
    )


def _outline(
    mask_bytes: npt.NDArray[np.uint8],
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.bool_]]:
    """The largest outer contour of a 0/1 mask as (x, y) points, and which lie on the frame
    border."""
    contours, _ = cv2.findContours(mask_bytes, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        raise RoiError("no hand contour", ("no_palm",))
    contour = np.asarray(max(contours, key=cv2.contourArea)[:, 0, :], dtype=np.int32)  # (x, y)
    return contour, _on_border(contour, *mask_bytes.shape)


def _rank_valleys(
    points: npt.NDArray[np.float64],
    depths: npt.NDArray[np.float64],
    openings: npt.NDArray[np.float64],
    center: npt.NDArray[np.float64],
    radius: float,
    contact: bool,
) -> list[tuple[int, ...]]:
    """Plausible valley choices (indices into ``points``), lowest cost first."""
    ranked: list[tuple[float, tuple[int, ...]]] = []
    n = len(points)
    # Plain floats: the same IEEE operations in the same order as on NumPy
    # 2-vectors (a dot product with a negated vector is the negated dot product
    # exactly), without the per-call overhead.
    pts: list[list[float]] = points.tolist()
    opens: list[list[float]] = openings.tolist()
    deep: list[float] = depths.tolist()
    c0, c1 = float(center[0]), float(center[1])
    for i, j in itertools.combinations(range(n), 2):
        (p0, p1), (q0, q1) = pts[i], pts[j]
        d0, d1 = q0 - p0, q1 - p1
        span = math.sqrt(d0 * d0 + d1 * d1)
        ratio = span / radius
        if not 0.5 <= ratio <= 2.4:
            continue
        u0, u1 = d0 / span, d1 / span
        n0, n1 = -u1, u0
        e0, e1 = c0 - p0, c1 - p1
        offset = e0 * n0 + e1 * n1
        if offset < 0:
            n0, n1, offset = -n0, -n1, -offset
        # The palm centre lies beside the valley line, roughly mid-way along it.
        if not 0.3 * radius <= offset <= 2.2 * radius:
            continue
        along = (e0 * u0 + e1 * u1) / span
        if not -0.25 <= along <= 1.25:
            continue
        (a0, a1), (b0, b1) = opens[i], opens[j]
        # Both valleys open towards the fingers, away from the palm side of the line.
        if min(-(a0 * n0 + a1 * n1), -(b0 * n0 + b1 * n1)) < 0.5:
            continue
        if contact and not _gaps_face_one_edge(openings[i], openings[j], np.array([-n0, -n1])):
            continue
        cost = abs(along - 0.5) * W_ALONG + abs(ratio - 1.2) * 0.5
        cost -= 0.5 * min(deep[i], deep[j]) / radius
        # The fingers fan out symmetrically about the hand axis, so the two outer
        # valleys open mirror-wise about the line's normal; a thumb valley opens
        # sideways and breaks the symmetry.
        cost += 1.5 * abs((a0 * u0 + a1 * u1) + (b0 * u0 + b1 * u1))
        chosen: tuple[int, ...] = (i, j)
        # A valley between the outer two, near the segment, confirms the pair
        # (the triple index-middle, middle-ring, ring-little). "Between" is
        # geometric: the contour's start point may fall anywhere in the sequence.
        # Two valleys beyond the line, on the fingers' side, mean the line runs
        # below the finger valleys: one end is the thumb valley.
        middle: list[int] = []
        dists: list[float] = []
        beyond = 0
        for k in range(n):
            if k in (i, j):
                continue
            r0, r1 = pts[k][0] - p0, pts[k][1] - p1
            frac = (r0 * u0 + r1 * u1) / span
            side = r0 * n0 + r1 * n1
            if 0.2 < frac < 0.8 and abs(side) < 0.5 * radius:
                middle.append(k)
                dists.append(abs(side))
            if 0.0 < frac < 1.0 and -side > 0.2 * radius:
                beyond += 1
        if not contact and beyond >= 2:
            continue
        if middle:
            m = middle[int(np.argmin(dists))]
            # Adjacent finger valleys are about evenly spaced and nearly collinear;
            # a thumb valley breaks both (it sits lower and farther out).
            m0, m1 = pts[m]
            left = math.sqrt((m0 - p0) * (m0 - p0) + (m1 - p1) * (m1 - p1))
            right = math.sqrt((q0 - m0) * (q0 - m0) + (q1 - m1) * (q1 - m1))
            unevenness = abs(float(np.log(max(left, 1e-6) / max(right, 1e-6))))
            if contact:
                # Pegs hide or distort the middle valley: any valley near the
                # segment confirms the pair.
                cost -= 0.6
                chosen = (i, m, j)
            elif unevenness < 0.6 and min(dists) < 0.4 * radius:
                cost -= 0.6 + W_EVEN * (0.6 - unevenness)
                chosen = (i, m, j)
        ranked.append((cost, chosen))
    # Stable: equal costs keep the enumeration order, so the first choice is
    # the one the former minimum search returned.
    ranked.sort(key=lambda item: item[0])
    return [chosen for _, chosen in ranked]


def _frame_edge(direction: npt.NDArray[np.float64]) -> tuple[int, float]:
    """The frame edge a (row, col) direction points to: (axis, sign)."""
    axis = int(np.argmax(np.abs(direction)))
    return axis, float(np.sign(direction[axis]))


def _gaps_face_one_edge(
    first: npt.NDArray[np.float64],
    second: npt.NDArray[np.float64],
    fingers: npt.NDArray[np.float64],
) -> bool:
    """Whether a pegged pair's gap openings fit a hand held along a frame axis.

    ``first`` and ``second`` are the valleys' opening directions, ``fingers``
    the unit direction of the fingers across the valley line, all (row, col).
    True when both gaps open towards the same frame edge, or when the fingers
    lie within ``CONTACT_GAP_AXIS_DEG`` of a frame axis (spread fingers may
    then open an outer gap past the diagonal).
    """
    if _frame_edge(first) == _frame_edge(second):
        return True
    off_axis = float(
        np.degrees(np.arctan2(float(np.min(np.abs(fingers))), float(np.max(np.abs(fingers)))))
    )
    return off_axis <= CONTACT_GAP_AXIS_DEG


def _drop_thumb_valley(points: npt.NDArray[np.float64]) -> list[int]:
    """Indices of ``points`` without the thumb valley, when it can be told apart.

    With four or more valleys along the hand's top edge, the three between the
    fingers are about evenly spaced and the thumb valley is the end one beyond
    the widest gap.
    """
    centred = points - points.mean(axis=0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    order = np.argsort(centred @ axis)
    steps = np.linalg.norm(np.diff(points[order], axis=0), axis=1)
    first, last = float(steps[0]), float(steps[-1])
    inner = float(np.median(steps[1:-1])) if len(steps) > 2 else min(first, last)
    if last >= first and last > 1.25 * inner:
        return [int(k) for k in order[:-1]]
    if first > last and first > 1.25 * inner:
        return [int(k) for k in order[1:]]
    return [int(k) for k in order]


def _filled_fraction(mask: npt.NDArray[np.bool_]) -> float:
    """``mask.mean()``, counted rather than summed in floats for a bool mask."""
    if mask.dtype == np.bool_:
        return np.count_nonzero(mask) / mask.size
    return float(mask.mean())


def _on_border(contour: npt.NDArray[np.int32], rows: int, cols: int) -> npt.NDArray[np.bool_]:
    """Which (x, y) contour points lie on the frame border."""
    x, y = contour[:, 0], contour[:, 1]
    return np.asarray((x <= 1) | (y <= 1) | (x >= cols - 2) | (y >= rows - 2))


def one_valley_geometry(mask: npt.NDArray[np.bool_], span: float) -> list[PalmGeometry]:
    """Valley pairs of a pegged palm that shows only one open finger gap.

    A pegged device holds every hand at one distance and along one axis, so
    when one of the two outer finger gaps is closed (fingers pressed together,
    a ring or a peg filling the gap) the open gap, the device's valley spacing
    ``span`` and the device's axis still place the valley line: the fingers
    point to the frame edge the open gap faces, the valley line runs across
    them, and the missing valley lies ``span`` away on the side of the palm
    centre. When a lighter outline smoothing (``NARROW_GAP_SMOOTHING``) shows a
    gap opening towards the fingers within ``NARROW_GAP_REACH`` spacings of
    that spot, the other gap was only narrow (fingers held close) and its
    valley is taken as measured, so the valley line follows a hand turned on
    the plate instead of the device's axis. Every candidate that gives a plausible pair (the tests of
    :func:`finger_valleys`) is returned, deepest first.

    Parameters
    ----------
    mask : (M, N) bool ndarray
        Hand silhouette from :func:`biometric.segmentation.segment_hand`.
    span : float
        The device's spacing of the index-middle and ring-little valleys, in
        ``mask`` pixels.

    Returns
    -------
    list of PalmGeometry
        Empty when the frame is not a pegged palm or no open gap fits; the
        inferred (or narrow-gap) valley is the second of each ``valleys``.
    """
    found = _valley_candidates(mask)
    if not found.contact or not len(found.points):
        return []
    out: list[PalmGeometry] = []
    # The other gap may only be narrow: the outline smoothing of a pegged palm
    # fills a gap narrower than about its width, a lighter one keeps it.
    narrow = _valley_candidates(mask, smoothing=NARROW_GAP_SMOOTHING, of=found)
    for k in np.argsort(-found.depths):
        valley, opening = found.points[k], found.openings[k]
        # The device's axis: the frame direction nearest to where the gap opens.
        fingers = np.zeros(2)
        axis = int(np.argmax(np.abs(opening)))
        fingers[axis] = np.sign(opening[axis])
        along = np.array([-fingers[1], fingers[0]])
        if float((found.center - valley) @ along) < 0:
            along = -along
        other = valley + span * along
        choices = [(other, fingers)]
        if len(narrow.points):
            # A gap seen on the lighter outline near the assumed spot, opening
            # towards the fingers and about the device's spacing from the open
            # one (not the neighbouring middle valley), is measured rather than
            # assumed; the assumed spot stays the next choice.
            offset = np.linalg.norm(narrow.points - other, axis=1)
            spacing = np.linalg.norm(narrow.points - valley, axis=1)
            near = (
                (offset < NARROW_GAP_REACH * span)
                & (np.abs(spacing - span) < NARROW_GAP_REACH * span)
                & (narrow.openings @ fingers > 0.5)
            )
            if near.any():
                j = int(np.argmin(np.where(near, offset, np.inf)))
                choices.insert(0, (narrow.points[j], narrow.openings[j]))
        for second, second_opening in choices:
            pair = np.array([valley, second])
            ranked = _rank_valleys(
                pair,
                np.full(2, found.depths[k]),
                np.array([opening, second_opening]),
                found.center,
                found.radius,
                contact=True,
            )
            if ranked:
                out.append(
                    PalmGeometry(
                        valleys=pair,
                        palm_center=found.center,
                        palm_radius=found.radius,
                        contact=True,
                        candidates=found.points,
                    )
                )
    return out
