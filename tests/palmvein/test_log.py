"""Logs must never contain secrets, PINs, templates or images."""

import io
import json
import logging

import numpy as np
import pytest
import structlog

from palmvein.log import REDACTED, configure_logging, redact_event

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLWJ5dGVz"


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    configure_logging(level="DEBUG", json=True, stream=stream)
    yield stream
    configure_logging(level="INFO", json=True)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_sensitive_keys_are_masked_at_any_depth(captured: io.StringIO) -> None:
    structlog.get_logger("t").info(
        "login",
        username="amina",
        password="hunter2-hunter2",
        new_pin="4821",
        body={"card": {"pin": "1234", "palm_image": "raw", "amount_minor": 5000}},
        headers=[{"authorization": "Bearer abc"}],
    )
    [line] = _lines(captured)
    text = captured.getvalue()
    for secret in ("hunter2", "4821", "1234", "abc", "raw"):
        assert secret not in text
    assert line["username"] == "amina"
    assert line["password"] == REDACTED
    assert line["new_pin"] == REDACTED
    assert line["body"] == {"card": {"pin": REDACTED, "palm_image": REDACTED, "amount_minor": 5000}}


def test_binary_payloads_and_arrays_are_replaced_by_a_size_note(captured: io.StringIO) -> None:
    frame = np.full((480, 640), 7, dtype=np.uint8)
    structlog.get_logger("t").info("captured", payload=b"\x00\x01" * 300, sample=frame)
    [line] = _lines(captured)
    assert line["payload"] == "[600 bytes redacted]"
    assert line["sample"] == "[array (480, 640) redacted]"


def test_tokens_in_free_text_are_scrubbed(captured: io.StringIO) -> None:
    structlog.get_logger("t").warning(
        f"client sent Authorization: Bearer {JWT} twice", note=f"token was {JWT}"
    )
    text = captured.getvalue()
    assert JWT not in text
    assert "Bearer [redacted]" in text


def test_harmless_words_containing_pin_are_not_masked() -> None:
    event = redact_event(None, "info", {"shipping": "DHL", "mapping": "x", "event": "e"})
    assert event == {"shipping": "DHL", "mapping": "x", "event": "e"}


def test_stdlib_loggers_go_through_the_same_redaction(captured: io.StringIO) -> None:
    logging.getLogger("some.library").warning("retrying with Bearer %s", JWT)
    text = captured.getvalue()
    assert JWT not in text
    assert "some.library" in text


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging(level="LOUD")
