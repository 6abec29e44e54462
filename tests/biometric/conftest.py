"""Simulated NIR captures with ground truth, shared by the biometric stage tests."""

from __future__ import annotations

import pytest

from capture.simulated import SimulatedCapture, SimulatedSensor

#: (identity, session, sample) of the contactless captures used by the stage tests.
CAPTURES = [(i, s, k) for i in range(4) for s in range(2) for k in range(2)]


@pytest.fixture(scope="session")
def contactless() -> SimulatedSensor:
    return SimulatedSensor(seed=11, geometry="contactless")


@pytest.fixture(scope="session")
def captures(contactless: SimulatedSensor) -> list[SimulatedCapture]:
    return [contactless.capture(i, s, k) for i, s, k in CAPTURES]


@pytest.fixture(scope="session")
def pegged_captures() -> list[SimulatedCapture]:
    sensor = SimulatedSensor(seed=11, geometry="pegged", finger_edge="left")
    return [sensor.capture(i, s, 0) for i in range(3) for s in range(2)]
