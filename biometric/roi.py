"""Rotation- and scale-normalised palm region of interest."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import numpy.typing as npt

from biometric._validate import as_gray_u8, mask_u8
from biometric.errors import BiometricError, RoiError
from biometric.keypoints import PalmGeometry, finger_valleys, one_valley_geometry
from biometric.segmentation import segment_hand, working_scale

#: Side of the normalised ROI in pixels.
ROI_SIZE = 128
#: ROI side and its gap below the valley line, in units of the palm scale.
SIDE_FACTOR = 1.3
GAP_FACTOR = 0.15
#: A pegged contact device holds the palm at a fixed distance from its camera,
#: so its pixel scale belongs to the device, not to the capture: the palm scale
#: is this fraction of the frame's shorter side. It is steadier than the valley
#: spacing, whose end points move with how far each finger gap reaches past its
#: peg (PolyU NIR, 100 palms, cross-session: EER 0.82 -> 0.68 %, FNMR at FMR
#: 1e-4 2.9 -> 1.3 % with the side fixed instead of measured).
CONTACT_FRAME_FRACTION = 0.41
#: The valley spacing still checks the valleys (an ROI of that scale must lie
#: on the hand) and gives the scale when the device scale would reach past a
#: small palm (the border cuts a pegged palm, so its inscribed circle is
#: unreliable); this ratio puts both measures on one scale.
SPAN_TO_RADIUS = 1.25
MIN_COVERAGE = 0.97
#: A pegged palm's outer valleys are the device's valley spacing apart (PolyU
#: NIR, 6000 frames: 109-209 px, median 154, for 148 expected); a pair less
#: than this fraction of it is two neighbouring valleys (index-middle and
#: middle-ring, the other outer gap being closed), not the outer pair.
MIN_CONTACT_SPAN = 0.6
#: A second-choice valley pair (pegged palms, see :func:`palm_roi`) gets no
#: benefit of the doubt: its ROI must lie wholly on the hand. A pegged first
#: choice below it is only the last resort after the fallbacks.
FALLBACK_COVERAGE = 0.999


@dataclass(frozen=True)
class PalmRoi:
    """A normalised palm ROI and where it came from.

    Attributes
    ----------
    image : (ROI_SIZE, ROI_SIZE) uint8 ndarray
        The palm region, fingers towards row 0.
    valid : (ROI_SIZE, ROI_SIZE) bool ndarray
        Pixels that fall on the hand (inside the frame and the silhouette).
    center : (2,) float ndarray
        ROI centre in the input frame, (row, col).
    angle : float
        Direction of the fingers in degrees: 0 when they point to row 0,
        positive when turned towards increasing columns.
    side : float
        ROI side in input-frame pixels.
    valleys : (K, 2) float ndarray
        Valleys used, (row, col) in the input frame.
    """

    image: npt.NDArray[np.uint8]
    valid: npt.NDArray[np.bool_]
    center: npt.NDArray[np.float64]
    angle: float
    side: float
    valleys: npt.NDArray[np.float64]


def is_cropped_palm(image: npt.NDArray[np.uint8]) -> bool:
    """Whether ``image`` already is a palm ROI (no background, nearly square)."""
    rows, cols = image.shape
    if max(rows, cols) > 1.3 * min(rows, cols) or min(rows, cols) > 320:
        return False
    small = cv2.resize(image, (64, 64), interpolation=cv2.INTER_AREA)
    dark = small < 0.45 * float(np.median(small))
    return float(dark.mean()) < 0.02


def palm_roi(image: npt.NDArray[np.uint8], size: int = ROI_SIZE) -> PalmRoi:
    """Cut the palm ROI out of a hand frame, normalised for rotation and scale.

    The valley line (through the index-middle and ring-little valleys) fixes
    rotation; the palm scale is the radius of the circle inscribed in the
    hand (whole-hand frames) or the device's fixed scale (pegged palms, with
    the valley spacing as a check and a fallback); the ROI
    is a square of ``SIDE_FACTOR`` times that scale, ``GAP_FACTOR`` below the
    valley line, resampled to ``size`` x ``size`` with anti-aliasing.

    Pegged palms, which the device holds at one distance and along one axis,
    have fallbacks before a refusal, each of whose ROI must lie wholly on the
    hand (``FALLBACK_COVERAGE``): the next plausible valley choice when the
    first puts the ROI off the hand; a second segmentation with a lower
    threshold; and, when one outer finger gap is closed, the valley line
    placed from the open gap, the device's valley spacing and axis
    (:func:`biometric.keypoints.one_valley_geometry`). A pegged palm's first
    choice whose ROI lies partly off the hand (less than ``FALLBACK_COVERAGE``)
    goes through the same fallbacks and is kept only when none of them gives
    an ROI wholly on the hand. Whole hands get none of these: a wrong or
    cut-off one is refused, one partly off the hand is kept.

    Parameters
    ----------
    image : (M, N) uint8 ndarray
        NIR frame: a whole hand on a dark background, or a pegged palm
        with finger gaps at one edge. An image that already is a palm ROI
        is resized as it is.
    size : int
        Output side in pixels.

    Returns
    -------
    PalmRoi

    Raises
    ------
    QualityError
        From segmentation, when no hand is visible.
    RoiError
        When the valleys are implausible or the ROI would leave the hand
        or the frame (palm cut off at the edge).

    References
    ----------
    .. [1] D. Zhang, W.-K. Kong, J. You, M. Wong, "Online palmprint
       identification", IEEE TPAMI 25(9), 2003 (valley-line coordinate system).
    .. [2] A. Kumar, "Toward more accurate matching of contactless palmprint
       images under less constrained environments", IEEE TIFS 14(1), 2019
       (scale normalisation for contactless palms).
    """
    image = as_gray_u8(image)
    if is_cropped_palm(image):
        return _whole_image_roi(image, size)
    failure: RoiError | None = None
    unpaired: list[npt.NDArray[np.bool_]] = []
    cut_off = False
    # A pegged palm's first choice that lies partly off the hand: kept only if
    # no fallback gives an ROI wholly on it.
    last_resort: PalmRoi | None = None
    # Fingers lit much less than the palm (pegged devices) fall below the first
    # threshold and take their valleys with them: a second look with a lower one
    # (4 grey-level classes) comes before asking for a recapture.
    for classes in (3, 4):
        # After a first choice off the hand, or partly off a pegged palm, every
        # further ROI must lie wholly on the hand.
        strict = cut_off or last_resort is not None
        try:
            mask = segment_hand(image, classes=classes)
        except BiometricError:
            if failure is None and last_resort is None:
                raise
            break
        try:
            geometry = finger_valleys(mask)
        except RoiError as exc:
            if failure is None:
                if last_resort is None and not set(exc.reasons) & {
                    "no_valleys",
                    "implausible_valleys",
                }:
                    raise
                failure = exc
            unpaired.append(mask)
            continue
        if strict and not geometry.contact:
            # A whole hand cut by the frame edge stays refused: a second look
            # after a cut-off ROI only helps a pegged palm (the first threshold
            # lost the dim device edge or finger stubs along the border).
            break
        try:
            roi = roi_from_geometry(image, mask, geometry, size)
            if float(roi.valid.mean()) >= FALLBACK_COVERAGE or not (strict or geometry.contact):
                return roi
            if not strict:
                # A pegged palm's ROI partly off the hand is most often a wrong
                # valley pair that still passed the checks: the fallbacks below
                # come first, this ROI is the last resort.
                last_resort = roi
        except RoiError as exc:
            # The ROI stage got further than a valley search: its reason is the one to tell.
            if failure is None or "palm_cut_off" not in failure.reasons:
                failure = exc
            cut_off = True
            if not geometry.contact:
                continue
        # A pegged device holds the palm in place, so an ROI off the hand means
        # the wrong valleys were chosen (typically the thumb notch on the palm's
        # side edge instead of a finger gap): the next plausible choice whose
        # ROI lies wholly on the hand is taken.
        for valleys in geometry.alternatives:
            second = _fallback_roi(image, mask, replace(geometry, valleys=valleys), size)
            if second is not None:
                return second
        unpaired.append(mask)
    # A pegged palm with one finger gap closed: the open gap, the device's
    # valley spacing and the device's axis place the valley line.
    span = _device_span(image.shape) * working_scale(image.shape)
    for mask in unpaired:
        for geometry in one_valley_geometry(mask, span):
            inferred = _fallback_roi(image, mask, geometry, size)
            if inferred is not None:
                return inferred
    if last_resort is not None:
        return last_resort
    assert failure is not None
    raise failure


def _device_span(shape: tuple[int, ...]) -> float:
    """Spacing of a pegged palm's outer valleys in frame pixels (the device's scale)."""
    return SPAN_TO_RADIUS * CONTACT_FRAME_FRACTION * min(shape[0], shape[1])


def _fallback_roi(
    image: npt.NDArray[np.uint8],
    mask: npt.NDArray[np.bool_],
    geometry: PalmGeometry,
    size: int,
) -> PalmRoi | None:
    """The ROI of a fallback valley choice, if it lies wholly on the hand."""
    try:
        roi = roi_from_geometry(image, mask, geometry, size)
    except RoiError:
        return None
    return roi if float(roi.valid.mean()) >= FALLBACK_COVERAGE else None


def roi_from_geometry(
    image: npt.NDArray[np.uint8],
    mask: npt.NDArray[np.bool_],
    geometry: PalmGeometry,
    size: int = ROI_SIZE,
) -> PalmRoi:
    """Sample the ROI given the silhouette ``mask`` and its key points."""
    k = 1.0 / working_scale(image.shape)
    valleys = geometry.valleys * k
    center_palm = geometry.palm_center * k
    p, q = valleys[0], valleys[-1]
    span = float(np.linalg.norm(q - p))
    u = (q - p) / span
    normal = np.array([-u[1], u[0]])
    if float((center_palm - p) @ normal) < 0:
        normal = -normal
    if geometry.contact and span < MIN_CONTACT_SPAN * _device_span(image.shape):
        raise RoiError(
            "the finger valleys are too close together for this device", ("implausible_valleys",)
        )
    rows, cols = mask.shape
    r, c = geometry.palm_center
    if not geometry.contact and min(r, c, rows - 1 - r, cols - 1 - c) <= geometry.palm_radius + 1:
        # The frame edge clips the palm's inscribed circle, so the palm's size
        # (and with it the ROI) cannot be measured.
        raise RoiError(
            "the palm is cut off by the edge of the image; centre the hand in the scanner",
            ("palm_cut_off",),
        )
    middle = (p + q) / 2.0
    measured = _sample(
        image,
        mask,
        k,
        middle,
        normal,
        span / SPAN_TO_RADIUS if geometry.contact else geometry.palm_radius * k,
        size,
    )
    if float(measured.valid.mean()) < MIN_COVERAGE:
        # Mislocated valleys put the ROI off the hand: refuse rather than guess.
        raise RoiError(
            f"the palm region is {1 - float(measured.valid.mean()):.0%} outside the hand or the"
            " frame; place the whole palm inside the scanner's view",
            ("palm_cut_off",),
        )
    roi = measured
    if geometry.contact:
        fixed = _sample(
            image, mask, k, middle, normal, CONTACT_FRAME_FRACTION * min(image.shape), size
        )
        if float(fixed.valid.mean()) >= MIN_COVERAGE:
            roi = fixed
    return PalmRoi(roi.image, roi.valid, roi.center, roi.angle, roi.side, valleys)


def _sample(
    image: npt.NDArray[np.uint8],
    mask: npt.NDArray[np.bool_],
    k: float,
    middle: npt.NDArray[np.float64],
    normal: npt.NDArray[np.float64],
    scale: float,
    size: int,
) -> PalmRoi:
    """The ROI square of ``scale`` below the valley line through ``middle``."""
    side = SIDE_FACTOR * scale
    center = middle + normal * (GAP_FACTOR * scale + side / 2.0)
    row_axis = normal
    col_axis = np.array([-normal[1], normal[0]])
    fingers = -normal
    angle = float(np.degrees(np.arctan2(fingers[1], -fingers[0])))

    step = side / size
    half = (size - 1) / 2.0
    # Affine map from ROI (col, row) to image (x=col, y=row) for WARP_INVERSE_MAP.
    origin = center - half * step * (row_axis + col_axis)
    matrix = np.array(
        [
            [step * col_axis[1], step * row_axis[1], origin[1]],
            [step * col_axis[0], step * row_axis[0], origin[0]],
        ],
        dtype=np.float64,
    )
    source: npt.NDArray[np.uint8] = image
    if step > 1.5:
        source = np.asarray(cv2.GaussianBlur(image, (0, 0), 0.45 * step), dtype=np.uint8)
    roi = np.asarray(
        cv2.warpAffine(
            source,
            matrix,
            (size, size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        ),
        dtype=np.uint8,
    )
    mask_matrix = matrix.copy()
    mask_matrix[:, :2] /= k
    mask_matrix[:, 2] /= k
    # Pixels outside the frame count as off-hand: a palm cut by the border fails here.
    valid = cv2.warpAffine(
        mask_u8(mask),
        mask_matrix,
        (size, size),
        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
        borderValue=0,
    ).astype(bool)
    return PalmRoi(
        image=roi, valid=valid, center=center, angle=angle, side=side, valleys=np.zeros((0, 2))
    )


def _whole_image_roi(image: npt.NDArray[np.uint8], size: int) -> PalmRoi:
    rows, cols = image.shape
    side = min(rows, cols)
    top, left = (rows - side) // 2, (cols - side) // 2
    crop = image[top : top + side, left : left + side]
    roi = np.asarray(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA), np.uint8)
    return PalmRoi(
        image=roi,
        valid=np.ones((size, size), dtype=bool),
        center=np.array([top + (side - 1) / 2.0, left + (side - 1) / 2.0]),
        angle=0.0,
        side=float(side),
        valleys=np.zeros((0, 2)),
    )
