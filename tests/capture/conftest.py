"""Fixtures shared by the capture tests: small emulated scanners on an emulated bus."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from capture.usb.emulated import EmulatedBackend, EmulatedScanner, SyntheticPalm

# Small frames that still span several payload chunks, so chunking and mid-frame faults are real.
WIDTH, HEIGHT, CHUNK = 128, 96, 2048

DeviceFactory = Callable[..., EmulatedScanner]


@pytest.fixture
def make_device() -> DeviceFactory:
    def make(serial: str = "PV-TEST-0001", seed: int = 0) -> EmulatedScanner:
        # The light synthetic hand keeps these protocol tests fast; the simulated sensor is
        # exercised by the URI and simulated-scanner tests.
        return EmulatedScanner(
            serial=serial,
            width=WIDTH,
            height=HEIGHT,
            chunk_bytes=CHUNK,
            frame_source=SyntheticPalm(WIDTH, HEIGHT, seed),
        )

    return make


@pytest.fixture
def device(make_device: DeviceFactory) -> EmulatedScanner:
    return make_device()


@pytest.fixture
def bus(device: EmulatedScanner) -> EmulatedBackend:
    return EmulatedBackend([device])
