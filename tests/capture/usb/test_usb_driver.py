"""The real pyusb driver talking to the emulated scanner through pyusb's backend interface."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest
import usb.core

from capture.scanner import (
    CorruptFrame,
    FrameSet,
    ScannerDisconnected,
    ScannerError,
    ScannerNotFound,
    ScannerTimeout,
)
from capture.usb import protocol as p
from capture.usb.driver import UsbScanner
from capture.usb.emulated import EmulatedBackend, EmulatedScanner, Faults, SyntheticPalm

WIDTH, HEIGHT, CHUNK = 128, 96, 2048  # as made by the make_device fixture


def test_pyusb_sees_a_real_device_with_descriptors_and_serial(bus: EmulatedBackend) -> None:
    device = usb.core.find(idVendor=p.VENDOR_ID, idProduct=p.PRODUCT_ID, backend=bus)

    assert isinstance(device, usb.core.Device)
    assert device.serial_number == "PV-TEST-0001"
    assert device.manufacturer == "palmvein"
    endpoint = device[0][(0, 0)][0]
    assert endpoint.bEndpointAddress == p.ENDPOINT_IN
    assert endpoint.wMaxPacketSize == p.MAX_PACKET_SIZE


def test_device_info_is_what_the_device_reports(bus: EmulatedBackend) -> None:
    with UsbScanner(backend=bus) as scanner:
        info = scanner.info

    assert (info.serial, info.width, info.height) == ("PV-TEST-0001", WIDTH, HEIGHT)
    assert info.wavelength_nm == 850
    assert info.model == "PV-NIR-1 (emulated)"
    assert info.led_control and info.kind == "usb"


def test_captured_frame_equals_the_frame_the_device_served(
    bus: EmulatedBackend, device: EmulatedScanner
) -> None:
    with UsbScanner(backend=bus) as scanner:
        frame = scanner.capture(led=True)

    served = device.served[-1]
    assert frame.image.shape == (HEIGHT, WIDTH) and frame.image.dtype == np.uint8
    np.testing.assert_array_equal(frame.image, served.image)
    assert frame.sequence == served.sequence == 1
    assert frame.led_on and frame.led_intensity == p.DEFAULT_LED_INTENSITY
    assert frame.exposure_us == device.exposure_us
    assert not frame.image.flags.writeable


def test_frames_spanning_a_partial_last_chunk_arrive_whole() -> None:
    device = EmulatedScanner(
        width=101, height=67, chunk_bytes=1024, frame_source=SyntheticPalm(101, 67)
    )
    assert (101 * 67) % 1024 != 0

    with UsbScanner(backend=EmulatedBackend([device])) as scanner:
        frame = scanner.capture()

    np.testing.assert_array_equal(frame.image, device.served[-1].image)


def test_led_off_frame_is_ambient_only_and_darker(bus: EmulatedBackend) -> None:
    with UsbScanner(backend=bus) as scanner:
        frames = scanner.capture_set()

    assert frames.ambient is not None
    assert not frames.ambient.led_on and frames.ambient.led_intensity == 0
    assert frames.lit.led_on
    assert frames.lit.sequence == frames.ambient.sequence + 1
    assert frames.lit.image.mean() > frames.ambient.image.mean() + 10


def test_led_intensity_controls_the_lit_frame(bus: EmulatedBackend) -> None:
    with UsbScanner(backend=bus) as scanner:
        scanner.set_led_intensity(60)
        dim = scanner.capture()
        scanner.set_led_intensity(250)
        bright = scanner.capture()

    assert (dim.led_intensity, bright.led_intensity) == (60, 250)
    assert bright.image.mean() > dim.image.mean()


def test_led_intensity_outside_a_byte_is_refused(bus: EmulatedBackend) -> None:
    with UsbScanner(backend=bus) as scanner, pytest.raises(ValueError, match="0-255"):
        scanner.set_led_intensity(256)


def test_idle_led_and_status_round_trip(bus: EmulatedBackend, device: EmulatedScanner) -> None:
    with UsbScanner(backend=bus) as scanner:
        scanner.set_led(True)
        led_after_set = device.led_on
        scanner.capture()
        status = scanner.status()
        scanner.reset()
        led_after_reset = device.led_on

    assert led_after_set and not led_after_reset
    assert status.led_on and status.last_sequence == 1 and status.pending_bytes == 0


def test_distance_and_presence_reading(bus: EmulatedBackend, device: EmulatedScanner) -> None:
    device.script_distance([(250, False), (90, True)])
    with UsbScanner(backend=bus) as scanner:
        far, near, idle = (scanner.read_distance() for _ in range(3))

    assert (far.distance_mm, far.present) == (250, False)
    assert (near.distance_mm, near.present) == (90, True)
    assert (idle.distance_mm, idle.present) == (p.NO_DISTANCE, False)


def test_lost_frame_is_a_clear_timeout_and_the_next_capture_works(
    bus: EmulatedBackend, device: EmulatedScanner
) -> None:
    device.faults.timeouts = 1
    with UsbScanner(backend=bus, timeout_ms=50) as scanner:
        with pytest.raises(
            ScannerTimeout,
            match=r"PV-TEST-0001 did not answer .* within 50 ms \(the scanner reports a sensor",
        ):
            scanner.capture()
        frame = scanner.capture()

    assert device.lost_sequences == [1]
    np.testing.assert_array_equal(frame.image, device.served[-1].image)
    assert frame.sequence == 2


def test_stalled_endpoint_is_cleared_and_the_frame_still_arrives(
    bus: EmulatedBackend, device: EmulatedScanner
) -> None:
    device.faults.stalls = 2
    with UsbScanner(backend=bus) as scanner:
        frame = scanner.capture()

    assert device.faults.stalls == 0 and not device.halted
    assert len(device.served) == 1
    np.testing.assert_array_equal(frame.image, device.served[-1].image)


def test_an_endpoint_that_keeps_stalling_is_reported(
    bus: EmulatedBackend, device: EmulatedScanner
) -> None:
    device.faults.stalls = 100
    with (
        UsbScanner(backend=bus, stall_retries=3) as scanner,
        pytest.raises(ScannerError, match="stalled endpoint 0x81 4 times"),
    ):
        scanner.capture()

    assert device.faults.stalls == 96


@pytest.mark.parametrize(
    "fault", ["corrupt_payloads", "corrupt_headers", "stale_frames", "io_errors"]
)
def test_damaged_frames_are_requested_again(
    bus: EmulatedBackend, device: EmulatedScanner, fault: str
) -> None:
    with UsbScanner(backend=bus, frame_retries=3) as scanner:
        scanner.capture()  # a previous frame, so that a stale copy exists
        setattr(device.faults, fault, 3)
        frame = scanner.capture()

    assert getattr(device.faults, fault) == 0
    np.testing.assert_array_equal(frame.image, device.served[-1].image)
    assert frame.sequence == device.served[-1].sequence == 5


def test_persistent_corruption_ends_in_corrupt_frame(
    bus: EmulatedBackend, device: EmulatedScanner
) -> None:
    device.faults.corrupt_payloads = 10
    with UsbScanner(backend=bus, frame_retries=2) as scanner:
        with pytest.raises(CorruptFrame, match="3 damaged frames in a row .*payload CRC"):
            scanner.capture()
        assert device.faults.corrupt_payloads == 7
        device.faults.corrupt_payloads = 0
        frame = scanner.capture()

    np.testing.assert_array_equal(frame.image, device.served[-1].image)


def test_cable_pulled_mid_frame_then_replugged(
    bus: EmulatedBackend, device: EmulatedScanner
) -> None:
    assert WIDTH * HEIGHT > 3 * CHUNK
    with UsbScanner(backend=bus) as scanner:
        scanner.capture()
        device.faults.unplug_mid_frame = 2
        with pytest.raises(ScannerDisconnected, match="PV-TEST-0001 was disconnected.*reopen"):
            scanner.capture()
        with pytest.raises(ScannerDisconnected, match="disconnected; plug it back in"):
            scanner.capture()
        with pytest.raises(ScannerNotFound, match="PV-TEST-0001"):
            scanner.reopen()

        device.replug()
        scanner.reopen()
        frame = scanner.capture()

    assert frame.sequence == 1  # the scanner powered up afresh
    np.testing.assert_array_equal(frame.image, device.served[-1].image)


def test_cable_pulled_mid_transfer_reported_as_io_error_is_a_disconnect(
    bus: EmulatedBackend, device: EmulatedScanner
) -> None:
    device.unplug_reports_io_error = True
    device.faults.unplug_mid_frame = 1
    with UsbScanner(backend=bus) as scanner:
        with pytest.raises(ScannerDisconnected, match="was disconnected during the frame"):
            scanner.capture()
        device.replug()
        scanner.reopen()
        assert scanner.capture().sequence == 1


def test_io_error_on_a_connected_scanner_is_retried_not_taken_for_a_disconnect(
    bus: EmulatedBackend, device: EmulatedScanner
) -> None:
    device.faults.io_errors = 2
    with UsbScanner(backend=bus) as scanner:
        frame = scanner.capture()
        device.faults.io_errors = 10
        with pytest.raises(CorruptFrame, match="USB I/O error during the frame transfer"):
            scanner.capture()

    assert frame.sequence == 3
    np.testing.assert_array_equal(frame.image, device.served[2].image)


def test_cable_pulled_between_frames(bus: EmulatedBackend, device: EmulatedScanner) -> None:
    with UsbScanner(backend=bus) as scanner:
        scanner.capture()
        device.unplug()
        with pytest.raises(ScannerDisconnected):
            scanner.set_led(True)
        device.replug()
        scanner.reopen(wait_s=0.0)
        assert scanner.capture().sequence == 1


def test_two_scanners_are_chosen_by_serial(make_device: Callable[..., EmulatedScanner]) -> None:
    left, right = make_device("PV-LEFT", seed=1), make_device("PV-RIGHT", seed=2)
    bus = EmulatedBackend([left, right])

    assert {info.serial for info in UsbScanner.list_devices(bus)} == {"PV-LEFT", "PV-RIGHT"}
    with UsbScanner("PV-RIGHT", backend=bus) as b, UsbScanner("PV-LEFT", backend=bus) as a:
        frame_a, frame_b = a.capture(), b.capture()
        assert (a.info.serial, b.info.serial) == ("PV-LEFT", "PV-RIGHT")

    np.testing.assert_array_equal(frame_a.image, left.served[-1].image)
    np.testing.assert_array_equal(frame_b.image, right.served[-1].image)
    assert not np.array_equal(frame_a.image, frame_b.image)


def test_several_scanners_without_a_serial_is_an_error_naming_them(
    make_device: Callable[..., EmulatedScanner],
) -> None:
    bus = EmulatedBackend([make_device("PV-A"), make_device("PV-B")])
    with pytest.raises(ScannerNotFound, match=r"2 palm scanners .*PV-A, PV-B.*serial"):
        UsbScanner(backend=bus).open()


def test_unknown_serial_is_not_found(bus: EmulatedBackend) -> None:
    with pytest.raises(ScannerNotFound, match="no palm scanner with serial 'PV-NOPE'"):
        UsbScanner("PV-NOPE", backend=bus).open()


def test_empty_bus_is_not_found(make_device: Callable[..., EmulatedScanner]) -> None:
    bus = EmulatedBackend([make_device()])
    bus.devices[0].unplug()
    with pytest.raises(ScannerNotFound, match="no palm scanner is connected"):
        UsbScanner(backend=bus).open()


def test_a_scanner_held_by_another_program_is_reported_busy(bus: EmulatedBackend) -> None:
    with (
        UsbScanner(backend=bus),
        pytest.raises(ScannerError, match="in use by another program"),
    ):
        UsbScanner(backend=bus).open()


def test_a_scanner_speaking_another_protocol_version_is_refused(
    make_device: Callable[..., EmulatedScanner],
) -> None:
    device = make_device()
    device.protocol_version = 2
    with pytest.raises(
        ScannerError, match="speaks protocol version 2; this driver speaks version 1"
    ):
        UsbScanner(backend=EmulatedBackend([device])).open()
    assert device.claimed_by is None  # the interface was let go


def test_capture_before_open_is_refused(bus: EmulatedBackend) -> None:
    with pytest.raises(ScannerError, match="not open"):
        UsbScanner(backend=bus).capture()


def test_faults_parse_from_text() -> None:
    faults = Faults.parse("timeout:1, corrupt:2,stall,unplug-mid-frame:3")
    assert faults == Faults(timeouts=1, corrupt_payloads=2, stalls=1, unplug_mid_frame=3)
    with pytest.raises(ValueError, match="unknown fault 'melt'"):
        Faults.parse("melt:1")


def test_threads_sharing_a_scanner_get_whole_unmixed_pairs(
    bus: EmulatedBackend, device: EmulatedScanner
) -> None:
    results: list[FrameSet] = []
    with UsbScanner(backend=bus) as scanner:

        def worker() -> None:
            for _ in range(5):
                results.append(scanner.capture_set())

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    served = {frame.sequence: frame for frame in device.served}
    assert len(results) == 15
    for frames in results:
        assert frames.ambient is not None
        assert frames.lit.sequence == frames.ambient.sequence + 1
        np.testing.assert_array_equal(frames.lit.image, served[frames.lit.sequence].image)
        np.testing.assert_array_equal(frames.ambient.image, served[frames.ambient.sequence].image)
