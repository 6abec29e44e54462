"""Simulated presentation attacks: deterministic, and physically what they claim to be."""

from __future__ import annotations

import numpy as np
import pytest

from capture.simulated import SimulatedSensor
from capture.simulated.attacks import ATTACK_KINDS, INJECTION_MODES, AttackSimulator

# Small frames keep these tests quick; the attack models do not depend on the frame size.
SHAPE = (240, 320)


@pytest.fixture(scope="module")
def sensor() -> SimulatedSensor:
    return SimulatedSensor(seed=21, shape=SHAPE)


@pytest.fixture(scope="module")
def attacks(sensor: SimulatedSensor) -> AttackSimulator:
    return AttackSimulator(sensor, seed=5)


@pytest.mark.parametrize("kind", ATTACK_KINDS)
def test_attacks_are_deterministic_from_the_seed(
    sensor: SimulatedSensor, attacks: AttackSimulator, kind: str
) -> None:
    a = attacks.attack(kind, 2, 1, 3)  # type: ignore[arg-type]
    b = AttackSimulator(sensor, seed=5).attack(kind, 2, 1, 3)  # type: ignore[arg-type]
    other = AttackSimulator(sensor, seed=6).attack(kind, 2, 1, 3)  # type: ignore[arg-type]
    assert a.kind == kind and a.variant == b.variant
    assert np.array_equal(a.lit, b.lit) and np.array_equal(a.ambient, b.ambient)
    assert not (np.array_equal(a.lit, other.lit) and np.array_equal(a.ambient, other.ambient))
    for frame in (a.lit, a.ambient):
        assert frame.shape == SHAPE and frame.dtype == np.uint8


def test_a_print_is_lit_by_the_led_and_dark_without_it(attacks: AttackSimulator) -> None:
    for sample in range(4):
        a = attacks.printed(1, 1, sample)
        gain = a.lit.astype(float) - a.ambient
        paper = gain > 30  # what the LED lights strongly: the printed palm and paper
        assert paper.mean() > 0.05, a.variant
        assert np.median(a.ambient[paper]) < 20  # with the LED off it is dark like any object
        assert a.variant in ("sheet", "cutout")


def test_a_printed_sheet_has_a_white_margin_brighter_than_the_palm(
    attacks: AttackSimulator,
) -> None:
    sheets = [a for a in (attacks.printed(3, 1, k) for k in range(8)) if a.variant == "sheet"]
    assert sheets
    for a in sheets:
        gain = a.lit.astype(float) - a.ambient
        # Unprinted paper reflects more NIR than the printed palm (limited dynamic range).
        assert np.percentile(gain, 99.9) > 1.2 * np.percentile(gain[gain > 30], 50)


def test_a_screen_gains_far_less_led_light_than_a_live_hand(
    sensor: SimulatedSensor, attacks: AttackSimulator
) -> None:
    for sample in range(4):
        a = attacks.screen(0, 1, sample)
        live_gain = (
            sensor.capture(0, 1, sample).image.astype(float)
            - sensor.capture(0, 1, sample, led=False).image
        )
        gain = a.lit.astype(float) - a.ambient
        # Only the bezel and the glass's mirror spot gain much: the panel shows no palm.
        assert np.mean(gain > 30) < 0.5 * np.mean(live_gain > 30)
        assert a.variant in ("phone", "tablet")


def test_injection_modes_break_the_led_off_on_relationship(attacks: AttackSimulator) -> None:
    same = attacks.injected(4, 1, 0, mode="same")
    assert np.array_equal(same.ambient, same.lit)
    scaled = attacks.injected(4, 1, 0, mode="scaled")
    hand = scaled.lit > 60
    ratio = scaled.ambient[hand].astype(float) / scaled.lit[hand]
    assert 0.01 < np.median(ratio) < 0.12  # an "ambient" frame made from the LED-on frame
    dark = attacks.injected(4, 1, 0, mode="dark")
    assert dark.ambient.min() == dark.ambient.max()  # no sensor noise
    mismatched = attacks.injected(4, 1, 0, mode="mismatched")
    assert not np.array_equal(mismatched.ambient, mismatched.lit)
    assert {m: attacks.injected(4, 1, 0, mode=m).variant for m in INJECTION_MODES} == {
        m: m for m in INJECTION_MODES
    }


def test_bad_requests_are_refused(attacks: AttackSimulator) -> None:
    with pytest.raises(ValueError, match="unknown attack kind"):
        attacks.attack("mask", 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown injection mode"):
        attacks.injected(0, mode="replay")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative"):
        attacks.printed(-1)
