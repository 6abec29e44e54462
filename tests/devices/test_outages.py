"""Outage report: downtime per device from the heartbeat history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from devices import service
from devices.models import DeviceKind
from devices.service import DevicePolicy, Outage, SignedDevice
from palmvein.core.db import unit_of_work

from ..conftest import FakeClock
from .conftest import Registered

POLICY = DevicePolicy(online_within=timedelta(minutes=3))


def test_gaps_longer_than_the_online_window_are_outages(
    session_factory: sessionmaker[Session], clock: FakeClock, register: Callable[..., Registered]
) -> None:
    start = clock()
    steady, flaky, _silent = (
        register(DeviceKind.SCANNER, n) for n in ("steady", "flaky", "silent")
    )

    def beat(registered: Registered) -> None:
        device = SignedDevice(registered.device_id, "scanner", registered.key_id, None, None)
        with unit_of_work(session_factory) as session:
            service.record_heartbeat(
                session, device, software_version="1", scanner_status="ok", now=clock()
            )

    # One hour: steady beats every 2 minutes; flaky every 2 minutes but silent from 20 to 50.
    for minute in range(0, 60, 2):
        beat(steady)
        if not 20 <= minute < 50:
            beat(flaky)
        clock.advance(minutes=2)
    end = start + timedelta(hours=1)
    with session_factory() as session:
        rows = {
            r.device.label: r
            for r in service.outage_report(session, start=start, end=end, policy=POLICY)
        }
    assert rows["steady"].outages == []
    # Last beat before the gap at 18 min (up until 21), next at 50.
    assert rows["flaky"].outages == [
        Outage(start + timedelta(minutes=21), start + timedelta(minutes=50))
    ]
    assert rows["flaky"].downtime == timedelta(minutes=29)
    assert rows["silent"].downtime == rows["silent"].observed == timedelta(hours=1)


def test_a_revoked_device_is_observed_only_until_its_revocation(
    session_factory: sessionmaker[Session], clock: FakeClock, register: Callable[..., Registered]
) -> None:
    start = clock()
    gone = register(DeviceKind.SCANNER, "gone")
    clock.advance(minutes=10)
    with unit_of_work(session_factory) as session:
        service.revoke(session, device_id=gone.device_id, actor="t", now=clock())
    with session_factory() as session:
        [row] = service.outage_report(
            session, start=start, end=start + timedelta(hours=1), policy=POLICY
        )
    assert row.observed == row.downtime == timedelta(minutes=10)
