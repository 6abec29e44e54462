"""Bad input never crashes extract and never yields a template: it gets the right error."""

from __future__ import annotations

import numpy as np
import pytest

import biometric
from biometric import QualityError, RoiError


def test_empty_image_is_refused() -> None:
    with pytest.raises(QualityError) as err:
        biometric.extract(np.zeros((0, 0), np.uint8))
    assert err.value.reasons == ("empty",)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16, np.int8, bool])
def test_wrong_dtype_is_refused(dtype: type) -> None:
    with pytest.raises(QualityError) as err:
        biometric.extract(np.zeros((480, 640), dtype))
    assert err.value.reasons == ("wrong_dtype",)


@pytest.mark.parametrize("shape", [(480, 640, 3), (480,), (2, 480, 640)])
def test_wrong_shape_is_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(QualityError) as err:
        biometric.extract(np.zeros(shape, np.uint8))
    assert err.value.reasons == ("wrong_shape",)


def test_not_an_array_is_refused() -> None:
    with pytest.raises(QualityError):
        biometric.extract([[1, 2], [3, 4]])  # type: ignore[arg-type]


def test_all_black_frame_says_underexposed() -> None:
    with pytest.raises(QualityError) as err:
        biometric.extract(np.zeros((480, 640), np.uint8))
    assert "underexposed" in err.value.reasons


def test_saturated_frame_says_overexposed() -> None:
    with pytest.raises(QualityError) as err:
        biometric.extract(np.full((480, 640), 255, np.uint8))
    assert "overexposed" in err.value.reasons


def test_tiny_image_is_refused() -> None:
    with pytest.raises(QualityError) as err:
        biometric.extract(np.full((20, 30), 128, np.uint8))
    assert err.value.reasons == ("too_small",)


def test_huge_image_is_refused_before_any_work() -> None:
    with pytest.raises(QualityError) as err:
        biometric.extract(np.zeros((5000, 5000), np.uint8))
    assert err.value.reasons == ("too_large",)


def test_uniform_grey_frame_has_no_hand() -> None:
    with pytest.raises(QualityError) as err:
        biometric.extract(np.full((480, 640), 120, np.uint8))
    assert "no_hand" in err.value.reasons


def test_noise_is_not_a_hand() -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (480, 640), dtype=np.uint8)
    with pytest.raises((QualityError, RoiError)):
        biometric.extract(noise)


def test_a_bright_disc_without_fingers_has_no_valleys() -> None:
    rows, cols = np.mgrid[:480, :640]
    disc = (((rows - 240) ** 2 + (cols - 320) ** 2) < 150**2).astype(np.uint8) * 150 + 10
    with pytest.raises(RoiError) as err:
        biometric.extract(disc)
    assert err.value.reasons == ("no_valleys",)


def test_input_is_not_modified() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (480, 640), dtype=np.uint8)
    before = image.copy()
    with pytest.raises(biometric.BiometricError):
        biometric.extract(image)
    assert np.array_equal(image, before)


def test_quality_assess_reports_instead_of_raising() -> None:
    report = biometric.assess(np.zeros((480, 640), np.uint8))
    assert report.score == 0.0
    assert report.reasons
    assert not report.acceptable
    assert biometric.assess(np.zeros((3, 3, 3), np.uint8)).reasons == ("wrong_shape",)
