"""Templates of simulated palms shared by the matcher tests (made once per test session)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import biometric
from capture.simulated import SimulatedSensor

#: Simulated sensor seed of the test palms (the shipped impostor distribution used another).
SEED = 5
IDENTITIES = 12


@dataclass(frozen=True)
class Palms:
    """Per simulated identity: enrolment templates (session 0) and a probe (session 1)."""

    enrolment: dict[str, list[biometric.Template]]
    probes: dict[str, biometric.Template]

    def subjects(self) -> list[str]:
        return sorted(self.enrolment)


def _try_extract(sensor: SimulatedSensor, identity: int, session: int, sample: int
                 ) -> biometric.Template | None:
    try:
        return biometric.extract(sensor.capture(identity, session, sample).image)
    except biometric.BiometricError:
        return None


@pytest.fixture(scope="session")
def palms() -> Palms:
    sensor = SimulatedSensor(seed=SEED, cache_size=2)
    enrolment: dict[str, list[biometric.Template]] = {}
    probes: dict[str, biometric.Template] = {}
    for i in range(IDENTITIES):
        enrolled = [t for s in (0, 1) if (t := _try_extract(sensor, i, 0, s)) is not None]
        probe = _try_extract(sensor, i, 1, 2)
        if enrolled and probe is not None:
            enrolment[f"person-{i:02d}"] = enrolled
            probes[f"person-{i:02d}"] = probe
    assert len(enrolment) >= IDENTITIES - 3, "the simulated sensor failed too many captures"
    return Palms(enrolment, probes)


Perturb = Callable[[biometric.Template, np.random.Generator, float], biometric.Template]


@pytest.fixture(scope="session")
def perturb() -> Perturb:
    return perturbed


def perturbed(template: biometric.Template, rng: np.random.Generator, flip: float
              ) -> biometric.Template:
    """A copy of ``template`` with a fraction ``flip`` of its code bits inverted."""
    planes = template.planes.copy()
    p, r = planes.shape
    bits = rng.random((p, r, 32)) < flip
    planes ^= (bits.astype(np.uint32) << np.arange(32, dtype=np.uint32)).sum(
        axis=2, dtype=np.uint32
    )
    if template.cols < 32:
        planes &= np.uint32((1 << template.cols) - 1)
    return biometric.Template(planes, template.mask.copy(), template.cols, template.algorithm)
