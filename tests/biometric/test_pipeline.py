"""extract and compare on simulated NIR captures: the chained stages behave like a matcher."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import biometric
from biometric import Template, compare
from biometric.enhance import normalize_illumination
from biometric.features import N_ORIENTATIONS, binary_orientation_code, competitive_code
from biometric.template import MAX_BYTES
from capture.simulated import SimulatedCapture, SimulatedSensor


@pytest.fixture(scope="module")
def templates(captures: list[SimulatedCapture]) -> list[tuple[int, int, Template]]:
    return [(c.identity, c.session, biometric.extract(c.image)) for c in captures]


def test_every_simulated_capture_gives_a_small_template(
    templates: list[tuple[int, int, Template]],
) -> None:
    for _, _, t in templates:
        assert len(t.to_bytes()) <= MAX_BYTES
        assert t.algorithm == biometric.ALGORITHM


def test_the_same_palm_across_sessions_outscores_every_other_palm(
    templates: list[tuple[int, int, Template]],
) -> None:
    genuine = [
        compare(a, b) for ia, sa, a in templates for ib, sb, b in templates if ia == ib and sa < sb
    ]
    impostor = [compare(a, b) for ia, sa, a in templates for ib, sb, b in templates if ia < ib]
    assert min(genuine) > max(impostor)


def test_extract_is_deterministic_and_leaves_the_frame_alone(
    captures: list[SimulatedCapture],
) -> None:
    image = captures[0].image
    before = image.copy()
    assert biometric.extract(image) == biometric.extract(image.copy())
    assert np.array_equal(image, before)


def test_a_pegged_palm_gives_a_template(pegged_captures: list[SimulatedCapture]) -> None:
    a = biometric.extract(pegged_captures[0].image)
    b = biometric.extract(pegged_captures[1].image)
    other = biometric.extract(pegged_captures[2].image)
    assert compare(a, b) > compare(a, other)


def test_a_blurred_capture_is_refused_for_focus(captures: list[SimulatedCapture]) -> None:
    blurred = cv2.GaussianBlur(captures[0].image, (0, 0), 6.0)
    with pytest.raises(biometric.BiometricError) as err:
        biometric.extract(blurred)
    assert "blurred" in err.value.reasons or isinstance(err.value, biometric.RoiError)


def test_a_dark_capture_is_refused_for_exposure(captures: list[SimulatedCapture]) -> None:
    dark = (captures[0].image // 12).astype(np.uint8)
    with pytest.raises(biometric.QualityError):
        biometric.extract(dark)


def test_quality_of_a_good_capture_is_acceptable(captures: list[SimulatedCapture]) -> None:
    report = biometric.assess(captures[0].image)
    assert report.acceptable, report
    assert 40 <= report.score <= 100


def test_features_are_bit_planes_of_the_code_grid(captures: list[SimulatedCapture]) -> None:
    roi = biometric.palm_roi(captures[0].image)
    enhanced = normalize_illumination(roi.image)
    assert enhanced.dtype == np.float32
    assert abs(float(enhanced.mean())) < 0.2
    planes = binary_orientation_code(enhanced)
    assert planes.shape == (12, 32, 32) and planes.dtype == bool
    # Each plane is one filter's dark-line bit: neither constant nor all set.
    assert all(0.1 < p.mean() < 0.9 for p in planes)
    # The competitive code's winner is the most negative filter: its bit is set wherever any
    # filter of that scale sees a dark line.
    compcode = competitive_code(enhanced)
    for s in range(2):
        bits = planes[s * N_ORIENTATIONS : (s + 1) * N_ORIENTATIONS]
        g = compcode[3 * s].astype(int) + 2 * compcode[3 * s + 1] + 4 * compcode[3 * s + 2]
        # Three bits per scale encode six orientations: 000 001 011 111 110 100 only.
        assert set(np.unique(g)) <= {0, 1, 3, 7, 6, 4}
        winner = np.array([0, 1, -1, 2, 5, -1, 4, 3])[g]
        assert np.array_equal(np.take_along_axis(bits, winner[None], 0)[0], bits.any(axis=0))


def test_the_template_holds_the_binary_orientation_code(
    captures: list[SimulatedCapture],
) -> None:
    t = biometric.extract(captures[0].image)
    assert t.planes.shape == (12, 32) and t.algorithm == "bocv-2s6o-c4-v1"
    assert len(t.to_bytes()) <= 2048


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 15), st.integers(0, 15))
def test_compare_on_real_templates_is_symmetric_and_self_maximal(
    templates: list[tuple[int, int, Template]], i: int, j: int
) -> None:
    a, b = templates[i][2], templates[j][2]
    assert compare(a, b) == pytest.approx(compare(b, a))
    assert compare(a, a) == 1.0 >= compare(a, b)
    assert Template.from_bytes(a.to_bytes()) == a


def test_another_sensor_seed_gives_other_palms(contactless: SimulatedSensor) -> None:
    other = SimulatedSensor(seed=12, geometry="contactless")
    a = biometric.extract(contactless.capture(0, 0, 0).image)
    b = biometric.extract(other.capture(0, 0, 0).image)
    assert compare(a, b) < 0.6


def test_genuine_pairs_with_a_turned_roi_score_higher_with_the_rotation_search(
    captures: list[SimulatedCapture],
) -> None:
    # Each palm's session-1 ROI turned by 7 degrees either way, as a residual error of the
    # valley line would turn it, against its session-0 template: the rotation search (5
    # degrees) finds most of the turn, translation alone cannot.
    gains = []
    for identity in range(4):
        enrolled, probe = captures[4 * identity], captures[4 * identity + 2]
        assert (enrolled.identity, enrolled.session, probe.identity, probe.session) == (
            identity, 0, identity, 1)
        a = biometric.extract(enrolled.image)
        roi = biometric.palm_roi(probe.image)
        size = roi.image.shape[0]
        for degrees in (-7.0, 7.0):
            turn = cv2.getRotationMatrix2D(((size - 1) / 2.0, (size - 1) / 2.0), degrees, 1.0)
            image = cv2.warpAffine(roi.image, turn, (size, size), flags=cv2.INTER_LINEAR)
            valid = cv2.warpAffine(roi.valid.astype(np.uint8), turn, (size, size),
                                   flags=cv2.INTER_NEAREST) > 0
            b = biometric.template_from_roi(dataclasses.replace(roi, image=image, valid=valid))
            without = biometric.compare_many(a, [b], rotation=0.0)[0]
            searched = biometric.compare_many(a, [b], rotation=5.0)[0]
            assert searched >= without
            assert compare_many_default(a, b) == compare_many_default(b, a)
            gains.append(searched - without)
    assert sum(g > 0.005 for g in gains) >= 6, gains
    assert float(np.mean(gains)) > 0.01, gains


def compare_many_default(a: Template, b: Template) -> float:
    return float(biometric.compare_many(a, [b])[0])
