"""Scanners from URIs, as given to --scanner."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from capture.folder import FolderScanner
from capture.scanner import CorruptFrame, ScannerNotFound
from capture.uri import ScannerUriError, list_scanners, scanner_from_uri
from capture.usb.driver import UsbScanner
from capture.uvc import UvcScanner


def test_emulated_usb_uri_opens_the_real_driver_on_an_emulated_scanner() -> None:
    scanner = scanner_from_uri(
        "usb-emulated://?serial=PV-DESK-7&width=96&height=64&seed=3&source=synthetic"
    )
    assert isinstance(scanner, UsbScanner)
    with scanner:
        frames = scanner.capture_set()
        assert scanner.info.serial == "PV-DESK-7"
    assert frames.lit.image.shape == (64, 96) and frames.ambient is not None


def test_emulated_seed_makes_captures_reproducible() -> None:
    def lit(seed: int) -> np.ndarray:
        with scanner_from_uri(
            f"usb-emulated://?width=64&height=48&source=synthetic&seed={seed}"
        ) as scanner:
            return scanner.capture().image

    np.testing.assert_array_equal(lit(5), lit(5))
    assert not np.array_equal(lit(5), lit(6))


def test_emulated_faults_reach_the_driver() -> None:
    uri = "usb-emulated://?width=64&height=48&source=synthetic&faults=corrupt:9&retries=1"
    with scanner_from_uri(uri) as scanner, pytest.raises(CorruptFrame, match="2 damaged frames"):
        scanner.capture()


def test_listing_an_emulated_bus_with_several_scanners() -> None:
    infos = list_scanners("usb-emulated://?count=3&width=64&height=48")
    assert [info.serial for info in infos] == ["PV-EMU-0001", "PV-EMU-0002", "PV-EMU-0003"]
    named = list_scanners("usb-emulated://?serials=LEFT,RIGHT&serial=RIGHT")
    assert [info.serial for info in named] == ["RIGHT"]


def test_choosing_one_of_several_emulated_scanners_by_serial() -> None:
    with scanner_from_uri("usb-emulated://?serials=A,B&serial=B&width=64&height=48") as scanner:
        assert scanner.info.serial == "B"


def test_usb_uri_builds_the_libusb_driver() -> None:
    scanner = scanner_from_uri("usb://?serial=PV-0042&timeout_ms=250")
    assert isinstance(scanner, UsbScanner)
    assert scanner.serial == "PV-0042" and scanner.timeout_ms == 250


def test_real_usb_with_no_scanner_plugged_in_is_not_found() -> None:
    # This machine has no PV-NIR scanner: libusb enumerates, finds none, and says so.
    with pytest.raises(ScannerNotFound, match="PV-NOT-HERE"):
        scanner_from_uri("usb://?serial=PV-NOT-HERE").open()


def test_uvc_uri_by_index_or_path() -> None:
    by_index = scanner_from_uri("uvc://2?width=640&height=480&wavelength=940")
    by_path = scanner_from_uri("uvc:///dev/video5")
    assert isinstance(by_index, UvcScanner) and isinstance(by_path, UvcScanner)
    assert (by_index.device, by_index.width, by_index.wavelength_nm) == (2, 640, 940)
    assert by_path.device == "/dev/video5"


def test_folder_uri_absolute_path(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.full((8, 8), 99, np.uint8))
    scanner = scanner_from_uri(f"folder://{tmp_path}")
    assert isinstance(scanner, FolderScanner) and scanner.folder == tmp_path
    assert [info.kind for info in list_scanners(f"folder://{tmp_path}")] == ["folder"]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("camera://0", "unknown scanner scheme 'camera'"),
        ("/dev/video0", "has no scheme"),
        ("usb://?serail=X", "unknown parameter.* serail"),
        ("usb-emulated://?count=0", "count .* must be 1-127"),
        ("usb-emulated://?faults=melt", "unknown fault 'melt'"),
        ("uvc://0?width=wide", "width='wide' .* is not an integer"),
        ("usb://somehost", "takes no host or path"),
        ("folder://", "names no folder"),
        ("usb-emulated://?serial=A-SERIAL-LONGER-THAN-16", "longer than 16 bytes"),
        ("usb-emulated://?seed=-2", "seed .* non-negative"),
        ("usb-emulated://?width=0&height=0&source=synthetic", "width"),
    ],
)
def test_bad_uris_are_explained(uri: str, message: str) -> None:
    with pytest.raises(ScannerUriError, match=message):
        scanner_from_uri(uri)


def test_emulated_hand_at_puts_a_hand_in_front_of_the_proximity_sensor() -> None:
    held = scanner_from_uri("usb-emulated://?source=synthetic&width=96&height=64&hand_at=80")
    with held:
        reading = held.read_distance()  # type: ignore[attr-defined]
    assert reading.present and reading.distance_mm == 80
    with scanner_from_uri("usb-emulated://?source=synthetic&width=96&height=64") as empty:
        assert not empty.read_distance().present  # type: ignore[attr-defined]
