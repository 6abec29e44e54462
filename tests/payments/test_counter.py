"""The palm purchase at the counter: who pays is decided by the palm, large sales by the PIN too."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from palmvein.core.errors import ValidationFailed
from payments import counter
from payments.counter import DeclineReason
from payments.models import OperationStatus

from .conftest import POLICY, World, dzd

# POLICY keeps the default PIN threshold: sales above 5 000 DZD need the PIN.


@dataclass(frozen=True)
class Decision:
    outcome: str
    subject_id: str | None


AMINA = Decision("match", "amina")


def _sell(world: World, decision: Decision, amount: str, pin: str | None = None):  # type: ignore[no-untyped-def]
    return counter.counter_purchase(
        world.session,
        POLICY,
        decision=decision,
        merchant_account_id=world.shop.id,
        amount=dzd(amount),
        pin=pin,
        initiator="device:T-1",
        now=world.now,
    )


def test_a_small_sale_needs_only_the_palm(world: World) -> None:
    result = _sell(world, AMINA, "450")
    assert result.declined is None and result.operation is not None
    assert result.operation.status == OperationStatus.COMPLETED
    assert world.available(world.amina) == dzd("99550")


def test_no_clear_payer_means_declined_with_the_reason(world: World) -> None:
    for decision, reason in [
        (Decision("no_match", "karim"), DeclineReason.NO_MATCH),
        (Decision("ambiguous", "amina"), DeclineReason.AMBIGUOUS),
        (Decision("match", "someone-without-a-wallet"), DeclineReason.NO_WALLET),
    ]:
        result = _sell(world, decision, "450")
        assert (result.operation, result.declined) == (None, reason)
    assert world.available(world.amina) == dzd("100000")


def test_above_the_threshold_the_pin_is_required_and_checked(world: World) -> None:
    assert _sell(world, AMINA, "5000.01").declined is DeclineReason.PIN_REQUIRED
    assert _sell(world, AMINA, "5000.01", "1234").declined is DeclineReason.PIN_NOT_SET
    counter.set_pin(world.session, wallet_account_id=world.amina.id, pin="2468", now=world.now)
    assert _sell(world, AMINA, "5000.01", "1357").declined is DeclineReason.PIN_INCORRECT
    result = _sell(world, AMINA, "5000.01", "2468")
    assert result.operation is not None
    assert world.available(world.amina) == dzd("94999.99")


def test_three_wrong_pins_lock_until_reset(world: World) -> None:
    counter.set_pin(world.session, wallet_account_id=world.amina.id, pin="2468", now=world.now)
    world.session.commit()
    outcomes = []
    for _ in range(3):
        outcomes.append(_sell(world, AMINA, "6000", "0000").declined)
        world.session.commit()  # the route commits each declined attempt
    assert outcomes == [
        DeclineReason.PIN_INCORRECT,
        DeclineReason.PIN_INCORRECT,
        DeclineReason.PIN_LOCKED,
    ]
    assert _sell(world, AMINA, "6000", "2468").declined is DeclineReason.PIN_LOCKED
    counter.set_pin(world.session, wallet_account_id=world.amina.id, pin="8642", now=world.now)
    assert _sell(world, AMINA, "6000", "8642").operation is not None


@pytest.mark.parametrize("pin", ["123", "1234567", "12a4", "\u0661\u0662\u0663\u0664"])
def test_pins_are_four_to_six_ascii_digits(pin: str) -> None:
    with pytest.raises(ValidationFailed, match="4 to 6 digits"):
        counter._check_pin_format(pin)
