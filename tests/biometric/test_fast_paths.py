"""The speed-ups of the extraction stages give the very same numbers as the plain forms.

Templates are compared byte for byte across versions, so a shortcut that changes a
float in its last bit (an OpenCV kernel rounding differently on a smaller window, a
reordered sum) is a bug here even when recognition would not notice.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from biometric.enhance import local_deviation, normalize_centred, normalize_illumination
from biometric.keypoints import palm_center
from biometric.quality import region_quality
from biometric.segmentation import segment_hand
from biometric.template import Template
from capture.simulated import SimulatedCapture, SimulatedSensor


def _whole_frame_center(mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.float64], float]:
    """The inscribed circle from the distance transform of the whole padded frame."""
    dist = cv2.distanceTransform(np.pad(mask.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    row, col = divmod(int(np.argmax(dist)), dist.shape[1])
    return np.array([row, col], dtype=np.float64), float(dist[row, col])


def _assert_same_center(mask: npt.NDArray[np.bool_]) -> None:
    center, radius = palm_center(mask)
    ref_center, ref_radius = _whole_frame_center(mask)
    assert np.array_equal(center, ref_center)
    assert radius == ref_radius  # exactly: the radius scales the ROI


def test_palm_center_window_equals_whole_frame_on_hands(
    captures: list[SimulatedCapture], pegged_captures: list[SimulatedCapture]
) -> None:
    for cap in [*captures, *pegged_captures]:
        for classes in (3, 4):
            mask = segment_hand(cap.image, classes=classes)
            # Every column phase of the window, and a few row shifts and a mirror.
            shifted = [mask[:, dx:] for dx in range(16)]
            shifted += [mask[5:], mask[:-7, 1:-2], mask[:, ::-1]]
            for view in shifted:
                _assert_same_center(np.ascontiguousarray(view))


def test_palm_center_window_keeps_the_column_phase() -> None:
    # OpenCV's IPP distance transform rounds its float sums by column phase: on
    # these hands a window starting on any column changed the radius in its last
    # bits (56.9224853515625 vs 56.922489166259766 for the first).
    for seed, identity, session, sample in ((21, 5, 1, 2), (21, 31, 1, 1), (21, 48, 1, 0)):
        image = (
            SimulatedSensor(seed=seed, geometry="contactless")
            .capture(identity, session, sample)
            .image
        )
        mask = segment_hand(image)
        for dx in range(8):
            _assert_same_center(np.ascontiguousarray(mask[:, dx:]))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(20, 320),
    cols=st.integers(20, 320),
    blobs=st.lists(
        st.tuples(
            st.floats(0, 1),
            st.floats(0, 1),
            st.integers(2, 60),
            st.integers(2, 60),
            st.floats(0, 180),
        ),
        min_size=0,
        max_size=4,
    ),
)
def test_palm_center_window_equals_whole_frame_on_blobs(
    rows: int, cols: int, blobs: list[tuple[float, float, int, int, float]]
) -> None:
    mask = np.zeros((rows, cols), dtype=np.uint8)
    for y, x, a, b, angle in blobs:
        center = (round(x * (cols - 1)), round(y * (rows - 1)))
        cv2.ellipse(mask, center, (a, b), angle, 0, 360, 1, thickness=-1)
    _assert_same_center(mask.astype(bool))


def test_palm_center_does_not_modify_the_mask(captures: list[SimulatedCapture]) -> None:
    mask = segment_hand(captures[0].image)
    before = mask.copy()
    palm_center(mask)
    assert np.array_equal(mask, before)


def test_split_normalisation_equals_the_whole() -> None:
    rng = np.random.default_rng(3)
    roi = rng.integers(0, 256, (128, 128), dtype=np.uint8)
    before = roi.copy()
    whole = normalize_illumination(roi)
    local = local_deviation(roi)
    split = normalize_centred(local)
    assert np.array_equal(whole, split)
    assert np.array_equal(roi, before)
    assert np.array_equal(local, local_deviation(roi))  # normalize_centred left it alone


def test_region_quality_of_an_empty_region() -> None:
    roi = np.full((16, 16), 120, dtype=np.uint8)
    assert region_quality(roi, np.zeros((16, 16), dtype=bool)).reasons == ("no_hand",)


@settings(max_examples=80, deadline=None)
@given(cols=st.integers(1, 32), rows=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_packed_rows_equal_the_weighted_sum(cols: int, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    planes = rng.random((6, rows, cols)) < 0.5
    mask = rng.random((rows, cols)) < 0.5
    weights = np.uint64(1) << np.arange(cols, dtype=np.uint64)
    template = Template.from_bits(planes, mask)
    expected = (planes.astype(np.uint64) * weights).sum(axis=-1).astype(np.uint32)
    assert template.planes.dtype == np.uint32
    assert np.array_equal(template.planes, expected)
    assert np.array_equal(template.mask, (mask.astype(np.uint64) * weights).sum(axis=-1))
