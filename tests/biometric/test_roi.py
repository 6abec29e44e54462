"""Palm ROI against the simulated sensor's ground truth, under known rotation and scale."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from biometric import QualityError, RoiError, palm_roi
from biometric.keypoints import finger_valleys
from biometric.roi import CONTACT_FRAME_FRACTION, SIDE_FACTOR
from biometric.segmentation import segment_hand, working_scale
from capture.simulated import SimulatedCapture, SimulatedSensor

# Tolerances. The simulator defines the ROI from the deepest gap points and the
# inscribed circle of the upright hand; palmvein measures both on the silhouette
# it sees, so a small, steady offset is expected and allowed for.
CENTRE_TOLERANCE = 0.08  # of the ROI side
ANGLE_TOLERANCE = 5.0  # degrees
SIDE_RATIO = (0.95, 1.25)  # ours / truth: 1.3 vs 1.2 palm radii, plus silhouette differences


def angle_error(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def test_roi_matches_ground_truth_on_contactless_hands(
    captures: list[SimulatedCapture],
) -> None:
    for cap in captures:
        roi = palm_roi(cap.image)
        assert np.linalg.norm(roi.center - np.array(cap.roi_center)) < (
            CENTRE_TOLERANCE * cap.roi_side
        ), (cap.identity, cap.session, cap.sample)
        assert angle_error(roi.angle, cap.roi_angle_deg) < ANGLE_TOLERANCE
        assert SIDE_RATIO[0] < roi.side / cap.roi_side < SIDE_RATIO[1]
        assert roi.image.shape == (128, 128) and roi.image.dtype == np.uint8
        assert roi.valid.all()


@pytest.mark.parametrize("turn", [-25.0, -10.0, 10.0, 25.0])
def test_rotating_the_frame_rotates_the_roi_by_the_same_angle(
    captures: list[SimulatedCapture], turn: float
) -> None:
    cap = captures[0]
    rows, cols = cap.image.shape
    centre = (cols / 2.0, rows / 2.0)
    # cv2 turns counter-clockwise for positive angles; the ROI angle grows clockwise.
    matrix = cv2.getRotationMatrix2D(centre, -turn, 1.0)
    turned = cv2.warpAffine(cap.image, matrix, (cols, rows), flags=cv2.INTER_LINEAR)
    before, after = palm_roi(cap.image), palm_roi(turned)
    assert angle_error(after.angle - before.angle, turn) < 2.0
    expected = matrix @ np.array([before.center[1], before.center[0], 1.0])
    assert np.hypot(after.center[0] - expected[1], after.center[1] - expected[0]) < (
        0.05 * before.side
    )


@pytest.mark.parametrize("factor", [0.85, 1.15])
def test_scaling_the_frame_scales_the_roi(captures: list[SimulatedCapture], factor: float) -> None:
    cap = captures[1]
    rows, cols = cap.image.shape
    matrix = np.array([[factor, 0, (1 - factor) * cols / 2], [0, factor, (1 - factor) * rows / 2]])
    scaled = cv2.warpAffine(cap.image, matrix, (cols, rows), flags=cv2.INTER_LINEAR)
    before, after = palm_roi(cap.image), palm_roi(scaled)
    assert after.side / before.side == pytest.approx(factor, rel=0.05)
    assert angle_error(after.angle, before.angle) < 2.0


def test_segmentation_agrees_with_the_true_hand_mask(captures: list[SimulatedCapture]) -> None:
    for cap in captures[:4]:
        mask = segment_hand(cap.image)
        truth = cv2.resize(
            cap.mask.astype(np.uint8),
            (mask.shape[1], mask.shape[0]),
            interpolation=cv2.INTER_NEAREST,
        ).astype(bool)
        iou = (mask & truth).sum() / (mask | truth).sum()
        assert iou > 0.9


def test_valleys_are_found_near_the_true_valleys(captures: list[SimulatedCapture]) -> None:
    for cap in captures[:4]:
        geometry = finger_valleys(segment_hand(cap.image))
        found = geometry.valleys / working_scale(cap.image.shape)
        truth = cap.valleys.as_array()
        for point in found[[0, -1]]:
            nearest = np.min(np.linalg.norm(truth - point, axis=1))
            assert nearest < 0.25 * cap.palm_radius


def test_pegged_palms_give_a_roi(pegged_captures: list[SimulatedCapture]) -> None:
    for cap in pegged_captures:
        roi = palm_roi(cap.image)
        assert angle_error(roi.angle, cap.roi_angle_deg) < 8.0


def test_pegged_palms_take_the_device_scale(pegged_captures: list[SimulatedCapture]) -> None:
    # A pegged device images every palm at one distance: the ROI side is the same for every
    # capture and every person, not re-measured from valleys that move with the pegs.
    for cap in pegged_captures:
        roi = palm_roi(cap.image)
        expected = SIDE_FACTOR * CONTACT_FRAME_FRACTION * min(cap.image.shape)
        assert roi.side == pytest.approx(expected)


def test_a_palm_cut_by_the_bottom_edge_is_refused(contactless: SimulatedSensor) -> None:
    # Identities 0 and 5 of this seed are cut through the palm (cut_edge "bottom").
    for identity in (0, 5):
        cap = contactless.capture(identity, 0, 0, out_of_frame=True)
        assert cap.pose.cut_edge == "bottom"
        with pytest.raises(RoiError) as err:
            palm_roi(cap.image)
        assert err.value.reasons == ("palm_cut_off",)


def test_fingertips_out_of_frame_are_refused_or_located(contactless: SimulatedSensor) -> None:
    for identity in range(6):
        cap = contactless.capture(identity, 0, 0, out_of_frame=True)
        if cap.pose.cut_edge != "top":
            continue
        try:
            roi = palm_roi(cap.image)
        except (RoiError, QualityError):
            continue
        error = np.linalg.norm(roi.center - np.array(cap.roi_center)) / cap.roi_side
        assert error < CENTRE_TOLERANCE, (identity, error)


@pytest.mark.parametrize("edge", ["top", "bottom", "left", "right"])
def test_a_palm_pushed_over_the_frame_edge_is_refused(
    captures: list[SimulatedCapture], edge: str
) -> None:
    cap = captures[3]
    rows, cols = cap.image.shape
    row, col = cap.roi_center
    # Move the ROI centre to a tenth of the ROI side from the chosen edge.
    margin = 0.1 * cap.roi_side
    target = {
        "top": (margin, col),
        "bottom": (rows - margin, col),
        "left": (row, margin),
        "right": (row, cols - margin),
    }[edge]
    matrix = np.float32([[1, 0, target[1] - col], [0, 1, target[0] - row]])
    moved = cv2.warpAffine(cap.image, matrix, (cols, rows), borderValue=int(cap.image.min()))
    with pytest.raises((RoiError, QualityError)):
        palm_roi(moved)


def test_an_already_cropped_palm_roi_is_accepted_as_it_is(
    captures: list[SimulatedCapture],
) -> None:
    crop = captures[0].roi_image(128)
    roi = palm_roi(crop)
    assert roi.angle == 0.0 and roi.side == 128.0
    assert np.array_equal(roi.image, crop)


def test_palm_roi_does_not_modify_its_input(captures: list[SimulatedCapture]) -> None:
    image = captures[2].image.copy()
    palm_roi(image)
    assert np.array_equal(image, captures[2].image)
