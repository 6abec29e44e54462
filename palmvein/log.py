"""Structured logging (structlog, JSON lines) with a redaction processor.

Log events must never carry secrets, PINs, biometric templates or images. The redaction processor
is the last line of defence: it masks values under sensitive key names at any depth, replaces raw
bytes and array-like values (images, templates) by a size note, and scrubs bearer tokens and JWTs
that slip into free text. It runs before rendering, for every logger.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[redacted]"
# A key is sensitive if its lower-cased name contains one of these...
SENSITIVE_SUBSTRINGS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "template",
    "authorization",
    "cookie",
    "csrf",
    "api_key",
    "apikey",
    "private_key",
    "signature",
    "credential",
)
# ...or if one of its words (split on "_", "-", "." and spaces) is one of these; short words are
# matched whole so that "shipping" or "mapping" are not mistaken for a PIN.
SENSITIVE_WORDS = frozenset({"pin", "pins", "image", "images", "img", "frame", "frames", "otp"})
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_MAX_DEPTH = 8


def _is_sensitive_key(key: object) -> bool:
    name = str(key).lower()
    if any(part in name for part in SENSITIVE_SUBSTRINGS):
        return True
    return not SENSITIVE_WORDS.isdisjoint(re.split(r"[_\-.\s]+", name))


def _scrub_text(value: str) -> str:
    value = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", value)
    return _JWT.sub(REDACTED, value)


def _redact_value(value: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        return REDACTED
    if isinstance(value, bytes | bytearray | memoryview):
        return f"[{len(value)} bytes redacted]"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        # numpy arrays and the like: images and feature vectors are never logged.
        return f"[array {getattr(value, 'shape', '?')} redacted]"
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if _is_sensitive_key(k) else _redact_value(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item, depth + 1) for item in value]
    return value


def redact_event(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask sensitive keys, binary payloads and tokens in text."""
    for key in list(event_dict):
        if _is_sensitive_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact_value(event_dict[key])
    return event_dict


def configure_logging(
    *, level: str = "INFO", json: bool = True, stream: TextIO | None = None
) -> None:
    """Configure structlog (and route stdlib logging through the same redaction and format)."""
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        raise ValueError(f"unknown log level {level!r}")  # noqa: TRY004 - a bad value, not type
    out = stream or sys.stdout
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_event,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared[:-1], structlog.stdlib.add_logger_name, redact_event],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric_level)
    # Uvicorn's own access log would print query strings unredacted; ours replaces it.
    logging.getLogger("uvicorn.access").handlers = []
    logging.getLogger("uvicorn.access").propagate = False


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
