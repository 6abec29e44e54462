"""The periodic tick: lapsed authorisations released, old keys forgotten, messages sent."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from payments import idempotency, jobs, ledger, service
from payments.sms import FileSmsSender

from .conftest import POLICY, World, dzd


def test_tick_expires_purges_and_sends(
    world: World, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    service.authorize_purchase(
        world.session,
        POLICY,
        payer_wallet_id=world.amina.id,
        merchant_account_id=world.shop.id,
        amount=dzd("700"),
        initiator="device:T-1",
        now=world.now,
    )
    idempotency.run_idempotent(
        world.session,
        scope="device:T-1",
        key="k",
        operation="noop",
        request={},
        now=world.now,
        action=lambda: (200, {}),
    )
    world.session.commit()
    sink = tmp_path / "sms.jsonl"

    report = jobs.tick(session_factory, FileSmsSender(sink), now=world.now + timedelta(days=1))

    assert report.expired_authorizations == 1
    assert report.purged_keys == 1
    assert report.notifications.sent == 1  # the cash-in message of the fixture
    assert ledger.balance_of(world.session, world.amina.id).held == dzd("0")
    assert len(sink.read_text().splitlines()) == 1
