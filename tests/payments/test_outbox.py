"""Notifications leave through the outbox: queued with the payment, sent afterwards, retried."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from palmvein.core.money import Money
from payments import outbox, service
from payments.models import OutboxMessage, OutboxStatus
from payments.policy import PaymentsPolicy
from payments.sms import FileSmsSender, HttpRequest, HttpSmsSender, SmsDeliveryError

from ..conftest import FakeClock

POLICY = PaymentsPolicy()


class FlakySender:
    """Fails the first ``failures`` sends, then accepts; remembers what it accepted."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[tuple[str, str]] = []

    def send(self, recipient: str, body: str) -> None:
        if self.failures:
            self.failures -= 1
            raise SmsDeliveryError("gateway busy")
        self.sent.append((recipient, body))


def _pay(session: Session, clock: FakeClock) -> None:
    now = clock()
    agent = service.open_agent_account(session, agent_id="a", currency="DZD", now=now)
    wallet = service.open_wallet(
        session, person_id="p", currency="DZD", phone="+213555000009", now=now
    )
    service.fund_agent(
        session,
        POLICY,
        agent_account_id=agent.id,
        amount=Money(10_000, "DZD"),
        initiator="ops",
        now=now,
    )
    service.cash_in(
        session,
        POLICY,
        agent_account_id=agent.id,
        wallet_account_id=wallet.id,
        amount=Money(5_000, "DZD"),
        initiator="agent:a",
        now=now,
    )
    service.cash_out(
        session,
        POLICY,
        wallet_account_id=wallet.id,
        agent_account_id=agent.id,
        amount=Money(1_000, "DZD"),
        initiator="agent:a",
        now=now,
    )


def test_a_rolled_back_payment_leaves_no_message(db: Session, clock: FakeClock) -> None:
    _pay(db, clock)
    db.rollback()
    assert db.scalars(select(OutboxMessage)).all() == []


def test_dispatch_sends_each_message_once_to_the_file_sink(
    db: Session, session_factory: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    _pay(db, clock)
    db.commit()
    sink = tmp_path / "sms.jsonl"
    report = outbox.dispatch(session_factory, FileSmsSender(sink), now=clock())
    again = outbox.dispatch(session_factory, FileSmsSender(sink), now=clock())
    lines = [json.loads(line) for line in sink.read_text().splitlines()]
    assert (report.sent, again.sent) == (2, 0)
    assert [line["to"] for line in lines] == ["+213555000009", "+213555000009"]
    assert "received" in lines[0]["body"] and "debited" in lines[1]["body"]


def test_failed_sends_are_retried_with_backoff_then_given_up(
    db: Session, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    outbox.enqueue_sms(db, recipient="+213555000009", body="hello", now=clock())
    db.commit()
    sender = FlakySender(failures=2)
    assert outbox.dispatch(session_factory, sender, now=clock()).retried == 1
    # Not due again until 30 s later.
    assert outbox.dispatch(session_factory, sender, now=clock()).retried == 0
    clock.advance(seconds=30)
    assert outbox.dispatch(session_factory, sender, now=clock()).retried == 1
    clock.advance(seconds=59)
    assert outbox.dispatch(session_factory, sender, now=clock()).sent == 0
    clock.advance(seconds=1)
    assert outbox.dispatch(session_factory, sender, now=clock()).sent == 1
    assert sender.sent == [("+213555000009", "hello")]

    outbox.enqueue_sms(db, recipient="+213555000010", body="never", now=clock())
    db.commit()
    dead = FlakySender(failures=100)
    for _ in range(3):
        outbox.dispatch(session_factory, dead, now=clock(), max_attempts=3)
        clock.advance(hours=1)
    message = db.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == "+213555000010")
    ).one()
    assert (message.status, message.attempts, message.last_error) == (
        OutboxStatus.DEAD,
        3,
        "gateway busy",
    )


def test_http_gateway_adapter_posts_json_with_a_bearer_token() -> None:
    seen: list[HttpRequest] = []

    def transport(request: HttpRequest) -> int:
        seen.append(request)
        return 202

    HttpSmsSender("https://sms.example/send", token="t0k", transport=transport).send(
        "+213555000009", "hello"
    )
    assert seen[0].url == "https://sms.example/send"
    assert seen[0].headers["Authorization"] == "Bearer t0k"
    assert json.loads(seen[0].body) == {"from": "palmvein", "to": "+213555000009", "text": "hello"}


@pytest.mark.parametrize("outcome", [500, 401, OSError("connection refused")])
def test_http_gateway_failures_become_delivery_errors(outcome: int | OSError) -> None:
    def transport(request: HttpRequest) -> int:
        if isinstance(outcome, OSError):
            raise outcome
        return outcome

    sender = HttpSmsSender("https://sms.example/send", token="t", transport=transport)
    with pytest.raises(SmsDeliveryError):
        sender.send("+213555000009", "hello")
