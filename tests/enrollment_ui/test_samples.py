"""Captured samples: quality with reasons, the ROI preview, and sealed templates the page cannot
forge or move to another person."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import biometric
from capture.uri import scanner_from_uri
from enrollment_ui import samples
from palmvein.core.errors import ValidationFailed

SECRET = "samples-test-secret"


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    with scanner_from_uri("sim://?identity=4") as scanner:
        image: np.ndarray = scanner.capture().image
    return image


def test_a_good_capture_is_sealed_for_its_person_and_hand(frame: np.ndarray) -> None:
    sample = samples.assess(frame, secret=SECRET, person_id="p-1", hand="right")
    assert sample.accepted and sample.score >= 40 and sample.reasons == ()
    template = samples.unseal(SECRET, "p-1", "right", sample.token or "")
    assert biometric.compare(template, biometric.extract(frame)) > 0.9
    for person, hand, secret in (("p-2", "right", SECRET), ("p-1", "left", SECRET),
                                 ("p-1", "right", "another secret")):
        with pytest.raises(ValidationFailed, match="not captured on this page"):
            samples.unseal(secret, person, hand, sample.token or "")


def test_a_tampered_token_is_refused(frame: np.ndarray) -> None:
    token = samples.assess(frame, secret=SECRET, person_id="p", hand="right").token or ""
    body, mac = token.split(".")
    flipped = ("A" if body[10] != "A" else "B").join((body[:10], body[11:]))
    for bad in (f"{flipped}.{mac}", f"{body}.{'0' * 64}", "not-a-token", ""):
        with pytest.raises(ValidationFailed):
            samples.unseal(SECRET, "p", "right", bad)


def test_the_preview_outlines_the_palm_at_half_size(frame: np.ndarray) -> None:
    png = samples.assess(frame, secret=SECRET, person_id="p", hand="right").preview_png
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (frame.shape[0] // 2, frame.shape[1] // 2, 3)
    green = (image[:, :, 1] > 150) & (image[:, :, 0] < 110) & (image[:, :, 2] < 110)
    assert green.sum() > 100  # the ROI square is drawn


def test_a_dark_frame_is_refused_with_its_reason() -> None:
    dark = np.full((480, 640), 3, np.uint8)
    sample = samples.assess(dark, secret=SECRET, person_id="p", hand="right")
    assert not sample.accepted and sample.token is None
    assert sample.reasons and all(r in samples.REASON_TEXTS for r in sample.reasons)


def test_an_upload_that_is_not_an_image_is_explained() -> None:
    with pytest.raises(ValidationFailed, match="not an image"):
        samples.decode_upload(b"%PDF-1.7 not a picture")


def test_the_pool_refuses_scanner_types_not_offered() -> None:
    pool = samples.ScannerPool(schemes=("sim",))
    with pytest.raises(ValidationFailed, match="folder://"):
        pool.capture("folder:///etc")
    assert isinstance(pool.capture("sim://?identity=2"), np.ndarray)
    pool.close()


def test_the_pool_keeps_a_bounded_number_of_scanners_open() -> None:
    pool = samples.ScannerPool(schemes=("sim",), limit=2)
    for identity in (1, 2, 3):
        pool.capture(f"sim://?identity={identity}")
    assert list(pool) == ["sim://?identity=2", "sim://?identity=3"]
    pool.close()
    assert list(pool) == []
