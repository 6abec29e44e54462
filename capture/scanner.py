"""The scanner contract shared by every capture source.

A scanner delivers 8-bit grey near-infrared frames as ``(M, N)`` uint8 arrays (rows, columns).
Scanners that control their illuminator also deliver an LED-off (ambient) frame so that ambient
light can be subtracted and a live hand told from a flat replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

import numpy as np
import numpy.typing as npt


class ScannerError(Exception):
    """Base class of every capture failure."""


class ScannerNotFound(ScannerError):
    """No scanner matches the request (not plugged in, wrong serial, no camera, empty folder)."""


class ScannerTimeout(ScannerError):
    """The scanner did not answer within the allowed time."""


class ScannerDisconnected(ScannerError):
    """The scanner went away while in use (cable pulled, camera unplugged)."""


class CorruptFrame(ScannerError):
    """A frame arrived damaged (checksum, framing or decoding failure) and could not be recovered."""


@dataclass(frozen=True)
class DeviceInfo:
    """What a scanner reports about itself.

    Attributes
    ----------
    model, firmware, serial : str
        Identification strings; ``serial`` selects one scanner among several.
    width, height : int
        Frame size in columns and rows.
    wavelength_nm : int
        Illumination wavelength (850 or 940 for NIR scanners, 0 when unknown).
    led_control : bool
        True when the scanner can switch its illuminator, so LED-off/LED-on pairs are real.
    kind : str
        Transport: ``"usb"``, ``"uvc"``, ``"folder"`` or ``"sim"``.
    """

    model: str
    firmware: str
    serial: str
    width: int
    height: int
    wavelength_nm: int
    led_control: bool
    kind: str


@dataclass(frozen=True, eq=False)
class Frame:
    """One image and how it was taken.

    Attributes
    ----------
    image : (M, N) ndarray of uint8
        The grey frame, rows by columns. Read-only.
    led_on : bool
        Whether the scanner's illuminator was on during exposure.
    sequence : int
        The scanner's frame counter (monotonic per scanner while it stays powered).
    exposure_us : int
        Exposure time in microseconds, 0 when the source does not report it.
    led_intensity : int
        Illuminator drive level 0-255 during exposure (0 when off or unknown).
    """

    image: npt.NDArray[np.uint8]
    led_on: bool
    sequence: int = 0
    exposure_us: int = 0
    led_intensity: int = 0

    def __post_init__(self) -> None:
        if self.image.ndim != 2 or self.image.dtype != np.uint8:
            raise ValueError(
                f"a frame must be a 2-D uint8 array, got shape {self.image.shape} "
                f"dtype {self.image.dtype}"
            )
        if self.image.flags.writeable:
            image = self.image.copy()
            image.setflags(write=False)
            object.__setattr__(self, "image", image)


@dataclass(frozen=True)
class FrameSet:
    """An LED-on frame and, when the scanner controls its LED, the ambient frame taken just before.

    Attributes
    ----------
    lit : Frame
        Frame taken with the illuminator on.
    ambient : Frame or None
        Frame taken with the illuminator off; None for sources without LED control.
    """

    lit: Frame
    ambient: Frame | None = field(default=None)


@dataclass(frozen=True)
class DistanceReading:
    """A proximity sensor reading: distance to the nearest object and whether a hand is present."""

    distance_mm: int
    present: bool


class Scanner(Protocol):
    """Anything that captures NIR frames.

    Use as a context manager (``with scanner: ...``) or call ``open()`` and ``close()``.
    A static protocol: ``info`` of a closed scanner raises, so ``isinstance`` could not probe it.
    """

    def open(self) -> None:
        """Connect to the source; raises ScannerNotFound when it is not there."""

    def close(self) -> None:
        """Release the source; safe to call twice."""

    @property
    def info(self) -> DeviceInfo:
        """Identification of the open scanner."""

    def capture(self, led: bool = True) -> Frame:
        """Take one frame with the illuminator on (``led=True``) or off."""

    def capture_set(self) -> FrameSet:
        """Take an LED-off frame (when supported) then an LED-on frame."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class DistanceSensing(Protocol):
    """A scanner with a proximity sensor (the USB scanner; the simulated sensor may have one)."""

    def read_distance(self) -> DistanceReading:
        """Current distance and presence reading."""


class ScannerBase:
    """Shared behaviour: context management and the default LED-off + LED-on frame set."""

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    @property
    def info(self) -> DeviceInfo:
        raise NotImplementedError

    def capture(self, led: bool = True) -> Frame:
        raise NotImplementedError

    def capture_set(self) -> FrameSet:
        if not self.info.led_control:
            return FrameSet(lit=self.capture(led=True), ambient=None)
        # Ambient first: the LED-on frame then follows with the shortest gap, so the hand
        # has moved least between the two when ambient light is subtracted.
        ambient = self.capture(led=False)
        return FrameSet(lit=self.capture(led=True), ambient=ambient)

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
