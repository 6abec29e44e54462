"""image -> template: the stages chained."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from biometric._validate import as_gray_u8
from biometric.enhance import local_deviation, normalize_centred
from biometric.errors import QualityError
from biometric.features import binary_orientation_code
from biometric.quality import CONTRAST_SIGMA, _region_quality
from biometric.roi import PalmRoi, palm_roi
from biometric.template import Template


def template_from_roi(roi: PalmRoi) -> Template:
    """Features of a normalised ROI as a :class:`Template` (quality-gated).

    Raises
    ------
    QualityError
        If the palm region is under/over-exposed, flat or out of focus.
    """
    # The quality's contrast and the illumination normalisation start from the
    # same local deviation (one 65-tap Gaussian of the ROI): computed once.
    local = local_deviation(roi.image, CONTRAST_SIGMA)
    report = _region_quality(roi.image, roi.valid, local)
    if report.reasons:
        raise QualityError(
            "palm image quality too low: " + ", ".join(report.reasons), report.reasons
        )
    enhanced = normalize_centred(local, CONTRAST_SIGMA)
    planes = binary_orientation_code(enhanced)
    rows, cols = planes.shape[1:]
    usable = roi.valid & (roi.image < 250)
    cells = cv2.resize(usable.astype(np.float32), (cols, rows), interpolation=cv2.INTER_AREA)
    mask = cells > 0.99
    return Template.from_bits(planes, mask)


def extract(image: npt.NDArray[np.uint8]) -> Template:
    """Palm-vein template of an NIR frame.

    Stages: input checks, palm ROI (:func:`biometric.roi.palm_roi`), ROI
    quality (:func:`biometric.quality.region_quality`), illumination
    normalisation (:func:`biometric.enhance.normalize_illumination`),
    binary orientation code (:func:`biometric.features.binary_orientation_code`).

    Parameters
    ----------
    image : (M, N) uint8 ndarray
        A whole hand on a dark background (contactless scanner), a pegged
        palm with finger gaps at one edge, or an already-cropped palm ROI.

    Returns
    -------
    Template

    Raises
    ------
    QualityError
        Wrong array type or size, no hand, bad exposure or focus.
    RoiError
        The palm cannot be located reliably (fingers closed, palm cut off).
    """
    image = as_gray_u8(image)
    peak = int(image.max())
    if peak < 30:
        raise QualityError("the frame is black: is the scanner's light on?", ("underexposed",))
    if peak >= 250 and np.count_nonzero(image >= 250) > 0.5 * image.size:
        raise QualityError("the frame is saturated: too much light", ("overexposed",))
    return template_from_roi(palm_roi(image))


__all__ = ["extract", "template_from_roi"]
