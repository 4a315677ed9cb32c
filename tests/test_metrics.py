"""/metrics as Prometheus reads it: requests by endpoint (never by path), the webhook intake
and inbox, the job queue in Redis, emails and meetings that failed, and the token that
guards the page. Each number is read before and after something a user does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from forum.extensions import db
from forum.observability.metrics import PROVIDER_ERRORS_KEY
from forum.providers.fakes import webhooks as deliveries
from forum.webhooks import inbound
from forum.webhooks.models import InboxEntry
from tests.celery_worker import REDIS_URL
from tests.celery_worker import purge_queue
from tests.celery_worker import redis_available
from tests.celery_worker import unique_queue
from tests.conftest import _require_smtp_tools
from tests.conftest import missing_service
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.fake_setups.zoom import add_signing_account
from tests.smtp_server import SmtpServer
from tests.smtp_server import smtp_settings

SECRET = "zoom-secret-token-for-metrics"
GONE = "gone@umich.example.org"
QUEUE = unique_queue()
BROKER = {"CELERY_BROKER_URL": REDIS_URL, "FORUM_JOBS_QUEUE": QUEUE}
TOKEN = "metrics-token-for-the-tests-0123"


@pytest.fixture
def app_settings(request, tmp_path) -> Iterator[dict[str, Any]]:
    """Per test: nothing, BROKER (Redis, no worker), the token, or "smtp" (a loopback mail
    server that refuses GONE)."""
    wanted = getattr(request, "param", {})
    if wanted == "smtp":
        _require_smtp_tools()
        with SmtpServer(folder=tmp_path, refuse=(GONE,)) as server:
            yield smtp_settings(server)
        return
    if wanted == BROKER:
        if not redis_available(REDIS_URL):
            missing_service(f"Redis at {REDIS_URL}")
        purge_queue(QUEUE, REDIS_URL)
        redis.Redis.from_url(REDIS_URL).delete(PROVIDER_ERRORS_KEY)
        yield wanted
        purge_queue(QUEUE, REDIS_URL)
        redis.Redis.from_url(REDIS_URL).delete(PROVIDER_ERRORS_KEY)
        return
    yield wanted


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client, **headers: str) -> tuple[Samples, str]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, text


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_endpoint_and_status_class_never_by_path(client):
    before, _ = scrape(client)

    for _ in range(3):
        assert client.get("/livez").status_code == 200
    assert client.get("/api/v1/events/987654").status_code == 401
    assert client.get("/no-such-page-4242").status_code == 404
    assert client.open("/livez", method="BREW-4242").status_code == 405
    after, text = scrape(client)

    livez = {"endpoint": "observability.livez", "method": "GET", "status": "2xx"}
    assert (
        value(after, "forum_http_requests_total", **livez)
        - value(before, "forum_http_requests_total", **livez)
        == 3
    )
    timed = {"endpoint": "observability.livez", "status": "2xx"}
    name = "forum_http_request_duration_seconds_count"
    assert value(after, name, **timed) - value(before, name, **timed) == 3
    unmatched = {"endpoint": "unmatched", "method": "GET", "status": "4xx"}
    assert value(after, "forum_http_requests_total", **unmatched) >= 1
    assert any(
        dict(labels).get("status") == "4xx" and dict(labels)["endpoint"].startswith("api.")
        for (sample, labels) in after
        if sample == "forum_http_requests_total"
    )
    # Paths and their ids never become labels: one series per route, not per URL.
    assert "987654" not in text
    assert "no-such-page-4242" not in text
    assert "BREW-4242" not in text  # an unknown method counts as "other"
    assert (
        value(
            after, "forum_http_requests_total", endpoint="unmatched", method="other", status="4xx"
        )
        >= 1
    )
    assert value(after, "forum_metrics_source_up", source="database") == 1


@pytest.mark.parametrize("app_settings", [BROKER], indirect=True)
def test_the_webhook_intake_and_inbox_are_counted(app, client):
    with app.app_context():
        add_signing_account(SECRET)
    before, _ = scrape(client)
    assert value(before, "forum_webhook_inbox_entries", status="received") == 0
    assert value(before, "forum_webhook_oldest_waiting_seconds") == 0

    meeting = deliveries.zoom_meeting_object(92674392836, id_as_string=True, uuid="u1==")
    headers, body = deliveries.zoom_delivery(SECRET, "meeting.started", meeting)
    assert client.post("/webhooks/zoom", data=body, headers=headers).status_code == 200
    again = client.post("/webhooks/zoom", data=body, headers=headers)
    assert again.get_json() == {"received": 0, "duplicates": 1}
    bad_headers, bad_body = deliveries.zoom_delivery("not-the-secret", "meeting.ended", meeting)
    assert client.post("/webhooks/zoom", data=bad_body, headers=bad_headers).status_code == 401
    after, _ = scrape(client)

    def moved(name: str) -> float:
        return value(after, name, provider="zoom") - value(before, name, provider="zoom")

    assert moved("forum_webhook_facts_stored_total") == 1
    assert moved("forum_webhook_duplicates_total") == 1
    assert moved("forum_webhook_refused_total") == 1
    assert value(after, "forum_webhook_inbox_entries", status="received") == 1
    assert value(after, "forum_webhook_oldest_waiting_seconds") >= 0
    assert value(after, "forum_metrics_source_up", source="redis") == 1

    # Processed (no meeting of ours has that id: ignored), nothing waits any more.
    with app.app_context():
        assert inbound.drain() == 1
        assert db.session.scalar(sa.select(InboxEntry.status)) == "ignored"
    drained, _ = scrape(client)
    assert value(drained, "forum_webhook_inbox_entries", status="received") == 0
    assert value(drained, "forum_webhook_inbox_entries", status="ignored") == 1
    assert value(drained, "forum_webhook_oldest_waiting_seconds") == 0


@pytest.mark.parametrize("app_settings", [BROKER], indirect=True)
def test_jobs_waiting_in_redis_and_the_age_of_the_oldest(app, client, api):
    before, _ = scrape(client)
    assert value(before, "forum_jobs_waiting", queue=QUEUE) == 0
    assert value(before, "forum_jobs_oldest_waiting_seconds", queue=QUEUE) == 0

    # A booking queues its jobs (the meeting, the invitations); no worker takes them.
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    li = make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"])
    event = make_event(api)
    make_session(api, event["id"], invitees=[invitee(li, "chair")])
    waiting = redis.Redis.from_url(REDIS_URL).llen(QUEUE)
    assert waiting >= 1
    after, _ = scrape(client)

    assert value(after, "forum_jobs_waiting", queue=QUEUE) == waiting
    assert value(after, "forum_jobs_oldest_waiting_seconds", queue=QUEUE) >= 0
    # The age is read from the time forum writes into each job's headers.
    [oldest] = redis.Redis.from_url(REDIS_URL).lrange(QUEUE, -1, -1)
    assert isinstance(json.loads(oldest)["headers"]["forum_enqueued_at"], float)


@pytest.mark.parametrize("app_settings", ["smtp"], indirect=True)
def test_a_failed_email_is_counted(client, api):
    before, _ = scrape(client)
    assert value(before, "forum_emails", status="failed") == 0

    umich = make_institution(api, "University of Michigan", "US", "America/Detroit")
    ana = make_person(api, "Ana Silva", "ana@umich.example.org", umich["id"])
    gone = make_person(api, "Gone Away", GONE, umich["id"])
    event = make_event(api)
    make_session(api, event["id"], invitees=[invitee(ana, "chair"), invitee(gone)])
    after, _ = scrape(client)

    assert value(after, "forum_emails", status="failed") == 1
    assert value(after, "forum_emails", status="pending") == 0


def test_a_meeting_that_failed_and_its_provider_error_are_counted(client, api):
    before, _ = scrape(client)

    # No Zoom account is configured: opening the meeting (inline, no broker) fails.
    event = make_event(api)
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    li = make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"])
    session = make_session(api, event["id"], provider="zoom", invitees=[invitee(li, "chair")])
    assert session["meeting"]["status"] in ("pending", "failed")
    after, _ = scrape(client)

    assert value(after, "forum_meetings", provider="zoom", status="failed") == 1
    name = "forum_provider_errors_total"
    labels = {"provider": "zoom", "error": "ProviderError"}
    assert value(after, name, **labels) - value(before, name, **labels) == 1


@pytest.mark.parametrize("app_settings", [BROKER], indirect=True)
def test_with_redis_provider_errors_are_counted_where_every_process_reads_them(app, client, api):
    from forum.jobs.tasks import open_meeting

    event = make_event(api)
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    li = make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"])
    session = make_session(api, event["id"], provider="zoom", invitees=[invitee(li, "chair")])
    # The job a worker would run (here, in this process), on the shared count.
    open_meeting.apply(args=[session["id"]])
    after, _ = scrape(client)

    assert value(after, "forum_provider_errors_total", provider="zoom", error="ProviderError") == 1
    assert redis.Redis.from_url(REDIS_URL).hgetall(PROVIDER_ERRORS_KEY) == {
        b"zoom\tProviderError": b"1"
    }


@pytest.mark.parametrize("app_settings", [{"FORUM_METRICS_TOKEN": TOKEN}], indirect=True)
def test_the_token_guards_the_page_when_set(client):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert "forum_http_requests_total" not in wrong.get_data(as_text=True)

    samples, _ = scrape(client, Authorization=f"Bearer {TOKEN}")
    assert value(samples, "forum_metrics_source_up", source="database") == 1
