from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from palmvein.app import create_app
from palmvein.core.settings import Settings


def test_healthz_says_the_process_is_up(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


def test_readyz_checks_the_database(client: TestClient, db_backend: str) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": db_backend}


def test_readyz_is_503_problem_when_the_database_is_unreachable() -> None:
    # A port nothing listens on: the driver fails fast with a connection error.
    dead = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    app = create_app(Settings(_env_file=None, environment="test"), engine=dead)
    response = TestClient(app).get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("database unreachable")


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/no-such-page")
    text = client.get("/metrics").text
    assert 'palmvein_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "palmvein_http_request_duration_seconds_bucket" in text


def test_openapi_document_lists_the_routes(app: FastAPI, client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "palmvein"
    assert "/auth/token" in schema["paths"]
    assert "/readyz" in schema["paths"]
    # The /docs "Authorize" button signs in with the password flow against /auth/token.
    schemes = schema["components"]["securitySchemes"]
    [scheme] = [s for s in schemes.values() if s["type"] == "oauth2"]
    # Terminals sign their requests instead (devices/README.md).
    assert schemes["PalmveinDeviceSignature"]["name"] == "X-Palmvein-Key-Id"
    assert scheme["flows"]["password"]["tokenUrl"] == "/auth/token"
    assert schema["paths"]["/staff-users"]["get"]["security"]
    assert "security" not in schema["paths"]["/healthz"]["get"]
