"""Sample quality: is this frame worth turning into a template?"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from biometric._validate import as_gray_u8
from biometric.enhance import local_deviation
from biometric.errors import BiometricError
from biometric.roi import palm_roi

#: Score below which a sample should be recaptured.
ACCEPT_SCORE = 40.0

# Limits on the palm region's grey levels (8-bit NIR frames). Saturated pixels
# are left out of the template's mask (pipeline), so a palm partly clipped by a
# bright LED still matches on the rest: simulated frames refused at the earlier
# limits (mean 230, 5 % saturated) scored 0.60-0.80 against their own palm with
# up to a third of the ROI clipped, 0.54-0.64 above a half.
_MEAN_LOW, _MEAN_HIGH = 30.0, 245.0
_SATURATED = 250
_MAX_SATURATED_FRACTION = 0.35
_MIN_CONTRAST = 1.2
# Mean absolute Laplacian of the ROI per grey level of its local contrast:
# sharp pegged NIR palms (PolyU) measure 0.6-1.0, the same blurred with a
# Gaussian of sigma 2 px about 0.4.
_MIN_SHARPNESS = 0.25
#: Gaussian window (pixels) of the local mean behind the contrast measure; the
#: same as the illumination normalisation's, so the pipeline shares the work.
CONTRAST_SIGMA = 8.0


@dataclass(frozen=True)
class QualityReport:
    """Result of a quality assessment.

    Attributes
    ----------
    score : float
        0 (unusable) to 100 (excellent).
    reasons : tuple of str
        Codes for each problem found, e.g. ``"underexposed"``, ``"blurred"``,
        ``"no_hand"``, ``"palm_cut_off"``; empty when the sample is good.
    metrics : dict
        The measured values behind the score.
    """

    score: float
    reasons: tuple[str, ...]
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def acceptable(self) -> bool:
        """Whether the sample is good enough to enrol or match."""
        return self.score >= ACCEPT_SCORE and not self.reasons


def _ramp(value: float, bad: float, good: float) -> float:
    """0 at ``bad``, 1 at ``good``, linear between (either direction)."""
    if good == bad:
        return 1.0
    return float(np.clip((value - bad) / (good - bad), 0.0, 1.0))


def region_quality(
    roi: npt.NDArray[np.uint8], valid: npt.NDArray[np.bool_] | None = None
) -> QualityReport:
    """Exposure, contrast and focus of a palm region.

    Parameters
    ----------
    roi : (M, N) uint8 ndarray
        Palm region (normalised ROI or any crop of the palm).
    valid : (M, N) bool ndarray, optional
        Pixels that belong to the palm.

    Returns
    -------
    QualityReport

    References
    ----------
    .. [1] ISO/IEC 29794-1:2016, Biometric sample quality - Framework.
    .. [2] J. L. Pech-Pacheco et al., "Diatom autofocusing in brightfield
       microscopy: a comparative study", ICPR 2000 (Laplacian focus measure).
    """
    if (roi[valid] if valid is not None else roi).size == 0:
        return QualityReport(0.0, ("no_hand",), {})
    return _region_quality(roi, valid, local_deviation(roi, CONTRAST_SIGMA))


def _region_quality(
    roi: npt.NDArray[np.uint8],
    valid: npt.NDArray[np.bool_] | None,
    local: npt.NDArray[np.float32],
) -> QualityReport:
    """:func:`region_quality` given ``local = local_deviation(roi, CONTRAST_SIGMA)``.

    The pipeline computes ``local`` once for this and for the illumination
    normalisation.
    """
    pixels = roi[valid] if valid is not None else roi.ravel()
    if pixels.size == 0:
        return QualityReport(0.0, ("no_hand",), {})
    mean = float(pixels.mean())
    saturated = float((pixels >= _SATURATED).mean())
    smooth = cv2.GaussianBlur(roi.astype(np.float32), (0, 0), 1.0)
    lap = np.abs(cv2.Laplacian(smooth, cv2.CV_32F, ksize=3))
    sel = valid if valid is not None else np.ones(roi.shape, dtype=bool)
    contrast = float(local[sel].std())
    sharpness = float(lap[sel].mean()) / max(contrast, 1e-3)
    reasons = []
    if mean < _MEAN_LOW:
        reasons.append("underexposed")
    if mean > _MEAN_HIGH or saturated > _MAX_SATURATED_FRACTION:
        reasons.append("overexposed")
    if contrast < _MIN_CONTRAST:
        reasons.append("low_contrast")
    if sharpness < _MIN_SHARPNESS:
        reasons.append("blurred")
    score = 100.0 * (
        min(_ramp(mean, 15.0, 60.0), _ramp(mean, 252.0, 200.0))
        * _ramp(saturated, 0.6, 0.1)
        * _ramp(contrast, 0.8, 3.0)
        * _ramp(sharpness, 0.15, 0.5)
    )
    return QualityReport(
        round(score, 1),
        tuple(reasons),
        {"mean": mean, "saturated": saturated, "contrast": contrast, "sharpness": sharpness},
    )


def assess(image: npt.NDArray[np.uint8]) -> QualityReport:
    """Quality of a full NIR frame as a palm-vein sample, 0-100 with reasons.

    Checks, in order: the array is a usable grey image; a hand is present;
    the palm region can be located and lies wholly in the frame; exposure,
    contrast and focus of that palm region.

    Parameters
    ----------
    image : (M, N) uint8 ndarray

    Returns
    -------
    QualityReport
        Never raises for bad image content; a wrong array type gives score
        0 with reason ``wrong_dtype``/``wrong_shape``/... .
    """
    try:
        image = as_gray_u8(image)
        roi = palm_roi(image)
    except BiometricError as exc:
        return QualityReport(0.0, exc.reasons or ("unusable",), {})
    report = region_quality(roi.image, roi.valid)
    metrics = dict(report.metrics)
    metrics.update({"roi_side": roi.side, "roi_angle": roi.angle})
    return QualityReport(report.score, report.reasons, metrics)
