"""Per-capture hand articulation on the canonical canvas: finger spread, silhouette, valleys.

The fingers are rotated about their pivots, composited over the palm body, and the union silhouette
is smoothed (Gaussian blur of the binary union, threshold at 0.5) which rounds the finger webs the
way skin does. The finger valleys are then measured on that silhouette, so the ground truth follows
exactly the shape that is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from capture.simulated.texture import IdentityTextures

F32 = npt.NDArray[np.float32]
FloatArray = npt.NDArray[np.float64]

#: Valley names, each between the two named fingers.
VALLEY_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("index_middle", "index", "middle"),
    ("middle_ring", "middle", "ring"),
    ("ring_little", "ring", "little"),
)


class FingersClosedError(Exception):
    """Two adjacent fingers touch, so the valley between them is not defined."""


_WEB_SMOOTHING_MM = 1.0


@dataclass(frozen=True)
class ArticulatedHand:
    """The canonical canvas of one capture.

    Attributes
    ----------
    reflectance : ndarray of float32
        NIR reflectance with creases and veins applied and fingers composited.
    alpha : ndarray of float32
        Soft silhouette in [0, 1]; the hand is ``alpha > 0.5``.
    valleys_xy : dict
        Valley name -> canvas point (x=col, y=row).
    inscribed_radius_px : float
        Radius of the largest circle inscribed in the silhouette, canvas pixels.
    fingertips_xy : ndarray, shape (5, 2)
        Tip points of little, ring, middle, index and thumb (canvas x, y).
    """

    reflectance: F32
    alpha: F32
    valleys_xy: dict[str, tuple[float, float]]
    inscribed_radius_px: float
    fingertips_xy: FloatArray


def _finger_axis(
    tex: IdentityTextures, name: str, angle_deg: float
) -> tuple[FloatArray, FloatArray]:
    """Pivot (x, y) on the canvas and unit direction (x, y) towards the tip."""
    finger = next(f for f in tex.identity.fingers if f.name == name)
    pivot = tex.to_canvas(np.array(finger.base))
    a = np.deg2rad(angle_deg)
    # Positive angles turn towards the thumb (+v = +x on the canvas); the tip is towards -u (-y).
    return pivot, np.array([np.sin(a), -np.cos(a)])


def articulate(
    tex: IdentityTextures,
    angles_deg: dict[str, float],
    vein_contrast: float,
    crease_depth: float = 1.0,
    skin: F32 | None = None,
) -> ArticulatedHand:
    """Spread the fingers to ``angles_deg`` and build the canvas of one capture.

    Parameters
    ----------
    tex : IdentityTextures
    angles_deg : dict
        Finger name -> angle of its axis from the palm axis, degrees, positive towards the thumb.
    vein_contrast : float
        Multiplier of the vein optical density (blood volume and skin temperature vary between
        sessions, and with them the visibility of veins).
    crease_depth : float
        Multiplier of the crease darkening (a hand stretched wide flattens its creases).
    skin : ndarray of float32, optional
        Multiplicative albedo change of the palm for this session (canvas-shaped).

    Returns
    -------
    ArticulatedHand
    """
    ppm = tex.px_per_mm
    creases = np.minimum(np.float32(crease_depth) * tex.creases, np.float32(0.9))
    reflectance = (
        tex.palm * (np.float32(1.0) - creases) * np.exp(-np.float32(vein_contrast) * tex.veins)
    )
    if skin is not None:
        reflectance *= skin
    union = tex.palm_mask.copy()
    rows, cols = tex.shape
    tips: list[FloatArray] = []
    for patch in tex.fingers:
        name = patch.finger.name
        pivot, direction = _finger_axis(tex, name, angles_deg[name])
        tips.append(pivot + direction * patch.finger.length * ppm)
        # cv2 angles are counter-clockwise on screen; a positive finger angle is clockwise.
        m = cv2.getRotationMatrix2D(patch.pivot, -angles_deg[name], 1.0)
        m[:, 2] += pivot - np.array(patch.pivot)
        # Warp only into the finger's bounding box on the canvas.
        ph, pw = patch.mask.shape
        corners = np.array([[0, 0, 1], [pw, 0, 1], [0, ph, 1], [pw, ph, 1]], np.float64) @ m.T
        x0 = max(0, int(np.floor(corners[:, 0].min())) - 1)
        y0 = max(0, int(np.floor(corners[:, 1].min())) - 1)
        x1 = min(cols, int(np.ceil(corners[:, 0].max())) + 2)
        y1 = min(rows, int(np.ceil(corners[:, 1].max())) + 2)
        if x1 <= x0 or y1 <= y0:
            continue
        m[:, 2] -= (x0, y0)
        size = (x1 - x0, y1 - y0)
        fmask = cv2.warpAffine(patch.mask, m, size, flags=cv2.INTER_LINEAR)
        frefl = cv2.warpAffine(patch.reflectance, m, size, flags=cv2.INTER_LINEAR)
        # The palm body keeps its own texture; fingers only show where the palm is not.
        a = fmask * (1.0 - tex.palm_mask_soft[y0:y1, x0:x1])
        sub = reflectance[y0:y1, x0:x1]
        reflectance[y0:y1, x0:x1] = sub * (1.0 - a) + frefl * a
        np.maximum(union[y0:y1, x0:x1], fmask, out=union[y0:y1, x0:x1])
    sigma = _WEB_SMOOTHING_MM * ppm
    alpha = _blur(union, sigma)
    # Re-sharpen the blurred union to a soft edge about one pixel wide around the 0.5 level.
    gain = np.float32(0.8 * sigma * np.sqrt(2 * np.pi))
    alpha = np.clip((alpha - 0.5) * gain + 0.5, 0.0, 1.0).astype(np.float32)
    # The canvas bottom continues as the forearm; exclude it from the inscribed circle.
    palm_rows = int(tex.to_canvas(np.array([tex.identity.palm_length / 2, 0.0]))[1])
    radius = _inscribed_radius(alpha[: max(1, palm_rows)], ppm)
    valleys = {
        vname: _valley(alpha, tex, a_name, b_name, angles_deg)
        for vname, a_name, b_name in VALLEY_PAIRS
    }
    return ArticulatedHand(
        reflectance=reflectance.astype(np.float32),
        alpha=alpha,
        valleys_xy=valleys,
        inscribed_radius_px=radius,
        fingertips_xy=np.array(tips),
    )


def _blur(image: F32, sigma: float) -> F32:
    """Gaussian blur; large kernels run at half resolution (the result is smooth anyway)."""
    if sigma <= 3.0:
        out: F32 = np.asarray(cv2.GaussianBlur(image, (0, 0), sigma), dtype=np.float32)
        return out
    h, w = image.shape
    small = cv2.resize(image, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / 2)
    out = np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)
    return out


def _inscribed_radius(alpha: F32, ppm: float) -> float:
    """Radius (canvas px) of the largest circle inside ``alpha > 0.5``: exact Euclidean distance
    transform at half resolution (error about one canvas pixel, well below 1 % of the radius)."""
    h, w = alpha.shape
    small = cv2.resize(alpha, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
    dist = cv2.distanceTransform((small > 0.5).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return 2.0 * float(dist.max())


def _valley(
    alpha: F32, tex: IdentityTextures, a_name: str, b_name: str, angles: dict[str, float]
) -> tuple[float, float]:
    """Deepest background point of the gap between two fingers along their bisector.

    The gap is the background between the two finger axes; depth is measured along the bisector
    of the finger directions, pointing into the palm. Ties within half a pixel are averaged, and
    the point is then moved along the bisector onto the silhouette (alpha = 0.5).
    """
    pa, da = _finger_axis(tex, a_name, angles[a_name])
    pb, db = _finger_axis(tex, b_name, angles[b_name])
    bis = da + db
    bis /= np.linalg.norm(bis)
    mid = (pa + pb) / 2
    finger_len = (
        min(f.length for f in tex.identity.fingers if f.name in (a_name, b_name)) * tex.px_per_mm
    )
    r = 0.4 * finger_len
    x0 = int(max(0, np.floor(mid[0] - r)))
    x1 = int(min(alpha.shape[1], np.ceil(mid[0] + r)))
    y0 = int(max(0, np.floor(mid[1] - r)))
    y1 = int(min(alpha.shape[0], np.ceil(mid[1] + r)))
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    # Signed side of each axis: positive towards the other finger.
    lat = pb - pa
    na = np.array([-da[1], da[0]])
    na *= np.sign(np.dot(na, lat))
    nb = np.array([-db[1], db[0]])
    nb *= np.sign(np.dot(nb, -lat))
    side_a = (xs - pa[0]) * na[0] + (ys - pa[1]) * na[1]
    side_b = (xs - pb[0]) * nb[0] + (ys - pb[1]) * nb[1]
    along = (xs - mid[0]) * bis[0] + (ys - mid[1]) * bis[1]
    gap = (alpha[y0:y1, x0:x1] <= 0.5) & (side_a > 0) & (side_b > 0) & (along > -0.3 * r)
    gap &= along < r
    if not np.any(gap):
        raise FingersClosedError(f"no gap between the {a_name} and {b_name} fingers")
    depth = -along[gap]
    best = depth.max()
    # A valley far up the fingers means they touch at the root: no proper web.
    if -best > 0.12 * tex.identity.palm_width * tex.px_per_mm:
        raise FingersClosedError(f"the {a_name} and {b_name} fingers touch at the root")
    sel = depth >= best - 0.5
    p0 = np.array([xs[gap][sel].mean(), ys[gap][sel].mean()])
    # Refine onto the silhouette: march from the gap into the palm along the bisector and stop
    # where the (bilinearly interpolated) alpha crosses 0.5.
    ts = np.arange(-1.0, 4.0, 0.05)
    line = p0[None, :] - ts[:, None] * bis[None, :]
    values = cv2.remap(
        alpha,
        line[:, 0].astype(np.float32)[None, :],
        line[:, 1].astype(np.float32)[None, :],
        cv2.INTER_LINEAR,
    )[0]
    above = np.flatnonzero(values > 0.5)
    if len(above) == 0 or above[0] == 0:
        return float(p0[0]), float(p0[1])
    k = int(above[0])
    frac = (0.5 - values[k - 1]) / (values[k] - values[k - 1])
    t = ts[k - 1] + frac * (ts[k] - ts[k - 1])
    point = p0 - t * bis
    return float(point[0]), float(point[1])
