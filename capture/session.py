"""A capture session: wait for the hand, take LED-off/LED-on pairs, keep the best ambient-free frame.

The quality function is passed in (e.g. ``biometric.quality`` scoring wrapped to return a float), so
capture stays independent of the recognition code. Every LED-off/LED-on pair is checked for a
presentation attack (:mod:`biometric.pad`, plus the frame headers) before it is scored; a pair
that fails stops the session with :class:`PresentationAttackSuspected`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from biometric.pad import THRESHOLD, PadResult, score_frames
from capture.scanner import (
    DistanceReading,
    DistanceSensing,
    FrameSet,
    Scanner,
    ScannerError,
    ScannerTimeout,
)
from palmvein.core.errors import DomainError

QualityFunction = Callable[[npt.NDArray[np.uint8]], float]


class NoHandPresented(ScannerTimeout):
    """No hand was held at the capture distance within the allowed time."""


class PresentationAttackSuspected(ScannerError, DomainError):
    """A frame pair failed the presentation-attack checks; the capture is refused.

    Attributes
    ----------
    reasons : tuple of str
        Codes of the failed checks (``biometric.pad`` cue reasons, ``no_led_off_frame`` or
        ``frame_headers_inconsistent``).
    pad : PadResult or None
        The liveness result of the failing pair (None when the headers or a missing LED-off
        frame stopped it before scoring).
    """

    code = "presentation-attack-suspected"

    def __init__(self, message: str, reasons: tuple[str, ...], pad: PadResult | None) -> None:
        super().__init__(message)
        self.reasons = reasons
        self.pad = pad

    def audit_data(self) -> dict[str, object]:
        """What to record in the audit log: reasons and scores in thousandths (no floats)."""
        data: dict[str, object] = {"reasons": list(self.reasons)}
        if self.pad is not None:
            data["score_permille"] = round(self.pad.score * 1000)
            data["cues_permille"] = {k: round(v * 1000) for k, v in self.pad.cues.items()}
        return data


def check_frame_headers(frames: FrameSet) -> list[str]:
    """What is wrong with a frame pair's headers (empty when nothing is).

    The LED-off frame must say the LED was off and the LED-on frame that it was on; when both
    report sequence numbers the LED-on frame must come after the LED-off frame, and when both
    report exposure times they must be equal (the ambient share of the LED-on frame then equals
    the LED-off frame, which is what subtraction and the liveness cues rely on).
    """
    problems: list[str] = []
    ambient, lit = frames.ambient, frames.lit
    if ambient is None:
        return problems
    if ambient.led_on or not lit.led_on:
        problems.append("the LED states in the frame headers are not off-then-on")
    if ambient.sequence and lit.sequence and lit.sequence <= ambient.sequence:
        problems.append(
            f"LED-on frame {lit.sequence} does not follow LED-off frame {ambient.sequence}"
        )
    if ambient.exposure_us and lit.exposure_us and ambient.exposure_us != lit.exposure_us:
        problems.append(
            f"exposure differs between the LED-off ({ambient.exposure_us} us) and LED-on "
            f"({lit.exposure_us} us) frames"
        )
    if ambient.image.shape != lit.image.shape:
        problems.append(f"frame sizes differ ({ambient.image.shape} and {lit.image.shape})")
    return problems


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
    pad_threshold : float or None
        Liveness score (``biometric.pad``) below which a pair is refused as a suspected
        presentation attack; None switches the check off (test rigs, image folders).
    pad_requires_led_pair : bool
        Refuse scanners that give no LED-off frame (no liveness check is possible without one)
        instead of capturing from them unchecked.
    pad_free_space : bool
        The scanner images the hand in free space (contactless); False for pegged / contact
        devices, whose parts lie at the hand's distance (see ``biometric.pad.score_frames``).
    """

    min_distance_mm: int = 50
    max_distance_mm: int = 120
    presence_timeout_s: float = 10.0
    poll_interval_s: float = 0.05
    steady_readings: int = 2
    frames: int = 3
    pad_threshold: float | None = THRESHOLD
    pad_requires_led_pair: bool = False
    pad_free_space: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.min_distance_mm <= self.max_distance_mm:
            raise ValueError("need 0 <= min_distance_mm <= max_distance_mm")
        if self.frames < 1 or self.steady_readings < 1:
            raise ValueError("frames and steady_readings must be at least 1")
        if self.pad_threshold is not None and not 0.0 <= self.pad_threshold <= 1.0:
            raise ValueError("pad_threshold must lie in [0, 1] (or be None to switch it off)")


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
    pad : PadResult or None
        Liveness result of the best pair (None when the check is off or the scanner gives no
        LED-off frame).
    """

    image: npt.NDArray[np.uint8]
    frames: FrameSet
    quality: float
    qualities: tuple[float, ...]
    distance: DistanceReading | None
    pad: PadResult | None = None


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

    def check_liveness(self, frames: FrameSet) -> PadResult | None:
        """Refuse a frame pair that fails the presentation-attack checks.

        Returns
        -------
        PadResult or None
            The liveness result, or None when the check is off or there is no LED-off frame
            (and ``pad_requires_led_pair`` is False).

        Raises
        ------
        PresentationAttackSuspected
            Inconsistent frame headers, a missing LED-off frame when one is required, or a
            liveness score below ``pad_threshold``.
        """
        threshold = self.settings.pad_threshold
        if threshold is None:
            return None
        if frames.ambient is None:
            if self.settings.pad_requires_led_pair:
                raise PresentationAttackSuspected(
                    "this scanner gives no LED-off frame, so liveness cannot be checked; use a "
                    "scanner with LED control",
                    ("no_led_off_frame",),
                    None,
                )
            return None
        problems = check_frame_headers(frames)
        if problems:
            raise PresentationAttackSuspected(
                "capture refused: " + "; ".join(problems), ("frame_headers_inconsistent",), None
            )
        result = score_frames(
            frames.ambient.image, frames.lit.image, free_space=self.settings.pad_free_space
        )
        if result.score < threshold:
            raise PresentationAttackSuspected(
                f"capture refused as a suspected presentation attack (liveness "
                f"{result.score:.2f} < {threshold:.2f}: {', '.join(result.reasons)}); present a "
                "live hand",
                result.reasons,
                result,
            )
        return result

    def run(self) -> SessionResult:
        """Wait for the hand, take ``frames`` frame pairs and keep the best by quality.

        Before each pair after the first the distance is read again; if the hand has left the
        range the session waits for it (up to ``presence_timeout_s``) before going on. Every
        pair must pass :meth:`check_liveness`: one suspected attack refuses the whole session.
        """
        best: (
            tuple[float, npt.NDArray[np.uint8], FrameSet, DistanceReading | None, PadResult | None]
            | None
        ) = None
        qualities = []
        for k in range(self.settings.frames):
            distance = self._hand_ready(first=k == 0)
            frames = self.scanner.capture_set()
            pad = self.check_liveness(frames)
            if frames.ambient is not None:
                image = subtract_ambient(frames.lit.image, frames.ambient.image)
            else:
                image = np.array(frames.lit.image)
            score = float(self.quality(image))
            qualities.append(score)
            if best is None or score > best[0]:
                best = (score, image, frames, distance, pad)
        assert best is not None  # settings guarantee at least one frame
        score, image, frames, distance, pad = best
        return SessionResult(image, frames, score, tuple(qualities), distance, pad)
