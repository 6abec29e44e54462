"""Host driver for the PV-NIR USB palm-vein scanner (protocol in ``protocol.md`` beside this file).

Uses pyusb with the libusb-1.0 library shipped by the ``libusb-package`` wheel, or any injected pyusb
backend (the tests inject :class:`capture.usb.emulated.EmulatedBackend`, so this exact code is what they
exercise).
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import usb.core
import usb.util

from capture.scanner import (
    CorruptFrame,
    DeviceInfo,
    DistanceReading,
    Frame,
    FrameSet,
    ScannerBase,
    ScannerDisconnected,
    ScannerError,
    ScannerNotFound,
    ScannerTimeout,
)
from capture.usb import protocol as p

T = TypeVar("T")

DEFAULT_TIMEOUT_MS = 1000
DEFAULT_FRAME_RETRIES = 3
DEFAULT_STALL_RETRIES = 3


def default_backend() -> Any:
    """The libusb-1.0 backend from ``libusb-package``; raises ScannerNotFound when unusable."""
    import libusb_package

    backend = libusb_package.get_libusb1_backend()
    if backend is None:
        raise ScannerNotFound(
            "cannot load libusb-1.0 (libusb-package found no usable library), so no USB scanner "
            "can be reached"
        )
    return backend


class _DamagedFrame(Exception):
    """A frame that failed a check and is worth asking for again."""


class _Stalled(Exception):
    """The bulk endpoint is halted."""


def _is_disconnect(exc: BaseException) -> bool:
    return isinstance(exc, usb.core.USBError) and (
        exc.errno == errno.ENODEV or getattr(exc, "backend_error_code", None) == -4
    )


def _iter_scanners(backend: Any) -> Iterator[Any]:
    try:
        yield from usb.core.find(
            find_all=True, idVendor=p.VENDOR_ID, idProduct=p.PRODUCT_ID, backend=backend
        )
    except usb.core.NoBackendError as exc:
        raise ScannerNotFound(f"no USB backend available: {exc}") from exc


def _read_serial(device: Any) -> str | None:
    try:
        return str(device.serial_number)
    except (usb.core.USBError, ValueError):
        # No permission or no string support: this one cannot be selected by serial.
        return None
    finally:
        usb.util.dispose_resources(device)


class UsbScanner(ScannerBase):
    """A PV-NIR scanner on USB.

    Parameters
    ----------
    serial : str, optional
        Serial number of the scanner to use; required when several are connected.
    backend : pyusb backend, optional
        Defaults to libusb-1.0 from ``libusb-package``.
    timeout_ms : int
        Time allowed for each control request and each bulk transfer.
    frame_retries : int
        How many times a damaged frame (CRC, framing, sequence) is requested again before
        :class:`CorruptFrame` is raised.
    stall_retries : int
        How many times a halted endpoint is cleared for one transfer before giving up.

    Examples
    --------
    >>> with UsbScanner(serial="PV-0042") as scanner:  # doctest: +SKIP
    ...     frames = scanner.capture_set()
    """

    def __init__(
        self,
        serial: str | None = None,
        *,
        backend: Any = None,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        frame_retries: int = DEFAULT_FRAME_RETRIES,
        stall_retries: int = DEFAULT_STALL_RETRIES,
    ) -> None:
        self._serial = serial
        self._backend = backend
        self.timeout_ms = timeout_ms
        self.frame_retries = frame_retries
        self.stall_retries = stall_retries
        self._device: Any = None
        self._info: p.DeviceInfoBlock | None = None
        self._disconnected = False
        self._needs_abort = False
        # One exchange at a time: a frame's transfers must not interleave with another request.
        self._lock = threading.RLock()

    # --- discovery -------------------------------------------------------------------------

    @staticmethod
    def list_devices(backend: Any = None) -> list[DeviceInfo]:
        """Information of every PV-NIR scanner connected (devices that cannot be opened are skipped)."""
        backend = backend if backend is not None else default_backend()
        found = []
        for device in _iter_scanners(backend):
            try:
                block = _read_info(device, DEFAULT_TIMEOUT_MS)
            except (usb.core.USBError, p.ProtocolError):
                continue
            finally:
                usb.util.dispose_resources(device)
            found.append(_device_info(block))
        return found

    def _find(self) -> Any:
        backend = self._backend if self._backend is not None else default_backend()
        candidates = list(_iter_scanners(backend))
        if self._serial is not None:
            for device in candidates:
                if _read_serial(device) == self._serial:
                    return device
            raise ScannerNotFound(
                f"no palm scanner with serial {self._serial!r} is connected "
                f"({len(candidates)} other PV-NIR scanner(s) found)"
            )
        if not candidates:
            raise ScannerNotFound(
                f"no palm scanner is connected (looked for USB {p.VENDOR_ID:04x}:"
                f"{p.PRODUCT_ID:04x}); check the cable, and on Linux the udev permissions"
            )
        if len(candidates) > 1:
            serials = ", ".join(str(_read_serial(device)) for device in candidates)
            raise ScannerNotFound(
                f"{len(candidates)} palm scanners are connected ({serials}); choose one by serial"
            )
        return candidates[0]

    # --- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        """Find the scanner, configure it and read its device info."""
        with self._lock:
            self._open()

    def _open(self) -> None:
        if self._device is not None and not self._disconnected:
            return
        self._close()  # the handle of a scanner that went away
        device = self._find()
        try:
            device.set_configuration()
            usb.util.claim_interface(device, p.INTERFACE)
            info = _read_info(device, self.timeout_ms)
            if info.protocol_version != p.PROTOCOL_VERSION:
                usb.util.dispose_resources(device)
                raise ScannerError(
                    f"palm scanner {info.serial} speaks protocol version {info.protocol_version}; "
                    f"this driver speaks version {p.PROTOCOL_VERSION} (update palmvein or the "
                    "scanner firmware)"
                )
            # A fresh session must not pick up a frame a previous user left in the FIFO.
            device.ctrl_transfer(p.REQUEST_TYPE_OUT, p.Request.ABORT, 0, 0, None, self.timeout_ms)
        except usb.core.USBError as exc:
            usb.util.dispose_resources(device)
            if _is_disconnect(exc):
                raise ScannerDisconnected(
                    "the palm scanner was disconnected while it was being opened"
                ) from exc
            if exc.errno == errno.EBUSY:
                raise ScannerError(
                    "the palm scanner is in use by another program (its interface is claimed)"
                ) from exc
            if exc.errno == errno.EACCES:
                raise ScannerError(
                    "permission denied opening the palm scanner; on Linux install the udev rule "
                    "in capture/usb/protocol.md"
                ) from exc
            raise ScannerError(f"cannot open the palm scanner: {exc}") from exc
        except p.ProtocolError as exc:
            usb.util.dispose_resources(device)
            raise ScannerNotFound(
                f"the USB device {p.VENDOR_ID:04x}:{p.PRODUCT_ID:04x} is not a PV-NIR palm "
                f"scanner ({exc})"
            ) from exc
        self._device = device
        self._info = info
        self._serial = info.serial
        self._disconnected = False
        self._needs_abort = False

    def close(self) -> None:
        """Release the interface and the device handle; safe to call twice."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._device is None:
            return
        device, self._device = self._device, None
        try:
            if not self._disconnected:
                usb.util.release_interface(device, p.INTERFACE)
        except usb.core.USBError:
            pass  # the cable may have been pulled since the last transfer
        finally:
            usb.util.dispose_resources(device)

    def reopen(self, wait_s: float = 0.0, poll_s: float = 0.1) -> None:
        """Open the same scanner (by serial) again, e.g. after its cable was re-plugged.

        Parameters
        ----------
        wait_s : float
            How long to keep looking for the scanner before raising ScannerNotFound.
        poll_s : float
            Pause between looks.
        """
        self._disconnected = True
        self.close()
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.open()
                return
            except ScannerNotFound:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(poll_s)

    @property
    def serial(self) -> str | None:
        return self._serial

    @property
    def info(self) -> DeviceInfo:
        return _device_info(self._require_info())

    # --- control requests ------------------------------------------------------------------

    def set_led(self, on: bool) -> None:
        """Switch the idle illuminator (aiming light) on or off."""
        self._ctrl_out(p.Request.SET_LED, int(on))

    def set_led_intensity(self, level: int) -> None:
        """Set the illuminator drive level, 0-255."""
        if not 0 <= level <= 255:
            raise ValueError(f"LED intensity must be 0-255, got {level}")
        self._ctrl_out(p.Request.SET_LED_INTENSITY, level)

    def read_distance(self) -> DistanceReading:
        """Distance of the nearest object and whether a hand is present."""
        block = p.DistanceBlock.unpack(self._ctrl_in(p.Request.GET_DISTANCE, 0, p.DISTANCE_SIZE))
        return DistanceReading(distance_mm=block.distance_mm, present=block.present)

    def status(self) -> p.StatusBlock:
        return p.StatusBlock.unpack(self._ctrl_in(p.Request.GET_STATUS, 0, p.STATUS_SIZE))

    def reset(self) -> None:
        """Abort any frame, clear the endpoint halt, LED off, default intensity."""
        self._ctrl_out(p.Request.RESET, 0)
        self._needs_abort = False

    # --- frames ----------------------------------------------------------------------------

    def capture(self, led: bool = True) -> Frame:
        """Trigger one exposure and read its frame.

        Damaged frames (header or payload CRC, framing, wrong sequence number) are requested again
        up to ``frame_retries`` times.

        Raises
        ------
        ScannerTimeout
            The frame did not arrive within ``timeout_ms``.
        ScannerDisconnected
            The scanner went away; call :meth:`reopen` once it is plugged back in.
        CorruptFrame
            Every attempt delivered a damaged frame.
        """
        with self._lock:
            return self._capture(led)

    def capture_set(self) -> FrameSet:
        """An LED-off then an LED-on frame, with no other request from this process in between."""
        with self._lock:
            return super().capture_set()

    def _capture(self, led: bool) -> Frame:
        info = self._require_info()
        problems: list[str] = []
        for _attempt in range(self.frame_retries + 1):
            if self._needs_abort:
                self._ctrl_out(p.Request.ABORT, 0)
                self._needs_abort = False
            sequence = p.unpack_sequence(
                self._ctrl_in(p.Request.TRIGGER, int(led), p.SEQUENCE_SIZE)
            )
            # Until the whole frame is in, anything left in the FIFO is suspect.
            self._needs_abort = True
            try:
                frame = self._receive(sequence, info)
            except _DamagedFrame as exc:
                problems.append(str(exc))
                continue
            self._needs_abort = False
            if frame.led_on != led:
                raise CorruptFrame(
                    f"scanner {info.serial} delivered an LED-{'on' if frame.led_on else 'off'} "
                    f"frame for an LED-{'on' if led else 'off'} trigger"
                )
            return frame
        raise CorruptFrame(
            f"scanner {info.serial} delivered {len(problems)} damaged frames in a row "
            f"({'; '.join(problems)}); check the cable and USB port"
        )

    def _receive(self, sequence: int, info: p.DeviceInfoBlock) -> Frame:
        raw_header = self._bulk_read(p.MAX_PACKET_SIZE)
        try:
            header = p.FrameHeader.unpack(raw_header)
        except p.ProtocolError as exc:
            raise _DamagedFrame(f"bad header: {exc}") from exc
        if header.sequence != sequence:
            raise _DamagedFrame(f"frame {header.sequence} arrived, frame {sequence} was triggered")
        payload = bytearray()
        while len(payload) < header.payload_length:
            remaining = header.payload_length - len(payload)
            chunk = self._bulk_read(p.chunk_read_size(remaining, info.chunk_bytes))
            if not chunk or len(chunk) > remaining:
                raise _DamagedFrame(
                    f"payload chunk of {len(chunk)} bytes with {remaining} bytes outstanding"
                )
            payload += chunk
        if p.crc32(payload) != header.payload_crc32:
            raise _DamagedFrame(f"payload CRC mismatch in frame {sequence}")
        image = np.frombuffer(bytes(payload), dtype=np.uint8).reshape(header.height, header.width)
        return Frame(
            image=image,
            led_on=header.led_on,
            sequence=header.sequence,
            exposure_us=header.exposure_us,
            led_intensity=header.led_intensity,
        )

    # --- transport with error mapping ------------------------------------------------------

    def _require_info(self) -> p.DeviceInfoBlock:
        if self._disconnected:
            raise ScannerDisconnected(
                f"palm scanner {self._serial} is disconnected; plug it back in and reopen it"
            )
        if self._device is None or self._info is None:
            raise ScannerError("the palm scanner is not open; call open() first")
        return self._info

    def _usb(self, what: str, call: Callable[[], T], stall_ok: bool = False) -> T:
        self._require_info()
        try:
            with self._lock:
                return call()
        except usb.core.USBTimeoutError as exc:
            self._needs_abort = True
            raise ScannerTimeout(
                f"palm scanner {self._serial} did not answer {what} within {self.timeout_ms} ms"
                f"{self._fault_report()}"
            ) from exc
        except usb.core.USBError as exc:
            if _is_disconnect(exc) or (exc.errno == errno.EIO and not self._still_connected()):
                self._disconnected = True
                raise ScannerDisconnected(
                    f"palm scanner {self._serial} was disconnected during {what} (cable pulled?); "
                    "plug it back in and reopen the scanner"
                ) from exc
            if stall_ok and exc.errno == errno.EPIPE:
                raise _Stalled from exc
            if stall_ok and exc.errno == errno.EIO:
                # A transfer error on a scanner still on the bus (noise, a marginal cable):
                # the frame is lost but asking again is worthwhile.
                self._needs_abort = True
                raise _DamagedFrame(f"USB I/O error during {what}") from exc
            raise ScannerError(
                f"USB error from palm scanner {self._serial} during {what}: {exc}"
            ) from exc

    def _fault_report(self) -> str:
        """The device's own account of a failure, for error messages ('' when it has none)."""
        try:
            with self._lock:
                raw = self._device.ctrl_transfer(
                    p.REQUEST_TYPE_IN, p.Request.GET_STATUS, 0, 0, p.STATUS_SIZE, self.timeout_ms
                )
            error = p.StatusBlock.unpack(bytes(raw)).last_error
        except (usb.core.USBError, p.ProtocolError):
            return ""
        return {
            p.DeviceError.NONE: "",
            p.DeviceError.SENSOR: " (the scanner reports a sensor fault)",
            p.DeviceError.FIFO_OVERRUN: " (the scanner reports a FIFO overrun)",
        }[error]

    def _still_connected(self) -> bool:
        # Linux reports a transfer cut short by an unplug as EIO, and only later operations as
        # ENODEV; whether the device still enumerates tells the two apart.
        backend = self._backend if self._backend is not None else default_backend()
        try:
            return any(_read_serial(device) == self._serial for device in _iter_scanners(backend))
        except ScannerError:
            return False

    def _ctrl_in(self, request: p.Request, value: int, length: int) -> bytes:
        data = self._usb(
            request.name,
            lambda: self._device.ctrl_transfer(
                p.REQUEST_TYPE_IN, request, value, 0, length, self.timeout_ms
            ),
        )
        return bytes(data)

    def _ctrl_out(self, request: p.Request, value: int) -> None:
        self._usb(
            request.name,
            lambda: self._device.ctrl_transfer(
                p.REQUEST_TYPE_OUT, request, value, 0, None, self.timeout_ms
            ),
        )

    def _bulk_read(self, size: int) -> bytes:
        for _ in range(self.stall_retries + 1):
            try:
                data = self._usb(
                    "the frame transfer",
                    lambda: self._device.read(p.ENDPOINT_IN, size, self.timeout_ms),
                    stall_ok=True,
                )
                return bytes(data)
            except _Stalled:
                # The device halted the endpoint (FIFO overrun); clearing the halt makes it resend
                # the interrupted transfer.
                self._usb(
                    "CLEAR_FEATURE(ENDPOINT_HALT)", lambda: self._device.clear_halt(p.ENDPOINT_IN)
                )
        self._needs_abort = True
        raise ScannerError(
            f"palm scanner {self._serial} stalled endpoint 0x{p.ENDPOINT_IN:02x} "
            f"{self.stall_retries + 1} times in a row; reset the scanner"
        )


def _read_info(device: Any, timeout_ms: int) -> p.DeviceInfoBlock:
    data = device.ctrl_transfer(
        p.REQUEST_TYPE_IN, p.Request.GET_DEVICE_INFO, 0, 0, p.DEVICE_INFO_SIZE, timeout_ms
    )
    return p.DeviceInfoBlock.unpack(bytes(data))


def _device_info(block: p.DeviceInfoBlock) -> DeviceInfo:
    return DeviceInfo(
        model=block.model,
        firmware=block.firmware,
        serial=block.serial,
        width=block.width,
        height=block.height,
        wavelength_nm=block.wavelength_nm,
        led_control=True,
        kind="usb",
    )
