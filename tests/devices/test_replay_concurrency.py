"""Copies of one signed request arriving at the same moment: exactly one is accepted.

Each copy is verified in its own transaction on its own connection, as concurrent API workers
would; the nonce table's primary key is what decides. Proven on PostgreSQL (SQLite serialises
all writers, so there is no race to lose).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from devices import service
from devices.errors import NonceReused
from devices.models import DeviceKind, UsedNonce
from devices.service import SignedRequest
from devices.signing import SignedHeaders, body_digest
from matcher.crypto import Keyring
from palmvein.core.db import unit_of_work

from ..conftest import FakeClock
from .conftest import Registered

COPIES = 8


def test_concurrent_copies_of_one_nonce_let_exactly_one_through(
    db_backend: str,
    session_factory: sessionmaker[Session],
    keyring: Keyring,
    clock: FakeClock,
    register: Callable[..., Registered],
) -> None:
    if db_backend != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL; SQLite serialises all writers")
    scanner = register(DeviceKind.SCANNER)
    body = b'{"software_version":"1.0","scanner_status":"ok"}'
    headers = SignedHeaders.from_headers(scanner.signer.headers("POST", "/devices/heartbeat", body))
    request = SignedRequest("POST", "/devices/heartbeat", body_digest(body), headers)
    start = threading.Barrier(COPIES)
    accepted: list[int] = []
    replayed: list[int] = []
    failures: list[BaseException] = []

    def attempt(n: int) -> None:
        try:
            start.wait()
            with unit_of_work(session_factory) as session:
                service.authenticate(
                    session, keyring, request, now=clock(), kinds=frozenset(DeviceKind)
                )
            accepted.append(n)
        except NonceReused:
            replayed.append(n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(COPIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(accepted) == 1
    assert len(replayed) == COPIES - 1
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(UsedNonce)) == 1
