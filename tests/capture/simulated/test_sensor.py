"""The simulated NIR sensor: determinism, image format, ground truth, faint veins, pose ranges."""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.simulated import (
    ROI_OFFSET_FACTOR,
    ROI_SIDE_FACTOR,
    SimulatedCapture,
    SimulatedSensor,
    default_config,
)

FloatArray = npt.NDArray[np.float64]


def up_vector(cap: SimulatedCapture) -> FloatArray:
    a = math.radians(cap.roi_angle_deg)
    return np.array([-math.cos(a), math.sin(a)])


def inside(mask: npt.NDArray[np.bool_], pts: FloatArray) -> npt.NDArray[np.bool_]:
    r = np.round(pts[:, 0]).astype(int)
    c = np.round(pts[:, 1]).astype(int)
    ok = (r >= 0) & (r < mask.shape[0]) & (c >= 0) & (c < mask.shape[1])
    out = np.zeros(len(pts), bool)
    out[ok] = mask[r[ok], c[ok]]
    return out


def roi_grid(cap: SimulatedCapture, n: int = 9) -> FloatArray:
    """Points covering the ROI square, corners included."""
    up = up_vector(cap)
    right = np.array([up[1], -up[0]])
    t = np.linspace(-0.5, 0.5, n) * cap.roi_side
    a, b = np.meshgrid(t, t)
    pts: FloatArray = np.array(cap.roi_center) + a.reshape(-1, 1) * up + b.reshape(-1, 1) * right
    return pts


def border_pixels(mask: npt.NDArray[np.bool_], edge: str) -> FloatArray:
    rows, cols = mask.shape
    pts: FloatArray
    if edge == "top":
        idx = np.flatnonzero(mask[0])
        pts = np.c_[np.zeros(len(idx)), idx].astype(float)
    elif edge == "bottom":
        idx = np.flatnonzero(mask[-1])
        pts = np.c_[np.full(len(idx), rows - 1), idx].astype(float)
    elif edge == "left":
        idx = np.flatnonzero(mask[:, 0])
        pts = np.c_[idx, np.zeros(len(idx))].astype(float)
    else:
        idx = np.flatnonzero(mask[:, -1])
        pts = np.c_[idx, np.full(len(idx), cols - 1)].astype(float)
    return pts


# -- determinism and format ---------------------------------------------------------------------


def test_same_seed_gives_identical_bytes() -> None:
    a = SimulatedSensor(seed=11).capture(2, session=1, sample=3)
    b = SimulatedSensor(seed=11).capture(2, session=1, sample=3)
    assert a.image.tobytes() == b.image.tobytes()
    assert np.array_equal(a.mask, b.mask)
    assert a.truth() == b.truth()


def test_samples_seeds_and_identities_differ(contactless: SimulatedSensor) -> None:
    ref = contactless.capture(0, 0, 0).image
    assert not np.array_equal(ref, contactless.capture(0, 0, 1).image)
    assert not np.array_equal(ref, contactless.capture(1, 0, 0).image)
    assert not np.array_equal(ref, SimulatedSensor(seed=8).capture(0, 0, 0).image)


def test_identities_have_different_vein_networks(contactless: SimulatedSensor) -> None:
    veins = [contactless.textures(i).veins for i in range(3)]
    rows = min(v.shape[0] for v in veins)
    cols = min(v.shape[1] for v in veins)
    flat = [v[:rows, :cols].ravel() for v in veins]
    for i in range(3):
        for j in range(i + 1, 3):
            assert abs(np.corrcoef(flat[i], flat[j])[0, 1]) < 0.3
    again = SimulatedSensor(seed=7).textures(1).veins
    assert np.array_equal(again, veins[1])


@pytest.mark.parametrize(
    ("geometry", "shape"),
    [("contactless", (480, 640)), ("pegged", (288, 352)), ("contactless", (576, 768))],
)
def test_images_are_uint8_frames_of_the_configured_shape(
    geometry: str, shape: tuple[int, int]
) -> None:
    sensor = SimulatedSensor(seed=1, geometry=geometry, shape=shape)  # type: ignore[arg-type]
    cap = sensor.capture(0)
    assert cap.image.dtype == np.uint8
    assert cap.image.shape == shape
    assert cap.mask.shape == shape and cap.mask.dtype == np.bool_
    # Bright hand, dark background.
    assert cap.image[cap.mask].mean() > 3 * cap.image[~cap.mask].mean()


# -- ground truth ------------------------------------------------------------------------------


