"""An emulated PV-NIR scanner presented to pyusb as a backend.

``usb.core.find(backend=EmulatedBackend([...]))`` returns real :class:`usb.core.Device` objects, so the
production driver in :mod:`capture.usb.driver` runs unchanged against the device side implemented here:
descriptors, string descriptors, the vendor control requests and the framed bulk-IN transfer of
``protocol.md``. Faults can be injected to exercise the driver's recovery paths: lost frames (timeouts),
corrupted chunks or headers (CRC errors), stale frames (sequence mismatch), endpoint stalls, and the
cable being pulled between frames or in the middle of one, then plugged back in.

The emulator does not sleep: a timeout is reported at once, so fault tests stay fast.
"""

from __future__ import annotations

import array
import errno
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, ClassVar, Literal

import cv2
import numpy as np
import numpy.typing as npt
import usb.backend
import usb.core

from capture.usb import protocol as p

FrameSource = Callable[[bool, int], npt.NDArray[np.uint8]]
"""Produces the image for one exposure from (LED on, LED drive level 0-255)."""

# libusb error codes, so that errors look exactly like those of pyusb's libusb1 backend.
_LIBUSB_ERROR_NO_DEVICE = -4
_LIBUSB_ERROR_BUSY = -6
_LIBUSB_ERROR_TIMEOUT = -7
_LIBUSB_ERROR_PIPE = -9

_GET_DESCRIPTOR = 0x06
_DESC_DEVICE = 1
_DESC_CONFIG = 2
_DESC_STRING = 3
_SPEED_HIGH = 3


def _no_device() -> usb.core.USBError:
    return usb.core.USBError(
        "No such device (it may have been disconnected)", _LIBUSB_ERROR_NO_DEVICE, errno.ENODEV
    )


def _pipe_error() -> usb.core.USBError:
    return usb.core.USBError("Pipe error", _LIBUSB_ERROR_PIPE, errno.EPIPE)


def _timeout() -> usb.core.USBError:
    return usb.core.USBTimeoutError("Operation timed out", _LIBUSB_ERROR_TIMEOUT, errno.ETIMEDOUT)


