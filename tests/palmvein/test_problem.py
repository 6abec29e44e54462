"""The error table and the problem+json shape of every kind of error response."""

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from palmvein.core import errors, money
from palmvein.http.metrics import HttpMetrics
from palmvein.http.middleware import RequestContextMiddleware
from palmvein.problem import (
    ERROR_TABLE,
    PROBLEM_MEDIA_TYPE,
    install_problem_handlers,
    spec_for,
)


def _all_subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _all_subclasses(sub)
    return found


def test_every_known_domain_error_maps_to_a_deliberate_status() -> None:
    # money registers its subclasses on import; importing here keeps them in the census.
    assert money.UnknownCurrency in _all_subclasses(errors.DomainError)
    for cls in _all_subclasses(errors.DomainError):
        instance = cls.__new__(cls)
        spec = spec_for(instance)
        assert 400 <= spec.status < 600, cls
        if cls is not errors.IntegrityViolation:
            assert spec.status < 500, f"{cls.__name__} would be reported as a server error"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.NotFound("x"), 404),
        (errors.Conflict("x"), 409),
        (errors.AuthenticationFailed("x"), 401),
        (errors.PermissionDenied("x"), 403),
        (errors.ValidationFailed("x"), 422),
        (errors.CurrencyMismatch("x"), 422),
        (errors.TooManyAttempts("x", retry_after_seconds=3), 429),
        (money.UnknownCurrency("x"), 422),
    ],
)
def test_table_statuses(error: errors.DomainError, status: int) -> None:
    assert spec_for(error).status == status


def test_table_rows_are_all_domain_errors() -> None:
    assert all(issubclass(cls, errors.DomainError) for cls in ERROR_TABLE)


class _Boom(Exception):
    pass


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)
    router = APIRouter()

    @router.get("/missing-employee")
    def missing() -> None:
        raise errors.NotFound("no employee with id 7")

    @router.get("/bad-payroll")
    def bad() -> None:
        raise errors.ValidationFailed(
            "the payroll run has 2 problems",
            [
                errors.FieldProblem("employees[3].iban", "IBAN checksum fails"),
                errors.FieldProblem("period", "period is closed"),
            ],
        )

    @router.get("/throttled")
    def throttled() -> None:
        raise errors.TooManyAttempts("slow down", retry_after_seconds=42)

    @router.get("/bug")
    def bug() -> None:
        raise _Boom("secret internals must not leak")

    @router.get("/typed/{n}")
    def typed(n: int) -> dict[str, int]:
        return {"n": n}

    app.include_router(router)
    app.add_middleware(RequestContextMiddleware, metrics=HttpMetrics.create())
    return TestClient(app, raise_server_exceptions=False)


def _assert_problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    assert str(body["type"]).startswith("urn:palmvein:problem:")
    assert body["title"] and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]  # type: ignore[attr-defined]
    return body


def test_domain_error_becomes_problem_json(client: TestClient) -> None:
    body = _assert_problem(client.get("/missing-employee"), 404)
    assert body["detail"] == "no employee with id 7"
    assert body["instance"] == "/missing-employee"


def test_validation_failure_lists_every_problem(client: TestClient) -> None:
    body = _assert_problem(client.get("/bad-payroll"), 422)
    assert body["errors"] == [
        {"field": "employees[3].iban", "message": "IBAN checksum fails"},
        {"field": "period", "message": "period is closed"},
    ]


def test_throttling_sets_retry_after(client: TestClient) -> None:
    response = client.get("/throttled")
    body = _assert_problem(response, 429)
    assert body["retry_after"] == 42
    assert response.headers["retry-after"] == "42"


def test_unknown_route_and_wrong_method(client: TestClient) -> None:
    _assert_problem(client.get("/no/such/thing"), 404)
    body = _assert_problem(client.post("/missing-employee"), 405)
    assert "POST" in str(body["detail"])


def test_request_validation(client: TestClient) -> None:
    body = _assert_problem(client.get("/typed/seven"), 422)
    assert body["errors"] == [
        {
            "field": "path.n",
            "message": "Input should be a valid integer, unable to parse string as an integer",
        }
    ]


def test_unhandled_error_is_a_generic_500_without_internals(client: TestClient) -> None:
    body = _assert_problem(client.get("/bug"), 500)
    assert "secret internals" not in str(body)


def test_caller_request_id_is_kept_only_when_safe(client: TestClient) -> None:
    kept = client.get("/missing-employee", headers={"X-Request-ID": "pay-point-7.abc"})
    assert kept.headers["x-request-id"] == "pay-point-7.abc"
    replaced = client.get("/missing-employee", headers={"X-Request-ID": 'evil"\ninjection'})
    assert replaced.headers["x-request-id"] != 'evil"\ninjection'
    assert len(replaced.headers["x-request-id"]) == 32
