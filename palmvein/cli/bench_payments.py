"""``palmvein bench payments``: ledger transfers and purchases per second on PostgreSQL.

Three layers are timed in the same run, on the same database, with the same number of client
threads: plain single-row inserts (what the database and the machine allow at all), the payments
services called directly (one transaction per operation), and P2P transfers through the HTTP API
of a real uvicorn server (authentication, idempotency and problem handling included).
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from palmvein.cli.bench_cmd import bench_app
from palmvein.cli.errors import CliError
from palmvein.cli.exit_codes import ExitCode

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on ``server_url``'s server, dropped afterwards."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"palmvein_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure gets the same hint
        admin.dispose()
        raise CliError(
            f"cannot create a scratch database on {make_url(server_url).host}: "
            f"{type(exc).__name__}",
            hint="start PostgreSQL (127.0.0.1:5432, user postgres) or pass --server URL",
            code=ExitCode.DATABASE,
        ) from None
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def api_server(database_url: str) -> Iterator[tuple[int, Any, int | None]]:
    """The palmvein API on a free local port, in this process; yields (port, settings, None)."""
    import socket

    import uvicorn

    from palmvein.app import create_app
    from palmvein.core.settings import Settings
    settings = Settings(database_url=database_url)
    app = create_app(settings)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    with _quiet_logging():
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise CliError("the API server did not start", code=ExitCode.FAILURE)
            time.sleep(0.05)
        try:
            yield port, settings, None
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@contextmanager
def api_processes_server(
    database_url: str, processes: int
) -> Iterator[tuple[int, Any, int | None]]:
    """The palmvein API as a deployment runs it: ``uvicorn --workers N`` in its own processes
    (no GIL shared with the client threads); yields (port, settings with its secret key, the
    server's process id)."""
    import secrets
    import socket
    import subprocess
    import sys

    from palmvein.core.settings import Settings

    settings = Settings(database_url=database_url, secret_key=secrets.token_urlsafe(48))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {
        "PALMVEIN_DATABASE_URL": database_url,
        "PALMVEIN_SECRET_KEY": settings.secret_key.get_secret_value(),
        "PALMVEIN_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "palmvein.app:app_from_environment",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(processes),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise CliError("the API server processes did not start", code=ExitCode.FAILURE)
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield port, settings, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process so far (Linux /proc), None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command name: state is field 3, utime 14 and stime 15 (proc(5)).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(entry))
    return found


def _tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of ``pid`` and its children (uvicorn's supervisor and workers)."""
    out: dict[int, float] = {}
    for p in [pid, *_children(pid)]:
        cpu = _proc_cpu_seconds(p)
        if cpu is not None:
            out[p] = cpu
    return out


def _backend_cpu(engine: Engine, database: str) -> dict[int, float]:
    """CPU seconds of the PostgreSQL backends connected to ``database`` (same machine only)."""
    with engine.connect() as connection:
        pids = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"),
            {"d": database},
        ).scalars().all()
    out: dict[int, float] = {}
    for p in pids:
        cpu = _proc_cpu_seconds(int(p))
        if cpu is not None:
            out[int(p)] = cpu
    return out


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two readings; processes that appeared in between count in full."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


@contextmanager
def _quiet_logging() -> Iterator[None]:
    """Warnings only while measuring (one log line per request would be most of the work), then
    the caller's logging configuration back as it was."""
    import logging
    import sys

    import structlog

    from palmvein.log import configure_logging

    saved = structlog.get_config()
    root, access = logging.getLogger(), logging.getLogger("uvicorn.access")
    handlers, level = list(root.handlers), root.level
    access_handlers, access_propagate = list(access.handlers), access.propagate
    configure_logging(level="WARNING", json=False, stream=sys.stderr)
    try:
        yield
    finally:
        structlog.configure(**saved)
        root.handlers, access.handlers, access.propagate = handlers, access_handlers, (
            access_propagate
        )
        root.setLevel(level)


def _bearer(engine: Engine, settings: Any) -> str:
    from palmvein.core.db import create_session_factory, unit_of_work
    from palmvein.core.security.roles import Role
    from palmvein.core.security.tokens import TokenKind, issue_token
    from palmvein.core.security.users import create_user

    now = datetime.now(UTC)
    with unit_of_work(create_session_factory(engine)) as session:
        user = create_user(
            session,
            username=f"bench.{uuid.uuid4().hex[:6]}",
            full_name="Benchmark Teller",
            password=uuid.uuid4().hex,
            roles=frozenset({Role.MERCHANT_CASHIER}),
            actor="bench",
            now=now,
        )
        user_id = user.id
    token, _ = issue_token(
        settings.secret_key.get_secret_value(),
        user_id=user_id,
        kind=TokenKind.ACCESS,
        now=now,
        lifetime=timedelta(hours=2),
    )
    return token


class KeepAliveClient:
    """A minimal HTTP/1.1 client on one keep-alive connection, for the bench's client threads.

    ``http.client`` parses every response's headers with the ``email`` package, which cost the
    bench ~0.2-0.3 ms of CPU per transfer on the same 2 cores as the server it measures. This
    sends a prepared request in one ``sendall`` and reads one response: the status line, the
    headers (a ``Content-Length`` is required; chunked bodies are refused) and exactly that many
    body bytes, keeping whatever follows for the next response.
    """

    def __init__(self, host: str, port: int, *, timeout: float = 60.0) -> None:
        import socket

        self._socket = socket.create_connection((host, port), timeout=timeout)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._pending = b""

    def _receive(self) -> bytes:
        chunk = self._socket.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send ``request`` (head and body) and return the response's status and body."""
        self._socket.sendall(request)
        buffer = self._pending
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            buffer += self._receive()
        lines = buffer[:end].split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length: int | None = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise RuntimeError("chunked responses are not supported by the bench client")
        if length is None:
            raise RuntimeError("the response has no Content-Length")
        buffer = buffer[end + 4 :]
        while len(buffer) < length:
            buffer += self._receive()
        self._pending = buffer[length:]
        return status, buffer[:length]

    def close(self) -> None:
        self._socket.close()


def transfer_request(port: int, bearer: str, body: bytes, key: str) -> bytes:
    """``POST /payments/transfers`` as bytes on the wire, for :class:`KeepAliveClient`."""
    head = (
        f"POST /payments/transfers HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {bearer}\r\nContent-Type: application/json\r\n"
        f"Idempotency-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def http_transfers(
    engine: Engine,
    database_url: str,
    operations: int,
    workers: int,
    seed: int,
    api_processes: int = 0,
) -> Any:
    """P2P transfers through ``POST /payments/transfers`` on a live server: in this process
    (``api_processes`` 0: server and client threads share one interpreter lock) or in
    ``api_processes`` uvicorn worker processes of its own."""
    import random

    from palmvein.core.db import create_session_factory
    from payments.bench import measure, open_accounts

    accounts = open_accounts(create_session_factory(engine))
    rng = random.Random(seed)
    # Untimed transfers first: each API process builds its routes' request handling on its
    # first requests (FastAPI does it lazily; ~4 % of the API processes' py-spy samples over
    # 1500 timed transfers), and every client thread opens its keep-alive connection, so the
    # timed part is the steady state.
    warm_up = min(operations, 10 * workers)
    pairs = [tuple(rng.sample(accounts.wallets, 2)) for _ in range(warm_up + operations)]
    server = (
        api_processes_server(database_url, api_processes)
        if api_processes
        else api_server(database_url)
    )
    name = f"HTTP p2p transfer, {api_processes} API proc." if api_processes else "HTTP p2p transfer"
    with server as (port, settings, server_pid):
        bearer = _bearer(engine, settings)
        local = threading.local()
        clients: list[KeepAliveClient] = []

        def transfer(index: int) -> None:
            # One keep-alive connection per client thread, as a terminal gateway would hold.
            if not hasattr(local, "client"):
                local.client = KeepAliveClient("127.0.0.1", port)
                clients.append(local.client)
            payer, payee = pairs[index]
            body = json.dumps(
                {"from_wallet_id": payer, "to_wallet_id": payee, "amount": "100.00",
                 "currency": "DZD"}
            ).encode()  # fmt: skip
            status, payload = local.client.exchange(
                transfer_request(port, bearer, body, uuid.uuid4().hex)
            )
            if status != 201:
                raise RuntimeError(f"HTTP {status}: {payload[:200]!r}")

        # CPU per transfer, which the machine's other load inflates far less than the rate:
        # this process (the client threads, and the server too when it runs in here), the
        # server's processes and the database backends serving it.
        measure("warm-up", warm_up, workers, transfer)
        database = make_url(database_url).database or ""
        client0, backends0 = time.process_time(), _backend_cpu(engine, database)
        server0 = _tree_cpu(server_pid) if server_pid else {}
        timing = measure(name, operations, workers, lambda index: transfer(warm_up + index))
        client = time.process_time() - client0
        backends = _spent(backends0, _backend_cpu(engine, database))
        server_cpu = _spent(server0, _tree_cpu(server_pid)) if server_pid else None
        for connection in clients:
            connection.close()
    per_op = 1000 / max(timing.count, 1)
    cpu = {
        "bench_process_cpu_ms_per_op": round(client * per_op, 3),
        "server_processes_cpu_ms_per_op": (
            round(server_cpu * per_op, 3) if server_cpu is not None else None
        ),
        "postgres_cpu_ms_per_op": round(backends * per_op, 3),
    }
    return timing, cpu


@bench_app.command("payments")
def payments_command(
    operations: Annotated[int, typer.Option(min=10, help="Operations per measurement.")] = 1000,
    workers: Annotated[int, typer.Option(min=1, help="Concurrent client threads.")] = 4,
    server: Annotated[
        str,
        typer.Option(help="PostgreSQL server (any database on it); a scratch database is made."),
    ] = DEFAULT_SERVER,
    seed: Annotated[int, typer.Option(help="Seed of the account pairs.")] = 0,
    api_processes: Annotated[
        int,
        typer.Option(
            min=0,
            help="Also time HTTP transfers on an API run as N uvicorn worker processes of its own "
            "(0: only the in-process server, which shares the client threads' interpreter lock).",
        ),
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Ledger transfers/s and purchases/s on PostgreSQL, p50/p99, beside plain inserts."""
    from palmvein.migrate import upgrade
    from payments.bench import run

    console = Console(stderr=True)
    with scratch_database(server) as url:
        scratch = make_url(url).database
        engine = create_engine(url, pool_size=workers + 2, max_overflow=workers)
        try:
            console.print(f"[dim]scratch database {make_url(url).database}: migrating[/]")
            upgrade(engine)
            console.print(f"[dim]service layer: {operations} operations x 3, {workers} threads[/]")
            timings = run(engine, operations=operations, workers=workers, seed=seed)
            console.print("[dim]HTTP API on a live uvicorn server[/]")
            cpu: dict[str, dict[str, float | None]] = {}
            timing, cpu_use = http_transfers(engine, url, operations, workers, seed)
            timings.append(timing)
            cpu[timing.name] = cpu_use
            if api_processes:
                console.print(f"[dim]HTTP API in {api_processes} uvicorn worker process(es)[/]")
                timing, cpu_use = http_transfers(
                    engine, url, operations, workers, seed, api_processes
                )
                timings.append(timing)
                cpu[timing.name] = cpu_use
        finally:
            engine.dispose()
    baseline = timings[0].per_second
    rows = [
        {
            "name": t.name,
            "operations": t.count,
            "per_second": round(t.per_second, 1),
            "p50_ms": round(t.p50_ms, 2),
            "p99_ms": round(t.p99_ms, 2),
            "vs_baseline": round(t.per_second / baseline, 3) if baseline else None,
            **cpu.get(t.name, {}),
        }
        for t in timings
    ]
    result = {
        "scratch_database": scratch,
        "workers": workers,
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "target_transfers_per_second": 500,
        # What uvicorn's "auto" picks in the API processes (uvloop and httptools if installed).
        "uvicorn": {
            "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
            "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        },
        "results": rows,
    }
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table(title="palmvein bench payments (PostgreSQL)")
    for column in ("measurement", "ops", "per s", "p50 ms", "p99 ms", "x baseline"):
        table.add_column(column, justify="left" if column == "measurement" else "right")
    for r in rows:
        table.add_row(*(str(r[k]) for k in
                        ("name", "operations", "per_second", "p50_ms", "p99_ms", "vs_baseline")))
    table.caption = (
        f"{workers} client threads, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; target: 500 transfers/s"
    )
    Console().print(table)
    for r in rows:
        if "postgres_cpu_ms_per_op" in r:
            server_cpu = r["server_processes_cpu_ms_per_op"]
            Console().print(
                f"{r['name']}: CPU per transfer: bench process {r['bench_process_cpu_ms_per_op']} "
                f"ms{'' if server_cpu is None else f', API processes {server_cpu} ms'}, "
                f"PostgreSQL backends {r['postgres_cpu_ms_per_op']} ms",
                highlight=False,
            )
