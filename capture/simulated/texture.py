"""Rendering of a :class:`~capture.simulated.identity.PalmIdentity` onto a canonical canvas.

The canvas is an upright right hand (fingers towards row 0, thumb towards high columns) sampled at
``px_per_mm``. Pixel ``(row, col)`` of the canvas is palm point ``u = row / px_per_mm + u0``,
``v = col / px_per_mm + v0``. Everything that is fixed per identity is rendered here once:

* ``palm``: NIR reflectance of the palm body (skin albedo, relief, texture) without creases and
  veins; ``creases``: darkening by palm lines and wrinkles (0..0.6); ``veins``: vein absorption
  (optical density, before the per-capture contrast factor);
* ``palm_mask``: the palm body (soft, 0..1) without fingers;
* one :class:`FingerPatch` per finger with its own reflectance and mask, upright, hinged at a pivot,
  so that a capture can spread the fingers by rotating the patches.

Image model: reflectance ``R = palm * (1 - c * creases) * exp(-k * veins)``, where ``c`` is
the per-capture crease depth (stretched skin flattens the creases) and veins are modelled as absorbers
whose optical density falls and whose blur grows with depth (light diffusion in tissue; cf. the
depth-dependent blur in Zharov et al. 2004, "Infrared imaging of subcutaneous veins").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from capture.simulated.identity import Crease, Finger, PalmIdentity, _bezier

F32 = npt.NDArray[np.float32]
FloatArray = npt.NDArray[np.float64]
ToCanvas = Callable[[FloatArray], FloatArray]

_VEIN_DEPTH_BINS = 3


@dataclass(frozen=True)
class FingerPatch:
    """An upright finger texture: the tip near row 0, the pivot at ``pivot`` (x, y) in the patch."""

    finger: Finger
    reflectance: F32
    mask: F32
    pivot: tuple[float, float]


@dataclass(frozen=True)
class IdentityTextures:
    """All per-identity rasters at one pixel pitch (see the module docstring)."""

    identity: PalmIdentity
    px_per_mm: float
    origin_mm: tuple[float, float]
    palm: F32
    creases: F32
    veins: F32
    palm_mask: F32
    palm_mask_soft: F32
    fingers: tuple[FingerPatch, ...]

    @property
    def shape(self) -> tuple[int, int]:
        """Canvas shape (rows, cols)."""
        return (int(self.palm.shape[0]), int(self.palm.shape[1]))

    def to_canvas(self, uv: FloatArray) -> FloatArray:
        """Palm coordinates (K, 2) mm -> canvas cv2 points (K, 2) as (x=col, y=row)."""
        uv = np.asarray(uv, dtype=np.float64)
        return np.stack(
            [
                (uv[..., 1] - self.origin_mm[1]) * self.px_per_mm,
                (uv[..., 0] - self.origin_mm[0]) * self.px_per_mm,
            ],
            axis=-1,
        )


def _f32(image: npt.ArrayLike) -> F32:
    """View of an OpenCV result as float32 (no copy when it already is)."""
    return np.asarray(image, dtype=np.float32)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> F32:
    """Gaussian-filtered white noise scaled to unit standard deviation."""
    # Filter at reduced resolution for large sigmas: same statistics, a fraction of the cost.
    factor = max(1, int(sigma_px // 3))
    small = (max(2, shape[0] // factor + 2), max(2, shape[1] // factor + 2))
    noise = rng.standard_normal(small).astype(np.float32)
    noise = _f32(cv2.GaussianBlur(noise, (0, 0), sigma_px / factor, borderType=cv2.BORDER_REFLECT))
    if factor > 1:
        noise = _f32(
            cv2.resize(noise, (small[1] * factor, small[0] * factor), interpolation=cv2.INTER_CUBIC)
        )
    noise = noise[: shape[0], : shape[1]]
    std = float(noise.std())
    return (noise / (std if std > 0 else 1.0)).astype(np.float32)


def _draw_polyline(
    layer: F32,
    pts_xy: FloatArray,
    value: float,
    thickness_px: float,
    taper: bool = True,
    profile: FloatArray | None = None,
) -> None:
    """Draw a polyline whose darkening tapers to zero at both ends (as creases fade out),
    optionally modulated per segment by ``profile`` (K - 1 factors)."""
    n = len(pts_xy)
    thick = max(1, round(thickness_px))
    shift = 4
    scaled = np.round(pts_xy * (1 << shift)).astype(np.int32)
    for k in range(n - 1):
        t = (k + 0.5) / max(1, n - 1)
        weight = float(np.sin(np.pi * t) ** 0.5) if taper else 1.0
        if profile is not None:
            weight *= float(profile[k])
        p0 = (int(scaled[k, 0]), int(scaled[k, 1]))
        p1 = (int(scaled[k + 1, 0]), int(scaled[k + 1, 1]))
        cv2.line(layer, p0, p1, value * weight, thick, cv2.LINE_8, shift)


def _gauss_bump(
    rows: F32, cols: F32, centre_xy: FloatArray, sigma_px: float, amplitude: float
) -> F32:
    d2 = (cols - np.float32(centre_xy[0])) ** 2 + (rows - np.float32(centre_xy[1])) ** 2
    return (amplitude * np.exp(-d2 / np.float32(2 * sigma_px**2))).astype(np.float32)


def _finger_patch(
    finger: Finger, ppm: float, rng: np.random.Generator, base_reflectance: float
) -> FingerPatch:
    margin = 4
    wpx = finger.width * ppm
    # The patch also reaches below the pivot so the finger root blends into the palm.
    below = 0.35 * finger.width * ppm
    lpx = finger.length * ppm
    h = int(np.ceil(lpx + below)) + 2 * margin
    w = int(np.ceil(1.4 * wpx)) + 2 * margin
    cx = w / 2.0
    pivot_y = margin + lpx
    tip_r = 0.5 * wpx * 0.83
    # Finger outline: the sides flare into the palm near the root, so that adjacent fingers
    # meet in rounded, U-shaped webs; 90 % of the nominal width along the finger, tapering by
    # 10 % towards the rounded tip.
    tau = 3.5 * ppm
    heights = np.linspace(-below, lpx - tip_r, 48)
    half = (
        0.5
        * wpx
        * (
            0.9 * (1.0 - 0.1 * np.clip(heights, 0, None) / lpx)
            + 0.5 * np.exp(-np.clip(heights, 0, None) / tau)
        )
    )
    tip_r = float(half[-1])
    tip_y = pivot_y - heights[-1]
    arc = np.linspace(np.pi, 0.0, 16)
    tip_pts = np.stack([cx + tip_r * np.cos(arc), tip_y - tip_r * np.sin(arc)], axis=1)
    left = np.stack([cx - half, pivot_y - heights], axis=1)
    right = np.stack([cx + half, pivot_y - heights], axis=1)[::-1]
    poly = np.vstack([left, tip_pts, right])
    mask = np.zeros((h, w), np.float32)
    cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 1.0, cv2.LINE_AA, 4)

    refl = np.full((h, w), base_reflectance, np.float32)
    refl *= 1.0 + 0.025 * smooth_noise(rng, (h, w), 3.0 * ppm)
    refl *= 1.0 + 0.010 * smooth_noise(rng, (h, w), 0.35 * ppm)
    # Rounded cross-section: the finger sides turn away from the light.
    xs = (np.arange(w, dtype=np.float32) - np.float32(cx)) / np.float32(max(wpx / 2, 1.0))
    refl *= (1.0 - 0.18 * np.clip(xs, -1, 1) ** 4)[None, :].astype(np.float32)
    creases = np.zeros((h, w), np.float32)
    for frac in finger.crease_positions:
        y = pivot_y - frac * lpx
        bend = rng.normal(0.0, 0.06) * wpx
        pts = _bezier(
            np.array([cx - wpx * 0.5, y + rng.normal(0, 0.5)]),
            np.array([cx - wpx * 0.2, y + bend]),
            np.array([cx + wpx * 0.2, y + bend]),
            np.array([cx + wpx * 0.5, y + rng.normal(0, 0.5)]),
            12,
        )
        _draw_polyline(creases, pts, float(rng.uniform(0.10, 0.22)), 0.6 * ppm)
    creases = _f32(cv2.GaussianBlur(creases, (0, 0), max(0.4, 0.3 * ppm)))
    refl *= 1.0 - creases
    return FingerPatch(finger=finger, reflectance=refl, mask=mask, pivot=(cx, pivot_y))


def render_identity(
    identity: PalmIdentity,
    px_per_mm: float,
    finger_reach: float = 1.25,
    half_width: float | None = None,
) -> IdentityTextures:
    """Render all fixed rasters of ``identity`` at ``px_per_mm`` (see module docstring).

    Parameters
    ----------
    identity : PalmIdentity
    px_per_mm : float
        Pixel pitch of the canvas; the sensor uses its nominal pitch so that captures resample
        by factors close to one.
    finger_reach : float
        How far above the palm the canvas reaches, in longest-finger lengths (1.25 holds whole
        spread fingers; a pegged sensor that only sees the finger roots needs less).
    half_width : float, optional
        Restrict the canvas to ``|v| <= half_width`` palm widths (default: the whole hand with
        the thumb).

    Returns
    -------
    IdentityTextures
    """
    ident = identity
    ppm = float(px_per_mm)
    w, length = ident.palm_width, ident.palm_length
    max_len = max(f.length for f in ident.fingers[:4])
    thumb = ident.fingers[4]
    u0 = -length / 2 - finger_reach * max_len
    u1 = length / 2 + ident.wrist_length
    v0 = -w / 2 - 0.6 * max_len
    v1 = w / 2 + thumb.length + 0.1 * w
    if half_width is not None:
        v0, v1 = max(v0, -half_width * w), min(v1, half_width * w)
    shape = (int(np.ceil((u1 - u0) * ppm)), int(np.ceil((v1 - v0) * ppm)))
    rng = np.random.default_rng([ident.texture_seed, 7])

    def to_canvas(uv: FloatArray) -> FloatArray:
        uv = np.asarray(uv, dtype=np.float64)
        return np.stack([(uv[..., 1] - v0) * ppm, (uv[..., 0] - u0) * ppm], axis=-1)

    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)

    # Palm body mask.
    palm_mask = np.zeros(shape, np.float32)
    poly = np.round(to_canvas(ident.outline) * 16).astype(np.int32)
    cv2.fillPoly(palm_mask, [poly], 1.0, cv2.LINE_AA, 4)
    palm_mask_soft = cv2.GaussianBlur(palm_mask, (0, 0), 1.5 * ppm)

    # Relief: the thenar and hypothenar eminences and finger-base pads bulge towards the light,
    # the palm hollow recedes.
    relief = np.zeros(shape, np.float32)
    for (u, v), sig, amp in (
        ((0.22 * length, 0.30 * w), 0.20 * w, 0.07),
        ((0.18 * length, -0.33 * w), 0.17 * w, 0.05),
        ((-0.05 * length, 0.0), 0.22 * w, -0.05),
        ((-length / 2 + 0.09 * w, -0.37 * w), 0.07 * w, 0.03),
        ((-length / 2 + 0.06 * w, -0.13 * w), 0.07 * w, 0.03),
        ((-length / 2 + 0.06 * w, 0.11 * w), 0.07 * w, 0.03),
        ((-length / 2 + 0.07 * w, 0.34 * w), 0.07 * w, 0.03),
    ):
        centre = to_canvas(np.array([u, v]) + rng.normal(0.0, 2.0, 2))
        relief += _gauss_bump(rows, cols, centre, sig * ppm, amp * float(rng.uniform(0.7, 1.3)))
    palm = 1.0 + relief
    # Skin albedo at several scales: blotches, subcutaneous structure, pores.
    palm *= 1.0 + 0.035 * smooth_noise(rng, shape, 7.0 * ppm)
    palm *= 1.0 + 0.012 * smooth_noise(rng, shape, 1.2 * ppm)
    palm *= 1.0 + 0.010 * smooth_noise(rng, shape, 0.3 * ppm)

    # Fine wrinkles: many short faint creases, organised in families that follow a smooth
    # orientation field (as the secondary creases of a palm do), plus a share of random ones.
    wrinkles = np.zeros(shape, np.float32)
    field_shape = (int(np.ceil((u1 - u0) / 4.0)) + 1, int(np.ceil((v1 - v0) / 4.0)) + 1)
    orientation = np.pi * smooth_noise(rng, field_shape, 3.0)
    n_wr = int(0.05 * w * length)
    for _ in range(n_wr):
        c = np.array([rng.uniform(-length / 2, length / 2 + 0.3 * w), rng.uniform(-w / 2, w / 2)])
        if rng.random() < 0.7:
            cell = ((c - np.array([u0, v0])) / 4.0).astype(int)
            ang = float(orientation[cell[0], cell[1]]) + rng.normal(0.0, 0.2)
        else:
            ang = float(rng.uniform(0, np.pi))
        half = np.array([np.cos(ang), np.sin(ang)]) * rng.uniform(1.5, 5.0)
        bend = np.array([-half[1], half[0]]) * rng.normal(0.0, 0.2)
        seg = to_canvas(np.stack([c - half, c + bend, c + half]))
        _draw_polyline(wrinkles, seg, float(rng.uniform(0.03, 0.08)), 0.45 * ppm)
    wrinkles = _f32(cv2.GaussianBlur(wrinkles, (0, 0), max(0.5, 0.2 * ppm)))

    creases = np.zeros(shape, np.float32)
    for cr in ident.creases:
        _draw_crease(creases, cr, to_canvas, ppm, rng)
    crease_depth = np.minimum(wrinkles + creases, 0.6).astype(np.float32)

    veins = _render_veins(ident, shape, to_canvas, ppm)

    base_finger = 0.95
    fingers = tuple(_finger_patch(f, ppm, rng, base_finger) for f in ident.fingers)
    return IdentityTextures(
        identity=ident,
        px_per_mm=ppm,
        origin_mm=(u0, v0),
        palm=palm.astype(np.float32),
        creases=crease_depth,
        veins=veins,
        palm_mask=palm_mask,
        palm_mask_soft=_f32(palm_mask_soft),
        fingers=fingers,
    )


def _draw_crease(
    layer: F32, crease: Crease, to_canvas: ToCanvas, ppm: float, rng: np.random.Generator
) -> None:
    pts = to_canvas(crease.points)
    tmp = np.zeros_like(layer)
    # Real creases deepen and fade along their course, sometimes nearly breaking.
    n = len(pts) - 1
    wobble = np.convolve(rng.normal(0.0, 1.0, n + 8), np.ones(5) / np.sqrt(5), "same")[4:-4]
    profile = np.clip(0.75 + 0.3 * wobble, 0.15, 1.3)
    _draw_polyline(tmp, pts, crease.strength, crease.width * ppm, profile=profile)
    tmp = _f32(cv2.GaussianBlur(tmp, (0, 0), max(0.45, 0.35 * crease.width * ppm)))
    np.maximum(layer, tmp, out=layer)


def _render_veins(
    ident: PalmIdentity, shape: tuple[int, int], to_canvas: ToCanvas, ppm: float
) -> F32:
    """Vein optical density: width-proportional absorption, blurred more with depth."""
    bins = [np.zeros(shape, np.float32) for _ in range(_VEIN_DEPTH_BINS)]
    for ves in ident.vessels:
        b = min(_VEIN_DEPTH_BINS - 1, int(ves.depth * _VEIN_DEPTH_BINS))
        pts = to_canvas(ves.points)
        # Density grows with the vessel diameter (path length through blood) and falls with depth.
        for k in range(len(pts) - 1):
            wid = float(ves.widths[k])
            dens = 0.10 * min(1.0, wid / 3.5) * (1.0 - 0.5 * ves.depth)
            thick = max(1, round(0.7 * wid * ppm))
            p0 = (round(pts[k, 0] * 16), round(pts[k, 1] * 16))
            p1 = (round(pts[k + 1, 0] * 16), round(pts[k + 1, 1] * 16))
            cv2.line(bins[b], p0, p1, dens, thick, cv2.LINE_8, 4)
    out = np.zeros(shape, np.float32)
    for b, layer in enumerate(bins):
        depth = (b + 0.5) / _VEIN_DEPTH_BINS
        sigma_mm = 0.35 + 0.9 * depth
        out += cv2.GaussianBlur(layer, (0, 0), sigma_mm * ppm)
    return out
