"""Constants and binary codecs of the PV-NIR USB scanner protocol (see ``protocol.md`` beside this file).

Every structure is little-endian; CRC-32 is the IEEE 802.3 CRC computed by :func:`zlib.crc32`.
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

VENDOR_ID = 0x1209
PRODUCT_ID = 0x0001
LANGID_EN_US = 0x0409

INTERFACE = 0
ENDPOINT_IN = 0x81
MAX_PACKET_SIZE = 512
DEFAULT_CHUNK_BYTES = 32 * MAX_PACKET_SIZE

REQUEST_TYPE_IN = 0xC0  # device-to-host | vendor | device
REQUEST_TYPE_OUT = 0x40  # host-to-device | vendor | device

PROTOCOL_VERSION = 1
DEFAULT_LED_INTENSITY = 200
NO_DISTANCE = 0xFFFF
MAX_SEQUENCE = 0xFFFF_FFFF


class Request(enum.IntEnum):
    """``bRequest`` codes of the vendor control requests."""

    GET_DEVICE_INFO = 0x01
    SET_LED = 0x02
    SET_LED_INTENSITY = 0x03
    GET_DISTANCE = 0x04
    TRIGGER = 0x05
    GET_STATUS = 0x06
    ABORT = 0x07
    RESET = 0x08


class PixelFormat(enum.IntEnum):
    GREY8 = 1


class DeviceState(enum.IntEnum):
    IDLE = 0
    EXPOSING = 1
    SENDING = 2
    FAULT = 3


class DeviceError(enum.IntEnum):
    NONE = 0
    SENSOR = 1
    FIFO_OVERRUN = 2


class ProtocolError(ValueError):
    """Bytes that do not decode as the structure they should be."""


def crc32(data: bytes | bytearray | memoryview) -> int:
    """IEEE 802.3 CRC-32 as used by the protocol."""
    return zlib.crc32(data) & 0xFFFF_FFFF


def next_sequence(sequence: int) -> int:
    """The sequence number after ``sequence``: wraps from 0xFFFFFFFF to 1, never 0."""
    return 1 if sequence >= MAX_SEQUENCE else sequence + 1


def _ascii(value: str, size: int, name: str) -> bytes:
    raw = value.encode("ascii")
    if len(raw) > size:
        raise ValueError(f"{name} {value!r} is longer than {size} bytes")
    return raw


def _unpad(raw: bytes, name: str) -> str:
    try:
        return raw.rstrip(b"\0").decode("ascii")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{name} is not ASCII: {raw!r}") from exc


# --- device info block -------------------------------------------------------------------------

DEVICE_INFO_MAGIC = b"PVDI"
DEVICE_INFO_VERSION = 1
_DEVICE_INFO = struct.Struct("<4sBBHHHHH16s32s16s")
DEVICE_INFO_SIZE = _DEVICE_INFO.size


@dataclass(frozen=True)
class DeviceInfoBlock:
    width: int
    height: int
    wavelength_nm: int
    chunk_bytes: int
    firmware: str
    model: str
    serial: str
    protocol_version: int = PROTOCOL_VERSION

    def pack(self) -> bytes:
        return _DEVICE_INFO.pack(
            DEVICE_INFO_MAGIC,
            DEVICE_INFO_VERSION,
            self.protocol_version,
            self.width,
            self.height,
            self.wavelength_nm,
            self.chunk_bytes,
            0,
            _ascii(self.firmware, 16, "firmware"),
            _ascii(self.model, 32, "model"),
            _ascii(self.serial, 16, "serial"),
        )

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview) -> DeviceInfoBlock:
        if len(data) != DEVICE_INFO_SIZE:
            raise ProtocolError(f"device info is {len(data)} bytes, expected {DEVICE_INFO_SIZE}")
        (magic, version, protocol, width, height, wavelength, chunk, _reserved,
         firmware, model, serial) = _DEVICE_INFO.unpack(bytes(data))  # fmt: skip
        if magic != DEVICE_INFO_MAGIC:
            raise ProtocolError(f"device info magic is {magic!r}, expected {DEVICE_INFO_MAGIC!r}")
        if version != DEVICE_INFO_VERSION:
            raise ProtocolError(f"device info version {version} is not supported")
        if chunk == 0 or chunk % MAX_PACKET_SIZE:
            raise ProtocolError(f"chunk size {chunk} is not a positive multiple of 512")
        return cls(
            width=width,
            height=height,
            wavelength_nm=wavelength,
            chunk_bytes=chunk,
            firmware=_unpad(firmware, "firmware"),
            model=_unpad(model, "model"),
            serial=_unpad(serial, "serial"),
            protocol_version=protocol,
        )


# --- distance block ----------------------------------------------------------------------------

_DISTANCE = struct.Struct("<HBB")
DISTANCE_SIZE = _DISTANCE.size
_PRESENT = 0x01


@dataclass(frozen=True)
class DistanceBlock:
    distance_mm: int
    present: bool

    def pack(self) -> bytes:
        return _DISTANCE.pack(self.distance_mm, _PRESENT if self.present else 0, 0)

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview) -> DistanceBlock:
        if len(data) != DISTANCE_SIZE:
            raise ProtocolError(f"distance block is {len(data)} bytes, expected {DISTANCE_SIZE}")
        distance, flags, _ = _DISTANCE.unpack(bytes(data))
        return cls(distance_mm=distance, present=bool(flags & _PRESENT))


# --- status block ------------------------------------------------------------------------------

_STATUS = struct.Struct("<BBBBII")
STATUS_SIZE = _STATUS.size


@dataclass(frozen=True)
class StatusBlock:
    state: DeviceState
    led_on: bool
    led_intensity: int
    last_error: DeviceError
    last_sequence: int
    pending_bytes: int

    def pack(self) -> bytes:
        return _STATUS.pack(
            self.state,
            int(self.led_on),
            self.led_intensity,
            self.last_error,
            self.last_sequence,
            self.pending_bytes,
        )

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview) -> StatusBlock:
        if len(data) != STATUS_SIZE:
            raise ProtocolError(f"status block is {len(data)} bytes, expected {STATUS_SIZE}")
        state, led, intensity, error, sequence, pending = _STATUS.unpack(bytes(data))
        try:
            return cls(
                state=DeviceState(state),
                led_on=bool(led),
                led_intensity=intensity,
                last_error=DeviceError(error),
                last_sequence=sequence,
                pending_bytes=pending,
            )
        except ValueError as exc:
            raise ProtocolError(f"status block has an unknown code: {exc}") from exc


# --- sequence number returned by TRIGGER ------------------------------------------------------

_SEQUENCE = struct.Struct("<I")
SEQUENCE_SIZE = _SEQUENCE.size


def pack_sequence(sequence: int) -> bytes:
    return _SEQUENCE.pack(sequence)


def unpack_sequence(data: bytes | bytearray | memoryview) -> int:
    if len(data) != SEQUENCE_SIZE:
        raise ProtocolError(f"sequence number is {len(data)} bytes, expected {SEQUENCE_SIZE}")
    (sequence,) = _SEQUENCE.unpack(bytes(data))
    return int(sequence)


# --- frame header ------------------------------------------------------------------------------

FRAME_MAGIC = b"PVFH"
HEADER_VERSION = 1
_HEADER = struct.Struct("<4sBBBBIHHIIII")
HEADER_SIZE = _HEADER.size
_HEADER_BODY = HEADER_SIZE - 4


@dataclass(frozen=True)
class FrameHeader:
    """The 32-byte header that precedes every frame's payload on endpoint 0x81."""

    sequence: int
    width: int
    height: int
    led_on: bool
    led_intensity: int
    exposure_us: int
    payload_length: int
    payload_crc32: int
    pixel_format: PixelFormat = PixelFormat.GREY8

    @classmethod
    def for_payload(
        cls,
        payload: bytes,
        *,
        sequence: int,
        width: int,
        height: int,
        led_on: bool,
        led_intensity: int,
        exposure_us: int,
    ) -> FrameHeader:
        return cls(
            sequence=sequence,
            width=width,
            height=height,
            led_on=led_on,
            led_intensity=led_intensity,
            exposure_us=exposure_us,
            payload_length=len(payload),
            payload_crc32=crc32(payload),
        )

    def pack(self) -> bytes:
        body = _HEADER.pack(
            FRAME_MAGIC,
            HEADER_VERSION,
            self.pixel_format,
            int(self.led_on),
            self.led_intensity,
            self.sequence,
            self.width,
            self.height,
            self.exposure_us,
            self.payload_length,
            self.payload_crc32,
            0,
        )[:_HEADER_BODY]
        return body + struct.pack("<I", crc32(body))

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview) -> FrameHeader:
        """Decode and validate a header; raises ProtocolError on any inconsistency."""
        raw = bytes(data)
        if len(raw) != HEADER_SIZE:
            raise ProtocolError(f"frame header is {len(raw)} bytes, expected {HEADER_SIZE}")
        (magic, version, pixel_format, led, intensity, sequence, width, height, exposure,
         length, payload_crc, header_crc) = _HEADER.unpack(raw)  # fmt: skip
        if magic != FRAME_MAGIC:
            raise ProtocolError(f"frame magic is {magic!r}, expected {FRAME_MAGIC!r}")
        if header_crc != crc32(raw[:_HEADER_BODY]):
            raise ProtocolError("frame header CRC mismatch")
        if version != HEADER_VERSION:
            raise ProtocolError(f"frame header version {version} is not supported")
        try:
            fmt = PixelFormat(pixel_format)
        except ValueError as exc:
            raise ProtocolError(f"pixel format {pixel_format} is not supported") from exc
        if length != width * height:
            raise ProtocolError(
                f"payload length {length} does not match {width}x{height} GREY8 pixels"
            )
        return cls(
            sequence=sequence,
            width=width,
            height=height,
            led_on=bool(led),
            led_intensity=intensity,
            exposure_us=exposure,
            payload_length=length,
            payload_crc32=payload_crc,
            pixel_format=fmt,
        )


def chunk_read_size(remaining: int, chunk_bytes: int) -> int:
    """Host buffer size for the next payload chunk: whole packets, never more than a chunk."""
    size = min(remaining, chunk_bytes)
    return -(-size // MAX_PACKET_SIZE) * MAX_PACKET_SIZE