class SyntheticPalm:
    """A small deterministic NIR hand image generator used when no other frame source is given.

    LED-on frames show a bright palm with four fingers and darker vein curves over a dim ambient
    background; LED-off frames show the ambient light only. Each call draws fresh sensor noise from
    a generator seeded with ``seed``, so a sequence of calls is reproducible.

    Parameters
    ----------
    width, height : int
        Frame size in columns and rows.
    seed : int
        Seed of the hand shape, the veins and the noise.
    """

    def __init__(self, width: int = 640, height: int = 480, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self._rng = np.random.default_rng(rng.integers(2**63))
        rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
        # Ambient light: a gentle gradient, as from a window to one side of the counter.
        self._ambient: npt.NDArray[np.float32] = (
            12.0 + 18.0 * cols / max(width - 1, 1) + 6.0 * rows / max(height - 1, 1)
        )
        hand = np.zeros((height, width), np.uint8)
        centre = (int(width * rng.uniform(0.45, 0.55)), int(height * rng.uniform(0.55, 0.65)))
        axes = (int(width * 0.2), int(height * 0.25))
        cv2.ellipse(hand, centre, axes, float(rng.uniform(-15, 15)), 0, 360, 255, -1)
        for k in range(4):
            base_col = centre[0] - axes[0] + (2 * k + 1) * axes[0] // 4
            tip_row = int(height * rng.uniform(0.05, 0.2))
            cv2.line(hand, (base_col, centre[1]), (base_col, tip_row), 255, max(width // 22, 2))
        palm = cv2.GaussianBlur(hand.astype(np.float32) / 255.0, (0, 0), max(width / 160, 1.0))
        veins = np.zeros((height, width), np.uint8)
        for _ in range(6):
            points = np.stack(
                [
                    np.linspace(centre[0] - axes[0], centre[0] + axes[0], 8)
                    + rng.normal(0, width * 0.02, 8),
                    centre[1]
                    + rng.uniform(-1, 1) * axes[1] * 0.8
                    + rng.normal(0, height * 0.03, 8),
                ],
                axis=1,
            ).astype(np.int32)
            cv2.polylines(veins, [points], False, 255, max(width // 120, 1))
        vein = cv2.GaussianBlur(veins.astype(np.float32) / 255.0, (0, 0), max(width / 320, 0.8))
        self._reflectance: npt.NDArray[np.float32] = palm * (1.0 - 0.25 * vein)

    def __call__(self, led_on: bool, intensity: int) -> npt.NDArray[np.uint8]:
        image = self._ambient.copy()
        if led_on:
            image += self._reflectance * (150.0 * intensity / 200.0)
        image += self._rng.normal(0.0, 2.0, image.shape).astype(np.float32)
        return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def simulated_frame_source(
    width: int,
    height: int,
    seed: int = 0,
    *,
    identity: int = 0,
    session: int = 0,
    hand: Literal["right", "left"] = "right",
    geometry: Literal["contactless", "pegged"] = "contactless",
) -> FrameSource:
    """The simulated NIR sensor (:mod:`capture.simulated`) presenting one palm."""
    from capture.sim import SimulatedFrameSource
    from capture.simulated import SimulatedSensor

    sensor = SimulatedSensor(seed=seed, geometry=geometry, shape=(height, width))
    return SimulatedFrameSource(sensor, identity, session, hand)


@dataclass
class Faults:
    """Faults waiting to happen; each count is used up as its fault fires.

    Attributes
    ----------
    timeouts : int
        The next N triggered frames are lost: the host's bulk read times out.
    corrupt_payloads : int
        The next N frames have one payload byte flipped after the CRC was computed.
    corrupt_headers : int
        The next N frames have one header byte flipped (header CRC fails).
    stale_frames : int
        The next N frames are preceded by a copy of the previous frame (sequence mismatch).
    stalls : int
        The next N payload-chunk reads halt endpoint 0x81 (EPIPE until the host clears the halt).
    io_errors : int
        The next N payload-chunk reads fail with EIO (a transfer error; the chunk is lost).
    unplug_mid_frame : int or None
        When set, the cable is pulled during the next frame after this many payload chunks.
    """

    timeouts: int = 0
    corrupt_payloads: int = 0
    corrupt_headers: int = 0
    stale_frames: int = 0
    stalls: int = 0
    io_errors: int = 0
    unplug_mid_frame: int | None = None

    _NAMES: ClassVar[dict[str, str]] = {
        "timeout": "timeouts",
        "corrupt": "corrupt_payloads",
        "corrupt-header": "corrupt_headers",
        "stale": "stale_frames",
        "stall": "stalls",
        "io-error": "io_errors",
        "unplug-mid-frame": "unplug_mid_frame",
    }

    @classmethod
    def parse(cls, text: str) -> Faults:
        """Parse e.g. ``"timeout:1,corrupt:2,stall:1,stale:1,io-error:1,unplug-mid-frame:2"``.

        Names: timeout, corrupt, corrupt-header, stale, stall, io-error, unplug-mid-frame; a name
        without a count means 1.
        """
        faults = cls()
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, count = item.partition(":")
            if name not in cls._NAMES:
                known = ", ".join(sorted(cls._NAMES))
                raise ValueError(f"unknown fault {name!r}; known faults: {known}")
            try:
                value = int(count) if count else 1
            except ValueError as exc:
                raise ValueError(f"fault {name!r} needs an integer count, got {count!r}") from exc
            if value < 0:
                raise ValueError(f"fault {name!r} count must not be negative")
            setattr(faults, cls._NAMES[name], value)
        return faults


@dataclass(frozen=True)
class ServedFrame:
    """A frame exactly as the device produced it, before any injected corruption."""

    sequence: int
    image: npt.NDArray[np.uint8]
    led_on: bool
    led_intensity: int
    exposure_us: int


@dataclass
class _Unit:
    """One bulk transfer waiting in the IN FIFO."""

    kind: str  # "header" or "chunk"
    data: bytearray


@dataclass(eq=False)  # a device is itself, whatever its settings: identity comparison
class EmulatedScanner:
    """The device side of one emulated scanner.

    Parameters
    ----------
    serial : str
        Serial number (string descriptor 3 and the device info block).
    frame_source : callable, optional
        ``(led_on, intensity) -> (height, width) uint8`` image; by default the simulated sensor
        (:func:`simulated_frame_source`) presenting palm 0 of population ``seed``.
    width, height, wavelength_nm, model, firmware, exposure_us, chunk_bytes, protocol_version
        What the device reports and how it frames payloads.
    seed : int
        Seed of the default frame source.
    faults : Faults
        Faults waiting to happen; may be replaced or edited at any time.
    distance_mm, hand_present : int, bool
        The proximity reading (see also :meth:`script_distance`).
    unplug_reports_io_error : bool
        After :meth:`unplug`, fail the first operation with EIO rather than ENODEV.

    Attributes
    ----------
    served : list of ServedFrame
        Every frame the device produced, uncorrupted, for tests to compare with what arrived.
    lost_sequences : list of int
        Sequence numbers of frames lost to timeouts or sensor faults.
    source_errors : list of Exception
        Why the frame source failed, for each sensor fault it caused.
    """

    serial: str = "PV-EMU-0001"
    frame_source: FrameSource | None = None
    width: int = 640
    height: int = 480
    wavelength_nm: int = 850
    model: str = "PV-NIR-1 (emulated)"
    firmware: str = "1.0.0-emu"
    exposure_us: int = 4000
    chunk_bytes: int = p.DEFAULT_CHUNK_BYTES
    seed: int = 0
    faults: Faults = field(default_factory=Faults)
    distance_mm: int = p.NO_DISTANCE
    hand_present: bool = False
    unplug_reports_io_error: bool = False
    protocol_version: int = p.PROTOCOL_VERSION

    def __post_init__(self) -> None:
        if not (1 <= self.width <= 0xFFFF and 1 <= self.height <= 0xFFFF):
            raise ValueError(f"sensor size {self.width}x{self.height} is not 1-65535 per side")
        if not 0 < self.chunk_bytes <= 0xFFFF or self.chunk_bytes % p.MAX_PACKET_SIZE:
            raise ValueError(
                f"chunk_bytes {self.chunk_bytes} is not a multiple of 512 below 64 KiB"
            )
        if not 0 <= self.wavelength_nm <= 0xFFFF:
            raise ValueError(f"wavelength {self.wavelength_nm} nm does not fit the info block")
        # Fail here rather than on the first GET_DEVICE_INFO: the info block has fixed fields.
        p.DeviceInfoBlock(
            self.width, self.height, self.wavelength_nm, self.chunk_bytes,
            self.firmware, self.model, self.serial,
        ).pack()  # fmt: skip
        if self.frame_source is None:
            self.frame_source = simulated_frame_source(self.width, self.height, self.seed)
        self.plugged = True
        self.generation = 0
        self.address = 0
        self.served: list[ServedFrame] = []
        self._io_error_pending = False
        self.lost_sequences: list[int] = []
        self.source_errors: list[Exception] = []
        self._distance_script: deque[tuple[int, bool]] = deque()
        self._lock = threading.RLock()
        self._power_on()

    def _power_on(self) -> None:
        self.led_on = False
        self.led_intensity = p.DEFAULT_LED_INTENSITY
        self.sequence = 0
        self.configuration = 0
        self.claimed_by: _Handle | None = None
        self.halted = False
        self.last_error = p.DeviceError.NONE
        self._fifo: deque[_Unit] = deque()
        self._previous_units: list[_Unit] = []
        self._units_until_unplug: int | None = None

    # --- physical events ------------------------------------------------------------------

    def unplug(self) -> None:
        """Pull the cable: every open handle fails with ENODEV, the device leaves enumeration.

        With ``unplug_reports_io_error`` the first failing operation reports EIO instead, as Linux
        does for the transfer in flight when the cable goes.
        """
        with self._lock:
            self.plugged = False
            self._fifo.clear()
            self._io_error_pending = self.unplug_reports_io_error

    def replug(self) -> None:
        """Plug the cable back in: the device powers on afresh at a new bus address."""
        with self._lock:
            self.plugged = True
            self.generation += 1
            self._power_on()

    def script_distance(self, readings: Iterable[tuple[int, bool]]) -> None:
        """Queue (distance_mm, present) readings for successive GET_DISTANCE requests.

        When the queue runs out, ``distance_mm`` and ``hand_present`` are reported.
        """
        self._distance_script.extend(readings)

    # --- USB side -------------------------------------------------------------------------

    def descriptor_bytes(self, kind: int, index: int) -> bytes:
        if kind == _DESC_DEVICE:
            return bytes(
                [18, 1, 0x00, 0x02, 0, 0, 0, 64]
                + list(p.VENDOR_ID.to_bytes(2, "little"))
                + list(p.PRODUCT_ID.to_bytes(2, "little"))
                + [0x00, 0x01, 1, 2, 3, 1]
            )
        if kind == _DESC_CONFIG:
            return (
                bytes([9, 2, 25, 0, 1, 1, 0, 0x80, 50])
                + bytes([9, 4, 0, 0, 1, 0xFF, 0, 0, 0])
                + bytes([7, 5, p.ENDPOINT_IN, 0x02])
                + p.MAX_PACKET_SIZE.to_bytes(2, "little")
                + bytes([0])
            )
        if kind == _DESC_STRING:
            if index == 0:
                return bytes([4, 3]) + p.LANGID_EN_US.to_bytes(2, "little")
            strings = {1: "palmvein", 2: self.model, 3: self.serial}
            if index not in strings:
                raise _pipe_error()
            text = strings[index].encode("utf-16-le")
            return bytes([2 + len(text), 3]) + text
        raise _pipe_error()

    def control_in(self, request: int, value: int, length: int) -> bytes:
        with self._lock:
            if request == p.Request.GET_DEVICE_INFO and length == p.DEVICE_INFO_SIZE:
                return p.DeviceInfoBlock(
                    width=self.width,
                    height=self.height,
                    wavelength_nm=self.wavelength_nm,
                    chunk_bytes=self.chunk_bytes,
                    firmware=self.firmware,
                    model=self.model,
                    serial=self.serial,
                    protocol_version=self.protocol_version,
                ).pack()
            if request == p.Request.GET_DISTANCE and length == p.DISTANCE_SIZE:
                if self._distance_script:
                    distance, present = self._distance_script.popleft()
                else:
                    distance, present = self.distance_mm, self.hand_present
                return p.DistanceBlock(distance, present).pack()
            if request == p.Request.GET_STATUS and length == p.STATUS_SIZE:
                return p.StatusBlock(
                    state=p.DeviceState.SENDING if self._fifo else p.DeviceState.IDLE,
                    led_on=self.led_on,
                    led_intensity=self.led_intensity,
                    last_error=self.last_error,
                    last_sequence=self.sequence,
                    pending_bytes=sum(len(unit.data) for unit in self._fifo),
                ).pack()
            if request == p.Request.TRIGGER and length == p.SEQUENCE_SIZE and value in (0, 1):
                return p.pack_sequence(self._trigger(led_on=bool(value)))
        raise _pipe_error()

    def control_out(self, request: int, value: int, length: int) -> None:
        with self._lock:
            if length != 0:
                raise _pipe_error()
            if request == p.Request.SET_LED and value in (0, 1):
                self.led_on = bool(value)
            elif request == p.Request.SET_LED_INTENSITY and 0 <= value <= 255:
                self.led_intensity = value
            elif request == p.Request.ABORT and value == 0:
                self._fifo.clear()
                self._units_until_unplug = None
            elif request == p.Request.RESET and value == 0:
                self._fifo.clear()
                self._units_until_unplug = None
                self.halted = False
                self.led_on = False
                self.led_intensity = p.DEFAULT_LED_INTENSITY
                self.last_error = p.DeviceError.NONE
            else:
                raise _pipe_error()

    def _trigger(self, led_on: bool) -> int:
        self._fifo.clear()
        self._units_until_unplug = None
        self.sequence = p.next_sequence(self.sequence)
        if self.faults.timeouts > 0:
            self.faults.timeouts -= 1
            self.last_error = p.DeviceError.SENSOR
            self.lost_sequences.append(self.sequence)
            return self.sequence
        intensity = self.led_intensity if led_on else 0
        assert self.frame_source is not None
        try:
            image = np.asarray(self.frame_source(led_on, self.led_intensity))
            if image.shape != (self.height, self.width) or image.dtype != np.uint8:
                raise ValueError(
                    f"frame source gave {image.shape} {image.dtype}, the emulated sensor is "
                    f"({self.height}, {self.width}) uint8"
                )
        except Exception as exc:  # noqa: BLE001 - any source failure is a sensor fault
            # The frame never comes (the host times out and reads last_error = SENSOR); the
            # cause is kept for whoever drives the emulator.
            self.last_error = p.DeviceError.SENSOR
            self.lost_sequences.append(self.sequence)
            self.source_errors.append(exc)
            return self.sequence
        image = image.copy()
        image.setflags(write=False)
        payload = image.tobytes()
        header = p.FrameHeader.for_payload(
            payload,
            sequence=self.sequence,
            width=self.width,
            height=self.height,
            led_on=led_on,
            led_intensity=intensity,
            exposure_us=self.exposure_us,
        ).pack()
        units = [_Unit("header", bytearray(header))] + [
            _Unit("chunk", bytearray(payload[start : start + self.chunk_bytes]))
            for start in range(0, len(payload), self.chunk_bytes)
        ]
        self.served.append(ServedFrame(self.sequence, image, led_on, intensity, self.exposure_us))
        sent = [_Unit(unit.kind, bytearray(unit.data)) for unit in units]
        if self.faults.corrupt_headers > 0:
            self.faults.corrupt_headers -= 1
            sent[0].data[8] ^= 0xFF
        if self.faults.corrupt_payloads > 0 and len(sent) > 1:
            self.faults.corrupt_payloads -= 1
            middle = sent[len(sent) // 2]
            middle.data[len(middle.data) // 2] ^= 0x5A
        if self.faults.stale_frames > 0 and self._previous_units:
            self.faults.stale_frames -= 1
            self._fifo.extend(_Unit(u.kind, bytearray(u.data)) for u in self._previous_units)
        if self.faults.unplug_mid_frame is not None:
            self._units_until_unplug = len(self._fifo) + 1 + self.faults.unplug_mid_frame
            self.faults.unplug_mid_frame = None
        self._fifo.extend(sent)
        self._previous_units = units
        self.last_error = p.DeviceError.NONE
        return self.sequence

    def bulk_in(self, size: int) -> bytes:
        with self._lock:
            if self.halted:
                raise _pipe_error()
            if not self._fifo:
                raise _timeout()
            unit = self._fifo[0]
            if unit.kind == "chunk" and self.faults.io_errors > 0:
                self.faults.io_errors -= 1
                self._fifo.popleft()
                raise usb.core.USBError("Input/output error", -1, errno.EIO)
            if unit.kind == "chunk" and self.faults.stalls > 0:
                self.faults.stalls -= 1
                self.halted = True
                self.last_error = p.DeviceError.FIFO_OVERRUN
                raise _pipe_error()
            data = bytes(unit.data[:size])
            del unit.data[:size]
            if not unit.data:
                self._fifo.popleft()
                if self._units_until_unplug is not None:
                    self._units_until_unplug -= 1
                    if self._units_until_unplug <= 0:
                        self.unplug()
            return data


@dataclass(frozen=True, eq=False)
class _Handle:
    device: EmulatedScanner
    generation: int


class EmulatedBackend(usb.backend.IBackend):  # type: ignore[misc]
    """A pyusb backend whose bus holds emulated scanners.

    Parameters
    ----------
    devices : sequence of EmulatedScanner
        The scanners on the bus; several may be present, told apart by serial number.
    """

    def __init__(self, devices: Sequence[EmulatedScanner] = ()) -> None:
        super().__init__()
        self.devices: list[EmulatedScanner] = list(devices) or [EmulatedScanner()]
        for port, device in enumerate(self.devices, start=1):
            device.address = port

    def add(self, device: EmulatedScanner) -> None:
        device.address = len(self.devices) + 1
        self.devices.append(device)

    def device(self, serial: str) -> EmulatedScanner:
        for device in self.devices:
            if device.serial == serial:
                return device
        raise KeyError(serial)

    # --- enumeration and descriptors --------------------------------------------------------

    def enumerate_devices(self) -> Iterable[EmulatedScanner]:
        return [device for device in self.devices if device.plugged]

    def get_parent(self, dev: EmulatedScanner) -> None:
        return None

    def get_device_descriptor(self, dev: EmulatedScanner) -> SimpleNamespace:
        return SimpleNamespace(
            bLength=18,
            bDescriptorType=_DESC_DEVICE,
            bcdUSB=0x0200,
            bDeviceClass=0,
            bDeviceSubClass=0,
            bDeviceProtocol=0,
            bMaxPacketSize0=64,
            idVendor=p.VENDOR_ID,
            idProduct=p.PRODUCT_ID,
            bcdDevice=0x0100,
            iManufacturer=1,
            iProduct=2,
            iSerialNumber=3,
            bNumConfigurations=1,
            # A re-plugged device gets a new address, as on a real bus.
            address=(dev.address + 16 * dev.generation - 1) % 127 + 1,
            bus=1,
            port_number=self.devices.index(dev) + 1,
            port_numbers=(self.devices.index(dev) + 1,),
            speed=_SPEED_HIGH,
        )

    def get_configuration_descriptor(self, dev: EmulatedScanner, config: int) -> SimpleNamespace:
        if config != 0:
            raise IndexError(f"Invalid configuration index {config}")
        return SimpleNamespace(
            bLength=9,
            bDescriptorType=_DESC_CONFIG,
            wTotalLength=25,
            bNumInterfaces=1,
            bConfigurationValue=1,
            iConfiguration=0,
            bmAttributes=0x80,
            bMaxPower=50,
            extra_descriptors=[],
        )

    def get_interface_descriptor(
        self, dev: EmulatedScanner, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        if config != 0 or intf != 0:
            raise IndexError(f"Invalid interface index {intf}")
        if alt != 0:
            raise IndexError(f"Invalid alternate setting index {alt}")
        return SimpleNamespace(
            bLength=9,
            bDescriptorType=4,
            bInterfaceNumber=p.INTERFACE,
            bAlternateSetting=0,
            bNumEndpoints=1,
            bInterfaceClass=0xFF,
            bInterfaceSubClass=0,
            bInterfaceProtocol=0,
            iInterface=0,
            extra_descriptors=[],
        )

    def get_endpoint_descriptor(
        self, dev: EmulatedScanner, ep: int, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        self.get_interface_descriptor(dev, intf, alt, config)
        if ep != 0:
            raise IndexError(f"Invalid endpoint index {ep}")
        return SimpleNamespace(
            bLength=7,
            bDescriptorType=5,
            bEndpointAddress=p.ENDPOINT_IN,
            bmAttributes=0x02,
            wMaxPacketSize=p.MAX_PACKET_SIZE,
            bInterval=0,
            bRefresh=0,
            bSynchAddress=0,
            extra_descriptors=[],
        )

    # --- handles -------------------------------------------------------------------------

    def open_device(self, dev: EmulatedScanner) -> _Handle:
        if not dev.plugged:
            raise _no_device()
        return _Handle(dev, dev.generation)

    def close_device(self, dev_handle: _Handle) -> None:
        if dev_handle.device.claimed_by is dev_handle:
            dev_handle.device.claimed_by = None

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        device = _live(dev_handle)
        if config_value not in (0, 1):
            raise usb.core.USBError("Entity not found", -5, errno.ENOENT)
        device.configuration = config_value

    def get_configuration(self, dev_handle: _Handle) -> int:
        return _live(dev_handle).configuration

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        _live(dev_handle)
        if intf != p.INTERFACE or altsetting != 0:
            raise usb.core.USBError("Entity not found", -5, errno.ENOENT)

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        device = _live(dev_handle)
        if intf != p.INTERFACE:
            raise usb.core.USBError("Entity not found", -5, errno.ENOENT)
        if device.configuration == 0:
            raise usb.core.USBError("Entity not found", -5, errno.ENOENT)
        if device.claimed_by is not None and device.claimed_by is not dev_handle:
            # Another handle (another program, on a real system) holds the interface.
            raise usb.core.USBError("Resource busy", _LIBUSB_ERROR_BUSY, errno.EBUSY)
        device.claimed_by = dev_handle

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        device = _live(dev_handle)
        if device.claimed_by is dev_handle:
            device.claimed_by = None

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        _live(dev_handle)
        return False

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        _live(dev_handle)

    def attach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        _live(dev_handle)

    # --- transfers -----------------------------------------------------------------------

    def ctrl_transfer(
        self,
        dev_handle: _Handle,
        bmRequestType: int,
        bRequest: int,
        wValue: int,
        wIndex: int,
        data: array.array[int],
        timeout: int,
    ) -> int:
        device = _live(dev_handle)
        length = len(data) * data.itemsize
        if bmRequestType == 0x80 and bRequest == _GET_DESCRIPTOR:
            reply = device.descriptor_bytes(wValue >> 8, wValue & 0xFF)
        elif bmRequestType == p.REQUEST_TYPE_IN and wIndex == 0:
            reply = device.control_in(bRequest, wValue, length)
        elif bmRequestType == p.REQUEST_TYPE_OUT and wIndex == 0:
            device.control_out(bRequest, wValue, length)
            return length
        else:
            raise _pipe_error()
        count = min(length, len(reply))
        data[:count] = array.array("B", reply[:count])
        return count

    def bulk_read(
        self, dev_handle: _Handle, ep: int, intf: int, buff: array.array[int], timeout: int
    ) -> int:
        device = _live(dev_handle)
        if ep != p.ENDPOINT_IN or device.claimed_by is not dev_handle:
            raise usb.core.USBError("Invalid parameter", -2, errno.EINVAL)
        data = device.bulk_in(len(buff) * buff.itemsize)
        buff[: len(data)] = array.array("B", data)
        return len(data)

    def bulk_write(
        self, dev_handle: _Handle, ep: int, intf: int, data: array.array[int], timeout: int
    ) -> int:
        _live(dev_handle)
        raise usb.core.USBError("Invalid parameter", -2, errno.EINVAL)

    def clear_halt(self, dev_handle: _Handle, ep: int) -> None:
        device = _live(dev_handle)
        if ep == p.ENDPOINT_IN:
            device.halted = False

    def reset_device(self, dev_handle: _Handle) -> None:
        device = _live(dev_handle)
        with device._lock:
            generation = device.generation
            device._power_on()
            device.generation = generation


def _alive(handle: _Handle) -> bool:
    return handle.device.plugged and handle.device.generation == handle.generation


def _live(handle: _Handle) -> EmulatedScanner:
    if not _alive(handle):
        if handle.device._io_error_pending:
            handle.device._io_error_pending = False
            raise usb.core.USBError("Input/output error", -1, errno.EIO)
        raise _no_device()
    return handle.device


def emulated_bus(
    serials: Sequence[str] = ("PV-EMU-0001",), **device_options: Any
) -> EmulatedBackend:
    """A backend with one emulated scanner per serial number, all sharing ``device_options``."""
    return EmulatedBackend([EmulatedScanner(serial=serial, **device_options) for serial in serials])
