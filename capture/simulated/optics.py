"""Image formation of the simulated NIR camera: LED illumination, blur, sensor noise, quantisation.

Illumination follows the usual near-field LED model: irradiance falls off with the distance from
the LED axis (an inverse-square / cos^4 vignetting law, ``(1 + (r/r0)^2)^-2``) and is tilted by a
linear gradient when the hand is not perpendicular to the axis. Noise is the standard CMOS model
(EMVA 1288): photon shot noise with variance proportional to the signal (Gaussian approximation of
Poisson) plus signal-independent read noise, then 8-bit quantisation with clipping.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]


def led_field(
    shape: tuple[int, int],
    centre_rc: tuple[float, float],
    falloff_radius: float,
    gradient_rc: tuple[float, float],
) -> F32:
    """Relative irradiance (1 at the LED axis) over the frame.

    Parameters
    ----------
    shape : tuple of int
        Frame (rows, cols).
    centre_rc : tuple of float
        Where the LED axis meets the hand plane, (row, col).
    falloff_radius : float
        ``r0`` of the ``(1 + (r/r0)^2)^-2`` law, pixels.
    gradient_rc : tuple of float
        Relative change of irradiance per pixel along rows and columns.
    """
    rows = np.arange(shape[0], dtype=np.float32)[:, None] - np.float32(centre_rc[0])
    cols = np.arange(shape[1], dtype=np.float32)[None, :] - np.float32(centre_rc[1])
    r2 = (rows * rows + cols * cols) / np.float32(falloff_radius**2)
    field = 1.0 / (1.0 + r2) ** 2
    field *= 1.0 + np.float32(gradient_rc[0]) * rows + np.float32(gradient_rc[1]) * cols
    return np.clip(field, 0.0, None).astype(np.float32)


def blur(image: F32, sigma: float, motion_px: float, motion_angle_deg: float) -> F32:
    """Defocus (Gaussian, ``sigma`` px) and linear motion blur (``motion_px`` long)."""
    out = image
    if sigma > 0.05:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), sigma), dtype=np.float32)
    if motion_px >= 1.0:
        n = int(np.ceil(motion_px)) | 1
        kernel = np.zeros((n, n), np.float32)
        c = n // 2
        a = np.deg2rad(motion_angle_deg)
        dx, dy = np.cos(a) * motion_px / 2, np.sin(a) * motion_px / 2
        cv2.line(
            kernel,
            (round((c - dx) * 16), round((c - dy) * 16)),
            (round((c + dx) * 16), round((c + dy) * 16)),
            1.0,
            1,
            cv2.LINE_AA,
            4,
        )
        kernel /= kernel.sum()
        out = np.asarray(cv2.filter2D(out, -1, kernel), dtype=np.float32)
    return out


def sensor_readout(
    signal: F32, rng: np.random.Generator, electrons_per_level: float, read_noise: float
) -> U8:
    """Shot and read noise, then round and clip to 8 bits.

    Parameters
    ----------
    signal : ndarray of float32
        Expected grey level per pixel (may exceed 255: it clips).
    electrons_per_level : float
        Conversion gain inverse: photo-electrons per grey level (lower = higher analogue gain =
        noisier).
    read_noise : float
        Standard deviation of the signal-independent noise, grey levels.
    """
    s = np.clip(signal, 0.0, None)
    std = np.sqrt(s / np.float32(electrons_per_level) + np.float32(read_noise**2))
    noisy = s + std * rng.standard_normal(s.shape, dtype=np.float32)
    out: U8 = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    return out
