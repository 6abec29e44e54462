"""SMS adapters behind one small protocol: a file sink (the default) and an HTTP gateway.

The HTTP adapter uses only the standard library and takes its transport as a parameter, so tests
exercise the real request building without any network.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol


class SmsDeliveryError(Exception):
    """The gateway did not accept the message; the dispatcher will retry it later."""


class SmsSender(Protocol):
    def send(self, recipient: str, body: str) -> None:
        """Hand one message to the network; raise SmsDeliveryError if it was not accepted."""


class FileSmsSender:
    """Appends one JSON line per message to a file: the default sink for demos and tests."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def send(self, recipient: str, body: str) -> None:
        line = json.dumps(
            {"at": datetime.now(UTC).isoformat(), "to": recipient, "body": body},
            ensure_ascii=False,
        )
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as sink:
                sink.write(line + "\n")


@dataclass(frozen=True)
class HttpRequest:
    url: str
    headers: dict[str, str]
    body: bytes
    timeout: float


# Returns the HTTP status code; raises OSError on network failure.
Transport = Callable[[HttpRequest], int]


def urllib_transport(request: HttpRequest) -> int:
    prepared = urllib.request.Request(
        request.url, data=request.body, headers=request.headers, method="POST"
    )
    try:
        with urllib.request.urlopen(prepared, timeout=request.timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


class HttpSmsSender:
    """POSTs ``{"to": ..., "text": ...}`` as JSON with a bearer token to an SMS gateway.

    Any 2xx status is success; anything else, or a network error, raises SmsDeliveryError.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str,
        sender_id: str = "palmvein",
        timeout: float = 10.0,
        transport: Transport = urllib_transport,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"SMS gateway URL must be http(s), got {url!r}")
        self.url = url
        self.token = token
        self.sender_id = sender_id
        self.timeout = timeout
        self.transport = transport

    def send(self, recipient: str, body: str) -> None:
        request = HttpRequest(
            url=self.url,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.token}",
            },
            body=json.dumps({"from": self.sender_id, "to": recipient, "text": body}).encode(),
            timeout=self.timeout,
        )
        try:
            status = self.transport(request)
        except OSError as exc:
            raise SmsDeliveryError(f"SMS gateway unreachable: {exc}") from exc
        if not 200 <= status < 300:
            raise SmsDeliveryError(f"SMS gateway answered HTTP {status}")
