"""The emulated device as seen through plain pyusb calls (no palmvein driver in between)."""

from __future__ import annotations

import errno

import numpy as np
import pytest
import usb.core

from capture.usb import protocol as p
from capture.usb.emulated import EmulatedBackend, EmulatedScanner, SyntheticPalm


def _open(bus: EmulatedBackend) -> usb.core.Device:
    device = usb.core.find(idVendor=p.VENDOR_ID, idProduct=p.PRODUCT_ID, backend=bus)
    device.set_configuration()
    return device


def test_unknown_vendor_request_stalls_endpoint_zero(bus: EmulatedBackend) -> None:
    device = _open(bus)
    with pytest.raises(usb.core.USBError) as caught:
        device.ctrl_transfer(p.REQUEST_TYPE_IN, 0x7F, 0, 0, 4)
    assert caught.value.errno == errno.EPIPE


def test_request_with_the_wrong_length_stalls(bus: EmulatedBackend) -> None:
    device = _open(bus)
    with pytest.raises(usb.core.USBError) as caught:
        device.ctrl_transfer(p.REQUEST_TYPE_IN, p.Request.GET_DEVICE_INFO, 0, 0, 64)
    assert caught.value.errno == errno.EPIPE


def test_a_frame_is_a_header_transfer_then_payload_chunks(
    bus: EmulatedBackend, device: EmulatedScanner
) -> None:
    usb_device = _open(bus)
    sequence = p.unpack_sequence(
        usb_device.ctrl_transfer(p.REQUEST_TYPE_IN, p.Request.TRIGGER, 1, 0, 4)
    )
    header = p.FrameHeader.unpack(bytes(usb_device.read(p.ENDPOINT_IN, 512)))
    chunks: list[bytes] = []
    while sum(len(chunk) for chunk in chunks) < header.payload_length:
        chunks.append(bytes(usb_device.read(p.ENDPOINT_IN, device.chunk_bytes)))

    assert header.sequence == sequence == 1
    assert [len(c) for c in chunks[:-1]] == [device.chunk_bytes] * (len(chunks) - 1)
    assert b"".join(chunks) == device.served[-1].image.tobytes()
    with pytest.raises(usb.core.USBTimeoutError):
        usb_device.read(p.ENDPOINT_IN, 512)


def test_replugged_device_has_a_new_address_and_old_handles_fail(
    bus: EmulatedBackend, device: EmulatedScanner
) -> None:
    before = _open(bus)
    device.unplug()
    assert usb.core.find(idVendor=p.VENDOR_ID, backend=bus) is None
    device.replug()
    after = usb.core.find(idVendor=p.VENDOR_ID, backend=bus)

    assert after.address != before.address
    with pytest.raises(usb.core.USBError) as caught:
        before.ctrl_transfer(p.REQUEST_TYPE_IN, p.Request.GET_STATUS, 0, 0, p.STATUS_SIZE)
    assert caught.value.errno == errno.ENODEV


def test_frame_source_failure_is_a_sensor_fault_and_a_lost_frame() -> None:
    device = EmulatedScanner(
        width=64, height=48, frame_source=lambda led, level: np.zeros((10, 10), np.uint8)
    )
    usb_device = _open(EmulatedBackend([device]))
    usb_device.ctrl_transfer(p.REQUEST_TYPE_IN, p.Request.TRIGGER, 1, 0, 4)

    with pytest.raises(usb.core.USBTimeoutError):
        usb_device.read(p.ENDPOINT_IN, 512)
    status = p.StatusBlock.unpack(
        bytes(usb_device.ctrl_transfer(p.REQUEST_TYPE_IN, p.Request.GET_STATUS, 0, 0, 12))
    )
    assert status.last_error == p.DeviceError.SENSOR
    assert device.lost_sequences == [1]
    assert "the emulated sensor is (48, 64) uint8" in str(device.source_errors[0])


def test_synthetic_palm_is_reproducible_and_lit_by_the_led() -> None:
    first, second = SyntheticPalm(96, 64, seed=3), SyntheticPalm(96, 64, seed=3)
    lit, ambient = first(True, 200), first(False, 200)

    np.testing.assert_array_equal(lit, second(True, 200))
    assert lit.shape == (64, 96) and lit.dtype == np.uint8
    assert lit.mean() > ambient.mean() + 20
    assert not np.array_equal(lit, SyntheticPalm(96, 64, seed=4)(True, 200))


def test_identical_devices_are_still_distinct_on_the_bus() -> None:
    bus = EmulatedBackend([EmulatedScanner(width=64, height=48) for _ in range(2)])
    found = list(usb.core.find(find_all=True, idVendor=p.VENDOR_ID, backend=bus))
    assert len(found) == 2
    assert found[0].address != found[1].address
    assert found[0].port_number != found[1].port_number
