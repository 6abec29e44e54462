"""Capture: scanners that deliver NIR palm frames (USB, UVC camera, folder, simulated sensor).

Open one from a URI with :func:`capture.uri.open_scanner`; the contract is :class:`Scanner`.
"""

from capture.scanner import (
    CorruptFrame,
    DeviceInfo,
    DistanceReading,
    Frame,
    FrameSet,
    Scanner,
    ScannerDisconnected,
    ScannerError,
    ScannerNotFound,
    ScannerTimeout,
)

__all__ = [
    "CorruptFrame",
    "DeviceInfo",
    "DistanceReading",
    "Frame",
    "FrameSet",
    "Scanner",
    "ScannerDisconnected",
    "ScannerError",
    "ScannerNotFound",
    "ScannerTimeout",
]