def assert_truth_consistent(cap: SimulatedCapture) -> None:
    mask = cap.mask
    dist_in = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    dist_out = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
    up = up_vector(cap)
    for name, (r, c) in dataclasses.asdict(cap.valleys).items():
        ri, ci = round(r), round(c)
        # On the silhouette boundary: within 1.5 px of both the hand and the background.
        assert dist_in[ri, ci] <= 1.5 and dist_out[ri, ci] <= 1.5, name
        # Between two fingers: the background near it opens away from the palm (the gap), and
        # a little way into the gap there is hand on both sides.
        rad = 0.25 * cap.palm_radius
        rr, cc = np.mgrid[ri - int(rad) : ri + int(rad) + 1, ci - int(rad) : ci + int(rad) + 1]
        disc = (rr - r) ** 2 + (cc - c) ** 2 <= rad**2
        gap = disc & ~mask[rr, cc]
        direction = np.array([rr[gap].mean() - r, cc[gap].mean() - c])
        direction /= np.linalg.norm(direction)
        assert np.dot(direction, up) > math.cos(math.radians(40)), name
        across = np.array([direction[1], -direction[0]])
        into_gap = np.array([r, c]) + direction * 0.15 * cap.palm_radius
        assert not inside(mask, into_gap[None])[0], name
        offsets = np.linspace(0.02, 0.6, 40)[:, None] * cap.palm_radius
        assert inside(mask, into_gap + offsets * across).any(), name
        assert inside(mask, into_gap - offsets * across).any(), name
    # The middle-ring valley lies between the two others along the valley line.
    v = cap.valleys.as_array()
    e = v[0] - v[2]
    t = float(np.dot(v[1] - v[2], e) / np.dot(e, e))
    assert 0.0 < t < 1.0
    # The ROI follows its documented construction and lies inside the hand.
    m = (v[0] + v[2]) / 2
    expected = m - up * (ROI_OFFSET_FACTOR + ROI_SIDE_FACTOR / 2) * cap.palm_radius
    assert np.allclose(cap.roi_center, expected)
    assert cap.roi_side == pytest.approx(ROI_SIDE_FACTOR * cap.palm_radius)
    assert inside(mask, roi_grid(cap)).all()
    # Independent check of the angle's sign: the middle fingertip lies "up" from the ROI.
    tip = cap.fingertips[2] - np.array(cap.roi_center)
    assert np.dot(tip, up) / np.linalg.norm(tip) > math.cos(math.radians(25))


@settings(max_examples=12, deadline=None)
@given(
    identity=st.integers(0, 5),
    session=st.integers(0, 3),
    sample=st.integers(0, 9),
    hand=st.sampled_from(["right", "left"]),
)
def test_contactless_truth_is_consistent(
    contactless: SimulatedSensor, identity: int, session: int, sample: int, hand: str
) -> None:
    cap = contactless.capture(identity, session, sample, hand=hand)  # type: ignore[arg-type]
    assert cap.hand_in_frame
    assert_truth_consistent(cap)


@settings(max_examples=8, deadline=None)
@given(
    identity=st.integers(0, 5),
    session=st.integers(0, 3),
    sample=st.integers(0, 9),
    hand=st.sampled_from(["right", "left"]),
)
def test_pegged_truth_is_consistent(
    pegged: SimulatedSensor, identity: int, session: int, sample: int, hand: str
) -> None:
    assert_truth_consistent(pegged.capture(identity, session, sample, hand=hand))  # type: ignore[arg-type]


def test_palm_radius_matches_the_image_mask(contactless: SimulatedSensor) -> None:
    # In the contactless frame the whole hand is visible, so the inscribed circle of the image
    # mask (a detector's measurement) agrees with the truth up to tilt and elastic effects.
    for sample in range(4):
        cap = contactless.capture(1, 0, sample)
        dist = cv2.distanceTransform(cap.mask.astype(np.uint8), cv2.DIST_L2, 5)
        # Ignore the forearm, which is as wide as the palm in places.
        up = up_vector(cap)
        rr, cc = np.mgrid[0 : cap.mask.shape[0], 0 : cap.mask.shape[1]]
        along = (rr - cap.roi_center[0]) * up[0] + (cc - cap.roi_center[1]) * up[1]
        measured = dist[along > -1.1 * cap.palm_radius].max()
        assert measured == pytest.approx(cap.palm_radius, rel=0.12)


