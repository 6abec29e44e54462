"""The binary layouts of protocol.md: round trips, exact offsets, and rejection of damage."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capture.usb import protocol as p

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
ascii_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E))


@st.composite
def headers(draw: st.DrawFn) -> p.FrameHeader:
    width, height = draw(st.integers(0, 4096)), draw(st.integers(0, 4096))
    return p.FrameHeader(
        sequence=draw(u32),
        width=width,
        height=height,
        led_on=draw(st.booleans()),
        led_intensity=draw(u8),
        exposure_us=draw(u32),
        payload_length=width * height,
        payload_crc32=draw(u32),
    )


@given(headers())
def test_frame_header_round_trips(header: p.FrameHeader) -> None:
    packed = header.pack()
    assert len(packed) == p.HEADER_SIZE == 32
    assert p.FrameHeader.unpack(packed) == header


@given(headers(), st.integers(0, 31), st.integers(1, 255))
def test_any_damaged_header_byte_is_detected(header: p.FrameHeader, offset: int, flip: int) -> None:
    damaged = bytearray(header.pack())
    damaged[offset] ^= flip
    with pytest.raises(p.ProtocolError):
        p.FrameHeader.unpack(damaged)


def test_frame_header_layout_matches_the_specification() -> None:
    payload = bytes(range(256)) * 3
    header = p.FrameHeader.for_payload(
        payload, sequence=0x01020304, width=32, height=24, led_on=True, led_intensity=200,
        exposure_us=4000,
    )  # fmt: skip
    raw = header.pack()

    assert raw[0:4] == b"PVFH"
    assert raw[4:8] == bytes([1, 1, 1, 200])
    assert raw[8:12] == bytes([4, 3, 2, 1])  # little-endian sequence
    assert struct.unpack("<HHIII", raw[12:28]) == (32, 24, 4000, 768, zlib.crc32(payload))
    assert struct.unpack("<I", raw[28:32])[0] == zlib.crc32(raw[:28])


def test_header_whose_length_disagrees_with_its_size_is_rejected() -> None:
    header = p.FrameHeader(1, 10, 10, True, 1, 1, payload_length=99, payload_crc32=0)
    with pytest.raises(p.ProtocolError, match="does not match 10x10"):
        p.FrameHeader.unpack(header.pack())


@given(
    width=u16, height=u16, wavelength=st.sampled_from([850, 940]),
    chunk=st.integers(1, 127).map(lambda k: k * 512),
    firmware=ascii_text.filter(lambda s: len(s) <= 16),
    model=ascii_text.filter(lambda s: len(s) <= 32),
    serial=ascii_text.filter(lambda s: len(s) <= 16),
)  # fmt: skip
def test_device_info_round_trips(
    width: int, height: int, wavelength: int, chunk: int, firmware: str, model: str, serial: str
) -> None:
    block = p.DeviceInfoBlock(width, height, wavelength, chunk, firmware, model, serial)
    packed = block.pack()
    assert len(packed) == p.DEVICE_INFO_SIZE == 80
    assert p.DeviceInfoBlock.unpack(packed) == block


def test_device_info_from_another_device_is_rejected() -> None:
    with pytest.raises(p.ProtocolError, match="magic"):
        p.DeviceInfoBlock.unpack(b"XXXX" + bytes(76))
    with pytest.raises(ValueError, match="longer than 16 bytes"):
        p.DeviceInfoBlock(1, 1, 850, 512, "f", "m", "S" * 17).pack()


@given(u16, st.booleans())
def test_distance_round_trips(distance: int, present: bool) -> None:
    block = p.DistanceBlock(distance, present)
    assert p.DistanceBlock.unpack(block.pack()) == block


@given(st.sampled_from(p.DeviceState), st.booleans(), u8, st.sampled_from(p.DeviceError), u32, u32)
def test_status_round_trips(
    state: p.DeviceState, led: bool, level: int, error: p.DeviceError, seq: int, pending: int
) -> None:
    block = p.StatusBlock(state, led, level, error, seq, pending)
    assert len(block.pack()) == p.STATUS_SIZE == 12
    assert p.StatusBlock.unpack(block.pack()) == block


@given(u32)
def test_sequence_round_trips_and_never_wraps_to_zero(sequence: int) -> None:
    assert p.unpack_sequence(p.pack_sequence(sequence)) == sequence
    assert p.next_sequence(sequence) != 0
    assert p.next_sequence(p.MAX_SEQUENCE) == 1


@given(st.integers(1, 10**7), st.integers(1, 64).map(lambda k: k * 512))
def test_chunk_reads_are_whole_packets_and_never_exceed_a_chunk(remaining: int, chunk: int) -> None:
    size = p.chunk_read_size(remaining, chunk)
    assert size % p.MAX_PACKET_SIZE == 0
    assert min(remaining, chunk) <= size <= chunk
