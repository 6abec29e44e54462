"""The matcher API: enrol with images, duplicate caught with a case, role-limited identify,
deletion."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import pytest

import biometric
from capture.simulated import SimulatedSensor
from matcher.routes import create_router
from palmvein.core.security.roles import Role
from palmvein.http.auth import DbSession, require_roles

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient


def _png(image: object) -> bytes:
    ok, data = cv2.imencode(".png", image)  # type: ignore[call-overload]
    assert ok
    return bytes(data)


@pytest.fixture(scope="module")
def palm_images() -> dict[int, list[bytes]]:
    """Four usable captures of a simulated palm (three to enrol, one to probe)."""
    sensor = SimulatedSensor(seed=9, cache_size=2)
    out: dict[int, list[bytes]] = {}
    identity = 0
    while not out:
        images = []
        for session, sample in ((0, 0), (0, 1), (0, 2), (1, 3), (1, 4)):
            image = sensor.capture(identity, session, sample).image
            try:
                biometric.extract(image)
            except biometric.BiometricError:
                continue
            images.append(_png(image))
        if len(images) >= 4:
            out[identity] = images[:4]
        identity += 1
    return out


@pytest.fixture
def api(app: FastAPI, client: TestClient) -> TestClient:
    # The app factory includes the matcher's router once the composition root wires it.
    if not any(getattr(r, "path", None) == "/identify" for r in app.routes):
        app.include_router(create_router(DbSession, require_roles))
    return client


def test_enrol_identify_duplicate_and_delete(
    api: TestClient, make_staff: Callable[..., int], bearer: Callable[[int], dict[str, str]],
    palm_images: dict[int, list[bytes]],
) -> None:
    clerk = bearer(make_staff("clerk", Role.HR_CLERK))
    cashier = bearer(make_staff("cashier", Role.MERCHANT_CASHIER))
    admin = bearer(make_staff("admin", Role.ADMIN))
    [first] = palm_images

    person = api.post("/persons", json={"display_name": "Nadia"}, headers=clerk).json()
    files = [("right", (f"{i}.png", img, "image/png"))
             for i, img in enumerate(palm_images[first][:3])]
    r = api.post(f"/persons/{person['id']}/enrolment", files=files, headers=clerk)
    assert r.status_code == 201, r.text
    assert r.json()["templates_stored"] == 3

    probe = {"image": ("probe.png", palm_images[first][3], "image/png")}
    assert api.post("/identify", files=probe, headers=clerk).status_code == 403
    decision = api.post("/identify", files=probe, headers=cashier).json()
    assert decision["outcome"] == "match" and decision["subject_id"] == person["id"]

    # The same palm under a new name: stopped, and a case opened for an administrator.
    twin = api.post("/persons", json={"display_name": "Not Nadia"}, headers=clerk).json()
    again = [("right", (f"{i}.png", img, "image/png"))
             for i, img in enumerate([palm_images[first][3], *palm_images[first][1:3]])]
    r = api.post(f"/persons/{twin['id']}/enrolment", files=again, headers=clerk)
    assert r.status_code == 409, r.text
    assert r.json()["duplicates"][0]["matched_person_id"] == person["id"]
    assert api.get("/duplicate-cases", headers=clerk).status_code == 403
    [case] = api.get("/duplicate-cases", headers=admin).json()
    r = api.post(f"/duplicate-cases/{case['id']}/resolution",
                 json={"status": "confirmed_duplicate", "note": "same palm"}, headers=admin)
    assert r.status_code == 200 and r.json()["resolved_by"] == "staff:admin"

    # A bad upload is a validation problem, not a crash.
    other = api.post("/persons", json={"display_name": "Bad file"}, headers=clerk).json()
    bad = [("right", ("x.png", b"not an image", "image/png"))] * 3
    r = api.post(f"/persons/{other['id']}/enrolment", files=bad, headers=clerk)
    assert r.status_code == 422

    assert api.delete(f"/persons/{person['id']}", headers=clerk).status_code == 403
    assert api.delete(f"/persons/{person['id']}", headers=admin).status_code == 204
    decision = api.post("/identify", files=probe, headers=cashier).json()
    assert decision["outcome"] == "no_match" and decision["subject_id"] != person["id"]
