"""Commodity NIR cameras (850/940 nm USB Video Class) through OpenCV ``VideoCapture``.

UVC gives no control of the camera's illuminator, so these scanners deliver LED-on frames only
(``DeviceInfo.led_control`` is False and frame sets carry no ambient frame).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from capture.scanner import (
    DeviceInfo,
    Frame,
    ScannerBase,
    ScannerDisconnected,
    ScannerError,
    ScannerNotFound,
    ScannerTimeout,
)


class VideoCaptureLike(Protocol):
    """The part of :class:`cv2.VideoCapture` the scanner uses (tests pass a fake)."""

    def isOpened(self) -> bool: ...

    def read(self) -> tuple[bool, Any]: ...

    def set(self, propId: int, value: float) -> bool: ...

    def get(self, propId: int) -> float: ...

    def release(self) -> None: ...


def _opencv_capture(device: int | str) -> VideoCaptureLike:
    # OpenCV logs a warning per backend it tries on a missing camera; the ScannerNotFound that
    # follows says it better, so keep the console clean while probing.
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        # Separate calls: VideoCapture's overloads take an index or a path, not their union.
        if isinstance(device, int):
            return cv2.VideoCapture(device)
        return cv2.VideoCapture(device)
    finally:
        cv2.utils.logging.setLogLevel(level)


def to_grey8(image: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    """Convert a camera frame to an ``(M, N)`` uint8 grey image.

    Parameters
    ----------
    image : ndarray
        ``(M, N)``, ``(M, N, 1)``, ``(M, N, 3)`` (BGR) or ``(M, N, 4)`` (BGRA) array of uint8 or
        uint16. NIR cameras usually repeat the same intensity in every colour channel.

    Returns
    -------
    (M, N) ndarray of uint8
        A new array; 16-bit frames keep their 8 most significant bits.
    """
    frame = np.asarray(image)
    if frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
    elif frame.dtype != np.uint8:
        raise ValueError(f"camera frames must be uint8 or uint16, got {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim == 3 and frame.shape[2] == 3:
        return np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY), dtype=np.uint8)
    if frame.ndim != 2:
        raise ValueError(f"cannot make a grey image from a frame of shape {frame.shape}")
    return frame.copy()


class UvcScanner(ScannerBase):
    """A UVC NIR camera.

    Parameters
    ----------
    device : int or str
        OpenCV camera index (``0`` for ``/dev/video0``) or a device path / pipeline string.
    width, height : int, optional
        Frame size to request; the camera may deliver another size, which ``info`` reports.
    wavelength_nm : int
        Illumination wavelength of the camera's LEDs, for the record (UVC cannot tell).
    read_attempts : int
        Consecutive failed reads before the camera is declared silent or gone.
    warmup_frames : int
        Frames discarded after opening while the camera's auto-exposure settles.
    video_capture : callable
        Factory of the capture object; ``cv2.VideoCapture`` by default.
    """

    def __init__(
        self,
        device: int | str = 0,
        *,
        width: int | None = None,
        height: int | None = None,
        wavelength_nm: int = 850,
        read_attempts: int = 3,
        warmup_frames: int = 2,
        video_capture: Callable[[int | str], VideoCaptureLike] | None = None,
    ) -> None:
        self.device = device
        self.width = width
        self.height = height
        self.wavelength_nm = wavelength_nm
        self.read_attempts = read_attempts
        self.warmup_frames = warmup_frames
        self._factory = video_capture or _opencv_capture
        self._capture: VideoCaptureLike | None = None
        self._info: DeviceInfo | None = None
        self._sequence = 0

    def open(self) -> None:
        if self._capture is not None:
            return
        capture = self._factory(self.device)
        if not capture.isOpened():
            capture.release()
            where = f"/dev/video{self.device}" if isinstance(self.device, int) else self.device
            raise ScannerNotFound(
                f"no UVC camera at {self.device!r}: OpenCV could not open it (is it plugged in, "
                f"and is {where} readable by this user?)"
            )
        if self.width is not None:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height is not None:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        self._capture = capture
        try:
            for _ in range(self.warmup_frames):
                self._read()
            first = self._read()
        except ScannerError:
            self.close()
            raise
        self._info = DeviceInfo(
            model="UVC camera",
            firmware="",
            serial=f"uvc:{self.device}",
            width=int(first.shape[1]),
            height=int(first.shape[0]),
            wavelength_nm=self.wavelength_nm,
            led_control=False,
            kind="uvc",
        )

    def close(self) -> None:
        if self._capture is not None:
            capture, self._capture = self._capture, None
            capture.release()

    @property
    def info(self) -> DeviceInfo:
        if self._info is None:
            raise ScannerError("the UVC camera is not open; call open() first")
        return self._info

    def capture(self, led: bool = True) -> Frame:
        if not led:
            raise ScannerError(
                "UVC cameras give no control of their illuminator, so no LED-off frame can be "
                "taken; use capture_set(), which returns the LED-on frame alone"
            )
        image = self._read()
        image.setflags(write=False)  # fresh array: Frame need not copy it
        self._sequence += 1
        return Frame(image=image, led_on=True, sequence=self._sequence)

    def _read(self) -> npt.NDArray[np.uint8]:
        if self._capture is None:
            raise ScannerError("the UVC camera is not open; call open() first")
        for _ in range(self.read_attempts):
            ok, image = self._capture.read()
            if ok and image is not None:
                try:
                    return to_grey8(image)
                except ValueError as exc:
                    raise ScannerError(f"UVC camera {self.device!r}: {exc}") from exc
            if not self._capture.isOpened():
                break
        if not self._capture.isOpened():
            raise ScannerDisconnected(
                f"UVC camera {self.device!r} went away (unplugged?); plug it back in and open again"
            )
        raise ScannerTimeout(
            f"UVC camera {self.device!r} delivered no frame in {self.read_attempts} attempts"
        )
