"""The signing scheme as a terminal vendor implements it (the worked example of the README)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.signing import (
    MalformedSecret,
    RequestSigner,
    SignedHeaders,
    canonical_string,
    new_secret,
    secret_key_bytes,
    signatures_match,
)

# The README's example, checked against `openssl dgst -sha256 -mac HMAC` when it was written.
EXAMPLE_SECRET = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"  # bytes 0x00..0x1f
EXAMPLE_BODY = b'{"software_version":"pv-term 2.4.1","scanner_status":"ok"}'
EXAMPLE_CANONICAL = (
    "PALMVEIN-HMAC-SHA256\n"
    "POST\n"
    "/devices/heartbeat\n"
    "cb9fe20d0509428c341b1d93c50b3f5c574bcb75050b673b4b43a6de9ef34fa0\n"
    "1795334400\n"
    "n0nce-0f-the-example\n"
    "dk_0123456789abcdef"
)
EXAMPLE_SIGNATURE = "84dd22717e5fdd656bb7572356b0bfab2e7c39800db8c749d31955c46f38abd1"


def test_the_readme_example_signs_as_documented() -> None:
    signer = RequestSigner("dk_0123456789abcdef", EXAMPLE_SECRET)
    headers = signer.headers(
        "post",
        "/devices/heartbeat",
        EXAMPLE_BODY,
        timestamp=1795334400,
        nonce="n0nce-0f-the-example",
    )
    assert headers == {
        "X-Palmvein-Key-Id": "dk_0123456789abcdef",
        "X-Palmvein-Timestamp": "1795334400",
        "X-Palmvein-Nonce": "n0nce-0f-the-example",
        "X-Palmvein-Signature": EXAMPLE_SIGNATURE,
    }
    assert secret_key_bytes(EXAMPLE_SECRET) == bytes(range(32))
    canonical = canonical_string(
        method="POST",
        target="/devices/heartbeat",
        body_sha256="cb9fe20d0509428c341b1d93c50b3f5c574bcb75050b673b4b43a6de9ef34fa0",
        timestamp="1795334400",
        nonce="n0nce-0f-the-example",
        key_id="dk_0123456789abcdef",
    )
    assert canonical == EXAMPLE_CANONICAL


def test_each_call_gets_a_fresh_nonce_and_the_clock_time() -> None:
    signer = RequestSigner("dk_0123456789abcdef", new_secret(), clock=lambda: 1795334400.9)
    first, second = signer.headers("GET", "/x"), signer.headers("GET", "/x")
    assert first["X-Palmvein-Nonce"] != second["X-Palmvein-Nonce"]
    assert first["X-Palmvein-Timestamp"] == "1795334400"


@pytest.mark.parametrize(
    "secret", ["", "short", EXAMPLE_SECRET + "A", "!" * 43, EXAMPLE_SECRET[:-1] + "é"]
)
def test_a_secret_that_is_not_32_bytes_of_base64url_is_refused(secret: str) -> None:
    with pytest.raises(MalformedSecret):
        RequestSigner("dk_0123456789abcdef", secret)


def test_headers_are_read_in_any_case_and_all_four_are_needed() -> None:
    headers = RequestSigner("dk_0123456789abcdef", EXAMPLE_SECRET).headers("GET", "/")
    lowered = {k.lower(): v for k, v in headers.items()}
    assert SignedHeaders.from_headers(lowered) == SignedHeaders.from_headers(headers)
    lowered.pop("x-palmvein-nonce")
    assert SignedHeaders.from_headers(lowered) is None


@given(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
def test_signatures_match_only_when_equal(other: str) -> None:
    assert signatures_match(EXAMPLE_SIGNATURE, EXAMPLE_SIGNATURE)
    assert signatures_match(EXAMPLE_SIGNATURE, other) == (other == EXAMPLE_SIGNATURE)


def test_a_non_ascii_signature_is_a_mismatch_not_a_crash() -> None:
    assert not signatures_match(EXAMPLE_SIGNATURE, "é" * 64)