def test_roi_angle_follows_the_applied_rotation_exactly_without_tilt() -> None:
    flat = dataclasses.replace(default_config("contactless"), tilt_max_deg=0.0, elastic_rms_mm=0.0)
    upright = SimulatedSensor(seed=5, config=dataclasses.replace(flat, rotation_max_deg=0.0))
    rotated = SimulatedSensor(seed=5, config=flat)
    for identity, sample in [(0, 0), (1, 1), (2, 2), (3, 0)]:
        a = upright.capture(identity, 0, sample)
        b = rotated.capture(identity, 0, sample)
        assert a.pose.rotation_deg == 0.0
        diff = (b.roi_angle_deg - a.roi_angle_deg + 180.0) % 360.0 - 180.0
        assert diff == pytest.approx(b.pose.rotation_deg, abs=1e-6)
        # The valley line's own tilt in the hand is small.
        assert abs(a.roi_angle_deg) < 12.0


def test_roi_angle_tracks_rotation_under_tilt_and_elastic_deformation(
    contactless: SimulatedSensor,
) -> None:
    upright = SimulatedSensor(
        seed=7, config=dataclasses.replace(default_config("contactless"), rotation_max_deg=0.0)
    )
    for identity, sample in [(0, 1), (2, 3), (4, 5)]:
        a = upright.capture(identity, 0, sample)
        b = contactless.capture(identity, 0, sample)
        diff = (b.roi_angle_deg - a.roi_angle_deg + 180.0) % 360.0 - 180.0
        assert diff == pytest.approx(b.pose.rotation_deg, abs=3.0)


def test_roi_image_is_the_upright_palm(contactless: SimulatedSensor) -> None:
    cap = contactless.capture(0, 0, 0)
    roi = cap.roi_image(64)
    assert roi.shape == (64, 64) and roi.dtype == np.uint8
    # Wholly inside the hand: no background pixels.
    assert roi.min() > cap.image[~cap.mask].mean() + 10


def test_left_hand_is_mirrored(contactless: SimulatedSensor) -> None:
    for hand, sign in (("right", 1.0), ("left", -1.0)):
        cap = contactless.capture(0, 0, 0, hand=hand)  # type: ignore[arg-type]
        up = up_vector(cap)
        right = np.array([up[1], -up[0]])
        thumb = cap.fingertips[4] - np.array(cap.roi_center)
        assert sign * np.dot(thumb, right) > 0.5 * cap.roi_side


# -- image content -----------------------------------------------------------------------------


def test_veins_are_faint_but_present_in_the_roi(
    clean_pair: tuple[SimulatedSensor, SimulatedSensor],
) -> None:
    with_veins, without = clean_pair
    for identity in range(4):
        a = with_veins.capture(identity, 0, 0)
        b = without.capture(identity, 0, 0)
        roi = np.zeros(a.image.shape, np.uint8)
        cv2.fillPoly(roi, [np.round(a.roi_corners()[:, ::-1]).astype(np.int32)], 1)
        darkening = (b.image.astype(float) - a.image.astype(float))[roi.astype(bool)]
        vein = darkening >= 1.0
        # A vein network crosses the ROI ...
        assert vein.mean() > 0.1
        # ... with a contrast of a few grey levels, as in 850 nm images.
        assert 3.0 <= np.percentile(darkening, 99) <= 20.0
        assert np.median(darkening[vein]) <= 6.0


def test_led_off_frame_is_the_dim_ambient_view_of_the_same_pose(
    contactless: SimulatedSensor,
) -> None:
    on = contactless.capture(3, 1, 2)
    off = contactless.capture(3, 1, 2, led=False)
    assert np.array_equal(on.mask, off.mask)
    assert on.roi_center == off.roi_center
    assert off.image[on.mask].mean() < 0.2 * on.image[on.mask].mean()
    # The ambient light still shows the hand faintly.
    assert off.image[on.mask].mean() > off.image[~on.mask].mean()


def test_sessions_differ_more_than_samples(contactless: SimulatedSensor) -> None:
    caps = [[[contactless.capture(i, s, k) for k in range(3)] for s in range(4)] for i in range(2)]
    values = {
        "log exposure": [[[np.log(c.conditions.exposure) for c in ses] for ses in i] for i in caps],
        "rotation": [[[c.pose.rotation_deg for c in ses] for ses in i] for i in caps],
        "tilt": [[[c.pose.tilt_deg[0] for c in ses] for ses in i] for i in caps],
    }
    for name, nested in values.items():
        v = np.array(nested)
        within = v.std(axis=2).mean()
        between = v.mean(axis=2).std(axis=1).mean()
        assert between > within, name


# -- pose ranges and framing -------------------------------------------------------------------


