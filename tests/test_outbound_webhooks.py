"""Outbound webhooks: subscriptions, signed deliveries to a real receiver on loopback, retries."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.server
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask

from forum import create_app
from forum.core import crypto
from forum.db import now_utc
from forum.events import calendars
from forum.events.models import Invitation
from forum.extensions import db
from forum.webhooks import outbound
from forum.webhooks.outbound import WebhookDelivery
from forum.webhooks.outbound import WebhookSubscription
from forum.webhooks.outbound_tasks import deliver_due_webhooks
from tests.celery_worker import REDIS_URL
from tests.celery_worker import purge_queue
from tests.celery_worker import redis_available
from tests.celery_worker import running_worker
from tests.celery_worker import unique_queue
from tests.conftest import ApiClient
from tests.conftest import missing_service
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.helpers import assert_error

SUBSCRIPTIONS = "/api/v1/webhook-subscriptions"

# --- the receiver's side, as the README shows it -----------------------------------------------

TOLERANCE_SECONDS = 300


def verify_forum_signature(
    secret: str, header: str | None, body: bytes, now: float | None = None
) -> bool:
    """True when ``Forum-Signature`` signs this raw body with the secret, within 5 minutes."""
    if not header:
        return False
    fields = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
        received = fields["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, received)


class Receiver:
    """An HTTP server on loopback that checks the signature of every POST it gets.

    ``statuses`` are the answers to give, in order; once used up it answers 200.
    """

    def __init__(self) -> None:
        self.secret = ""
        self.statuses: list[int] = []
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                            "valid": verify_forum_signature(
                                receiver.secret, self.headers.get("Forum-Signature"), body
                            ),
                        }
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/forum-hook"
        # A short poll interval: shutdown() waits for the loop to look at its flag.
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def events(self) -> list[dict[str, Any]]:
        assert all(r["valid"] for r in self.received), "a delivery with a bad signature"
        return [json.loads(r["body"]) for r in self.received]

    def wait_for(self, count: int, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} deliveries"
            time.sleep(0.05)


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def app_settings(request) -> dict[str, Any]:
    """Private addresses allowed (the receiver is on loopback); a test may pass others."""
    return getattr(request, "param", {"FORUM_ALLOW_PRIVATE_URLS": True})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def subscribe(api: ApiClient, receiver: Receiver, *types: str, **fields: Any) -> dict[str, Any]:
    body = {"url": receiver.url, "event_types": list(types or outbound.EVENT_TYPES), **fields}
    response = api.post(SUBSCRIPTIONS, json=body)
    assert response.status_code == 201, response.get_json()
    subscription = response.get_json()
    receiver.secret = subscription["secret"]
    return subscription


def deliveries(api: ApiClient, subscription_id: int) -> list[dict[str, Any]]:
    response = api.get(f"{SUBSCRIPTIONS}/{subscription_id}/deliveries")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def make_due(app: Flask) -> None:
    """Move time on: every pending delivery's next attempt is now in the past."""
    with app.app_context():
        db.session.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.status == "pending")
            .values(next_attempt_at=now_utc() - dt.timedelta(seconds=1))
        )
        db.session.commit()


# --- delivery ----------------------------------------------------------------------------------


def test_a_booking_reaches_the_receiver_signed_with_the_documented_body(api, receiver):
    subscription = subscribe(api, receiver, "session.scheduled")
    event = make_event(api)

    session = make_session(api, event["id"], title="Plenary: Cities and Climate")

    [received] = receiver.received
    assert received["valid"]
    assert received["path"] == "/forum-hook"
    headers = received["headers"]
    assert headers["Content-Type"] == "application/json"
    assert "forum" in headers["User-Agent"]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", headers["Forum-Signature"])
    body = json.loads(received["body"])
    assert set(body) == {"id", "type", "created", "api_version", "data"}
    assert re.fullmatch(r"evt_[0-9a-f]{32}", body["id"])
    assert body["type"] == "session.scheduled"
    assert body["api_version"] == "v1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["created"])
    assert body["data"] == {
        key: session[key]
        for key in (
            "id",
            "event_id",
            "title",
            "start",
            "end",
            "timezone",
            "ical_uid",
            "sequence",
            "status",
        )
    }
    [logged] = deliveries(api, subscription["id"])
    assert logged["event_id"] == body["id"]
    assert (logged["status"], logged["attempts"], logged["last_status_code"]) == (
        "delivered",
        1,
        200,
    )
    assert logged["payload"] == body
    assert [a["status_code"] for a in logged["attempt_log"]] == [200]


