"""Difficulty knobs of the simulated sensor, with defaults for the two geometries."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

Geometry = Literal["contactless", "pegged"]
FingerEdge = Literal["top", "left"]
Difficulty = Literal["easy", "default", "hard"]


@dataclass(frozen=True)
class SensorConfig:
    """Ranges from which capture conditions are drawn. Use :func:`default_config` and
    :func:`dataclasses.replace` to change single knobs.

    Frame
        geometry, shape (rows, cols of the output frame), finger_edge (pegged: the edge the
        finger gaps lie along, "top" or "left"), px_per_mm, focal_px.

    Pose (per capture)
        rotation_max_deg, scale_range and tilt_max_deg (each the sum of a per-session habit,
        ``session_pose_share`` of the range, and a per-sample jitter, the rest of it; so the
        extremes are rarer than the middle), elastic_rms_mm, spread_range,
        finger_jitter_deg, min_finger_gap_deg (smallest angle between adjacent fingers; lower it
        for fingers held together), thumb_jitter_deg, translation_jitter_px (pegged only; contactless
        translation is uniform over all positions keeping the hand in frame).
    Photometry
        exposure (grey level of reflectance 1 on the LED axis), session_gain_sigma and
        sample_gain_sigma (log-normal exposure changes; sessions differ more than samples),
        vein_contrast_range (per session) and vein_contrast_sigma (per sample),
        session_skin_sigma (relative albedo change of the skin between sessions: dryness,
        sweat, small marks; a fine noise field fixed per identity and session), led_radius_range
        (falloff radius as a fraction of the frame diagonal), ambient_range (grey levels of the
        LED-off frame), background (reflectance of what is behind the hand).
    Optics and sensor
        defocus_range (Gaussian sigma px at the focus distance), defocus_per_scale (extra sigma
        per unit of relative scale change: out of the depth of field), motion_prob and
        motion_range_px, electrons_range (photo-electrons per grey level; shot noise), read_noise.
    """

    geometry: Geometry
    shape: tuple[int, int]
    finger_edge: FingerEdge
    px_per_mm: float
    focal_px: float
    session_pose_share: float
    rotation_max_deg: float
    scale_range: float
    tilt_max_deg: float
    elastic_rms_mm: float
    spread_range: tuple[float, float]
    finger_jitter_deg: float
    min_finger_gap_deg: float
    thumb_jitter_deg: float
    translation_jitter_px: float
    margin_px: float
    exposure: float
    session_gain_sigma: float
    sample_gain_sigma: float
    vein_contrast_range: tuple[float, float]
    vein_contrast_sigma: float
    session_skin_sigma: float
    led_radius_range: tuple[float, float]
    led_offset_sigma: float
    ambient_range: tuple[float, float]
    background: float
    defocus_range: tuple[float, float]
    defocus_per_scale: float
    motion_prob: float
    motion_range_px: tuple[float, float]
    electrons_range: tuple[float, float]
    read_noise: float


def default_config(
    geometry: Geometry = "contactless",
    shape: tuple[int, int] | None = None,
    difficulty: Difficulty = "default",
    finger_edge: FingerEdge = "top",
) -> SensorConfig:
    """The knobs for ``geometry`` ("contactless" or "pegged") at a difficulty level.

    ``shape`` (rows, cols) defaults to (480, 640) for contactless and (288, 352) for pegged; the
    pixel pitch scales with the frame width so a larger frame shows the same scene sharper.
    ``difficulty``: "default" is the realistic setting; "easy" shrinks pose, illumination, blur
    and noise variation (for debugging a pipeline); "hard" widens each of them by about a
    quarter (rotation and scale range by 15 %), holds the fingers closer and makes the veins
    fainter.
    ``finger_edge`` (pegged only): "top" (default) or "left", the layout of the PolyU
    multispectral NIR images (fingers at the left edge, the casing at the right).
    """
    if finger_edge not in ("top", "left"):
        raise ValueError(f"unknown finger edge {finger_edge!r}; expected 'top' or 'left'")
    if finger_edge == "left" and geometry != "pegged":
        raise ValueError("finger_edge='left' is only available for the pegged geometry")
    base = dataclasses.replace(_geometry_defaults(geometry, shape), finger_edge=finger_edge)
    if difficulty == "default":
        return base
    if difficulty == "easy":
        return dataclasses.replace(
            base,
            rotation_max_deg=base.rotation_max_deg / 3,
            scale_range=base.scale_range / 2,
            tilt_max_deg=base.tilt_max_deg / 3,
            elastic_rms_mm=base.elastic_rms_mm / 2,
            spread_range=(max(base.spread_range), max(base.spread_range)),
            session_gain_sigma=base.session_gain_sigma / 2,
            sample_gain_sigma=base.sample_gain_sigma / 2,
            vein_contrast_range=(1.0, 1.2),
            vein_contrast_sigma=base.vein_contrast_sigma / 2,
            session_skin_sigma=0.0,
            defocus_range=(0.3, 0.5),
            defocus_per_scale=base.defocus_per_scale / 2,
            motion_prob=0.0,
            electrons_range=(2 * base.electrons_range[0], 2 * base.electrons_range[1]),
            read_noise=base.read_noise / 2,
        )
    if difficulty == "hard":
        lo, hi = base.spread_range
        # About a quarter more of every nuisance, fingers held closer and fainter veins.
        return dataclasses.replace(
            base,
            rotation_max_deg=base.rotation_max_deg * 1.15,
            scale_range=base.scale_range * 1.15,
            tilt_max_deg=base.tilt_max_deg * 1.25,
            elastic_rms_mm=base.elastic_rms_mm * 1.25,
            spread_range=(lo * 0.7, hi),
            min_finger_gap_deg=base.min_finger_gap_deg * 0.7,
            session_gain_sigma=base.session_gain_sigma * 1.25,
            vein_contrast_range=(0.65, 1.2),
            vein_contrast_sigma=base.vein_contrast_sigma * 1.25,
            session_skin_sigma=base.session_skin_sigma * 1.25,
            defocus_range=(base.defocus_range[0] * 1.25, base.defocus_range[1] * 1.25),
            motion_prob=min(1.0, base.motion_prob * 1.5),
            electrons_range=(0.75 * base.electrons_range[0], 0.75 * base.electrons_range[1]),
            read_noise=base.read_noise * 1.25,
        )
    raise ValueError(f"unknown difficulty {difficulty!r}; expected 'easy', 'default' or 'hard'")


def _geometry_defaults(geometry: Geometry, shape: tuple[int, int] | None) -> SensorConfig:
    if geometry == "contactless":
        rows, cols = shape if shape is not None else (480, 640)
        k = cols / 640.0
        return SensorConfig(
            geometry=geometry,
            shape=(rows, cols),
            finger_edge="top",
            px_per_mm=1.7 * k,
            focal_px=560.0 * k,
            session_pose_share=0.7,
            rotation_max_deg=30.0,
            scale_range=0.2,
            tilt_max_deg=10.0,
            elastic_rms_mm=0.8,
            spread_range=(0.7, 1.6),
            finger_jitter_deg=2.0,
            min_finger_gap_deg=6.0,
            thumb_jitter_deg=10.0,
            translation_jitter_px=0.0,
            margin_px=6.0 * k,
            exposure=150.0,
            session_gain_sigma=0.15,
            sample_gain_sigma=0.05,
            vein_contrast_range=(0.75, 1.25),
            vein_contrast_sigma=0.06,
            session_skin_sigma=0.015,
            led_radius_range=(0.45, 0.75),
            led_offset_sigma=0.06,
            ambient_range=(2.0, 14.0),
            background=0.03,
            defocus_range=(0.3, 0.8),
            defocus_per_scale=2.0,
            motion_prob=0.15,
            motion_range_px=(1.5, 5.0),
            electrons_range=(10.0, 25.0),
            read_noise=1.2,
        )
    if geometry == "pegged":
        rows, cols = shape if shape is not None else (288, 352)
        k = cols / 352.0
        return SensorConfig(
            geometry=geometry,
            shape=(rows, cols),
            finger_edge="top",
            px_per_mm=2.9 * k,
            focal_px=700.0 * k,
            session_pose_share=0.7,
            rotation_max_deg=4.0,
            scale_range=0.03,
            tilt_max_deg=2.0,
            elastic_rms_mm=0.6,
            spread_range=(1.1, 1.6),
            finger_jitter_deg=1.5,
            min_finger_gap_deg=5.0,
            thumb_jitter_deg=6.0,
            translation_jitter_px=4.0 * k,
            margin_px=0.0,
            exposure=170.0,
            session_gain_sigma=0.12,
            sample_gain_sigma=0.04,
            vein_contrast_range=(0.75, 1.25),
            vein_contrast_sigma=0.06,
            session_skin_sigma=0.015,
            led_radius_range=(0.7, 1.0),
            led_offset_sigma=0.04,
            ambient_range=(1.0, 6.0),
            background=0.07,
            defocus_range=(0.4, 0.9),
            defocus_per_scale=0.0,
            motion_prob=0.05,
            motion_range_px=(1.5, 3.0),
            electrons_range=(12.0, 25.0),
            read_noise=1.0,
        )
    raise ValueError(f"unknown geometry {geometry!r}; expected 'contactless' or 'pegged'")
