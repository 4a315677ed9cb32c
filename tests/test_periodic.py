"""Periodic jobs without a broker: the schedule run by the web process, and `run-periodic`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from config import ConfigError
from forum import create_app
from forum.db import now_utc
from forum.extensions import db
from forum.jobs import BEAT_SCHEDULE
from forum.jobs.periodic import ScheduleLock
from forum.jobs.periodic import Scheduler
from forum.jobs.periodic import periodic_jobs
from forum.providers.models import HostUsage
from forum.providers.models import ProviderAccount
from tests.factories import SESSIONS
from tests.factories import make_event
from tests.factories import make_session
from tests.test_meetings import HOSTS
from tests.test_meetings import add_zoom
from tests.test_meetings import zoom  # noqa: F401  (the fake Zoom fixture)
from tests.test_meetings import zoom_event
from tests.test_outbound_webhooks import Receiver
from tests.test_outbound_webhooks import deliveries
from tests.test_outbound_webhooks import make_due
from tests.test_outbound_webhooks import subscribe

# The scheduler on, as it is by default without a broker outside tests, every job every
# fifth of a second instead of every minute or hour.
WITH_SCHEDULER = {
    "FORUM_ALLOW_PRIVATE_URLS": True,
    "FORUM_INLINE_SCHEDULER": True,
    "FORUM_PERIODIC_EVERY_SECONDS": 0.2,
}


def wait_until(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """Poll until ``check()`` holds; fail naming ``what`` after a generous time."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)


def periodic_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "forum-periodic" and t.is_alive()]


@pytest.fixture
def app_settings(request) -> dict[str, Any]:
    return getattr(request, "param", {"FORUM_ALLOW_PRIVATE_URLS": True})


@pytest.fixture
def scheduler(app: Flask) -> Iterator[Scheduler]:
    """The app's scheduler, stopped before the test's rows are deleted."""
    running = app.extensions["forum_scheduler"]
    yield running
    running.stop()
    assert not running.running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def fill_daily_quota(app: Flask) -> None:
    with app.app_context():
        account = db.session.scalar(sa.select(ProviderAccount))
        db.session.add(
            HostUsage(account_id=account.id, host=HOSTS[0], day=now_utc().date(), count=100)
        )
        db.session.commit()


def reset_daily_quota(app: Flask) -> None:
    """A new UTC day: the hosts' counts start again."""
    with app.app_context():
        db.session.execute(sa.delete(HostUsage))
        db.session.commit()


def meeting_status(api, session_id: int) -> str:
    return api.get(f"{SESSIONS}/{session_id}").get_json()["meeting"]["status"]


# --- the scheduler in the web process --------------------------------------------------------


@pytest.mark.parametrize("app_settings", [WITH_SCHEDULER], indirect=True)
def test_a_webhook_the_receiver_refused_is_delivered_once_its_retry_is_due(
    app, api, receiver, scheduler
):
    receiver.statuses = [500]
    subscription = subscribe(api, receiver, "session.scheduled")
    assert scheduler.running  # started by the first request, without a broker
    make_session(api, make_event(api)["id"])
    [pending] = deliveries(api, subscription["id"])
    assert (pending["status"], pending["last_status_code"]) == ("pending", 500)

    make_due(app)

    wait_until(
        lambda: deliveries(api, subscription["id"])[0]["status"] == "delivered",
        "the retry to be delivered",
    )
    [delivered] = deliveries(api, subscription["id"])
    assert [a["status_code"] for a in delivered["attempt_log"]] == [500, 200]
    events = receiver.events()
    assert len(events) == 2 and events[0]["id"] == events[1]["id"]


@pytest.mark.parametrize("app_settings", [WITH_SCHEDULER], indirect=True)
def test_a_deferred_meeting_is_opened_once_the_quota_resets(app, api, runner, zoom, scheduler):  # noqa: F811
    add_zoom(runner, zoom, hosts=HOSTS[:1])
    fill_daily_quota(app)
    session = make_session(api, zoom_event(api)["id"])
    assert session["meeting"]["status"] == "deferred"
    assert scheduler.running

    reset_daily_quota(app)

    wait_until(lambda: meeting_status(api, session["id"]) == "created", "the meeting")
    assert len(zoom.app.state.meetings) == 1


