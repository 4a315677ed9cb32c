"""Security headers on every kind of response, and 413 for a chunked body over the cap."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Page

from forum import create_app
from forum.extensions import db
from tests.conftest import ApiClient
from tests.helpers import assert_error

CAP = 4096


def assert_security_headers(response: Any, *, production: bool = False) -> None:
    headers = response.headers
    policy = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in policy, (response.request.path, policy)
    assert "frame-ancestors 'none'" in policy
    assert headers.get("X-Frame-Options") == "DENY"
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") == "same-origin"
    if production:
        assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    else:
        assert "Strict-Transport-Security" not in headers


def every_kind_of_response(client: FlaskClient, api: ApiClient) -> dict[str, Any]:
    """One response of each kind the app gives, by name."""
    bearer = {"Authorization": f"Bearer {api.token}"}
    return {
        "page": client.get("/login"),
        "redirect": client.get("/"),
        "api json": client.get("/api/v1/events", headers=bearer),
        "api 401": client.get("/api/v1/events"),
        "api 404": client.get("/api/v1/events/999", headers=bearer),
        "api 405": client.delete("/api/v1/events", headers=bearer),
        "api 422": client.post("/api/v1/events", json={}, headers=bearer),
        "page 404": client.get("/no-such-page"),
        "openapi document": client.get("/api/v1/openapi.json"),
        "api docs": client.get("/api/v1/docs"),
        "static": client.get("/static/style.css"),
        "health": client.get("/healthz"),
        "calendar 404": client.get("/ical/feeds/unknown.ics"),
        "participant 404": client.get("/p/unknown"),
        "webhook 401": client.post("/webhooks/zoom", data=b"{}"),
        "413": client.post(
            "/api/v1/events",
            data=b"x" * (CAP + 1),
            headers={**bearer, "Content-Type": "application/json"},
        ),
    }


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"MAX_CONTENT_LENGTH": CAP, "FORUM_RATE_LIMIT_BAD_TOKENS": "1 per minute"}


def test_every_kind_of_response_carries_the_security_headers(
    client: FlaskClient, api: ApiClient
) -> None:
    responses = every_kind_of_response(client, api)
    statuses = {name: response.status_code for name, response in responses.items()}
    assert statuses == {
        "page": 200,
        "redirect": 302,
        "api json": 200,
        "api 401": 401,
        "api 404": 404,
        "api 405": 405,
        "api 422": 422,
        "page 404": 404,
        "openapi document": 200,
        "api docs": 200,
        "static": 200,
        "health": 200,
        "calendar 404": 404,
        "participant 404": 404,
        "webhook 401": 401,
        "413": 413,
    }
    for response in responses.values():
        assert_security_headers(response)
        response.close()
    assert responses["api json"].mimetype == "application/json"


def test_a_500_carries_them_too(app: Flask, client: FlaskClient) -> None:
    # A route that fails, added to this test's own app: the 500 answer is built by the
    # error handler, after the view is gone.
    @app.get("/api/v1/broken-for-this-test")
    def broken() -> str:
        raise RuntimeError("broken on purpose")

    response = client.get("/api/v1/broken-for-this-test")
    assert_error(response, 500, "internal_error")
    assert_security_headers(response)


def test_a_429_carries_them_too(client: FlaskClient) -> None:
    for _ in range(2):
        response = client.get("/api/v1/events", headers={"Authorization": "Bearer forum_no"})
    assert response.status_code == 429
    assert_security_headers(response)


@pytest.fixture
def production_client(database_url: str) -> Iterator[FlaskClient]:
    app = create_app(
        {
            "TESTING": True,
            "FORUM_ENV": "production",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "a-production-secret-key-of-forty-characters",
        }
    )
    yield app.test_client()
    with app.app_context():
        db.engine.dispose()


def test_production_adds_strict_transport_security(production_client: FlaskClient) -> None:
    for path in ("/login", "/api/v1/events", "/static/style.css", "/no-such-page", "/healthz"):
        with production_client.get(path) as response:
            assert_security_headers(response, production=True)


@pytest.mark.browser
def test_the_api_docs_page_works_under_the_policy(page: Page) -> None:
    """In Chromium: the page, its style sheet and script load with no CSP violation (the
    ``page`` fixture fails the test on any console error)."""
    response = page.goto("/api/v1/docs")
    assert response is not None and response.status == 200
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert page.evaluate("document.styleSheets.length") >= 1
    # The style sheet applied: the navigation is laid out by static/style.css.
    assert page.evaluate("getComputedStyle(document.body).margin") != "8px"


# --- request bodies over the cap -------------------------------------------------------------


def post_chunked(base_url: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
    """POST ``body`` with Transfer-Encoding: chunked (no Content-Length), over real HTTP."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    try:
        connection.request("POST", path, body=chunks(), headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def event_body(size: int) -> bytes:
    """A valid event as JSON, padded with spaces to ``size`` bytes."""
    body = json.dumps({"title": "Seminar", "kind": "bilateral", "timezone": "Asia/Tokyo"})
    return body.encode().ljust(size)


def test_a_chunked_body_over_the_cap_gets_413(live_server: str, api: ApiClient) -> None:
    headers = {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"}

    status, response_headers, body = post_chunked(
        live_server, "/api/v1/events", event_body(CAP * 3), headers
    )
    assert status == 413
    error = json.loads(body)["error"]
    assert error["code"] == "payload_too_large"
    assert str(CAP) in error["message"]
    assert response_headers["X-Content-Type-Options"] == "nosniff"

    # A chunked body within the cap is read whole, as before.
    status, _, body = post_chunked(live_server, "/api/v1/events", event_body(CAP - 10), headers)
    assert status == 201, body
    assert json.loads(body)["title"] == "Seminar"


def test_a_chunked_webhook_or_form_over_the_cap_gets_413(live_server: str) -> None:
    status, _, body = post_chunked(
        live_server,
        "/webhooks/zoom",
        b"{" + b" " * CAP * 2 + b"}",
        {"Content-Type": "application/json"},
    )
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"

    form = b"email=a%40b.example&password=" + b"x" * CAP * 2
    status, _, _ = post_chunked(
        live_server, "/login", form, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 413
