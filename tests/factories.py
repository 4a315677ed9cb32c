"""Factories over the real API: institutions, people, events and sessions for tests."""

from __future__ import annotations

from typing import Any

from tests.helpers import body_of

EVENTS = "/api/v1/events"
SESSIONS = "/api/v1/sessions"


def created(response) -> dict[str, Any]:
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def make_institution(api, name: str, country: str, timezone: str) -> dict[str, Any]:
    body = {"name": name, "country": country, "timezone": timezone}
    return created(api.post("/api/v1/institutions", json=body))


def make_person(api, name: str, email: str, institution_id: int, **fields: Any) -> dict[str, Any]:
    """A person reading English unless ``locale`` says otherwise: the tests that are not about
    languages check the English text (a person's default language, from their institution's
    country, is tested in test_i18n)."""
    body = {"name": name, "email": email, "institution_id": institution_id, "locale": "en"}
    body.update(fields)
    return created(api.post("/api/v1/people", json=body))


def make_event(api, **fields: Any) -> dict[str, Any]:
    defaults = {"title": "Global University Leaders Forum", "kind": "forum"}
    return created(api.post(EVENTS, json=body_of(defaults, fields)))


def book(api, event_id: int, **fields: Any):
    defaults = {"title": "Plenary", "start": "2027-03-10T13:00:00Z", "duration_minutes": 60}
    if "local_start" in fields:
        del defaults["start"]
    if "end" in fields:
        del defaults["duration_minutes"]
    return api.post(f"{EVENTS}/{event_id}/sessions", json=body_of(defaults, fields))


def make_session(api, event_id: int, **fields: Any) -> dict[str, Any]:
    return created(book(api, event_id, **fields))


def invitee(person: dict[str, Any], role: str = "participant", required: bool = True) -> dict:
    return {"person_id": person["id"], "role": role, "required": required}