def test_a_signature_is_refused_when_body_secret_or_time_differ(api, receiver):
    subscribe(api, receiver, "session.scheduled")
    make_session(api, make_event(api)["id"])
    [received] = receiver.received
    header, body = received["headers"]["Forum-Signature"], received["body"]
    signed_at = int(header.split(",")[0].removeprefix("t="))

    assert verify_forum_signature(receiver.secret, header, body)
    assert not verify_forum_signature(receiver.secret, header, body + b" ")
    assert not verify_forum_signature("another-secret-of-enough-length", header, body)
    assert not verify_forum_signature(receiver.secret, header, body, now=signed_at + 301)
    assert not verify_forum_signature(receiver.secret, None, body)
    assert not verify_forum_signature(receiver.secret, "v1=abc", body)


def test_a_failing_receiver_gets_each_retry_once_until_it_answers(app, api, receiver):
    receiver.statuses = [500, 500]
    subscription = subscribe(api, receiver, "session.scheduled")
    make_session(api, make_event(api)["id"])
    assert len(receiver.received) == 1
    [pending] = deliveries(api, subscription["id"])
    assert (pending["status"], pending["attempts"], pending["last_status_code"]) == (
        "pending",
        1,
        500,
    )
    assert pending["next_attempt_at"] is not None

    # Not due yet: the sweep leaves it.
    assert deliver_due_webhooks() == 0
    assert len(receiver.received) == 1

    make_due(app)
    assert deliver_due_webhooks() == 1
    assert len(receiver.received) == 2
    make_due(app)
    assert deliver_due_webhooks() == 1
    assert len(receiver.received) == 3
    make_due(app)
    assert deliver_due_webhooks() == 0

    events = receiver.events()
    assert len(events) == 3
    assert len({e["id"] for e in events}) == 1
    [delivered] = deliveries(api, subscription["id"])
    assert (delivered["status"], delivered["attempts"]) == ("delivered", 3)
    assert [a["status_code"] for a in delivered["attempt_log"]] == [500, 500, 200]
    assert [a["number"] for a in delivered["attempt_log"]] == [1, 2, 3]
    assert all(a["duration_ms"] >= 0 for a in delivered["attempt_log"])
    assert delivered["delivered_at"] is not None
    assert delivered["next_attempt_at"] is None
    listed = api.get(SUBSCRIPTIONS).get_json()["items"][0]
    assert (listed["consecutive_failures"], listed["failing_since"]) == (0, None)


def test_retries_back_off_over_about_a_day_then_stop(app, api, receiver):
    assert outbound.MAX_ATTEMPTS == 10
    delays = [outbound.retry_delay(n) for n in range(1, outbound.MAX_ATTEMPTS)]
    assert delays[:3] == [60, 180, 540]
    assert delays == sorted(delays)
    assert 23 * 3600 < sum(delays) < 25 * 3600

    receiver.statuses = [503] * 20
    subscription = subscribe(api, receiver, "session.scheduled")
    make_session(api, make_event(api)["id"])
    for _ in range(outbound.MAX_ATTEMPTS):
        make_due(app)
        deliver_due_webhooks()

    assert len(receiver.received) == outbound.MAX_ATTEMPTS
    [failed] = deliveries(api, subscription["id"])
    assert (failed["status"], failed["attempts"], failed["next_attempt_at"]) == ("failed", 10, None)


def test_manual_redelivery_sends_the_same_event_again(api, receiver):
    subscription = subscribe(api, receiver, "session.scheduled")
    make_session(api, make_event(api)["id"])
    [delivery] = deliveries(api, subscription["id"])

    response = api.post(
        f"{SUBSCRIPTIONS}/{subscription['id']}/deliveries/{delivery['id']}/redeliver"
    )

    assert response.status_code == 202
    assert response.get_json()["attempts"] == 2
    first, again = receiver.events()
    assert first == again
    [logged] = deliveries(api, subscription["id"])
    assert [a["status_code"] for a in logged["attempt_log"]] == [200, 200]


