"""Whatever faults the scanner suffers, the driver never hands over a frame it was not sent."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.scanner import ScannerDisconnected, ScannerError
from capture.usb.driver import UsbScanner
from capture.usb.emulated import EmulatedBackend, EmulatedScanner, Faults, SyntheticPalm

WIDTH, HEIGHT = 64, 48

fault_plans = st.builds(
    Faults,
    timeouts=st.integers(0, 2),
    corrupt_payloads=st.integers(0, 5),
    corrupt_headers=st.integers(0, 5),
    stale_frames=st.integers(0, 3),
    stalls=st.integers(0, 5),
    io_errors=st.integers(0, 5),
    unplug_mid_frame=st.none() | st.integers(0, 3),
)


@settings(max_examples=40, deadline=None)
@given(
    plans=st.lists(fault_plans, min_size=1, max_size=4), leds=st.lists(st.booleans(), min_size=4)
)
def test_every_delivered_frame_is_exactly_a_frame_the_device_served(
    plans: list[Faults], leds: list[bool]
) -> None:
    device = EmulatedScanner(
        width=WIDTH, height=HEIGHT, chunk_bytes=1024, frame_source=SyntheticPalm(WIDTH, HEIGHT)
    )
    scanner = UsbScanner(backend=EmulatedBackend([device]), frame_retries=3, stall_retries=2)
    scanner.open()
    for plan, led in zip(plans, leds, strict=False):
        device.faults = plan
        for _ in range(3):
            try:
                frame = scanner.capture(led=led)
            except ScannerDisconnected:
                device.replug()
                scanner.reopen()
                continue
            except ScannerError:
                continue
            # The frame of the last trigger, not a stale or damaged copy of any frame.
            served = device.served[-1]
            assert frame.sequence == served.sequence == device.sequence
            np.testing.assert_array_equal(frame.image, served.image)
            assert frame.led_on == served.led_on == led
    # Once the faults stop, the driver is in a usable state again: no stale data, no stuck halt.
    device.faults = Faults()
    if not device.plugged:
        device.replug()
        scanner.reopen()
    frame = scanner.capture()
    np.testing.assert_array_equal(frame.image, device.served[-1].image)
    scanner.close()
