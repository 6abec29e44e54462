"""Signing in over HTTP: bearer tokens, cookie sessions with CSRF, throttling."""

from collections.abc import Callable

from fastapi.testclient import TestClient

from palmvein.core.security.roles import Role
from palmvein.http.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE

PASSWORD = "correct horse battery staple"


def _token(client: TestClient, username: str, password: str = PASSWORD) -> str:
    response = client.post("/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    return str(body["access_token"])


def test_password_login_gives_a_bearer_token_that_identifies_the_user(
    client: TestClient, make_staff: Callable[..., int]
) -> None:
    make_staff("hassan", Role.AUDITOR)
    token = _token(client, "hassan")
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json() == {
        "user_id": me.json()["user_id"],
        "username": "hassan",
        "roles": ["auditor"],
        "authenticated_via": "bearer",
    }


def test_wrong_password_is_401_problem(client: TestClient, make_staff: Callable[..., int]) -> None:
    make_staff("hassan", Role.AUDITOR)
    response = client.post("/auth/token", data={"username": "hassan", "password": "nope"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "wrong username or password"


def test_token_expires(client: TestClient, make_staff: Callable[..., int], clock) -> None:
    make_staff("hassan", Role.AUDITOR)
    token = _token(client, "hassan")
    clock.advance(minutes=31)
    response = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_repeated_failures_are_throttled_with_retry_after(
    client: TestClient, make_staff: Callable[..., int]
) -> None:
    make_staff("rania", Role.MERCHANT_CASHIER)
    for _ in range(3):  # the fixture settings allow 3 failures
        bad = client.post("/auth/token", data={"username": "rania", "password": "guess"})
        assert bad.status_code == 401
    locked = client.post("/auth/token", data={"username": "rania", "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "300"
    metrics = client.get("/metrics").text
    assert 'palmvein_logins_total{outcome="failure"} 3.0' in metrics
    assert 'palmvein_logins_total{outcome="throttled"} 1.0' in metrics


def test_disabled_account_token_stops_working(
    client: TestClient, make_staff: Callable[..., int], session_factory
) -> None:
    from palmvein.core.security.users import get_user

    user_id = make_staff("omar", Role.PAYROLL_APPROVER)
    token = _token(client, "omar")
    with session_factory.begin() as session:
        get_user(session, user_id).is_active = False
    response = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_browser_session_needs_csrf_for_changes(
    client: TestClient, make_staff: Callable[..., int], settings
) -> None:
    make_staff("amina", Role.ADMIN)
    opened = client.post("/auth/session", data={"username": "amina", "password": PASSWORD})
    assert opened.status_code == 200
    csrf = opened.json()["csrf_token"]
    assert client.cookies.get(CSRF_COOKIE) == csrf
    session_cookie = next(
        c for c in opened.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie
    assert ("Secure" in session_cookie) == settings.secure_cookies

    # Reading works with the cookie alone.
    me = client.get("/auth/me")
    assert me.status_code == 200 and me.json()["authenticated_via"] == "session"

    new_user = {
        "username": "karim",
        "full_name": "Karim",
        "password": PASSWORD,
        "roles": ["hr_clerk"],
    }
    # A change without the CSRF header is refused (a forged cross-site form would look so).
    refused = client.post("/staff-users", json=new_user)
    assert refused.status_code == 403
    assert CSRF_HEADER in refused.json()["detail"]
    wrong = client.post("/staff-users", json=new_user, headers={CSRF_HEADER: "0" * 64})
    assert wrong.status_code == 403
    created = client.post("/staff-users", json=new_user, headers={CSRF_HEADER: csrf})
    assert created.status_code == 201, created.text
    assert created.json()["roles"] == ["hr_clerk"]

    closed = client.delete("/auth/session", headers={CSRF_HEADER: csrf})
    assert closed.status_code == 204
    assert client.get("/auth/me").status_code == 401


def test_admin_creates_staff_and_the_audit_log_shows_who(
    client: TestClient,
    make_staff: Callable[..., int],
    bearer: Callable[[int], dict[str, str]],
) -> None:
    admin = make_staff("amina", Role.ADMIN)
    auditor = make_staff("hassan", Role.AUDITOR)
    created = client.post(
        "/staff-users",
        json={
            "username": "yasmine",
            "full_name": "Yasmine",
            "password": PASSWORD,
            "roles": ["payroll_officer", "hr_clerk"],
        },
        headers=bearer(admin),
    )
    assert created.status_code == 201
    duplicate = client.post(
        "/staff-users",
        json={"username": "Yasmine", "full_name": "Y", "password": PASSWORD, "roles": ["auditor"]},
        headers=bearer(admin),
    )
    assert duplicate.status_code == 409
    short = client.post(
        "/staff-users",
        json={"username": "x1", "full_name": "Y", "password": "short", "roles": ["auditor"]},
        headers=bearer(admin),
    )
    assert short.status_code == 422 and "12 characters" in short.json()["detail"]

    entries = client.get("/audit/entries", headers=bearer(auditor)).json()
    assert [(e["actor"], e["action"], e["data"]["username"]) for e in entries] == [
        ("test", "staff_user.created", "amina"),
        ("test", "staff_user.created", "hassan"),
        ("staff:amina", "staff_user.created", "yasmine"),
    ]
    verified = client.get("/audit/verify", headers=bearer(auditor)).json()
    assert verified["ok"] and verified["rows"] == 3


def test_unknown_staff_user_is_404(
    client: TestClient, make_staff: Callable[..., int], bearer: Callable[[int], dict[str, str]]
) -> None:
    admin = make_staff("amina", Role.ADMIN)
    response = client.get("/staff-users/4242", headers=bearer(admin))
    assert response.status_code == 404
    assert response.json()["detail"] == "no staff user with id 4242"


def test_malformed_authorization_header_is_401(client: TestClient) -> None:
    response = client.get("/auth/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401