def test_sustained_failure_disables_the_subscription_and_tells_the_organiser(app, api, receiver):
    receiver.statuses = [500] * 10
    subscription = subscribe(api, receiver, "session.scheduled", "session.cancelled")
    event = make_event(api)
    session = make_session(api, event["id"])
    make_session(api, event["id"], start="2027-03-11T13:00:00Z")
    assert len(receiver.received) == 2
    with app.app_context():
        stored = db.session.get(WebhookSubscription, subscription["id"])
        assert stored.consecutive_failures == 2
        # A day of failures, without waiting a day.
        stored.failing_since -= outbound.DISABLE_AFTER
        db.session.commit()
    make_due(app)

    deliver_due_webhooks()

    # The first retry failed and disabled it; the other pending delivery was stopped.
    assert len(receiver.received) == 3
    listed = api.get(SUBSCRIPTIONS).get_json()["items"][0]
    assert listed["active"] is False
    assert listed["disabled_at"] is not None
    assert "500" in listed["disabled_reason"]
    assert sorted(d["status"] for d in deliveries(api, subscription["id"])) == [
        "disabled",
        "disabled",
    ]
    [notice] = [
        m for m in app.extensions["forum_mail_sender"].messages if "webhook" in m["Subject"]
    ]
    assert notice["To"] == "organiser@example.org"
    assert "127.0.0.1" in notice["Subject"]
    text = notice.get_content()
    assert receiver.url in text
    assert "500" in text

    # Nothing more goes to it, and it cannot be redelivered to.
    api.delete(f"/api/v1/sessions/{session['id']}")
    make_due(app)
    deliver_due_webhooks()
    assert len(receiver.received) == 3
    first = deliveries(api, subscription["id"])[-1]
    redelivery = api.post(
        f"{SUBSCRIPTIONS}/{subscription['id']}/deliveries/{first['id']}/redeliver"
    )
    assert_error(redelivery, 409, "subscription_disabled")


def test_changes_cancellations_answers_and_provider_failures_are_sent(
    app, api, client, make_organiser, receiver
):
    co_organiser = make_organiser("co@example.org", name="Chen Co-organiser")
    subscribe(co_organiser, receiver)
    institution = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    person = make_person(api, "Li Wei", "li.wei@example.org", institution["id"])
    event = make_event(api, organisers=["co@example.org"])
    api.post(f"/api/v1/events/{event['id']}/participants", json={"person_id": person["id"]})
    session = make_session(api, event["id"])
    moved = api.patch(f"/api/v1/sessions/{session['id']}", json={"start": "2027-03-10T14:00:00Z"})
    assert moved.status_code == 200
    with app.app_context():
        invitation = db.session.scalar(
            sa.select(Invitation).where(Invitation.session_id == session["id"])
        )
        token = calendars.rsvp_token(invitation)
    assert client.post(f"/rsvp/{token}", data={"answer": "accepted"}).status_code == 303
    assert api.delete(f"/api/v1/sessions/{session['id']}").status_code in (200, 204)
    zoom_event = make_event(
        api, title="PKU-UTokyo", default_provider="zoom", organisers=["co@example.org"]
    )
    on_zoom = make_session(api, zoom_event["id"], start="2027-04-01T08:00:00Z")

    events = receiver.events()
    assert [e["type"] for e in events] == [
        "session.scheduled",
        "session.rescheduled",
        "rsvp.updated",
        "session.cancelled",
        "session.scheduled",
        "provider.error",
    ]
    assert len({e["id"] for e in events}) == len(events)
    rescheduled = events[1]["data"]
    assert (rescheduled["start"], rescheduled["sequence"]) == ("2027-03-10T14:00:00Z", 1)
    assert events[2]["data"] == {
        "session_id": session["id"],
        "person_id": person["id"],
        "email": "li.wei@example.org",
        "rsvp": "accepted",
    }
    assert (events[3]["data"]["status"], events[3]["data"]["sequence"]) == ("cancelled", 2)
    error = events[5]["data"]
    assert (error["session_id"], error["provider"], error["status"]) == (
        on_zoom["id"],
        "zoom",
        "failed",
    )
    assert "forum provider add" in error["error"]


def test_only_the_asked_for_types_are_sent(api, receiver):
    subscribe(api, receiver, "session.cancelled")
    session = make_session(api, make_event(api)["id"])
    assert receiver.received == []

    api.delete(f"/api/v1/sessions/{session['id']}")

    assert [e["type"] for e in receiver.events()] == ["session.cancelled"]


