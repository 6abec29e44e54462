"""Prometheus metrics, one registry per application instance (so tests can build many apps)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass(frozen=True)
class HttpMetrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    logins: Counter

    @classmethod
    def create(cls) -> HttpMetrics:
        registry = CollectorRegistry(auto_describe=True)
        return cls(
            registry=registry,
            requests=Counter(
                "palmvein_http_requests",
                "HTTP requests handled, by method, route template and status code.",
                ("method", "route", "status"),
                registry=registry,
            ),
            latency=Histogram(
                "palmvein_http_request_duration_seconds",
                "Time from request start to the last response byte, by method and route template.",
                ("method", "route"),
                registry=registry,
            ),
            logins=Counter(
                "palmvein_logins",
                "Password logins by outcome (success, failure, throttled).",
                ("outcome",),
                registry=registry,
            ),
        )
