"""Presentation-attack detection from the LED-off / LED-on pair (biometric.pad).

Rates on a seeded sample of simulated presentations (8 of each kind, 240 x 320 frames): every live
capture passes and at most one presentation of each attack type is accepted. The simulated
attacks are models; see docs/RECOGNITION.md for what that does and does not mean.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from biometric.pad import THRESHOLD, PadInputError, PadResult, measure, score_frames
from capture.simulated import SimulatedSensor
from capture.simulated.attacks import ATTACK_KINDS, AttackSimulator

SHAPE = (240, 320)
N = 8
#: Attack presentations of one type that may be accepted in the sample of N.
MAX_ACCEPTED = 1

Pair = tuple[np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def sensor() -> SimulatedSensor:
    return SimulatedSensor(seed=31, shape=SHAPE)


@pytest.fixture(scope="module")
def live_pairs(sensor: SimulatedSensor) -> list[Pair]:
    return [
        (
            sensor.capture(i, 1 + i % 2, i % 5, led=False).image,
            sensor.capture(i, 1 + i % 2, i % 5).image,
        )
        for i in range(N)
    ]


@pytest.fixture(scope="module")
def attack_pairs(sensor: SimulatedSensor) -> dict[str, list[Pair]]:
    attacks = AttackSimulator(sensor, seed=32)
    out: dict[str, list[Pair]] = {}
    for kind in ATTACK_KINDS:
        presented = [attacks.attack(kind, i, 1 + i % 2, i % 5) for i in range(N)]  # type: ignore[arg-type]
        out[kind] = [(a.ambient, a.lit) for a in presented]
    return out


def test_live_captures_pass(live_pairs: list[Pair]) -> None:
    results = [score_frames(ambient, lit) for ambient, lit in live_pairs]
    assert all(r.is_live() for r in results), [(r.score, r.reasons) for r in results]
    assert all(r.reasons == () for r in results)


@pytest.mark.parametrize("kind", ATTACK_KINDS)
def test_each_attack_type_is_refused(attack_pairs: dict[str, list[Pair]], kind: str) -> None:
    results = [score_frames(ambient, lit) for ambient, lit in attack_pairs[kind]]
    accepted = [r for r in results if r.is_live()]
    assert len(accepted) <= MAX_ACCEPTED, [(r.score, r.cues) for r in accepted]
    # A refusal always says why.
    assert all(r.reasons for r in results if not r.is_live())


def test_inputs_are_not_modified(live_pairs: list[Pair]) -> None:
    ambient, lit = (np.array(f) for f in live_pairs[0])
    mask = lit > 60
    before = (ambient.copy(), lit.copy(), mask.copy())
    score_frames(ambient, lit, mask)
    assert np.array_equal(ambient, before[0]) and np.array_equal(lit, before[1])
    assert np.array_equal(mask, before[2])


def test_read_only_frames_are_accepted(live_pairs: list[Pair]) -> None:
    ambient, lit = (np.array(f) for f in live_pairs[1])
    ambient.setflags(write=False)
    lit.setflags(write=False)
    assert score_frames(ambient, lit).is_live()


def test_a_given_mask_replaces_the_led_gain_segmentation(live_pairs: list[Pair]) -> None:
    ambient, lit = live_pairs[2]
    found = score_frames(ambient, lit)
    empty = score_frames(ambient, lit, np.zeros(lit.shape, bool))
    assert found.metrics["object_size"] > 0.05 and found.is_live()
    # An empty mask: nothing presented, so nothing lit by the LED.
    assert empty.metrics["object_size"] == 0.0
    assert {"no_led_response", "object_too_small"} <= set(empty.reasons)


def test_one_frame_sent_twice_has_no_led_response(live_pairs: list[Pair]) -> None:
    _, lit = live_pairs[0]
    result = score_frames(lit, lit)
    assert result.score == 0.0 and "no_led_response" in result.reasons


def test_a_noise_free_led_off_frame_is_refused(live_pairs: list[Pair]) -> None:
    _, lit = live_pairs[0]
    result = score_frames(np.full(lit.shape, 3, np.uint8), lit)
    assert not result.is_live() and "ambient_noise_free" in result.reasons


def test_an_led_off_frame_made_from_the_led_on_frame_shows_no_falloff(
    live_pairs: list[Pair],
) -> None:
    rng = np.random.default_rng(0)
    for ambient, lit in live_pairs[:4]:
        k = 0.06
        fake = np.clip(np.rint(k * lit + rng.normal(0.0, 1.2, lit.shape)), 0, 255).astype(np.uint8)
        real = measure(ambient, lit)["falloff"]
        made = measure(fake, lit)["falloff"]
        assert made < 0.5 * real
        assert "no_led_falloff" in score_frames(fake, lit).reasons


def test_score_names_a_reason_for_every_failed_cue(attack_pairs: dict[str, list[Pair]]) -> None:
    ambient, lit = attack_pairs["screen"][0]
    result = score_frames(ambient, lit)
    failed = {name for name, value in result.cues.items() if value < 0.5}
    assert len(result.reasons) == len(failed) > 0
    assert result.score == min(result.cues.values())


@pytest.mark.parametrize(
    ("ambient", "lit", "message"),
    [
        (np.zeros((64, 64), np.uint8), np.zeros((64, 80), np.uint8), "differ in size"),
        (np.zeros((64, 64), np.uint16), np.zeros((64, 64), np.uint8), "uint8"),
        (np.zeros((64, 64), np.uint8), np.zeros((64, 64), np.float32), "uint8"),
        (np.zeros((0, 64), np.uint8), np.zeros((0, 64), np.uint8), "empty"),
        (np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64, 3), np.uint8), "2-D"),
        (np.zeros((16, 64), np.uint8), np.zeros((16, 64), np.uint8), "too small"),
        ([[0] * 64] * 64, np.zeros((64, 64), np.uint8), "NumPy array"),
    ],
)
def test_bad_inputs_raise_clear_errors(ambient: object, lit: object, message: str) -> None:
    with pytest.raises(PadInputError, match=message):
        score_frames(ambient, lit)  # type: ignore[arg-type]


def test_a_bad_mask_raises() -> None:
    frame = np.zeros((64, 64), np.uint8)
    with pytest.raises(PadInputError, match="boolean"):
        score_frames(frame, frame, np.zeros((64, 64), np.uint8))  # type: ignore[arg-type]
    with pytest.raises(PadInputError, match="differ in size"):
        score_frames(frame, frame, np.zeros((32, 64), bool))


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.uint8, (48, 64), elements=st.integers(0, 255)),
    arrays(np.uint8, (48, 64), elements=st.integers(0, 255)),
)
def test_any_pair_gets_a_score_in_the_unit_interval(ambient: np.ndarray, lit: np.ndarray) -> None:
    result = score_frames(ambient, lit)
    assert isinstance(result, PadResult)
    assert 0.0 <= result.score <= 1.0
    assert all(0.0 <= v <= 1.0 for v in result.cues.values())
    assert result.is_live() == (result.score >= THRESHOLD)


def test_pegged_devices_leave_the_surround_cue_out() -> None:
    # The plate, pegs and casing of a pegged device lie at the hand's distance, so the free-space
    # surround cue would refuse every live palm there.
    sensor = SimulatedSensor(seed=33, geometry="pegged")
    pairs = [
        (sensor.capture(i, 1, 0, led=False).image, sensor.capture(i, 1, 0).image) for i in range(3)
    ]
    assert all("flat_surround" in score_frames(a, lit).reasons for a, lit in pairs)
    assert all(score_frames(a, lit, free_space=False).is_live() for a, lit in pairs)
