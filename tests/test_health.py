"""/healthz as a load balancer reads it: 200 with each check's status and time while the
database and the configured Redis answer, 503 naming the one that does not; /livez answers
whatever is down."""

from __future__ import annotations

from typing import Any

import pytest

from forum import create_app
from tests.celery_worker import REDIS_URL
from tests.celery_worker import redis_available
from tests.conftest import missing_service
from tests.workers import free_port


def closed_port_url(scheme: str, path: str = "/0") -> str:
    """A URL on a loopback port nothing listens on (taken, then let go)."""
    return f"{scheme}://127.0.0.1:{free_port()}{path}"


@pytest.fixture
def app_settings(request) -> dict[str, Any]:
    return getattr(request, "param", {})


@pytest.fixture
def redis_up() -> None:
    if not redis_available(REDIS_URL):
        missing_service(f"Redis at {REDIS_URL}")


def test_without_redis_only_the_database_is_checked(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert "redis" not in body
    assert list(body["checks"]) == ["database"]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["ms"] >= 0
    assert response.headers["Server-Timing"].startswith("database;dur=")


@pytest.mark.parametrize("app_settings", [{"CELERY_BROKER_URL": REDIS_URL}], indirect=True)
def test_with_the_database_and_redis_up_both_pass_with_their_times(client, redis_up):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["database"], body["redis"]) == ("ok", "ok", "ok")
    assert set(body["checks"]) == {"database", "redis"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert isinstance(check["ms"], float | int) and check["ms"] >= 0
    assert "failed" not in body
    timing = response.headers["Server-Timing"]
    assert "database;dur=" in timing and "redis;dur=" in timing
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "app_settings", [{"CELERY_BROKER_URL": closed_port_url("redis")}], indirect=True
)
def test_an_unreachable_broker_is_named_in_a_503(client):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error"
    assert body["failed"] == ["redis"]
    assert body["database"] == "ok"
    assert body["redis"] == "unreachable"
    assert body["checks"]["redis"]["settings"] == ["CELERY_BROKER_URL"]
    # The URL itself is never shown (it may carry a password).
    assert "127.0.0.1" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "app_settings",
    [{"CELERY_BROKER_URL": REDIS_URL, "FORUM_CACHE_URL": closed_port_url("redis", "/1")}],
    indirect=True,
)
def test_the_setting_whose_redis_is_down_is_the_one_named(client, redis_up):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["redis"]
    assert body["checks"]["redis"]["settings"] == ["FORUM_CACHE_URL"]


def test_an_unreachable_database_is_named_in_a_503_and_livez_still_answers(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": closed_port_url("postgresql", "/forum"),
        }
    )
    app.instance_path = str(tmp_path / "instance")
    client = app.test_client()

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.get_json()
    assert (body["status"], body["database"], body["failed"]) == (
        "error",
        "unreachable",
        ["database"],
    )
    assert body["checks"]["database"]["status"] == "unreachable"

    live = client.get("/livez")
    assert live.status_code == 200
    assert live.get_json() == {"status": "ok"}