def test_contactless_pose_ranges_and_hand_in_frame(contactless: SimulatedSensor) -> None:
    cfg = contactless.config
    rotations = []
    for identity, session, sample in np.ndindex(3, 3, 2):
        cap = contactless.capture(identity, session, sample)
        pose = cap.pose
        rotations.append(pose.rotation_deg)
        assert abs(pose.rotation_deg) <= cfg.rotation_max_deg
        assert 1 - cfg.scale_range <= pose.scale <= 1 + cfg.scale_range
        assert max(abs(t) for t in pose.tilt_deg) <= cfg.tilt_max_deg
        assert cap.hand_in_frame and pose.cut_edge is None
        # Only the forearm may leave the frame: every border pixel of the hand lies on the
        # wrist side of the palm.
        up = up_vector(cap)
        for edge in ("top", "bottom", "left", "right"):
            pts = border_pixels(cap.mask, edge)
            if len(pts):
                along = (pts - np.array(cap.roi_center)) @ up
                assert along.max() < -0.9 * cap.palm_radius, edge
    # The rotations use the range, not a corner of it.
    assert max(rotations) - min(rotations) > cfg.rotation_max_deg


def test_pegged_pose_is_nearly_fixed(pegged: SimulatedSensor) -> None:
    for sample in range(4):
        cap = pegged.capture(2, 1, sample)
        assert abs(cap.pose.rotation_deg) <= pegged.config.rotation_max_deg
        # Finger gaps along the top edge: the valleys sit in the top quarter of the frame.
        assert (cap.valleys.as_array()[:, 0] < 0.25 * cap.image.shape[0]).all()
        # The palm fills most of the frame.
        assert cap.mask.mean() > 0.5


@pytest.mark.parametrize("sample", range(6))
def test_out_of_frame_cuts_the_palm_or_fingers_at_the_border(
    contactless: SimulatedSensor, sample: int
) -> None:
    cap = contactless.capture(1, 0, sample, out_of_frame=True)
    assert not cap.hand_in_frame
    assert cap.pose.cut_edge in {"top", "bottom", "left", "right"}
    pts = border_pixels(cap.mask, cap.pose.cut_edge)
    along = (pts - np.array(cap.roi_center)) @ up_vector(cap)
    # Hand pixels on the cutting edge that are not forearm.
    assert np.count_nonzero(along > -0.9 * cap.palm_radius) >= 5


def test_out_of_frame_is_refused_for_the_pegged_geometry(pegged: SimulatedSensor) -> None:
    with pytest.raises(ValueError, match="contactless"):
        pegged.capture(0, out_of_frame=True)


def test_negative_indices_are_refused(contactless: SimulatedSensor) -> None:
    with pytest.raises(ValueError):
        contactless.capture(-1)


@pytest.mark.parametrize("difficulty", ["easy", "hard"])
def test_difficulty_presets_keep_the_truth_consistent(difficulty: str) -> None:
    sensor = SimulatedSensor(seed=9, difficulty=difficulty)  # type: ignore[arg-type]
    base = default_config("contactless")
    cfg = sensor.config
    if difficulty == "hard":
        assert cfg.rotation_max_deg > base.rotation_max_deg
        assert cfg.min_finger_gap_deg < base.min_finger_gap_deg
    else:
        assert cfg.rotation_max_deg < base.rotation_max_deg
    for identity in range(3):
        cap = sensor.capture(identity, 1, identity)
        assert abs(cap.pose.rotation_deg) <= cfg.rotation_max_deg
        assert_truth_consistent(cap)


def test_pegged_frame_with_the_fingers_at_the_left_edge() -> None:
    # The PolyU layout: finger gaps and peg along the left edge, casing along the right edge.
    sensor = SimulatedSensor(seed=4, geometry="pegged", finger_edge="left")
    for sample in range(3):
        cap = sensor.capture(1, 0, sample)
        assert cap.image.shape == (288, 352) and cap.mask.shape == (288, 352)
        assert (cap.valleys.as_array()[:, 1] < 0.25 * 352).all()
        assert abs(cap.roi_angle_deg + 90.0) < 15.0
        assert abs(cap.pose.rotation_deg + 90.0) <= sensor.config.rotation_max_deg
        assert_truth_consistent(cap)
        # The casing: a dark band along the right edge that is never hand.
        assert not cap.mask[:, -3:].any()
        assert cap.image[:, -3:].mean() < 0.5 * cap.image[cap.mask].mean()


def test_fingers_at_the_left_edge_is_refused_for_the_contactless_geometry() -> None:
    with pytest.raises(ValueError, match="pegged"):
        SimulatedSensor(seed=0, geometry="contactless", finger_edge="left")
