"""The valley-gap direction gate for pegged palms, on simulated frames with known ground truth.

A pegged device holds the hand along one frame axis, so both outer finger gaps open towards the
same frame edge. A wrong pair made of one finger gap and a notch in the palm's side edge (the
thumb notch on PolyU) opens towards two edges and lies tilted against the frame axis: the gate
refuses it and the right pair is chosen (PolyU NIR, 6000 frames: all 37 wrong first choices
refused, 1 of 5524 right ones; docs/RECOGNITION.md). Whole hands are not gated. A pegged palm
with 8-12 % of its outline on the frame border (a dim device edge) counts as pegged.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from biometric import keypoints, palm_roi
from biometric.keypoints import PalmGeometry, finger_valleys
from biometric.segmentation import segment_hand
from capture.simulated import SimulatedCapture, SimulatedSensor

#: Larger than any angle off a frame axis (at most 45 degrees): the gate never refuses.
NO_GATE = 90.0


def side_notch(
    image: npt.NDArray[np.uint8], col: int, depth: int, half: int
) -> npt.NDArray[np.uint8]:
    """Cut a dark wedge ``depth`` px deep into the top edge at ``col``: a notch in the palm's side."""
    out = image.copy()
    wedge = np.array([[col - half, -5], [col + half, -5], [col, depth]], dtype=np.int32)
    cv2.fillPoly(out, [wedge], 10)
    return out


def outer_pair_found(geometry: PalmGeometry, truth: npt.NDArray[np.float64], tol: float) -> bool:
    """Whether the chosen outer valleys are the true index-middle and ring-little valleys."""
    ends = geometry.valleys[[0, -1]]
    straight = np.linalg.norm(ends - truth[[0, 2]], axis=1).max()
    swapped = np.linalg.norm(ends - truth[[2, 0]], axis=1).max()
    return bool(min(straight, swapped) < tol)


