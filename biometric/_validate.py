"""Input checks shared by every stage: the first line of defence against bad frames."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from biometric.errors import QualityError

MIN_SIDE = 64
MAX_SIDE = 4096


def as_gray_u8(image: object) -> npt.NDArray[np.uint8]:
    """Return ``image`` as a 2-D uint8 array, or raise :class:`QualityError`.

    Accepts (M, N) uint8 and (M, N, 1) uint8; refuses everything else with a
    reason rather than guessing a conversion that would hide a driver bug.
    """
    if not isinstance(image, np.ndarray):
        raise QualityError(f"expected a NumPy array, got {type(image).__name__}", ("not_an_array",))
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim != 2:
        raise QualityError(
            f"expected a 2-D grey image (M, N), got shape {image.shape}", ("wrong_shape",)
        )
    if image.dtype != np.uint8:
        raise QualityError(f"expected uint8 pixels, got {image.dtype}", ("wrong_dtype",))
    rows, cols = image.shape
    if rows == 0 or cols == 0:
        raise QualityError("the image is empty", ("empty",))
    if min(rows, cols) < MIN_SIDE:
        raise QualityError(
            f"image {rows}x{cols} is too small (min side {MIN_SIDE} px)", ("too_small",)
        )
    if max(rows, cols) > MAX_SIDE:
        raise QualityError(
            f"image {rows}x{cols} is too large (max side {MAX_SIDE} px)", ("too_large",)
        )
    return image


def mask_u8(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    """``mask.astype(np.uint8)`` for OpenCV, without the copy for a bool mask.

    Only for reading: a bool mask is returned as a uint8 view of its memory.
    """
    if mask.dtype == np.bool_ and mask.flags.c_contiguous and mask.flags.writeable:
        return mask.view(np.uint8)
    return mask.astype(np.uint8)
