"""Capture sessions refuse suspected presentation attacks (liveness check and frame headers)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from capture.folder import FolderScanner
from capture.scanner import DeviceInfo, Frame, FrameSet, ScannerBase
from capture.session import (
    CaptureSession,
    PresentationAttackSuspected,
    SessionSettings,
    check_frame_headers,
)
from capture.sim import SimulatedScanner
from capture.simulated import SimulatedSensor
from capture.simulated.attacks import AttackSimulator
from palmvein.core.errors import DomainError

SHAPE = (240, 320)


def _mean(image: np.ndarray) -> float:
    return float(image.mean())


class AttackScanner(ScannerBase):
    """A scanner in front of which an attack is presented: serves its LED-off/LED-on frames."""

    def __init__(self, ambient: np.ndarray, lit: np.ndarray) -> None:
        self.frames = {False: ambient, True: lit}
        self.sequence = 0

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def info(self) -> DeviceInfo:
        rows, cols = self.frames[True].shape
        return DeviceInfo("attack rig", "", "rig-1", cols, rows, 850, True, "sim")

    def capture(self, led: bool = True) -> Frame:
        self.sequence += 1
        return Frame(self.frames[led], led_on=led, sequence=self.sequence, exposure_us=4000)


@pytest.fixture(scope="module")
def sensor() -> SimulatedSensor:
    return SimulatedSensor(seed=41, shape=SHAPE)


def test_a_live_hand_is_captured_with_its_liveness_result() -> None:
    with SimulatedScanner(seed=41, identity=2, session=1, shape=SHAPE) as scanner:
        result = CaptureSession(scanner, _mean, SessionSettings(frames=2)).run()
    assert result.pad is not None and result.pad.is_live() and result.pad.reasons == ()


@pytest.mark.parametrize("kind", ["print", "screen", "injection"])
def test_an_attack_stops_the_session_with_reasons(sensor: SimulatedSensor, kind: str) -> None:
    attack = AttackSimulator(sensor, seed=42).attack(kind, 1, 1, 0)  # type: ignore[arg-type]
    with (
        AttackScanner(attack.ambient, attack.lit) as scanner,
        pytest.raises(PresentationAttackSuspected, match="suspected presentation attack") as info,
    ):
        CaptureSession(scanner, _mean).run()
    error = info.value
    assert error.reasons and error.pad is not None and not error.pad.is_live()
    assert isinstance(error, DomainError) and error.code == "presentation-attack-suspected"
    # Audit rows refuse floats: the audit data holds codes and thousandths only.
    data = error.audit_data()
    assert data["reasons"] == list(error.reasons)
    assert isinstance(data["score_permille"], int)
    assert all(isinstance(v, int) for v in data["cues_permille"].values())  # type: ignore[attr-defined]


def test_the_check_can_be_switched_off(sensor: SimulatedSensor) -> None:
    attack = AttackSimulator(sensor, seed=42).injected(1, 1, 0, mode="same")
    with AttackScanner(attack.ambient, attack.lit) as scanner:
        result = CaptureSession(scanner, _mean, SessionSettings(pad_threshold=None)).run()
    assert result.pad is None


def test_inconsistent_frame_headers_are_refused(sensor: SimulatedSensor) -> None:
    lit = sensor.capture(0, 1, 0)
    ambient = sensor.capture(0, 1, 0, led=False)
    good = FrameSet(
        lit=Frame(lit.image, led_on=True, sequence=8, exposure_us=4000),
        ambient=Frame(ambient.image, led_on=False, sequence=7, exposure_us=4000),
    )
    assert check_frame_headers(good) == []
    assert good.ambient is not None
    bad_sets = {
        "LED states": dataclasses.replace(
            good, ambient=dataclasses.replace(good.ambient, led_on=True)
        ),
        "does not follow": dataclasses.replace(good, lit=dataclasses.replace(good.lit, sequence=7)),
        "exposure differs": dataclasses.replace(
            good, lit=dataclasses.replace(good.lit, exposure_us=8000)
        ),
    }
    session = CaptureSession(AttackScanner(ambient.image, lit.image), _mean)
    assert session.check_liveness(good) is not None
    for problem, frames in bad_sets.items():
        assert any(problem in p for p in check_frame_headers(frames))
        with pytest.raises(PresentationAttackSuspected) as info:
            session.check_liveness(frames)
        assert info.value.reasons == ("frame_headers_inconsistent",)


def test_scanners_without_led_off_frames_can_be_required_to_have_them(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "0.png"), np.full((64, 64), 90, np.uint8))
    with FolderScanner(tmp_path) as scanner:
        assert CaptureSession(scanner, _mean, SessionSettings(frames=1)).run().pad is None
        strict = SessionSettings(frames=1, pad_requires_led_pair=True)
        with pytest.raises(PresentationAttackSuspected, match="no LED-off frame") as info:
            CaptureSession(scanner, _mean, strict).run()
    assert info.value.reasons == ("no_led_off_frame",) and info.value.audit_data() == {
        "reasons": ["no_led_off_frame"]
    }


def test_the_threshold_must_be_a_probability() -> None:
    with pytest.raises(ValueError, match="pad_threshold"):
        SessionSettings(pad_threshold=1.5)


def test_the_api_maps_a_suspected_attack_to_422_with_reasons() -> None:
    from palmvein.problem import spec_for

    error = PresentationAttackSuspected("refused", ("flat_surround",), None)
    assert spec_for(error).status == 422
