"""Sensors shared by the simulated-sensor tests (their identity textures are cached)."""

from __future__ import annotations

import dataclasses

import pytest

from capture.simulated import SensorConfig, SimulatedSensor, default_config


@pytest.fixture(scope="session")
def contactless() -> SimulatedSensor:
    return SimulatedSensor(seed=7, geometry="contactless")


@pytest.fixture(scope="session")
def pegged() -> SimulatedSensor:
    return SimulatedSensor(seed=7, geometry="pegged")


def noise_free(config: SensorConfig) -> SensorConfig:
    """The same sensor without shot and read noise (exact images for measurements)."""
    return dataclasses.replace(config, electrons_range=(1e9, 1e9), read_noise=0.0)


def fixed_veins(config: SensorConfig, contrast: float) -> SensorConfig:
    return dataclasses.replace(
        config, vein_contrast_range=(contrast, contrast), vein_contrast_sigma=0.0
    )


@pytest.fixture(scope="session")
def clean_pair() -> tuple[SimulatedSensor, SimulatedSensor]:
    """Noise-free contactless sensors with and without veins, otherwise identical."""
    base = noise_free(default_config("contactless"))
    return (
        SimulatedSensor(seed=3, config=fixed_veins(base, 1.0)),
        SimulatedSensor(seed=3, config=fixed_veins(base, 0.0)),
    )