def test_an_unreadable_secret_is_a_failed_attempt_not_a_failing_job(app, api, receiver):
    subscription = subscribe(api, receiver, "session.scheduled", "session.cancelled")
    session = make_session(api, make_event(api)["id"])
    with app.app_context():
        # As if FORUM_ENCRYPTION_KEY had changed since the subscription was made.
        db.session.get(WebhookSubscription, subscription["id"]).secret = crypto.encrypt(
            {"secret": "x"}, encryption_key="", secret_key="another-secret-key"
        )
        db.session.commit()

    api.delete(f"/api/v1/sessions/{session['id']}")

    assert len(receiver.received) == 1
    latest = deliveries(api, subscription["id"])[0]
    assert latest["type"] == "session.cancelled"
    assert (latest["status"], latest["attempts"], latest["last_status_code"]) == (
        "pending",
        1,
        None,
    )
    assert "cannot be decrypted" in latest["last_error"]


def test_emit_takes_known_types_and_plain_json_only(app):
    with app.app_context():
        with pytest.raises(ValueError, match="unknown webhook event type"):
            outbound.emit("session.moved", {}, organiser_ids=[1])
        with pytest.raises(TypeError, match="plain JSON"):
            outbound.event_body("evt_1", "session.scheduled", now_utc(), {"at": now_utc()})


# --- subscriptions -----------------------------------------------------------------------------


def test_the_secret_is_shown_once_and_stored_encrypted(app, api, receiver):
    subscription = subscribe(api, receiver, "session.scheduled")
    secret = subscription["secret"]
    assert len(secret.removeprefix("whsec_")) >= 43  # 32 random bytes, base64

    listed = api.get(SUBSCRIPTIONS).get_json()
    assert listed["total"] == 1
    assert "secret" not in listed["items"][0]
    assert listed["items"][0]["url"] == receiver.url
    assert secret not in api.get(SUBSCRIPTIONS).get_data(as_text=True)
    with app.app_context():
        stored = db.session.get(WebhookSubscription, subscription["id"]).secret
        assert secret not in stored
        assert crypto.decrypt(stored, **outbound._keys())["secret"] == secret
    make_session(api, make_event(api)["id"])
    assert secret not in api.get(f"{SUBSCRIPTIONS}/{subscription['id']}/deliveries").text


def test_a_secret_of_ones_own_signs_the_deliveries(api, receiver):
    chosen = "my-receiver-secret-0123456789abcdef"
    subscription = subscribe(api, receiver, "session.scheduled", secret=chosen)
    assert subscription["secret"] == chosen

    make_session(api, make_event(api)["id"])

    assert receiver.received[0]["valid"]


def test_another_organisers_subscription_is_not_found(api, make_organiser, receiver):
    subscription = subscribe(api, receiver, "session.scheduled")
    make_session(api, make_event(api)["id"])
    [delivery] = deliveries(api, subscription["id"])
    other = make_organiser("other@example.org", name="Otto Other")
    base = f"{SUBSCRIPTIONS}/{subscription['id']}"

    assert other.get(SUBSCRIPTIONS).get_json()["total"] == 0
    assert_error(other.get(f"{base}/deliveries"), 404, "not_found")
    assert_error(other.post(f"{base}/deliveries/{delivery['id']}/redeliver"), 404, "not_found")
    assert_error(other.delete(base), 404, "not_found")
    assert len(receiver.received) == 1
    assert api.get(SUBSCRIPTIONS).get_json()["total"] == 1


def test_a_delivery_of_another_subscription_is_not_found(api, receiver):
    first = subscribe(api, receiver, "session.scheduled")
    second = subscribe(api, receiver, "session.cancelled")
    make_session(api, make_event(api)["id"])
    [delivery] = deliveries(api, first["id"])

    response = api.post(f"{SUBSCRIPTIONS}/{second['id']}/deliveries/{delivery['id']}/redeliver")

    assert_error(response, 404, "not_found")


