"""The simulated NIR palm sensor: identities, captures and their ground truth.

See the package docstring (:mod:`capture.simulated`) for the conventions of the ground truth.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from capture.simulated.config import (
    Difficulty,
    FingerEdge,
    Geometry,
    SensorConfig,
    default_config,
)
from capture.simulated.hand import ArticulatedHand, FingersClosedError, _blur, articulate
from capture.simulated.identity import FINGER_NAMES, Hand, PalmIdentity, make_identity
from capture.simulated.optics import blur, led_field, sensor_readout
from capture.simulated.texture import IdentityTextures, render_identity, smooth_noise

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float64]
Point = tuple[float, float]

#: ROI side = ``ROI_SIDE_FACTOR`` x inscribed palm radius.
ROI_SIDE_FACTOR = 1.2
#: Gap between the valley line and the ROI's distal edge = ``ROI_OFFSET_FACTOR`` x radius.
ROI_OFFSET_FACTOR = 0.2

_SESSION_STREAM = 2
_POSE_STREAM = 3
_PHOTO_STREAM = 4
_NOISE_STREAM = 5
_SKIN_STREAM = 6
_HABIT_STREAM = 7
_FOREARM_FADE_MM = 80.0
_STEP = 5
_NO_MAP = np.empty((0,), np.float32)


class SimulationError(Exception):
    """The simulator could not produce the requested capture (e.g. impossible parameters)."""


@dataclass(frozen=True)
class FingerValleys:
    """The three finger valleys, each as (row, col) image pixels."""

    index_middle: Point
    middle_ring: Point
    ring_little: Point

    def as_array(self) -> FloatArray:
        """(3, 2) array in the order index-middle, middle-ring, ring-little."""
        return np.array([self.index_middle, self.middle_ring, self.ring_little])


@dataclass(frozen=True)
class CapturePose:
    """Geometric parameters of one capture.

    Attributes
    ----------
    rotation_deg : float
        In-plane rotation applied to the upright hand, degrees; positive turns the fingers
        towards increasing columns (clockwise on screen), as ``roi_angle_deg``.
    scale : float
        Relative scale (1 = the sensor's nominal distance); the image pitch is
        ``scale * px_per_mm``.
    centre_rc : tuple of float
        Image position (row, col) of the palm-coordinate origin (centre of the palm body),
        before perspective and elastic deformation.
    tilt_deg : tuple of float
        Out-of-plane rotation about the image's horizontal and vertical axes.
    finger_angles_deg : dict
        Finger name -> axis angle from the palm axis, positive towards the thumb, before
        mirroring.
    spread : float
        Finger-spread factor applied to the neutral finger angles.
    elastic_rms_px : float
        RMS of the elastic displacement field, pixels.
    mirrored : bool
        Left hand (mirror image).
    cut_edge : str or None
        For ``out_of_frame`` captures, the frame edge ("top", "bottom", "left", "right") that
        cuts the hand.
    """

    rotation_deg: float
    scale: float
    centre_rc: Point
    tilt_deg: tuple[float, float]
    finger_angles_deg: dict[str, float]
    spread: float
    elastic_rms_px: float
    mirrored: bool
    cut_edge: str | None


@dataclass(frozen=True)
class CaptureConditions:
    """Photometric parameters of one capture (exposure in grey levels, blur in pixels)."""

    led: bool
    exposure: float
    vein_contrast: float
    crease_depth: float
    led_centre_rc: Point
    led_radius_px: float
    ambient: float
    defocus_sigma: float
    motion_px: float
    motion_angle_deg: float
    electrons_per_level: float
    read_noise: float


@dataclass(frozen=True)
class SimulatedCapture:
    """One frame from the simulated sensor with its ground truth (see :mod:`capture.simulated`).

    Attributes
    ----------
    image : ndarray of uint8, shape (rows, cols)
    mask : ndarray of bool
        Visible hand pixels (pegs and device parts occluding the hand are excluded).
    roi_center : tuple of float
        (row, col) of the palm ROI centre.
    roi_angle_deg : float
        Palm axis angle: the direction from the palm towards the fingers is
        ``(-cos a, sin a)`` in (row, col); 0 = fingers up (towards row 0), positive = fingers
        turned towards increasing columns (clockwise on screen).
    roi_side : float
        Side of the square ROI, pixels.
    palm_radius : float
        Radius of the largest circle inscribed in the (whole, unclipped) hand, pixels.
    valleys : FingerValleys
    fingertips : ndarray, shape (5, 2)
        (row, col) of the little, ring, middle, index and thumb tips (may lie outside the frame).
    hand_in_frame : bool
        Whether the palm and all fingers (not the forearm) lie wholly inside the frame. False
        for ``out_of_frame`` captures, and in the pegged geometry, where the frame shows the
        palm and finger roots only.
    pose : CapturePose
    conditions : CaptureConditions
    px_per_mm : float
        Image pixels per millimetre of palm at this capture (sensor pitch times pose scale).
    """

    image: U8
    mask: npt.NDArray[np.bool_]
    identity: int
    session: int
    sample: int
    hand: Hand
    geometry: Geometry
    roi_center: Point
    roi_angle_deg: float
    roi_side: float
    palm_radius: float
    valleys: FingerValleys
    fingertips: FloatArray
    hand_in_frame: bool
    pose: CapturePose
    conditions: CaptureConditions
    px_per_mm: float

    def roi_corners(self) -> FloatArray:
        """(4, 2) (row, col) corners: distal-left, distal-right, proximal-right, proximal-left.

        "Left"/"right" as seen with the palm axis pointing up on screen.
        """
        a = math.radians(self.roi_angle_deg)
        up = np.array([-math.cos(a), math.sin(a)])
        right = np.array([up[1], -up[0]])
        c = np.array(self.roi_center)
        h = self.roi_side / 2
        return np.array(
            [
                c + h * up - h * right,
                c + h * up + h * right,
                c - h * up + h * right,
                c - h * up - h * right,
            ]
        )

    def roi_image(self, size: int = 128) -> U8:
        """The ground-truth ROI resampled to ``size`` x ``size``, palm axis up."""
        corners = self.roi_corners()
        src = corners[[0, 1, 3]][:, ::-1].astype(np.float32)
        dst = np.array([[0, 0], [size, 0], [0, size]], np.float32)
        m = cv2.getAffineTransform(src, dst)
        out: U8 = np.asarray(
            cv2.warpAffine(self.image, m, (size, size), flags=cv2.INTER_LINEAR), dtype=np.uint8
        )
        return out

    def truth(self) -> dict[str, Any]:
        """JSON-serialisable ground truth (everything but the image and the mask)."""
        return {
            "identity": self.identity,
            "session": self.session,
            "sample": self.sample,
            "hand": self.hand,
            "geometry": self.geometry,
            "shape": list(self.image.shape),
            "roi_center": list(self.roi_center),
            "roi_angle_deg": self.roi_angle_deg,
            "roi_side": self.roi_side,
            "roi_corners": self.roi_corners().tolist(),
            "palm_radius": self.palm_radius,
            "px_per_mm": self.px_per_mm,
            "valleys": {
                "index_middle": list(self.valleys.index_middle),
                "middle_ring": list(self.valleys.middle_ring),
                "ring_little": list(self.valleys.ring_little),
            },
            "fingertips": self.fingertips.tolist(),
            "hand_in_frame": self.hand_in_frame,
            "pose": {
                "rotation_deg": self.pose.rotation_deg,
                "scale": self.pose.scale,
                "centre_rc": list(self.pose.centre_rc),
                "tilt_deg": list(self.pose.tilt_deg),
                "finger_angles_deg": dict(self.pose.finger_angles_deg),
                "spread": self.pose.spread,
                "elastic_rms_px": self.pose.elastic_rms_px,
                "mirrored": self.pose.mirrored,
                "cut_edge": self.pose.cut_edge,
            },
            "conditions": {
                "led": self.conditions.led,
                "exposure": self.conditions.exposure,
                "vein_contrast": self.conditions.vein_contrast,
                "crease_depth": self.conditions.crease_depth,
                "led_centre_rc": list(self.conditions.led_centre_rc),
                "led_radius_px": self.conditions.led_radius_px,
                "ambient": self.conditions.ambient,
                "defocus_sigma": self.conditions.defocus_sigma,
                "motion_px": self.conditions.motion_px,
                "motion_angle_deg": self.conditions.motion_angle_deg,
                "electrons_per_level": self.conditions.electrons_per_level,
                "read_noise": self.conditions.read_noise,
            },
        }


@dataclass(frozen=True)
class _Mapping:
    """Canvas (x, y) -> image (x, y): projective ``m`` then the inverse of ``x + d(x)``."""

    m: FloatArray
    # Elastic displacement (dx, dy) in image pixels on the sensor's coarse grid: sample (i, j)
    # sits at image pixel ((i - 2) * _STEP + _STEP // 2, (j - 2) * _STEP + _STEP // 2); the field
    # is the bilinear interpolation of these samples (as the upsampled sampling maps are).
    disp: F32

    def project(self, pts_xy: FloatArray) -> FloatArray:
        p = np.c_[pts_xy, np.ones(len(pts_xy))] @ self.m.T
        out: FloatArray = p[:, :2] / p[:, 2:3]
        return out

    def forward(self, pts_xy: FloatArray) -> FloatArray:
        target = self.project(pts_xy)
        x = target.copy()
        for _ in range(8):
            grid = (x - _STEP // 2) / _STEP + 2.0
            x = target - _bilinear(self.disp, grid)
        return x


def _bilinear(field2: F32, pts_xy: FloatArray) -> FloatArray:
    h, w = field2.shape[:2]
    x = np.clip(pts_xy[:, 0], 0, w - 1.001)
    y = np.clip(pts_xy[:, 1], 0, h - 1.001)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    f00 = field2[y0, x0].astype(np.float64)
    f01 = field2[y0, x0 + 1].astype(np.float64)
    f10 = field2[y0 + 1, x0].astype(np.float64)
    f11 = field2[y0 + 1, x0 + 1].astype(np.float64)
    out: FloatArray = (
        f00 * (1 - fx) * (1 - fy) + f01 * fx * (1 - fy) + f10 * (1 - fx) * fy + f11 * fx * fy
    )
    return out


def _tilt_homography(tilt_deg: tuple[float, float], focal: float) -> FloatArray:
    """Homography (centred coordinates) of a plane rotated out of plane, seen at focal length f.

    A plane point (x, y) (pixels at the nominal distance) maps to
    ``(r11 x + r12 y, r21 x + r22 y) / (1 + (r31 x + r32 y) / f)``: pinhole projection of the
    rotated plane (Hartley & Zisserman, Multiple View Geometry, 2nd ed., sec. 13.1).
    """
    a, b = (math.radians(t) for t in tilt_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    r = rx @ ry
    return np.array(
        [[r[0, 0], r[0, 1], 0.0], [r[1, 0], r[1, 1], 0.0], [r[2, 0] / focal, r[2, 1] / focal, 1.0]]
    )


class SimulatedSensor:
    """A deterministic simulated NIR palm-vein sensor.

    Parameters
    ----------
    seed : int
        Everything (identities, captures) is a pure function of the seed and the indices.
    geometry : {"contactless", "pegged"}, optional
        Full hand on a dark background, or the palm alone on a pegged contact device; the
        config's geometry when a ``config`` is given, otherwise "contactless".
    shape : tuple of int, optional
        Frame (rows, cols); defaults (480, 640) or (288, 352).
    config : SensorConfig, optional
        Difficulty knobs; defaults to :func:`capture.simulated.config.default_config`.
    difficulty : {"default", "easy", "hard"}
        Preset of the knobs when no ``config`` is given.
    finger_edge : {"top", "left"}
        Pegged geometry: the frame edge along which the finger gaps lie, when no ``config`` is
        given ("left" is the PolyU layout).
    cache_size : int
        Number of identities whose rendered textures are kept.

    Examples
    --------
    >>> sensor = SimulatedSensor(seed=1)
    >>> cap = sensor.capture(identity=3, session=1, sample=0)
    >>> cap.image.shape, cap.image.dtype
    ((480, 640), dtype('uint8'))
    """

    def __init__(
        self,
        seed: int = 0,
        geometry: Geometry | None = None,
        shape: tuple[int, int] | None = None,
        *,
        config: SensorConfig | None = None,
        difficulty: Difficulty = "default",
        finger_edge: FingerEdge = "top",
        cache_size: int = 32,
    ) -> None:
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self.seed = int(seed)
        if config is not None and geometry is not None and config.geometry != geometry:
            raise ValueError(
                f"config is for the {config.geometry!r} geometry but geometry={geometry!r}"
            )
        if config is not None and shape is not None and tuple(shape) != config.shape:
            raise ValueError(f"shape {shape} disagrees with config.shape {config.shape}")
        if config is None:
            config = default_config(geometry or "contactless", shape, difficulty, finger_edge)
        self.config = config
        self.geometry: Geometry = self.config.geometry
        self.shape: tuple[int, int] = self.config.shape
        # Frame the scene is rendered in: fingers towards row 0. With the fingers at the left
        # edge the frame is rendered transposed and turned a quarter counter-clockwise.
        self._left = self.config.finger_edge == "left"
        self._frame = (self.shape[1], self.shape[0]) if self._left else self.shape
        self._cache_size = cache_size
        self._identities: OrderedDict[tuple[int, str], PalmIdentity] = OrderedDict()
        self._textures: OrderedDict[tuple[int, str], IdentityTextures] = OrderedDict()
        self._skin_cache: OrderedDict[tuple[int, ...], F32] = OrderedDict()
        rows, cols = self._frame
        # Smooth per-pixel fields (sampling maps, LED light) are computed on a coarse grid of
        # every _STEP-th pixel (plus a ring outside the frame) and upsampled; cv2.resize by an
        # odd integer factor samples source pixel k at destination pixel _STEP * k + _STEP // 2.
        n_r = rows // _STEP + 3
        n_c = cols // _STEP + 3
        ys = (np.arange(n_r) - 1) * _STEP + _STEP // 2 - _STEP
        xs = (np.arange(n_c) - 1) * _STEP + _STEP // 2 - _STEP
        self._coarse_x, self._coarse_y = np.meshgrid(xs.astype(np.float64), ys.astype(np.float64))
        self._coarse_size = (n_c * _STEP, n_r * _STEP)
        # Destination pixel of image pixel (0, 0) in the upsampled coarse grid.
        self._coarse_offset = _STEP * 2
        self._background, self._occluder_alpha, self._occluder_refl = self._device()
        self._has_occluders = bool(self._occluder_alpha.any())

    # -- identities -------------------------------------------------------------------------

    def identity(self, index: int, hand: Hand = "right") -> PalmIdentity:
        """The anatomy of identity ``index`` (LRU-cached, at least 256 entries)."""
        key = (int(index), hand)
        if key in self._identities:
            self._identities.move_to_end(key)
            return self._identities[key]
        ident = make_identity(self.seed, int(index), hand)
        self._identities[key] = ident
        while len(self._identities) > max(256, self._cache_size):
            self._identities.popitem(last=False)
        return ident

    def textures(self, index: int, hand: Hand = "right") -> IdentityTextures:
        """Rendered rasters of identity ``index`` at this sensor's pitch (LRU-cached)."""
        key = (int(index), hand)
        if key in self._textures:
            self._textures.move_to_end(key)
            return self._textures[key]
        if self.geometry == "pegged":
            # The pegged frame sees the finger roots and the palm only.
            tex = render_identity(
                self.identity(index, hand), self.config.px_per_mm, finger_reach=0.5, half_width=0.85
            )
        else:
            tex = render_identity(self.identity(index, hand), self.config.px_per_mm)
        self._textures[key] = tex
        while len(self._textures) > self._cache_size:
            self._textures.popitem(last=False)
        return tex

    # -- captures ---------------------------------------------------------------------------

    def capture(
        self,
        identity: int,
        session: int = 0,
        sample: int = 0,
        *,
        hand: Hand = "right",
        out_of_frame: bool = False,
        led: bool = True,
    ) -> SimulatedCapture:
        """Render one frame of ``identity`` and its ground truth.

        Parameters
        ----------
        identity, session, sample : int
            Non-negative indices. Exposure, LED placement, vein visibility and focus drift per
            session; pose, blur and noise change per sample.
        hand : {"right", "left"}
        out_of_frame : bool
            Place the hand so that a frame edge cuts off part of the palm or fingers (for
            bad-input tests). Contactless geometry only.
        led : bool
            False gives the LED-off (ambient only) frame of the same pose and conditions, as
            scanners capture for presentation-attack detection and ambient subtraction.

        Returns
        -------
        SimulatedCapture
        """
        if min(identity, session, sample) < 0:
            raise ValueError("identity, session and sample must be non-negative")
        if out_of_frame and self.geometry != "contactless":
            raise ValueError("out_of_frame is only meaningful for the contactless geometry")
        cfg = self.config
        code = 0 if hand == "right" else 1
        base = [self.seed, int(identity), code, int(session)]
        srng = np.random.default_rng([*base, _SESSION_STREAM])
        prng = np.random.default_rng([*base, int(sample), _POSE_STREAM])
        orng = np.random.default_rng([*base, int(sample), _PHOTO_STREAM])
        nrng = np.random.default_rng([*base, int(sample), _NOISE_STREAM, int(led)])
        tex = self.textures(identity, hand)
        mirrored = hand == "left"
        rows, cols = self._frame

        # Session-level photometry: sessions differ more than samples within a session.
        session_gain = math.exp(srng.normal(0.0, cfg.session_gain_sigma))
        session_vein = float(srng.uniform(*cfg.vein_contrast_range))
        diag = math.hypot(rows, cols)
        led_centre = (
            rows / 2 + srng.normal(0.0, cfg.led_offset_sigma) * diag,
            cols / 2 + srng.normal(0.0, cfg.led_offset_sigma) * diag,
        )
        led_radius = float(srng.uniform(*cfg.led_radius_range)) * diag
        ambient = float(srng.uniform(*cfg.ambient_range))
        focus_sigma = float(srng.uniform(*cfg.defocus_range))
        electrons = float(srng.uniform(*cfg.electrons_range))

        # Pose: a per-session habit (how this person held the hand that day) plus per-sample
        # jitter, so samples of one session resemble each other more than samples of two.
        hrng = np.random.default_rng([*base, _HABIT_STREAM])
        habit = hrng.uniform(-1.0, 1.0, 4) * cfg.session_pose_share
        jitter = prng.uniform(-1.0, 1.0, 4) * (1.0 - cfg.session_pose_share)
        pose_u = habit + jitter
        rotation = float(pose_u[0] * cfg.rotation_max_deg)
        scale = float(1.0 + pose_u[1] * cfg.scale_range)
        tilt = (float(pose_u[2] * cfg.tilt_max_deg), float(pose_u[3] * cfg.tilt_max_deg))
        spread = float(prng.uniform(*cfg.spread_range))
        angles = {
            f.name: f.neutral_angle_deg * spread + float(prng.normal(0.0, cfg.finger_jitter_deg))
            for f in tex.identity.fingers[:4]
        }
        # Keep the finger order (no crossed fingers).
        for a, b in zip(FINGER_NAMES[1:], FINGER_NAMES[:-1], strict=True):
            angles[a] = max(angles[a], angles[b] + cfg.min_finger_gap_deg)
        thumb = tex.identity.fingers[4]
        angles["thumb"] = thumb.neutral_angle_deg + float(
            prng.uniform(-cfg.thumb_jitter_deg, cfg.thumb_jitter_deg)
        )
        vein_contrast = session_vein * math.exp(prng.normal(0.0, cfg.vein_contrast_sigma))
        # Spreading the fingers stretches the palm skin and makes the creases shallower.
        crease_depth = float(np.clip(1.0 - 0.3 * (spread - 1.0) + prng.normal(0.0, 0.05), 0.6, 1.3))
        for _ in range(6):
            try:
                art = articulate(
                    tex, angles, vein_contrast, crease_depth, self._session_skin(tex, base)
                )
                break
            except FingersClosedError:
                # Fingers pressed together hide a valley; open them a little more.
                spread *= 1.15
                for f in tex.identity.fingers[:4]:
                    angles[f.name] = angles[f.name] + f.neutral_angle_deg * 0.15
        else:
            raise SimulationError(f"identity {identity}: fingers stay closed")

        mapping, scale, centre, cut_edge = self._place(
            tex, art, prng, rotation, scale, tilt, mirrored, out_of_frame
        )
        disp_rms = float(np.sqrt(np.mean(np.sum(mapping.disp**2, axis=2))))

        # Photometry of this sample.
        gain = session_gain * math.exp(orng.normal(0.0, cfg.sample_gain_sigma))
        # Closer hands (larger scale) receive more light (inverse-square law), which the
        # scanner's auto-exposure compensates only in part.
        exposure = cfg.exposure * gain * scale
        defocus = focus_sigma + cfg.defocus_per_scale * abs(scale - 1.0) + orng.uniform(0.0, 0.3)
        motion = (
            float(orng.uniform(*cfg.motion_range_px)) if orng.random() < cfg.motion_prob else 0.0
        )
        motion_angle = float(orng.uniform(0.0, 180.0))
        conditions = CaptureConditions(
            led=led,
            exposure=float(exposure),
            vein_contrast=float(vein_contrast),
            crease_depth=crease_depth,
            led_centre_rc=(float(led_centre[0]), float(led_centre[1])),
            led_radius_px=led_radius,
            ambient=ambient,
            defocus_sigma=float(defocus),
            motion_px=motion,
            motion_angle_deg=motion_angle,
            electrons_per_level=electrons,
            read_noise=cfg.read_noise,
        )
        image, mask = self._render(tex, art, mapping, conditions, tilt, nrng)

        # Ground truth in the image.
        names = list(art.valleys_xy)
        hull_canvas = self._hull_points(tex, art)
        mapped = mapping.forward(
            np.vstack(
                [np.array([art.valleys_xy[k] for k in names]), art.fingertips_xy, hull_canvas]
            )
        )
        valleys_img = dict(zip(names, mapped[: len(names)], strict=True))
        tips = mapped[len(names) : len(names) + 5][:, ::-1]
        hull = mapped[len(names) + 5 :]
        in_frame = bool(
            np.all(hull >= -0.5)
            and np.all(hull[:, 0] <= cols - 0.5)
            and np.all(hull[:, 1] <= rows - 0.5)
        )
        v1 = valleys_img["index_middle"][::-1]
        v3 = valleys_img["ring_little"][::-1]
        e = (v1 - v3) / np.linalg.norm(v1 - v3)
        sgn = -1.0 if mirrored else 1.0
        up = sgn * np.array([-e[1], e[0]])
        roi_angle = math.degrees(math.atan2(up[1], -up[0]))
        radius = art.inscribed_radius_px * scale
        side = ROI_SIDE_FACTOR * radius
        centre_roi = (v1 + v3) / 2 - up * (ROI_OFFSET_FACTOR * radius + side / 2)
        valleys = FingerValleys(
            index_middle=_rc(valleys_img["index_middle"]),
            middle_ring=_rc(valleys_img["middle_ring"]),
            ring_little=_rc(valleys_img["ring_little"]),
        )
        pose = CapturePose(
            rotation_deg=rotation,
            scale=scale,
            centre_rc=(float(centre[1]), float(centre[0])),
            tilt_deg=tilt,
            finger_angles_deg=angles,
            spread=spread,
            elastic_rms_px=disp_rms,
            mirrored=mirrored,
            cut_edge=cut_edge,
        )
        if self._left:
            image, mask = np.rot90(image).copy(), np.rot90(mask).copy()
            roi_angle = _wrap_deg(roi_angle - 90.0)
            valleys = FingerValleys(
                index_middle=self._turn(valleys.index_middle),
                middle_ring=self._turn(valleys.middle_ring),
                ring_little=self._turn(valleys.ring_little),
            )
            tips = np.array([self._turn((float(r), float(c))) for r, c in tips])
            centre_roi = np.array(self._turn((float(centre_roi[0]), float(centre_roi[1]))))
            pose = dataclasses.replace(
                pose,
                rotation_deg=_wrap_deg(pose.rotation_deg - 90.0),
                centre_rc=self._turn(pose.centre_rc),
            )
            conditions = dataclasses.replace(
                conditions, led_centre_rc=self._turn(conditions.led_centre_rc)
            )
        return SimulatedCapture(
            image=image,
            mask=mask,
            identity=int(identity),
            session=int(session),
            sample=int(sample),
            hand=hand,
            geometry=self.geometry,
            roi_center=(float(centre_roi[0]), float(centre_roi[1])),
            roi_angle_deg=roi_angle,
            roi_side=float(side),
            palm_radius=float(radius),
            valleys=valleys,
            fingertips=tips,
            hand_in_frame=in_frame,
            pose=pose,
            conditions=conditions,
            px_per_mm=cfg.px_per_mm * scale,
        )

    def _turn(self, point_rc: Point) -> Point:
        """A point of the rendering frame in the output frame (turned counter-clockwise)."""
        return (self._frame[1] - 1 - point_rc[1], point_rc[0])

    def _session_skin(self, tex: IdentityTextures, base: list[int]) -> F32 | None:
        """The skin's albedo change in this (identity, hand, session); LRU-cached (8 entries)."""
        sigma = self.config.session_skin_sigma
        if sigma <= 0:
            return None
        key = tuple(base)
        if key in self._skin_cache:
            self._skin_cache.move_to_end(key)
            return self._skin_cache[key]
        rng = np.random.default_rng([*base, _SKIN_STREAM])
        noise = smooth_noise(rng, tex.shape, 1.2 * tex.px_per_mm)
        skin = (np.float32(1.0) + np.float32(sigma) * noise).astype(np.float32)
        self._skin_cache[key] = skin
        while len(self._skin_cache) > 8:
            self._skin_cache.popitem(last=False)
        return skin

    # -- geometry ---------------------------------------------------------------------------

    def _linear(
        self,
        tex: IdentityTextures,
        rotation: float,
        scale: float,
        tilt: tuple[float, float],
        mirrored: bool,
    ) -> FloatArray:
        """Canvas -> image-relative (centred at the palm origin) projective map, no translation."""
        a = math.radians(rotation)
        # Clockwise on screen (x right, y down) for positive angles.
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        flip = np.diag([-1.0, 1.0]) if mirrored else np.eye(2)
        lin = np.eye(3)
        lin[:2, :2] = scale * rot @ flip
        c = tex.to_canvas(np.array([0.0, 0.0]))
        shift = np.eye(3)
        shift[:2, 2] = -c
        return _tilt_homography(tilt, self.config.focal_px) @ lin @ shift

    def _place(
        self,
        tex: IdentityTextures,
        art: ArticulatedHand,
        rng: np.random.Generator,
        rotation: float,
        scale: float,
        tilt: tuple[float, float],
        mirrored: bool,
        out_of_frame: bool,
    ) -> tuple[_Mapping, float, FloatArray, str | None]:
        cfg = self.config
        rows, cols = self._frame
        cut_edge: str | None = None
        if self.geometry == "pegged":
            rel = self._linear(tex, rotation, scale, tilt, mirrored)
            v = np.array([art.valleys_xy["middle_ring"]])
            q = _apply(rel, v)[0]
            target = np.array(
                [
                    self._peg_centre_x + rng.normal(0.0, cfg.translation_jitter_px),
                    # The web rests just below the peg and its shadow rim (3 px).
                    self._peg_bottom
                    + 3.0
                    + rng.uniform(3.0, 7.0)
                    + abs(rng.normal(0.0, cfg.translation_jitter_px / 2)),
                ]
            )
            centre = target - q
        else:
            keypts = self._hull_points(tex, art)
            for _ in range(12):
                rel = self._linear(tex, rotation, scale, tilt, mirrored)
                q = _apply(rel, keypts)
                m = cfg.margin_px
                lo = np.array([m, m]) - q.min(axis=0)
                hi = np.array([cols - 1 - m, rows - 1 - m]) - q.max(axis=0)
                if np.all(hi >= lo):
                    break
                if scale <= 1.0 - cfg.scale_range + 1e-9:
                    raise SimulationError(
                        f"the hand does not fit the {cols}x{rows} frame even at scale {scale:.2f}"
                    )
                # The drawn scale does not fit this hand: step back, within the allowed range.
                scale = max(scale * 0.95, 1.0 - cfg.scale_range)
            else:  # pragma: no cover - the loop reaches the minimum scale within 12 steps
                raise SimulationError("the hand does not fit the frame")
            # Users aim for the middle of the frame: a normal around the centre of the
            # feasible region, truncated to it.
            mid, spread = (lo + hi) / 2, np.maximum(hi - lo, 1e-6) / 4
            for _ in range(20):
                centre = mid + spread * rng.standard_normal(2)
                if np.all(centre >= lo) and np.all(centre <= hi):
                    break
            else:
                centre = mid
            if out_of_frame:
                cut_edge = str(rng.choice(["top", "left", "right", "bottom"]))
                extent = q.max(axis=0) - q.min(axis=0)
                frac = float(rng.uniform(0.12, 0.3))
                mid = (lo + hi) / 2
                centre = mid.copy()
                if cut_edge == "top":
                    centre[1] = -q[:, 1].min() - frac * extent[1]
                elif cut_edge == "bottom":
                    centre[1] = rows - 1 - q[:, 1].max() + frac * extent[1]
                elif cut_edge == "left":
                    centre[0] = -q[:, 0].min() - frac * extent[0]
                else:
                    centre[0] = cols - 1 - q[:, 0].max() + frac * extent[0]
        rel = self._linear(tex, rotation, scale, tilt, mirrored)
        t = np.eye(3)
        t[:2, 2] = centre
        m_full = t @ rel
        disp = self._elastic(rng, scale)
        return _Mapping(m=m_full, disp=disp), scale, centre, cut_edge

    def _hull_points(self, tex: IdentityTextures, art: ArticulatedHand) -> FloatArray:
        """Canvas points that must stay in frame: palm outline (no forearm) and finger tips."""
        ident = tex.identity
        outline = ident.outline[
            ident.outline[:, 0] < ident.palm_length / 2 + 0.1 * ident.palm_width
        ]
        pts = [tex.to_canvas(outline)]
        ppm = tex.px_per_mm
        for tip, f in zip(art.fingertips_xy, ident.fingers, strict=True):
            r = f.width * ppm / 2
            ang = np.linspace(0, 2 * np.pi, 12, endpoint=False)
            pts.append(tip + r * np.stack([np.cos(ang), np.sin(ang)], axis=1))
        return np.vstack(pts)

    def _elastic(self, rng: np.random.Generator, scale: float) -> F32:
        """Smooth random displacement field (image px) on the coarse grid: a random grid with
        25 mm spacing, upsampled by bicubic interpolation."""
        cfg = self.config
        rows, cols = self._frame
        n_r, n_c = self._coarse_x.shape
        spacing = 25.0 * cfg.px_per_mm * scale
        gh = max(2, round(rows / spacing) + 2)
        gw = max(2, round(cols / spacing) + 2)
        sigma = cfg.elastic_rms_mm * cfg.px_per_mm * scale / math.sqrt(2.0)
        coarse = rng.normal(0.0, sigma, (gh, gw, 2)).astype(np.float32)
        field2: F32 = np.asarray(
            cv2.resize(coarse, (n_c, n_r), interpolation=cv2.INTER_CUBIC), dtype=np.float32
        )
        return field2

    # -- rendering --------------------------------------------------------------------------

    def _render(
        self,
        tex: IdentityTextures,
        art: ArticulatedHand,
        mapping: _Mapping,
        cond: CaptureConditions,
        tilt: tuple[float, float],
        nrng: np.random.Generator,
    ) -> tuple[U8, npt.NDArray[np.bool_]]:
        cfg = self.config
        rows, cols = self._frame
        ch = tex.shape[0]
        # Limb darkening: surfaces near the silhouette turn away from the LEDs.
        soft = _blur(art.alpha, 1.8 * tex.px_per_mm)
        shade = 0.45 + 0.55 * np.clip((soft - 0.5) * 2.0, 0.0, 1.0)
        # Premultiplied by alpha, so the interpolated edge blends hand and background correctly.
        premultiplied = art.reflectance * shade * art.alpha

        # Backward map image -> canvas (projective after the elastic displacement), the forearm
        # fade and the LED field, all smooth: computed on the coarse grid, upsampled once.
        minv = np.linalg.inv(mapping.m)
        gx, gy = self._coarse_x, self._coarse_y
        px = gx + mapping.disp[..., 0]
        py = gy + mapping.disp[..., 1]
        den = minv[2, 0] * px + minv[2, 1] * py + minv[2, 2]
        mx = (minv[0, 0] * px + minv[0, 1] * py + minv[0, 2]) / den
        my = (minv[1, 0] * px + minv[1, 1] * py + minv[1, 2]) / den
        # The forearm leaves the LED cone: it darkens away from the wrist.
        wrist_row = (tex.identity.palm_length / 2 - tex.origin_mm[0]) * tex.px_per_mm
        fade_len = _FOREARM_FADE_MM * tex.px_per_mm
        fade = np.clip(1.0 - 0.5 * (my - wrist_row) / fade_len, 0.5, 1.0)
        focal = cfg.focal_px
        gradient = (
            -2.0 * math.sin(math.radians(tilt[0])) / focal,
            2.0 * math.sin(math.radians(tilt[1])) / focal,
        )
        light = led_field(gy, gx, cond.led_centre_rc, cond.led_radius_px, gradient)
        # The forearm continues beyond the canvas: repeat its last rows.
        o = self._coarse_offset
        maps = cv2.resize(
            np.stack([mx, np.minimum(my, ch - 1.001)], axis=2).astype(np.float32),
            self._coarse_size,
            interpolation=cv2.INTER_LINEAR,
        )[o : o + rows, o : o + cols]
        photo = np.asarray(
            cv2.resize(
                np.stack([fade, light], axis=2).astype(np.float32),
                self._coarse_size,
                interpolation=cv2.INTER_LINEAR,
            )[o : o + rows, o : o + cols],
            dtype=np.float32,
        )
        # One interleaved (x, y) float map (the empty second map means "none"); two single-channel
        # remaps are faster than one two-channel remap in OpenCV.
        map_xy: F32 = np.ascontiguousarray(maps, dtype=np.float32)
        hand_term = _remap(premultiplied, map_xy)
        alpha = _remap(art.alpha, map_xy)
        fade_img: F32 = photo[..., 0]
        light_img: F32 = photo[..., 1]
        scene: F32
        amb: F32
        one = np.float32(1.0)
        if self._has_occluders:
            occ_a = self._occluder_alpha
            hand_term *= one - occ_a
            scene = np.asarray(
                hand_term * fade_img + (one - alpha) * (one - occ_a) * self._background,
                dtype=np.float32,
            )
            scene += occ_a * self._occluder_refl
            amb = np.float32(cond.ambient) * (0.35 + 0.6 * hand_term + 0.3 * occ_a)
            mask = (alpha > 0.5) & (occ_a < 0.5)
        else:
            scene = hand_term * fade_img + (one - alpha) * self._background
            amb = np.float32(cond.ambient) * (0.35 + 0.6 * hand_term)
            mask = alpha > 0.5
        signal: F32 = np.float32(cond.exposure) * light_img * scene + amb if cond.led else amb
        signal = blur(signal, cond.defocus_sigma, cond.motion_px, cond.motion_angle_deg)
        image = sensor_readout(signal, nrng, cond.electrons_per_level, cond.read_noise)
        return image, mask

    def _device(self) -> tuple[F32, F32, F32]:
        """Background reflectance, occluder alpha and occluder reflectance (device-fixed)."""
        rows, cols = self._frame
        cfg = self.config
        rng = np.random.default_rng([self.seed, 99])
        _yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
        bg = np.float32(cfg.background) * (
            1.0
            + 0.25 * (xx / cols - 0.5)
            + 0.15 * rng.standard_normal((rows, cols)).astype(np.float32)
        )
        bg = cv2.GaussianBlur(bg, (0, 0), 2.0)
        occ_a = np.zeros((rows, cols), np.float32)
        occ_r = np.zeros((rows, cols), np.float32)
        self._peg_centre_x = cols / 2.0
        self._peg_bottom = 0.0
        if self.geometry == "pegged":
            ppm = cfg.px_per_mm
            # A PolyU-like device: a wide peg and a broad casing band when the frame is long
            # along the hand (fingers at the left edge), a slimmer layout otherwise.
            pw = 16.0 * ppm
            bottom = (0.14 if self._left else 0.11) * rows
            self._peg_bottom = bottom
            x0, x1 = cols / 2 - pw / 2, cols / 2 + pw / 2
            # Peg seen from above the palm: a rounded post with a dark shadow rim and a
            # knurled face.
            peg = np.zeros((rows, cols), np.float32)
            cv2.rectangle(peg, (int(x0), -10), (int(x1), int(bottom - pw / 4)), 1.0, -1)
            cv2.ellipse(
                peg,
                (int(cols / 2), int(bottom - pw / 4)),
                (int(pw / 2), int(pw / 4)),
                0,
                0,
                180,
                1.0,
                -1,
            )
            rim = cv2.dilate(peg, np.ones((5, 5), np.uint8))
            # Brushed metal: bright, a knurled band, darker towards the cylinder's sides.
            face = (
                0.75
                + 0.08 * np.sin(xx * (2 * np.pi / 5.0))
                + 0.04 * rng.standard_normal((rows, cols)).astype(np.float32)
            )
            face *= 1.0 - 0.45 * ((xx - cols / 2) / (pw / 2)) ** 2
            # A dark, textured inset in the peg's face.
            inset = np.zeros((rows, cols), np.float32)
            cv2.rectangle(
                inset,
                (int(x0 + 0.22 * pw), -10),
                (int(x1 - 0.22 * pw), int(bottom - 0.45 * pw)),
                1.0,
                -1,
            )
            dark = 0.18 + 0.08 * rng.standard_normal((rows, cols)).astype(np.float32)
            face = np.where(inset > 0, dark, face).astype(np.float32)
            occ_a = np.asarray(cv2.GaussianBlur(rim, (0, 0), 0.7), dtype=np.float32)
            occ_r = np.where(peg > 0, face, 0.02).astype(np.float32)
            occ_r = np.asarray(cv2.GaussianBlur(occ_r, (0, 0), 0.7), dtype=np.float32)
            # Device casing along the wrist-side edge.
            bar = round((0.12 if self._left else 0.035) * rows)
            occ_a[rows - bar :, :] = 1.0
            occ_r[rows - bar :, :] = 0.28
            occ_r[rows - bar : rows - bar + 2, :] = 0.05
            occ_r[rows - bar + 2 : rows - bar + 4, :] = 0.55
        return bg.astype(np.float32), occ_a.astype(np.float32), occ_r.astype(np.float32)


def _remap(image: F32, maps: F32) -> F32:
    out: F32 = np.asarray(
        cv2.remap(
            image, maps, _NO_MAP, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        ),
        dtype=np.float32,
    )
    return out


def _wrap_deg(angle: float) -> float:
    return (angle + 180.0) % 360.0 - 180.0


def _apply(m: FloatArray, pts_xy: FloatArray) -> FloatArray:
    p = np.c_[pts_xy, np.ones(len(pts_xy))] @ m.T
    out: FloatArray = p[:, :2] / p[:, 2:3]
    return out


def _rc(p_xy: FloatArray) -> Point:
    return (float(p_xy[1]), float(p_xy[0]))


__all__ = [
    "ROI_OFFSET_FACTOR",
    "ROI_SIDE_FACTOR",
    "CaptureConditions",
    "CapturePose",
    "FingerValleys",
    "SimulatedCapture",
    "SimulatedSensor",
    "SimulationError",
]
