"""Render time of one simulated capture (pytest-benchmark; timed only with --benchmark-enable).

.venv/bin/pytest tests/capture/simulated/test_sensor_speed.py --benchmark-enable
"""

from __future__ import annotations

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from capture.simulated import SimulatedSensor


@pytest.mark.parametrize("geometry", ["contactless", "pegged"])
def test_render_one_capture_of_a_cached_identity(
    benchmark: BenchmarkFixture, geometry: str
) -> None:
    sensor = SimulatedSensor(seed=0, geometry=geometry)  # type: ignore[arg-type]
    sensor.capture(0)  # renders and caches the identity's textures
    counter = iter(range(1, 10**6))
    cap = benchmark(lambda: sensor.capture(0, 0, next(counter)))
    assert cap.image.shape == sensor.shape


def test_render_a_new_identity(benchmark: BenchmarkFixture) -> None:
    sensor = SimulatedSensor(seed=0, cache_size=1)
    counter = iter(range(10**6))
    cap = benchmark(lambda: sensor.capture(next(counter)))
    assert cap.image.shape == sensor.shape