@pytest.mark.parametrize("app_settings", [WITH_SCHEDULER], indirect=True)
def test_the_scheduler_stops_cleanly_and_lets_another_process_take_over(app, api, scheduler):
    api.get("/api/v1/events")
    assert scheduler.running and scheduler.lock.held
    # Another process (a second server worker) waits for the lock rather than run the jobs too.
    other = ScheduleLock(app)
    assert not other.acquire()

    scheduler.stop()

    assert not scheduler.running and not periodic_threads()
    assert other.acquire()
    other.release()


def test_the_schedule_is_the_one_celery_beat_reads(app):
    assert app.extensions["celery"].conf.beat_schedule == BEAT_SCHEDULE
    jobs = {job.name: (job.task, job.every) for job in periodic_jobs(app)}
    assert jobs["deliver-due-webhooks"] == ("forum.deliver_due_webhooks", 60.0)
    assert jobs["retry-deferred-meetings"] == ("forum.retry_deferred_meetings", 900.0)
    assert jobs["send-due-emails"] == ("forum.send_due_emails", 60.0)
    assert set(jobs) == set(BEAT_SCHEDULE)


def test_tests_run_no_scheduler_unless_they_ask(app, client):
    client.get("/")
    assert "forum_scheduler" not in app.extensions
    assert not periodic_threads()


def test_with_a_broker_celery_beat_runs_the_schedule_not_the_web_process(database_url):
    # Not a test app (where the scheduler is off anyway): only the broker keeps it off.
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "CELERY_BROKER_URL": "memory://",
            "FORUM_INLINE_SCHEDULER": None,
        }
    )
    app.test_client().get("/")
    assert "forum_scheduler" not in app.extensions
    assert not periodic_threads()
    with app.app_context():
        db.engine.dispose()

    with pytest.raises(ConfigError, match="FORUM_INLINE_SCHEDULER .* CELERY_BROKER_URL"):
        create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database_url,
                "CELERY_BROKER_URL": "memory://",
                "FORUM_INLINE_SCHEDULER": True,
            }
        )


# --- `forum run-periodic --once`, for cron -------------------------------------------------------


def test_run_periodic_once_delivers_due_webhooks_and_opens_deferred_meetings(
    app,
    api,
    runner,
    receiver,
    zoom,  # noqa: F811
):
    receiver.statuses = [500]
    subscription = subscribe(api, receiver, "session.scheduled")
    add_zoom(runner, zoom, hosts=HOSTS[:1])
    fill_daily_quota(app)
    session = make_session(api, zoom_event(api)["id"])
    assert session["meeting"]["status"] == "deferred"
    assert deliveries(api, subscription["id"])[0]["status"] == "pending"
    make_due(app)
    reset_daily_quota(app)

    result = runner.invoke(args=["forum", "run-periodic", "--once"])

    assert result.exit_code == 0, result.output
    assert "deliver-due-webhooks: 1" in result.output
    assert "retry-deferred-meetings: 1" in result.output
    assert deliveries(api, subscription["id"])[0]["status"] == "delivered"
    assert len(receiver.received) == 2
    assert meeting_status(api, session["id"]) == "created"


def test_a_failing_job_is_logged_and_the_others_still_run(app, api, runner, receiver, caplog):
    receiver.statuses = [500]
    subscription = subscribe(api, receiver, "session.scheduled")
    make_session(api, make_event(api)["id"])
    make_due(app)
    # An entry whose task cannot run: it takes the id of a delivery, and the schedule gives none.
    app.extensions["celery"].conf.beat_schedule = {
        "broken": {"task": "forum.process_delivery", "schedule": 60.0},
        **BEAT_SCHEDULE,
    }

    result = runner.invoke(args=["forum", "run-periodic", "--once"])

    assert result.exit_code == 1
    assert "broken: failed" in result.output
    assert "deliver-due-webhooks: 1" in result.output
    assert deliveries(api, subscription["id"])[0]["status"] == "delivered"
    assert "periodic job broken (forum.process_delivery) failed" in caplog.text