def test_deleting_a_subscription_stops_its_deliveries(app, api, receiver, row_count):
    receiver.statuses = [500]
    subscription = subscribe(api, receiver, "session.scheduled")
    make_session(api, make_event(api)["id"])

    assert api.delete(f"{SUBSCRIPTIONS}/{subscription['id']}").status_code == 204

    assert api.get(SUBSCRIPTIONS).get_json()["total"] == 0
    assert row_count("webhook_deliveries") == 0
    assert row_count("webhook_delivery_attempts") == 0
    make_due(app)
    assert deliver_due_webhooks() == 0
    make_session(api, make_event(api)["id"])
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://169.254.169.254/latest", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("ftp://hooks.example.org/forum", "http or https"),
        ("https://user:password@hooks.example.org/forum", "user name or password"),
        ("https://hooks.example.org/for um", "spaces"),
        ("https:///forum", "host"),
        ("https://hooks.example.org:port/", "not a valid URL"),
    ],
)
def test_urls_refused_even_when_private_addresses_are_allowed(api, row_count, url, problem):
    response = api.post(SUBSCRIPTIONS, json={"url": url, "event_types": ["session.scheduled"]})

    error = assert_error(response, 422, "validation_error", "url")
    assert problem in error["details"]["fields"]["url"]
    assert row_count("webhook_subscriptions") == 0


@pytest.mark.parametrize("app_settings", [{"FORUM_ALLOW_PRIVATE_URLS": False}], indirect=True)
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://10.0.0.1/hook", "private"),
        ("http://169.254.169.254/latest", "link-local"),
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://2130706433/hook", "loopback"),
    ],
)
def test_private_and_loopback_urls_are_refused_by_default(api, row_count, url, problem):
    response = api.post(SUBSCRIPTIONS, json={"url": url, "event_types": ["session.scheduled"]})

    error = assert_error(response, 422, "validation_error", "url")
    assert problem in error["details"]["fields"]["url"]
    assert row_count("webhook_subscriptions") == 0


@pytest.mark.parametrize("app_settings", [{"FORUM_ALLOW_PRIVATE_URLS": False}], indirect=True)
def test_a_name_that_resolves_to_loopback_is_refused_when_sending(api, receiver):
    url = receiver.url.replace("127.0.0.1", "localhost")
    response = api.post(SUBSCRIPTIONS, json={"url": url, "event_types": ["session.scheduled"]})
    assert response.status_code == 201

    make_session(api, make_event(api)["id"])

    assert receiver.received == []
    [delivery] = deliveries(api, response.get_json()["id"])
    assert delivery["status"] == "pending"
    assert delivery["last_status_code"] is None
    assert "loopback" in delivery["last_error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://hooks.example.org/forum", "event_types": []}, "event_types"),
        ({"url": "https://hooks.example.org/forum", "event_types": ["session.moved"]}, None),
        ({"url": "https://hooks.example.org/forum"}, "event_types"),
        ({"event_types": ["session.scheduled"]}, "url"),
        (
            {
                "url": "https://hooks.example.org/forum",
                "event_types": ["session.scheduled"],
                "secret": "too-short",
            },
            "secret",
        ),
    ],
)
def test_subscription_bodies_are_checked(api, row_count, body, field):
    response = api.post(SUBSCRIPTIONS, json=body)

    error = assert_error(response, 422, "validation_error")
    if field is None:
        assert any(name.startswith("event_types") for name in error["details"]["fields"])
    else:
        assert field in error["details"]["fields"]
    assert row_count("webhook_subscriptions") == 0


# --- with a real worker ------------------------------------------------------------------------


@pytest.fixture
def redis_queue() -> Iterator[str]:
    if not redis_available():
        missing_service(f"Redis at {REDIS_URL}")
    queue = unique_queue()
    yield queue
    purge_queue(queue)


def test_a_real_worker_delivers_the_event(app, api, database_url, receiver, redis_queue):
    subscribe(api, receiver, "session.scheduled")
    # `app` empties the tables afterwards; this second app sends its jobs to Redis.
    broker_app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key",
            "CELERY_BROKER_URL": REDIS_URL,
            "FORUM_JOBS_QUEUE": redis_queue,
            "FORUM_ALLOW_PRIVATE_URLS": True,
        }
    )
    queued = redis.Redis.from_url(REDIS_URL)
    try:
        broker_api = ApiClient(broker_app.test_client(), api.token, api.organiser_id)
        session = make_session(broker_api, make_event(broker_api)["id"])
        assert receiver.received == []
        assert queued.llen(redis_queue) >= 1

        with running_worker(
            database_url, redis_queue, extra_env={"FORUM_ALLOW_PRIVATE_URLS": "true"}
        ):
            receiver.wait_for(1)

        [event] = receiver.events()
        assert (event["type"], event["data"]["id"]) == ("session.scheduled", session["id"])
    finally:
        queued.close()
        broker_app.extensions["celery"].close()
        with broker_app.app_context():
            db.engine.dispose()
