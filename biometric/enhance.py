"""Illumination normalisation of the palm ROI."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt


def normalize_illumination(
    roi: npt.NDArray[np.uint8], sigma: float = 8.0
) -> npt.NDArray[np.float32]:
    """Remove slow illumination changes and equalise local contrast.

    Each pixel has the local mean subtracted and is divided by the local
    standard deviation, both from Gaussian windows of width ``sigma``.
    Unlike CLAHE this does not clip or remap the histogram, so it does not
    amplify sensor noise into false line structure (measured: CLAHE raised
    the error rates of orientation codes on NIR palms).

    Parameters
    ----------
    roi : (M, N) uint8 ndarray
        Palm ROI.
    sigma : float
        Gaussian window (pixels) for the local statistics.

    Returns
    -------
    (M, N) float32 ndarray
        Zero-mean, unit-local-variance image.

    References
    ----------
    .. [1] W. Kong, D. Zhang, W. Li, "Palmprint feature extraction using 2-D
       Gabor filters", Pattern Recognition 36(10), 2003 (ROI normalisation).
    """
    x = roi.astype(np.float32)
    mean = cv2.GaussianBlur(x, (0, 0), sigma)
    centred = x - mean
    var = cv2.GaussianBlur(centred * centred, (0, 0), sigma)
    return np.asarray(centred / np.sqrt(var + 4.0), dtype=np.float32)
