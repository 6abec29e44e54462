"""The simulated NIR sensor as a scanner (sim://) and behind the emulated USB device."""

from __future__ import annotations

import numpy as np
import pytest

from capture.scanner import ScannerError
from capture.sim import SimulatedFrameSource, SimulatedScanner
from capture.simulated import SimulatedSensor
from capture.uri import ScannerUriError, scanner_from_uri

SHAPE = (240, 320)  # the simulator needs room for spread fingers at its pixel pitch


def test_usb_emulated_scanner_serves_the_simulated_sensor_frames_through_the_driver() -> None:
    uri = "usb-emulated://?width=320&height=240&seed=4&identity=2&session=1"
    with scanner_from_uri(uri) as scanner:
        frames = scanner.capture_set()

    sensor = SimulatedSensor(seed=4, shape=SHAPE)
    assert frames.ambient is not None
    np.testing.assert_array_equal(frames.lit.image, sensor.capture(2, 1, 0).image)
    np.testing.assert_array_equal(frames.ambient.image, sensor.capture(2, 1, 0, led=False).image)


def test_sim_scanner_gives_reproducible_pairs_of_the_presented_palm() -> None:
    def pair(identity: int) -> tuple[np.ndarray, np.ndarray]:
        uri = f"sim://?seed=1&width=320&height=240&identity={identity}"
        with scanner_from_uri(uri) as scanner:
            frames = scanner.capture_set()
            assert scanner.info.kind == "sim" and scanner.info.led_control
        assert frames.ambient is not None
        return frames.ambient.image, frames.lit.image

    ambient, lit = pair(0)
    again_ambient, again_lit = pair(0)
    np.testing.assert_array_equal(lit, again_lit)
    np.testing.assert_array_equal(ambient, again_ambient)
    assert lit.shape == SHAPE and lit.mean() > ambient.mean()
    assert not np.array_equal(lit, pair(1)[1])


def test_each_lit_frame_is_a_new_sample_of_the_same_palm() -> None:
    sensor = SimulatedSensor(seed=0, shape=SHAPE)
    source = SimulatedFrameSource(sensor, identity=5)
    first, second = source(True, 200), source(True, 200)
    np.testing.assert_array_equal(first, sensor.capture(5, 0, 0).image)
    np.testing.assert_array_equal(second, sensor.capture(5, 0, 1).image)


def test_led_drive_level_scales_the_illuminator_share() -> None:
    sensor = SimulatedSensor(seed=0, shape=SHAPE)
    ambient = sensor.capture(0, 0, 0, led=False).image.astype(float)
    lit = sensor.capture(0, 0, 0).image.astype(float)
    half = SimulatedFrameSource(sensor)(True, 100).astype(float)
    np.testing.assert_allclose(half, ambient + (lit - ambient) / 2, atol=0.51)


def test_presenting_another_palm_restarts_its_samples() -> None:
    with SimulatedScanner(seed=0, shape=SHAPE) as scanner:
        scanner.capture()
        scanner.present(identity=3, session=2, hand="left")
        frame = scanner.capture()
    expected = SimulatedSensor(seed=0, shape=SHAPE).capture(3, 2, 0, hand="left").image
    np.testing.assert_array_equal(frame.image, expected)


def test_closed_sim_scanner_refuses_to_capture() -> None:
    with pytest.raises(ScannerError, match="not open"):
        SimulatedScanner().capture()


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("sim://?hand=middle", "hand='middle'"),
        ("sim://?geometry=flat", "geometry='flat'"),
        ("sim://?width=64", "both width and height"),
        ("sim://?seed=-1", "seed .* non-negative"),
        ("usb-emulated://?source=camera", "source='camera'"),
    ],
)
def test_bad_simulation_parameters_are_explained(uri: str, message: str) -> None:
    with pytest.raises(ScannerUriError, match=message):
        scanner_from_uri(uri)
