"""A capture session: wait for the hand, take LED-off/LED-on pairs, keep the best ambient-free frame.

The quality function is passed in (e.g. ``biometric.quality`` scoring wrapped to return a float), so
capture stays independent of the recognition code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from capture.scanner import DistanceReading, DistanceSensing, FrameSet, Scanner, ScannerTimeout

QualityFunction = Callable[[npt.NDArray[np.uint8]], float]


class NoHandPresented(ScannerTimeout):
    """No hand was held at the capture distance within the allowed time."""


def subtract_ambient(
    lit: npt.NDArray[np.uint8], ambient: npt.NDArray[np.uint8]
) -> npt.NDArray[np.uint8]:
    """Remove ambient light from an LED-on frame using the LED-off frame taken just before.

    With active illumination the LED-on frame is ``ambient + reflected LED light`` and the LED-off
    frame is ``ambient`` alone, so their difference keeps only the light of the scanner's own
    illuminator: the flash/no-flash principle of Petschnigg et al. [1]_ and Eisemann and Durand
    [2]_ applied to NIR vein imaging. Negative differences (sensor noise, slight motion) clip to 0.

    Parameters
    ----------
    lit, ambient : (M, N) ndarray of uint8
        LED-on and LED-off frames of the same scene. Neither is modified.

    Returns
    -------
    (M, N) ndarray of uint8
        ``clip(lit - ambient, 0, 255)``.

    References
    ----------
    .. [1] G. Petschnigg et al., "Digital photography with flash and no-flash image pairs",
           ACM Transactions on Graphics 23(3), 2004.
    .. [2] E. Eisemann and F. Durand, "Flash photography enhancement via intrinsic relighting",
           ACM Transactions on Graphics 23(3), 2004.
    """
    if lit.shape != ambient.shape:
        raise ValueError(
            f"LED-on frame {lit.shape} and LED-off frame {ambient.shape} differ in size"
        )
    difference = lit.astype(np.int16) - ambient.astype(np.int16)
    return np.clip(difference, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class SessionSettings:
    """How a session decides that a hand is ready and how many frames it takes.

    Attributes
    ----------
    min_distance_mm, max_distance_mm : int
        The hand must be present within this range (the scanner's depth of field).
    presence_timeout_s : float
        How long to wait for the hand before giving up.
    poll_interval_s : float
        Pause between distance readings.
    steady_readings : int
        Consecutive in-range readings required, so a hand passing by does not trigger.
    frames : int
        Frame pairs taken; the best one by quality is kept.
    """

    min_distance_mm: int = 50
    max_distance_mm: int = 120
    presence_timeout_s: float = 10.0
    poll_interval_s: float = 0.05
    steady_readings: int = 2
    frames: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.min_distance_mm <= self.max_distance_mm:
            raise ValueError("need 0 <= min_distance_mm <= max_distance_mm")
        if self.frames < 1 or self.steady_readings < 1:
            raise ValueError("frames and steady_readings must be at least 1")


@dataclass(frozen=True)
class SessionResult:
    """The outcome of a session.

    Attributes
    ----------
    image : (M, N) ndarray of uint8
        The best frame, ambient light removed when the scanner gave an LED-off frame.
    frames : FrameSet
        The raw frames the best image came from.
    quality : float
        Its quality score.
    qualities : tuple of float
        Scores of every frame taken, in capture order.
    distance : DistanceReading or None
        The reading taken just before the best pair (None for scanners without a distance
        sensor).
    """

    image: npt.NDArray[np.uint8]
    frames: FrameSet
    quality: float
    qualities: tuple[float, ...]
    distance: DistanceReading | None


class CaptureSession:
    """Runs capture sessions on an open scanner.

    Parameters
    ----------
    scanner : Scanner
        An open scanner. When it has a distance sensor (``read_distance()``) the session waits for
        the hand; otherwise it captures at once.
    quality : callable
        ``image -> float``, higher is better; called on the ambient-free image.
    settings : SessionSettings
    clock, sleep : callable
        Time source and pause, replaceable in tests.
    """

    def __init__(
        self,
        scanner: Scanner,
        quality: QualityFunction,
        settings: SessionSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.scanner = scanner
        self.quality = quality
        self.settings = settings or SessionSettings()
        self._clock = clock
        self._sleep = sleep

    def wait_for_hand(self) -> DistanceReading | None:
        """Block until a hand is held steadily within the distance range.

        Returns
        -------
        DistanceReading or None
            The last reading, or None when the scanner has no distance sensor.

        Raises
        ------
        NoHandPresented
            No steady hand within ``presence_timeout_s``.
        """
        if not isinstance(self.scanner, DistanceSensing):
            return None
        s = self.settings
        deadline = self._clock() + s.presence_timeout_s
        steady = 0
        while True:
            reading = self.scanner.read_distance()
            steady = steady + 1 if self._in_range(reading) else 0
            if steady >= s.steady_readings:
                return reading
            if self._clock() >= deadline:
                seen = f"{reading.distance_mm} mm" if reading.present else "no hand"
                raise NoHandPresented(
                    f"no hand held at {s.min_distance_mm}-{s.max_distance_mm} mm within "
                    f"{s.presence_timeout_s:g} s (last reading: {seen})"
                )
            self._sleep(s.poll_interval_s)

    def _in_range(self, reading: DistanceReading) -> bool:
        s = self.settings
        return reading.present and s.min_distance_mm <= reading.distance_mm <= s.max_distance_mm

    def _hand_ready(self, first: bool) -> DistanceReading | None:
        if first or not isinstance(self.scanner, DistanceSensing):
            return self.wait_for_hand()
        reading = self.scanner.read_distance()
        # A hand that moved out of the depth of field between pairs gives blurred or cut-off
        # frames: wait for it to settle again rather than score them.
        return reading if self._in_range(reading) else self.wait_for_hand()

    def run(self) -> SessionResult:
        """Wait for the hand, take ``frames`` frame pairs and keep the best by quality.

        Before each pair after the first the distance is read again; if the hand has left the
        range the session waits for it (up to ``presence_timeout_s``) before going on.
        """
        best: tuple[float, npt.NDArray[np.uint8], FrameSet, DistanceReading | None] | None = None
        qualities = []
        for k in range(self.settings.frames):
            distance = self._hand_ready(first=k == 0)
            frames = self.scanner.capture_set()
            if frames.ambient is not None:
                image = subtract_ambient(frames.lit.image, frames.ambient.image)
            else:
                image = np.array(frames.lit.image)
            score = float(self.quality(image))
            qualities.append(score)
            if best is None or score > best[0]:
                best = (score, image, frames, distance)
        assert best is not None  # settings guarantee at least one frame
        score, image, frames, distance = best
        return SessionResult(image, frames, score, tuple(qualities), distance)
