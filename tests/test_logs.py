"""JSON logs as a log store reads them: one object per line, each request's lines under the
request id its response names, the id carried into the jobs the request queued, and no
token, query string or webhook body in any line."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from forum.observability import logs
from tests.celery_worker import REDIS_URL
from tests.celery_worker import purge_queue
from tests.celery_worker import redis_available
from tests.celery_worker import running_worker
from tests.celery_worker import unique_queue
from tests.conftest import missing_service
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person

JSON_LOGS = {"FORUM_LOG_FORMAT": "json", "FORUM_ACCESS_LOG": True}
QUEUE = unique_queue()
NEW_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def app_settings(request) -> dict[str, Any]:
    return {**JSON_LOGS, **getattr(request, "param", {})}


@pytest.fixture
def log_text(app) -> Iterator[io.StringIO]:
    """What the app's JSON handler writes (it writes to stderr; here into a buffer)."""
    root = logging.getLogger()
    level = root.level
    [handler] = [h for h in root.handlers if h.get_name() == "forum"]
    buffer = io.StringIO()
    handler.setStream(buffer)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def access_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [line for line in lines(buffer) if line["logger"] == "forum.access"]


def test_a_request_is_one_json_line_under_the_id_its_response_names(client, log_text):
    response = client.get("/healthz?token=very-secret-value&page=2")

    request_id = response.headers["X-Request-ID"]
    assert NEW_ID.fullmatch(request_id)
    [line] = access_lines(log_text)
    assert line["request_id"] == request_id
    assert line["level"] == "INFO"
    assert line["time"].endswith("+00:00")  # UTC, ISO 8601
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert line["endpoint"] == "health.healthz"
    assert isinstance(line["duration_ms"], float)
    # No query string: tokens travel there.
    assert "very-secret-value" not in log_text.getvalue()
    assert "page=2" not in log_text.getvalue()


def test_a_sane_incoming_request_id_is_kept_and_echoed(client, log_text):
    response = client.get("/livez", headers={"X-Request-ID": "lb-7f3a.2026:12@edge+1=x"})

    assert response.headers["X-Request-ID"] == "lb-7f3a.2026:12@edge+1=x"
    [line] = access_lines(log_text)
    assert line["request_id"] == "lb-7f3a.2026:12@edge+1=x"


@pytest.mark.parametrize(
    "sent", ["two words", "a" * 129, "<script>alert(1)</script>", '{"level": "ERROR"}', "é"]
)
def test_an_unsafe_or_oversized_request_id_is_replaced(client, log_text, sent):
    response = client.get("/livez", headers={"X-Request-ID": sent})

    request_id = response.headers["X-Request-ID"]
    assert request_id != sent
    assert NEW_ID.fullmatch(request_id)
    [line] = access_lines(log_text)
    assert line["request_id"] == request_id
    assert sent not in log_text.getvalue()


def test_tokens_in_the_path_are_masked(client, log_text):
    client.get("/ical/feeds/secret-feed-token-value.ics")
    client.get("/p/secret-agenda-token-value")

    paths = [line["path"] for line in access_lines(log_text)]
    assert paths == ["/ical/feeds/<token>.ics", "/p/<token>"]
    assert "secret-feed-token-value" not in log_text.getvalue()
    assert "secret-agenda-token-value" not in log_text.getvalue()


def test_lines_logged_inside_a_request_carry_its_id_and_never_the_body(client, log_text):
    # No Zoom account: the delivery is refused, and the view logs why.
    response = client.post(
        "/webhooks/zoom",
        data=b'{"event": "meeting.started", "payload": {"email": "PRIVATE-BODY-MARKER"}}',
        headers={"Content-Type": "application/json", "X-Request-ID": "refused-delivery-1"},
    )

    assert response.status_code == 401
    refused = [line for line in lines(log_text) if line["logger"] == "forum.webhooks"]
    assert refused and all(line["request_id"] == "refused-delivery-1" for line in refused)
    assert refused[0]["level"] == "WARNING"
    assert "PRIVATE-BODY-MARKER" not in log_text.getvalue()


def test_the_text_format_leaves_logging_alone(database_url, tmp_path):
    from forum import create_app

    root = logging.getLogger()
    before = list(root.handlers)
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "FORUM_LOG_FORMAT": "text"}
    )
    app.instance_path = str(tmp_path)

    assert root.handlers == before
    assert NEW_ID.fullmatch(app.test_client().get("/livez").headers["X-Request-ID"])


@pytest.mark.parametrize(
    "app_settings",
    [{"CELERY_BROKER_URL": REDIS_URL, "FORUM_JOBS_QUEUE": QUEUE}],
    indirect=True,
)
def test_a_job_logs_under_the_id_of_the_request_that_queued_it(app, api, database_url, log_text):
    if not redis_available(REDIS_URL):
        missing_service(f"Redis at {REDIS_URL}")
    purge_queue(QUEUE, REDIS_URL)
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    li = make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"])
    event = make_event(api)
    # No Zoom account: the job that opens the meeting fails, and logs why.
    response = api.post(
        f"/api/v1/events/{event['id']}/sessions",
        json={
            "title": "Weekly call",
            "start": "2027-03-10T13:00:00Z",
            "duration_minutes": 60,
            "provider": "zoom",
            "invitees": [invitee(li, "chair")],
        },
        headers={"X-Request-ID": "booking-request-42"},
    )
    assert response.status_code == 201, response.get_json()
    assert response.headers["X-Request-ID"] == "booking-request-42"
    queued = [json.loads(m) for m in redis.Redis.from_url(REDIS_URL).lrange(QUEUE, 0, -1)]
    assert queued
    assert {m["headers"]["forum_request_id"] for m in queued} == {"booking-request-42"}

    try:
        with running_worker(
            database_url, QUEUE, extra_env={"FORUM_LOG_FORMAT": "json"}
        ) as worker_log:
            deadline = time.monotonic() + 60
            while True:
                found = [
                    json.loads(text)
                    for text in worker_log.read_text(errors="replace").splitlines()
                    if text.startswith("{") and "no zoom account" in text
                ]
                if found or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
    finally:
        purge_queue(QUEUE, REDIS_URL)
    assert found, "the worker logged no failure of the meeting"
    assert found[0]["request_id"] == "booking-request-42"
    assert found[0]["level"] == "WARNING"
    assert logs.request_id_var.get() is None