def angle_error(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


# (capture index in pegged_captures, notch column, depth, half width): frames where a finger gap
# paired with the notch ranks first without the gate (seed 11, fingers to the left; the notch opens
# towards the top edge, the gaps towards the left one). Shallow notches: a deeper one reaches
# into the ROI, which then goes to the fallbacks (see test_roi_fallbacks.py).
NOTCHES = [(0, 130, 45, 20), (0, 205, 45, 30), (1, 160, 45, 20), (2, 130, 60, 20), (3, 190, 45, 20)]


@pytest.mark.parametrize(("index", "col", "depth", "half"), NOTCHES)
def test_the_gate_refuses_a_finger_gap_paired_with_a_side_notch(
    pegged_captures: list[SimulatedCapture],
    monkeypatch: pytest.MonkeyPatch,
    index: int,
    col: int,
    depth: int,
    half: int,
) -> None:
    cap = pegged_captures[index]
    truth = cap.valleys.as_array()
    image = side_notch(cap.image, col, depth, half)
    mask = segment_hand(image)
    with monkeypatch.context() as patch:
        patch.setattr(keypoints, "CONTACT_GAP_AXIS_DEG", NO_GATE)
        ungated = finger_valleys(mask)
    # Without the gate the notch is one end of the first choice (the test can fail).
    assert not outer_pair_found(ungated, truth, 15.0)
    assert np.linalg.norm(ungated.valleys - [depth, col], axis=1).min() < 0.6 * depth
    gated = finger_valleys(mask)
    assert gated.contact
    assert outer_pair_found(gated, truth, 15.0)
    # The ROI is the intact frame's.
    roi, intact = palm_roi(image), palm_roi(cap.image)
    assert np.linalg.norm(roi.center - intact.center) < 0.05 * intact.side
    assert angle_error(roi.angle, intact.angle) < 3.0


@pytest.mark.parametrize(("identity", "session"), [(0, 1), (25, 0)])
def test_the_gate_picks_the_right_pair_on_unaltered_pegged_frames(
    monkeypatch: pytest.MonkeyPatch, identity: int, session: int
) -> None:
    # Fingers towards the top edge (seed 5): these two frames show a notch on the palm's right
    # side that, paired with the index-middle gap, ranked first without the gate (found among
    # 120 frames of 30 identities, both finger edges; the other 118 choose the same either way).
    cap = SimulatedSensor(seed=5, geometry="pegged", finger_edge="top").capture(
        identity, session, 0
    )
    truth = cap.valleys.as_array()
    mask = segment_hand(cap.image)
    with monkeypatch.context() as patch:
        patch.setattr(keypoints, "CONTACT_GAP_AXIS_DEG", NO_GATE)
        assert not outer_pair_found(finger_valleys(mask), truth, 20.0)
    assert outer_pair_found(finger_valleys(mask), truth, 20.0)


def test_the_gate_changes_nothing_on_intact_simulated_pegged_palms(
    pegged_captures: list[SimulatedCapture], monkeypatch: pytest.MonkeyPatch
) -> None:
    top = SimulatedSensor(seed=11, geometry="pegged", finger_edge="top")
    caps = [*pegged_captures, *(top.capture(i, s, 0) for i in range(3) for s in range(2))]
    for cap in caps:
        mask = segment_hand(cap.image)
        gated = finger_valleys(mask)
        with monkeypatch.context() as patch:
            patch.setattr(keypoints, "CONTACT_GAP_AXIS_DEG", NO_GATE)
            ungated = finger_valleys(mask)
        assert np.array_equal(ungated.valleys, gated.valleys)
        assert len(ungated.alternatives) == len(gated.alternatives)


def test_whole_hands_are_not_gated(
    captures: list[SimulatedCapture], monkeypatch: pytest.MonkeyPatch
) -> None:
    for cap in captures[:4]:
        mask = segment_hand(cap.image)
        gated = finger_valleys(mask)
        assert not gated.contact
        with monkeypatch.context() as patch:
            # A gate that refused every mixed pair, whatever its angle.
            patch.setattr(keypoints, "CONTACT_GAP_AXIS_DEG", -1.0)
            strict = finger_valleys(mask)
        assert np.array_equal(strict.valleys, gated.valleys)
        assert len(strict.alternatives) == len(gated.alternatives)


def rotate(direction: tuple[float, float], degrees: float) -> npt.NDArray[np.float64]:
    """Turn a (row, col) direction by ``degrees`` (counter-clockwise on screen)."""
    t = np.deg2rad(degrees)
    r, c = direction
    return np.array([r * np.cos(t) - c * np.sin(t), r * np.sin(t) + c * np.cos(t)])


@pytest.mark.parametrize(
    ("tilt", "first", "second", "kept"),
    [
        # Both gaps towards the left edge: kept at any tilt.
        (30.0, 10.0, -10.0, True),
        # Gaps towards the left and the top edge, fingers 5 degrees off the axis: spread
        # fingers, kept.
        (5.0, 50.0, -30.0, True),
        # The same gaps with the fingers 20 degrees off the axis: refused.
        (20.0, 50.0, -30.0, False),
        # Just either side of the 12-degree limit.
        (11.5, 60.0, 0.0, True),
        (12.5, 60.0, 0.0, False),
    ],
)
def test_gap_direction_gate_geometry(tilt: float, first: float, second: float, kept: bool) -> None:
    left = (0.0, -1.0)
    fingers = rotate(left, tilt)
    # Openings turned from the finger direction (50 degrees: past the diagonal).
    a, b = rotate(tuple(fingers), first), rotate(tuple(fingers), second)
    assert keypoints._gaps_face_one_edge(a, b, fingers) is kept


def test_a_pegged_palm_with_a_dim_device_edge_still_counts_as_pegged(
    pegged_captures: list[SimulatedCapture], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hand runs along the top border; a dim strip there moves that stretch of the outline
    # off the border, leaving 8.7-11.7 % of it on the border (identities 1 and 2, seed 11).
    for cap in pegged_captures[2:]:
        dim = cap.image.copy()
        dim[:5, 150:250] = 10
        mask = segment_hand(dim)
        assert keypoints._valley_candidates(mask).contact
        roi, intact = palm_roi(dim), palm_roi(cap.image)
        assert np.linalg.norm(roi.center - intact.center) < 0.01 * intact.side
        with monkeypatch.context() as patch:
            # The former 12 % threshold took these frames for whole hands.
            patch.setattr(keypoints, "CONTACT_BORDER_FRACTION", 0.12)
            assert not keypoints._valley_candidates(mask).contact
