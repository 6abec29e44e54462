"""Captured samples between the capture and the enrolment request.

A capture (from a scanner or an uploaded image) is assessed at once: quality score and reasons
(:func:`biometric.assess`), the template (:func:`biometric.extract`, the matcher's own quality
gate) and a preview of the palm ROI drawn on the frame. The page keeps each accepted sample as a
signed token in a hidden field, so no raw image is stored anywhere and any worker can take the
enrolment request: the token carries the template bytes and an HMAC binding them to the person
and hand they were captured for, so a page cannot submit templates it did not get from here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

import biometric
from capture.scanner import ScannerBase, ScannerError
from capture.session import CaptureSession, PresentationAttackSuspected, SessionSettings
from capture.uri import ScannerUriError, scanner_from_uri
from enrollment_ui.i18n import N_
from palmvein.core.errors import FieldProblem, ValidationFailed
from palmvein.core.security.tokens import derive_key

Image = npt.NDArray[np.uint8]

#: What the clerk should read for each quality reason code of :mod:`biometric`.
REASON_TEXTS: dict[str, str] = {
    "no_hand": N_("No hand seen: hold the palm over the scanner"),
    "no_palm": N_("The palm is not visible: show the whole palm"),
    "no_valleys": N_("Spread the fingers a little"),
    "implausible_valleys": N_("The hand shape is unclear: spread the fingers and hold still"),
    "palm_cut_off": N_("Part of the palm is outside the frame: centre the hand"),
    "underexposed": N_("Too dark: hold the hand closer or check the scanner light"),
    "overexposed": N_("Too bright: hold the hand a little further away"),
    "saturated": N_("Too bright: hold the hand a little further away"),
    "low_contrast": N_("Low contrast: hold the hand still at the marked distance"),
    "blurred": N_("Blurred: hold the hand still"),
    "too_small": N_("The image is too small"),
    "too_large": N_("The image is too large"),
    "unusable": N_("The image cannot be used"),
}

# Words shown from data values (extracted here for the catalogues).
VOCABULARY = (N_("right hand"), N_("left hand"), N_("open"), N_("confirmed_duplicate"),
              N_("dismissed"))


@dataclass(frozen=True)
class AssessedSample:
    """One capture as the page shows it."""

    score: float
    reasons: tuple[str, ...]
    preview_png: bytes
    token: str | None  # None when the sample cannot be enrolled
    problem: str = ""

    @property
    def accepted(self) -> bool:
        return self.token is not None

    @property
    def preview_data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.preview_png).decode("ascii")


def _key(secret: str) -> bytes:
    return derive_key(secret, "enrollment-ui:sample")


def _mac(secret: str, person_id: str, hand: str, data: bytes) -> str:
    message = b"\0".join((person_id.encode(), hand.encode(), data))
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def seal(secret: str, person_id: str, hand: str, template: biometric.Template) -> str:
    data = template.to_bytes()
    body = base64.urlsafe_b64encode(data).decode("ascii")
    return f"{body}.{_mac(secret, person_id, hand, data)}"


def unseal(secret: str, person_id: str, hand: str, token: str) -> biometric.Template:
    """The template of a token made by :func:`seal` for this person and hand."""
    body, _, mac = token.partition(".")
    try:
        data = base64.urlsafe_b64decode(body.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        data = b""
    if not data or not hmac.compare_digest(_mac(secret, person_id, hand, data), mac):
        raise ValidationFailed("a sample was not captured on this page; capture it again",
                               [FieldProblem(hand, "unknown sample")])
    return biometric.Template.from_bytes(data)


def preview(image: Image, roi: biometric.PalmRoi | None) -> bytes:
    """PNG of the frame with the palm ROI square and the finger valleys drawn on it."""
    frame = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if roi is not None:
        rect = ((float(roi.center[1]), float(roi.center[0])), (roi.side, roi.side), roi.angle)
        corners = cv2.boxPoints(rect).astype(np.int32)
        cv2.polylines(frame, [corners], isClosed=True, color=(60, 200, 60), thickness=3)
        for row, col in roi.valleys:
            cv2.circle(frame, (int(col), int(row)), 6, (40, 120, 255), thickness=-1)
    # Half size is plenty to judge the placement, and keeps the page light.
    small = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2),
                       interpolation=cv2.INTER_AREA)
    ok, png = cv2.imencode(".png", small)
    assert ok
    return bytes(png)


def assess(image: Image, *, secret: str, person_id: str, hand: str) -> AssessedSample:
    """Quality, preview and (when usable) the sealed template of one capture."""
    report = biometric.assess(image)
    try:
        roi: biometric.PalmRoi | None = biometric.palm_roi(image)
    except biometric.BiometricError:
        roi = None
    png = preview(image, roi)
    try:
        template = biometric.extract(image)
    except biometric.BiometricError as exc:
        reasons = report.reasons or exc.reasons or ("unusable",)
        return AssessedSample(report.score, reasons, png, None, str(exc))
    return AssessedSample(report.score, report.reasons, png,
                          seal(secret, person_id, hand, template))


def decode_upload(data: bytes) -> Image:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValidationFailed("the uploaded file is not an image",
                               [FieldProblem("image", "PNG, JPEG or another image OpenCV reads")])
    return np.asarray(image, dtype=np.uint8)


@dataclass
class ScannerPool:
    """Scanners kept open between captures, one per URI (a scanner presents a stream of samples;
    reopening would restart it), each used by one request at a time.

    Parameters
    ----------
    schemes : tuple of str
        URI schemes the pages may open (``folder://`` reads server files, so it is not offered
        unless configured).
    limit : int
        Scanners kept open at most; the oldest is closed to open another.
    """

    schemes: tuple[str, ...] = ("usb", "usb-emulated", "uvc", "sim")
    limit: int = 16
    settings: SessionSettings = field(default_factory=lambda: SessionSettings(frames=1))
    _open: dict[str, tuple[ScannerBase, threading.Lock]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _scanner(self, uri: str) -> tuple[ScannerBase, threading.Lock]:
        scheme = uri.partition("://")[0].lower()
        if scheme not in self.schemes:
            raise ValidationFailed(
                f"scanners of type {scheme}:// cannot be used from the pages",
                [FieldProblem("scanner", "use one of " + ", ".join(
                    f"{s}://" for s in self.schemes))])
        with self._lock:
            if uri not in self._open and len(self._open) >= self.limit:
                # Each URI is a scanner kept open: bound them, closing the oldest.
                oldest = next(iter(self._open))
                self._close(self._open.pop(oldest)[0])
            if uri not in self._open:
                try:
                    scanner = scanner_from_uri(uri)
                    scanner.open()
                except (ScannerUriError, ScannerError) as exc:
                    raise ValidationFailed(f"the scanner cannot be opened: {exc}",
                                           [FieldProblem("scanner", str(exc))]) from exc
                self._open[uri] = (scanner, threading.Lock())
            return self._open[uri]

    def capture(self, uri: str) -> Image:
        """One image from the scanner, best of the session's frames by quality."""
        scanner, lock = self._scanner(uri)
        with lock:
            try:
                result = CaptureSession(scanner, lambda im: biometric.assess(im).score,
                                        self.settings).run()
            except PresentationAttackSuspected:
                # Its own problem (422 with the liveness reasons); the page audits it.
                raise
            except ScannerError as exc:
                self._forget(uri)
                raise ValidationFailed(f"the capture failed: {exc}",
                                       [FieldProblem("scanner", str(exc))]) from exc
        return result.image

    def _forget(self, uri: str) -> None:
        with self._lock:
            entry = self._open.pop(uri, None)
        if entry is not None:
            self._close(entry[0])

    @staticmethod
    def _close(scanner: ScannerBase) -> None:
        try:
            scanner.close()
        except ScannerError:
            pass

    def close(self) -> None:
        for uri in list(self._open):
            self._forget(uri)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._open))
