"""Vein and line features: orientation codes from a Gabor bank.

:func:`binary_orientation_code` (BOCV) is the template's code; :func:`competitive_code` was until
``compcode-2s6o-c4-v3`` (docs/RECOGNITION.md).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

#: Orientations of the filter bank (0, 30, ..., 150 degrees).
N_ORIENTATIONS = 6
#: Side of one code cell in ROI pixels: a 128 px ROI gives a 32 x 32 code.
CELL = 4
#: Gabor wavelengths (ROI pixels) of the filter scales: palm creases and veins
#: are a few pixels to a dozen pixels wide at 128 px.
WAVELENGTHS = (18.0, 30.0)
#: Factor by which the ROI is reduced before filtering with long wavelengths.
FILTER_DOWNSAMPLE = 2

# Bit-plane coding of the orientation index: the Hamming distance between two
# codes equals the angular distance min(|i - j|, 6 - |i - j|) of the indices
# (Kong & Zhang 2004).
_GRAY3 = np.array([0b000, 0b001, 0b011, 0b111, 0b110, 0b100], dtype=np.uint8)


@lru_cache(maxsize=16)
def gabor_bank(
    wavelength: float, n_orientations: int = N_ORIENTATIONS
) -> tuple[npt.NDArray[np.float32], ...]:
    """Real (even) zero-mean Gabor kernels tuned to dark lines.

    Parameters
    ----------
    wavelength : float
        Wavelength of the cosine carrier in pixels; the envelope's sigma is
        0.56 wavelength (one octave bandwidth).
    n_orientations : int
        Number of orientations evenly spread over 180 degrees.

    References
    ----------
    .. [1] J. G. Daugman, "Uncertainty relation for resolution in space,
       spatial frequency, and orientation optimized by two-dimensional
       visual cortical filters", JOSA A 2(7), 1985.
    """
    sigma = 0.56 * wavelength
    half = int(np.ceil(2.5 * sigma))
    kernels = []
    for k in range(n_orientations):
        theta = np.pi * k / n_orientations
        kern = np.asarray(
            cv2.getGaborKernel(
                (2 * half + 1, 2 * half + 1),
                sigma,
                theta,
                wavelength,
                1.0,
                0.0,
                ktype=cv2.CV_32F,
            ),
            dtype=np.float32,
        )
        kern = kern - kern.mean()  # zero DC: flat illumination gives no response
        kernels.append((kern / np.abs(kern).sum()).astype(np.float32))
    return tuple(kernels)


def gabor_responses(
    enhanced: npt.NDArray[np.float32], wavelength: float, cell: int = CELL
) -> npt.NDArray[np.float32]:
    """Gabor responses pooled over ``cell`` x ``cell`` blocks.

    Long wavelengths are filtered on an image reduced by ``FILTER_DOWNSAMPLE``
    (repeatedly, while the wavelength stays at least 4 pixels per reduction
    and the cell divides): they lose nothing there, at a fraction of the cost.

    Returns
    -------
    (n_orientations, M // cell, N // cell) float32 ndarray

    References
    ----------
    .. [1] A. W.-K. Kong, D. Zhang, "Competitive coding scheme for palmprint
       verification", ICPR 2004.
    """
    return _bank_responses(*_reduced(enhanced, wavelength, cell, [enhanced]))


def _reduced(
    enhanced: npt.NDArray[np.float32],
    wavelength: float,
    cell: int,
    pyramid: list[npt.NDArray[np.float32]],
) -> tuple[npt.NDArray[np.float32], float, int]:
    """The image, wavelength and cell at which ``wavelength`` is filtered.

    ``pyramid[k]`` is ``enhanced`` reduced ``k`` times (``pyramid[0] is
    enhanced``); missing levels are appended, so scales sharing a level
    reduce the image once.
    """
    level = 0
    f = FILTER_DOWNSAMPLE
    while wavelength >= 4.0 * f and cell % f == 0:
        if len(pyramid) == level + 1:
            rows, cols = pyramid[level].shape
            pyramid.append(
                np.asarray(
                    cv2.resize(
                        pyramid[level], (cols // f, rows // f), interpolation=cv2.INTER_AREA
                    ),
                    dtype=np.float32,
                )
            )
        level += 1
        wavelength /= f
        cell //= f
    return pyramid[level], wavelength, cell


def _bank_responses(
    image: npt.NDArray[np.float32], wavelength: float, cell: int
) -> npt.NDArray[np.float32]:
    """The filter bank of ``wavelength`` on ``image``, pooled over ``cell`` blocks."""
    rows, cols = image.shape
    out = np.empty((N_ORIENTATIONS, rows // cell, cols // cell), dtype=np.float32)
    for k, kern in enumerate(gabor_bank(wavelength)):
        resp = cv2.filter2D(image, cv2.CV_32F, kern, borderType=cv2.BORDER_REFLECT)
        if cell == 1:
            out[k] = resp  # pooling over 1 x 1 cells is a copy
        else:
            out[k] = cv2.resize(resp, (cols // cell, rows // cell), interpolation=cv2.INTER_AREA)
    return out


def competitive_code(
    enhanced: npt.NDArray[np.float32],
    wavelengths: tuple[float, ...] = WAVELENGTHS,
    cell: int = CELL,
) -> npt.NDArray[np.bool_]:
    """Competitive code: the orientation of the strongest dark line per cell.

    At each cell the filter with the most negative response wins (veins
    and creases absorb NIR light, so they are darker than skin), and its
    index is stored as three bits whose Hamming distance is the angular
    distance between orientations.

    Parameters
    ----------
    enhanced : (M, N) float32 ndarray
        Output of :func:`biometric.enhance.normalize_illumination`.
    wavelengths : tuple of float
        One code is made per filter scale.
    cell : int
        Cell side in pixels.

    Returns
    -------
    planes : (3 * len(wavelengths), M // cell, N // cell) bool ndarray
        Bit planes of the code.

    References
    ----------
    .. [1] A. W.-K. Kong, D. Zhang, "Competitive coding scheme for palmprint
       verification", ICPR 2004.
    .. [2] Z. Guo, D. Zhang, L. Zhang, W. Zuo, "Palmprint verification using
       binary orientation co-occurrence vector", Pattern Recognition Letters
       30(13), 2009 (multiple scales).
    """
    planes: list[npt.NDArray[np.bool_]] = []
    pyramid = [enhanced]  # reductions shared by the scales
    for wl in wavelengths:
        winner = np.argmin(_bank_responses(*_reduced(enhanced, wl, cell, pyramid)), axis=0)
        bits = _GRAY3[winner]
        planes.extend(((bits >> b) & 1).astype(bool) for b in range(3))
    return np.stack(planes)


def binary_orientation_code(
    enhanced: npt.NDArray[np.float32],
    wavelengths: tuple[float, ...] = WAVELENGTHS,
    cell: int = CELL,
) -> npt.NDArray[np.bool_]:
    """Binary orientation co-occurrence vector: one bit per filter, set where it sees a dark line.

    Each filter of the bank (every orientation at every scale) gives one bit
    per cell: whether its cell-pooled response is negative (a line darker
    than its surround along that orientation; veins and creases absorb NIR
    light). The competitive code keeps only the winning orientation, so a
    cell whose strongest line changes between captures (a crease that
    deepens, skin that dries) changes its code wholly; here the other
    orientations' bits stay, and the Hamming distance of the bits counts
    how many filters disagree.

    Parameters
    ----------
    enhanced : (M, N) float32 ndarray
        Output of :func:`biometric.enhance.normalize_illumination`.
    wavelengths : tuple of float
        Filter scales.
    cell : int
        Cell side in pixels.

    Returns
    -------
    planes : (N_ORIENTATIONS * len(wavelengths), M // cell, N // cell) bool ndarray
        Bit ``s * N_ORIENTATIONS + k`` is filter ``k`` (orientation ``k * 180 / N_ORIENTATIONS``
        degrees) of scale ``s``.

    References
    ----------
    .. [1] Z. Guo, D. Zhang, L. Zhang, W. Zuo, "Palmprint verification using
       binary orientation co-occurrence vector", Pattern Recognition Letters
       30(13), 2009.
    """
    planes: list[npt.NDArray[np.bool_]] = []
    pyramid = [enhanced]  # reductions shared by the scales
    for wl in wavelengths:
        responses = _bank_responses(*_reduced(enhanced, wl, cell, pyramid))
        planes.extend(responses < 0)
    return np.stack(planes)
