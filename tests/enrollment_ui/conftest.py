"""A real palmvein server for the browser tests: uvicorn in a child process on a free port, on a
migrated temporary SQLite database seeded with staff and a merchant.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``.ci/run``), driven by Playwright
without ``playwright install``. Screenshots go to ``test-output/enrollment_ui/`` (ignored by git).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from palmvein import migrate
from palmvein.core.db import create_db_engine, create_session_factory, unit_of_work, utcnow
from palmvein.core.security.roles import Role
from palmvein.core.security.users import create_user

CHROMIUM = Path(os.environ.get("PALMVEIN_CHROMIUM", "/usr/bin/chromium"))
PASSWORD = "correct horse battery staple"
SECRET = "browser-test-secret-key-that-is-long-enough-0123456789"
PAY_POINT = "PP-ALGER-01"
OUTPUT_DIR = Path(__file__).resolve().parents[2] / "test-output" / "enrollment_ui"
STAFF = (("clerk", Role.HR_CLERK), ("cashier", Role.MERCHANT_CASHIER), ("boss", Role.ADMIN),
         ("officer", Role.PAYROLL_OFFICER), ("approver", Role.PAYROLL_APPROVER))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    engine: Engine
    merchant_account_id: int
    log: Path

    def factory(self) -> Any:
        return create_session_factory(self.engine)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from payments import service
    from payroll import sample
    from payroll import service as payroll_service

    folder = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{folder / 'palmvein.sqlite3'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    factory = create_session_factory(engine)
    with unit_of_work(factory) as session:
        for username, role in STAFF:
            create_user(session, username=username, full_name=username.title(),
                        password=PASSWORD, roles=frozenset({role}), actor="test", now=utcnow())
        shop = service.open_merchant_account(session, merchant_id="epicerie-test",
                                             currency="DZD", now=utcnow())
        merchant_id = shop.id
        payroll_service.add_structure(session, grade="G12", currency="DZD",
                                      effective_from=sample.ALGERIA_FROM,
                                      definition=sample.algeria_structure(), actor="test",
                                      now=utcnow())
        staff_file = sample.write_csv(folder / "staff.csv", sample.employee_rows(6))
        payroll_service.import_file(session, staff_file, currency="DZD", actor="test",
                                    now=utcnow())
    port = _free_port()
    env = dict(os.environ)
    env.update({
        "PALMVEIN_ENVIRONMENT": "test",
        "PALMVEIN_DATABASE_URL": url,
        "PALMVEIN_SECRET_KEY": SECRET,
        "PALMVEIN_COOKIE_SECURE": "false",
        "PALMVEIN_LOG_LEVEL": "WARNING",
        "PALMVEIN_UI_CASHIER_MERCHANTS": f"cashier={merchant_id}",
        "PALMVEIN_UI_CASHIER_PAY_POINTS": f"cashier={PAY_POINT},approver={PAY_POINT}",
    })
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "palmvein.app:app_from_environment", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield LiveServer(base, engine, merchant_id, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM} (.ci/run installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Path:
    folder = OUTPUT_DIR / request.node.name.replace("[", "-").replace("]", "")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
