"""Speed of the recognition engine (``make bench``).

Targets (issue 3): ``extract`` <= 10 ms median for a 640x480 frame on one core;
``compare`` >= 10,000 pairs/s. Each figure has a baseline measured in the same
run, so the ratios survive a noisy machine:

- ``frame_touch``: shrinking and smoothing the 640x480 frame once, the least any
  extractor must do with it;
- ``popcount_floor``: XOR and popcount of two codes of the template's size at one
  alignment, the least a Hamming comparison costs (compare searches 49).
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

import biometric
from biometric import TemplateStack
from capture.simulated import SimulatedSensor


@pytest.fixture(scope="module", autouse=True)
def one_core() -> None:
    cv2.setNumThreads(1)


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return SimulatedSensor(seed=5, geometry="contactless").capture(1, 0, 0).image


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    sensor = SimulatedSensor(seed=5, geometry="contactless")
    return [sensor.capture(i, i % 2, 0).image for i in range(16)]


@pytest.fixture(scope="module")
def gallery() -> list[biometric.Template]:
    sensor = SimulatedSensor(seed=5, geometry="contactless")
    templates = [biometric.extract(sensor.capture(i, 0, 0).image) for i in range(8)]
    rng = np.random.default_rng(0)
    out = []
    # Gallery of 1000 templates: real ones with 10 % of code bits flipped.
    for k in range(1000):
        base = templates[k % len(templates)]
        noise = rng.integers(0, 2**32, base.planes.shape, dtype=np.uint32)
        noise &= rng.integers(0, 2**32, base.planes.shape, dtype=np.uint32)
        noise &= rng.integers(0, 2**32, base.planes.shape, dtype=np.uint32)
        out.append(biometric.Template(base.planes ^ noise, base.mask, base.cols))
    return out


def test_frame_touch_baseline(benchmark, frame) -> None:  # type: ignore[no-untyped-def]
    benchmark(lambda: cv2.GaussianBlur(cv2.resize(frame, (480, 360)), (0, 0), 1.0))


def test_extract_640x480(benchmark, frame) -> None:  # type: ignore[no-untyped-def]
    template = benchmark(biometric.extract, frame)
    assert template.algorithm == biometric.ALGORITHM


def test_extract_640x480_rotating(benchmark, frames) -> None:  # type: ignore[no-untyped-def]
    """A different frame each round: the figure above repeats one frame, whose
    intermediate results stay in the caches."""
    rotation = itertools.cycle(frames)

    def extract_next() -> bool:
        try:
            biometric.extract(next(rotation))
        except biometric.BiometricError:
            return False  # a refusal (overexposed simulated frame) costs time too
        return True

    benchmark(extract_next)


def test_popcount_floor_baseline(benchmark, gallery) -> None:  # type: ignore[no-untyped-def]
    a, b = gallery[0].planes, gallery[1].planes
    benchmark(lambda: int(np.bitwise_count(a ^ b).sum()))


def test_compare_one_pair(benchmark, gallery) -> None:  # type: ignore[no-untyped-def]
    benchmark(biometric.compare, gallery[0], gallery[1])


def test_compare_many_1000(benchmark, gallery) -> None:  # type: ignore[no-untyped-def]
    """One probe against 1000 templates: pairs/s = 1000 / median."""
    stack = TemplateStack(gallery)
    scores = benchmark(biometric.compare_many, gallery[0], stack)
    assert scores.shape == (1000,)
