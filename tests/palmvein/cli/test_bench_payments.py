"""``palmvein bench payments``: figures from a scratch PostgreSQL database, then nothing left."""

from __future__ import annotations

import json
import socket
import threading

import psycopg
import pytest
from typer.testing import CliRunner

from palmvein.cli import app, main
from palmvein.cli.bench_payments import KeepAliveClient, transfer_request

from ...conftest import POSTGRES_URL, _pg_admin_conninfo


def _bench_databases() -> set[str]:
    with psycopg.connect(_pg_admin_conninfo(), autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'palmvein_bench_%'")
        return {str(r[0]) for r in rows}


def test_bench_payments_measures_every_layer_and_drops_its_database(
    postgres_available: str | None,
) -> None:
    if postgres_available is not None:
        pytest.skip(postgres_available)
    result = CliRunner().invoke(
        app,
        ["bench", "payments", "--operations", "10", "--workers", "2", "--server", POSTGRES_URL,
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    # By name: other benches on the same server may come and go meanwhile.
    assert figures["scratch_database"].startswith("palmvein_bench_")
    assert figures["scratch_database"] not in _bench_databases()
    names = [r["name"] for r in figures["results"]]
    assert names == ["baseline single insert", "p2p transfer", "purchase (hold+capture)",
                     "HTTP p2p transfer"]  # fmt: skip
    for row in figures["results"]:
        assert row["operations"] == 10 and row["per_second"] > 0 and row["p99_ms"] >= row["p50_ms"]


def test_bench_payments_without_a_server_says_how_to_get_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bench", "payments", "--server", "postgresql+psycopg://postgres@127.0.0.1:9/x"])
    assert exited.value.code == 4
    err = capsys.readouterr().err
    assert "scratch database" in err and "start PostgreSQL" in err


def test_bench_payments_can_also_time_an_api_in_its_own_processes(
    postgres_available: str | None,
) -> None:
    if postgres_available is not None:
        pytest.skip(postgres_available)
    # Other processes' CPU is read from /proc in clock ticks (10 ms): 10 transfers cost the API
    # process and the backends ~15-20 ms each on a fast machine, often no tick at all; 100 make
    # a tick-free reading as unlikely as it should be (about 17 and 13 ticks expected).
    result = CliRunner().invoke(
        app,
        ["bench", "payments", "--operations", "100", "--workers", "2", "--server", POSTGRES_URL,
         "--api-processes", "1", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["scratch_database"] not in _bench_databases()
    rows = figures["results"]
    assert [r["name"] for r in rows][-2:] == ["HTTP p2p transfer", "HTTP p2p transfer, 1 API proc."]
    assert rows[-1]["operations"] == 100 and rows[-1]["per_second"] > 0
    # CPU per transfer of each party: the API's own processes and the database did work.
    assert rows[-1]["server_processes_cpu_ms_per_op"] > 0
    assert rows[-1]["postgres_cpu_ms_per_op"] > 0
    assert rows[-1]["bench_process_cpu_ms_per_op"] > 0
    assert rows[-2]["server_processes_cpu_ms_per_op"] is None  # in-process: one process


def _one_shot_server(replies: list[bytes]) -> tuple[int, threading.Thread]:
    """A local server that, for each request it reads, sends the next reply in small pieces."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        connection, _ = listener.accept()
        with connection, listener:
            for reply in replies:
                connection.recv(65536)
                for start in range(0, len(reply), 7):
                    connection.sendall(reply[start : start + 7])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


def test_the_bench_client_reads_status_and_exactly_the_body() -> None:
    first = b'HTTP/1.1 201 Created\r\ncontent-length: 9\r\nx-request-id: a\r\n\r\n{"id": 1}'
    second = b"HTTP/1.1 422 Unprocessable Entity\r\nContent-Length: 2\r\n\r\n{}"
    # The second reply arrives with the first: it must be kept for the next exchange.
    port, thread = _one_shot_server([first + second, b""])
    client = KeepAliveClient("127.0.0.1", port, timeout=10)
    request = transfer_request(port, "token", b'{"a": 1}', "key-1")
    assert request.endswith(b'\r\nContent-Length: 8\r\n\r\n{"a": 1}')
    assert b"\r\nIdempotency-Key: key-1\r\n" in request
    assert client.exchange(request) == (201, b'{"id": 1}')
    assert client.exchange(request) == (422, b"{}")
    client.close()
    thread.join(timeout=10)


def test_the_bench_client_refuses_what_it_cannot_read() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    port, thread = _one_shot_server([chunked])
    client = KeepAliveClient("127.0.0.1", port, timeout=10)
    with pytest.raises(RuntimeError, match="chunked"):
        client.exchange(b"GET / HTTP/1.1\r\n\r\n")
    client.close()
    thread.join(timeout=10)
