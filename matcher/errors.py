"""Errors raised by the matcher (plain exceptions with a message for the person reading it)."""

from __future__ import annotations


class MatcherError(Exception):
    """Base of the matcher's errors."""


class AlgorithmMismatchError(MatcherError):
    """A template made by another extraction algorithm (or grid) than the index holds."""


class CalibrationError(MatcherError):
    """No usable impostor score distribution for the requested algorithm or false-match rate."""


class SnapshotError(MatcherError):
    """An index snapshot is unreadable, was not written by this system, or has been changed."""
