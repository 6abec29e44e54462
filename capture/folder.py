"""A folder of images replayed as a scanner (for evaluation, demos and kiosks without hardware)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from capture.scanner import (
    CorruptFrame,
    DeviceInfo,
    Frame,
    ScannerBase,
    ScannerError,
    ScannerNotFound,
)
from capture.uvc import to_grey8

IMAGE_SUFFIXES = frozenset({".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".pgm", ".pnm"})


def image_files(folder: Path, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` in a stable order (sorted by relative path)."""
    pattern = "**/*" if recursive else "*"
    return sorted(
        (path for path in folder.glob(pattern) if path.suffix.lower() in IMAGE_SUFFIXES),
        key=lambda path: path.relative_to(folder).as_posix(),
    )


def read_grey(path: Path) -> npt.NDArray[np.uint8]:
    """Decode an image file as an ``(M, N)`` uint8 grey image; raises CorruptFrame if it cannot."""
    # imdecode of the bytes rather than imread: imread cannot open non-ASCII paths on Windows.
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise CorruptFrame(f"cannot read image file {path}: {exc}") from exc
    image = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED) if raw.size else None
    if image is None:
        raise CorruptFrame(f"cannot decode image file {path} (damaged or not an image)")
    try:
        return to_grey8(image)
    except ValueError as exc:
        raise CorruptFrame(f"image file {path}: {exc}") from exc


class FolderScanner(ScannerBase):
    """Replays the images of a folder in order, starting again after the last one.

    Every image counts as an LED-on frame; frame sets carry no ambient frame. A file that cannot be
    decoded raises CorruptFrame, and the next capture moves on to the following file.

    Parameters
    ----------
    folder : path
        Directory holding the images (``.png .bmp .jpg .jpeg .tif .tiff .pgm .pnm``).
    recursive : bool
        Also take images from subdirectories (e.g. ``<root>/<identity>/<sample>.png``).
    """

    def __init__(self, folder: str | Path, *, recursive: bool = True) -> None:
        self.folder = Path(folder)
        self.recursive = recursive
        self._files: list[Path] = []
        self._next = 0
        self._sequence = 0
        self._info: DeviceInfo | None = None

    def open(self) -> None:
        if not self.folder.is_dir():
            raise ScannerNotFound(f"image folder {self.folder} does not exist")
        files = image_files(self.folder, self.recursive)
        if not files:
            suffixes = " ".join(sorted(IMAGE_SUFFIXES))
            raise ScannerNotFound(f"image folder {self.folder} holds no images ({suffixes})")
        try:
            height, width = read_grey(files[0]).shape
        except CorruptFrame:
            height, width = 0, 0  # reported as unknown; the capture of that file will fail clearly
        self._files = files
        self._next = 0
        self._info = DeviceInfo(
            model="image folder",
            firmware="",
            serial=str(self.folder),
            width=width,
            height=height,
            wavelength_nm=0,
            led_control=False,
            kind="folder",
        )

    def close(self) -> None:
        self._files = []
        self._info = None

    @property
    def info(self) -> DeviceInfo:
        if self._info is None:
            raise ScannerError("the image folder is not open; call open() first")
        return self._info

    @property
    def current_file(self) -> Path | None:
        """The file the last capture read (or tried to read)."""
        if not self._files or self._sequence == 0:
            return None
        return self._files[(self._next - 1) % len(self._files)]

    def capture(self, led: bool = True) -> Frame:
        if not led:
            raise ScannerError("an image folder has no LED-off frames; use capture_set()")
        if not self._files:
            raise ScannerError("the image folder is not open; call open() first")
        path = self._files[self._next]
        self._next = (self._next + 1) % len(self._files)
        self._sequence += 1
        image = read_grey(path)
        image.setflags(write=False)
        return Frame(image=image, led_on=True, sequence=self._sequence)
