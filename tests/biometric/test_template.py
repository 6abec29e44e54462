"""Template format: round trip, size limit, and refusal of damaged bytes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from biometric import Template, TemplateFormatError
from biometric.template import MAX_BYTES


def random_template(seed: int, rows: int = 32, planes: int = 6) -> Template:
    rng = np.random.default_rng(seed)
    return Template.from_bits(rng.random((planes, rows, 32)) < 0.5, rng.random((rows, 32)) < 0.9)


@given(st.integers(0, 2**32 - 1))
def test_round_trip_restores_an_equal_template(seed: int) -> None:
    t = random_template(seed)
    back = Template.from_bytes(t.to_bytes())
    assert back == t
    assert np.array_equal(back.planes, t.planes)
    assert np.array_equal(back.mask, t.mask)
    assert back.algorithm == t.algorithm


def test_a_sample_template_fits_in_4_kib() -> None:
    assert len(random_template(1).to_bytes()) <= MAX_BYTES


def test_packing_keeps_every_bit() -> None:
    rng = np.random.default_rng(7)
    bits = rng.random((6, 32, 32)) < 0.5
    t = Template.from_bits(bits, np.ones((32, 32), bool))
    unpacked = (t.planes[:, :, None] >> np.arange(32, dtype=np.uint32)) & 1
    assert np.array_equal(unpacked.astype(bool), bits)


def test_template_arrays_are_read_only() -> None:
    t = random_template(3)
    with pytest.raises(ValueError):
        t.planes[0, 0] = 1


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_a_flipped_byte_is_refused(position: int) -> None:
    data = bytearray(random_template(4).to_bytes())
    data[position] ^= 0x40
    with pytest.raises(TemplateFormatError):
        Template.from_bytes(bytes(data))


@pytest.mark.parametrize("data", [b"", b"PVT", b"\x00" * 100, b"x" * (MAX_BYTES + 1)])
def test_garbage_is_refused_with_a_format_error(data: bytes) -> None:
    with pytest.raises(TemplateFormatError):
        Template.from_bytes(data)


def test_truncated_bytes_are_refused() -> None:
    data = random_template(5).to_bytes()
    with pytest.raises(TemplateFormatError):
        Template.from_bytes(data[:-10])
