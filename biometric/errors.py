"""Errors raised when an image cannot give a trustworthy palm-vein template."""

from __future__ import annotations


class BiometricError(Exception):
    """Base class: the sample cannot be turned into a template.

    ``reasons`` holds short machine-readable codes (e.g. ``"underexposed"``)
    so callers can tell the user what to fix; ``str(error)`` is a sentence.
    """

    def __init__(self, message: str, reasons: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.reasons = reasons


class QualityError(BiometricError):
    """The image is unusable as a sample: wrong type, exposure, focus, or no hand."""


class RoiError(BiometricError):
    """The hand was seen but no trustworthy palm region could be located."""


class TemplateFormatError(BiometricError):
    """Bytes that do not decode to a template of a known format."""
