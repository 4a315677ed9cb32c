"""Invite, update and cancel emails through a real SMTP server on loopback, and a real worker.

A weekly call anchored in Beijing (21:00 every Wednesday) across the US clock change of
14 March 2027: the Beijing recipient reads 21:00 every week, the Ann Arbor recipient reads
08:00 and then 09:00, and is told so.
"""

from __future__ import annotations

import email
import email.policy
import time
from typing import Any

import pytest
import sqlalchemy as sa

from forum import create_app
from forum.extensions import db
from forum.notifications.models import EmailMessage
from tests.calendars import check_email
from tests.celery_worker import REDIS_URL
from tests.celery_worker import purge_queue
from tests.celery_worker import redis_available
from tests.celery_worker import running_worker
from tests.celery_worker import unique_queue
from tests.conftest import ApiClient
from tests.conftest import missing_service
from tests.factories import SESSIONS
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.smtp_server import smtp_settings

WEEKLY_UTC = [
    "2027-03-10T13:00:00Z",
    "2027-03-17T13:00:00Z",
    "2027-03-24T13:00:00Z",
    "2027-03-31T13:00:00Z",
]


@pytest.fixture
def app_settings(smtp_server) -> dict[str, Any]:
    return smtp_settings(smtp_server)


@pytest.fixture
def people(api) -> dict[str, Any]:
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    umich = make_institution(api, "University of Michigan", "US", "America/Detroit")
    return {
        "li": make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"]),
        "smith": make_person(api, "Jane Smith", "jsmith@umich.example.org", umich["id"]),
    }


def book_weekly(api, people) -> dict[str, Any]:
    event = make_event(
        api, title="PKU-Michigan medical exchange", kind="exchange", timezone="Asia/Shanghai"
    )
    return make_session(
        api,
        event["id"],
        title="Case conference",
        local_start="2027-03-10T21:00:00",
        timezone="Asia/Shanghai",
        rrule="FREQ=WEEKLY;COUNT=4",
        invitees=[invitee(people["li"], "chair"), invitee(people["smith"], "speaker")],
    )


def by_recipient(server) -> dict[str, Any]:
    found = {}
    for received in server.received:
        [rcpt] = received.rcpt_tos
        found[rcpt] = received
    return found


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_invites_arrive_as_imip_with_times_for_each_recipient(api, people, smtp_server):
    book_weekly(api, people)
    received = by_recipient(smtp_server)
    assert set(received) == {"li.wei@pku.example.org", "jsmith@umich.example.org"}

    for address, item in received.items():
        assert item.mail_from == "forum@forum.example.org"
        message = email.message_from_bytes(item.raw, policy=email.policy.default)
        # multipart/mixed: [multipart/alternative: text, html, calendar], invite.ics
        assert message.get_content_type() == "multipart/mixed"
        alternative, attachment = message.get_payload()
        assert alternative.get_content_type() == "multipart/alternative"
        kinds = [part.get_content_type() for part in alternative.get_payload()]
        assert kinds == ["text/plain", "text/html", "text/calendar"]
        assert alternative.get_payload()[2].get_param("method") == "REQUEST"
        assert attachment.get_content_type() == "application/ics"
        assert attachment.get_filename() == "invite.ics"
        assert message["Reply-To"].addresses[0].addr_spec == "organiser@example.org"
        assert message["To"].addresses[0].addr_spec == address
        # The calendar parts: METHOD matches method=, and every parser agrees on the dates.
        check_email(item.raw, method="REQUEST", expect_utc=WEEKLY_UTC)

    li = email.message_from_bytes(
        received["li.wei@pku.example.org"].raw, policy=email.policy.default
    )
    li_text = text_of(li)
    assert li["Subject"].startswith("Invitation: Case conference (Wed 10 Mar 2027 21:00–22:00")
    assert "Wed 10 Mar 2027 21:00–22:00 (Beijing, Asia/Shanghai)" in li_text
    assert "Wed 10 Mar 2027 13:00–14:00 (UTC)" in li_text
    assert "America/Detroit" not in li_text  # nothing moves in Beijing

    smith = email.message_from_bytes(
        received["jsmith@umich.example.org"].raw, policy=email.policy.default
    )
    smith_text = text_of(smith)
    # Ann Arbor first: 08:00 EST on 10 March, then the home zone, then UTC.
    lines = [line.strip() for line in smith_text.splitlines()]
    at = lines.index("Wed 10 Mar 2027 08:00–09:00 (America/Detroit)")
    assert lines[at + 1 : at + 3] == [
        "Wed 10 Mar 2027 21:00–22:00 (Beijing, Asia/Shanghai)",
        "Wed 10 Mar 2027 13:00–14:00 (UTC)",
    ]
    assert "from Wed 17 Mar 2027 it is 09:00 in America/Detroit" in smith_text
    # RSVP links and the personal links, in text and HTML.
    for answer in ("accepted", "tentative", "declined"):
        assert f"?answer={answer}" in smith_text
    html = smith.get_body(preferencelist=("html",)).get_content()
    assert "webcal://" in smith_text and "webcal://" in html
    assert "/p/" in smith_text


def test_update_and_cancel_emails(api, people, smtp_server):
    session = book_weekly(api, people)
    api.patch(f"{SESSIONS}/{session['id']}", json={"title": "Case conference (oncology)"})
    [update, _] = smtp_server.received[2:]
    message = email.message_from_bytes(update.raw, policy=email.policy.default)
    assert message["Subject"].startswith("Updated invitation: Case conference (oncology)")
    check_email(update.raw, method="REQUEST", expect_utc=WEEKLY_UTC)

    api.delete(f"{SESSIONS}/{session['id']}")
    assert len(smtp_server.received) == 6
    for item in smtp_server.received[4:]:
        message = email.message_from_bytes(item.raw, policy=email.policy.default)
        assert message["Subject"].startswith("Cancelled: ")
        calendar_part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        assert calendar_part.get_param("method") == "CANCEL"
        check_email(item.raw, method="CANCEL", expect_utc=WEEKLY_UTC)
        assert "?answer=" not in text_of(message)  # nothing to answer


def test_a_mail_server_down_loses_no_booking_and_send_pending_catches_up(
    app, api, people, smtp_server, runner, row_count
):
    smtp_server.stop()
    session = book_weekly(api, people)  # still 201: emails are not part of the booking
    assert api.get(f"{SESSIONS}/{session['id']}").status_code == 200
    with app.app_context():
        statuses = db.session.scalars(sa.select(EmailMessage.status)).all()
        errors = db.session.scalars(sa.select(EmailMessage.error)).all()
    # A mail server that does not answer is a passing trouble: retried later, not given up.
    assert statuses == ["retrying", "retrying"]
    assert all("127.0.0.1" in (error or "") for error in errors)

    smtp_server.start()
    # --now: the server is back, so the retries need not wait for their time.
    result = runner.invoke(args=["forum", "send-pending", "--now"])
    assert result.exit_code == 0, result.output
    assert "2 sent, 0 failed" in result.output
    assert len(smtp_server.received) == 2
    # Sent once: a second run finds nothing.
    result = runner.invoke(args=["forum", "send-pending", "--now"])
    assert "0 sent, 0 failed, 0 skipped" in result.output
    assert len(smtp_server.received) == 2


def test_a_later_change_supersedes_an_unsent_invite(app, api, people, smtp_server, runner):
    smtp_server.stop()
    session = book_weekly(api, people)
    api.patch(f"{SESSIONS}/{session['id']}", json={"start": "2027-03-10T14:00:00Z"})
    smtp_server.start()
    result = runner.invoke(args=["forum", "send-pending", "--now"])
    assert "2 sent, 0 failed, 2 skipped" in result.output
    # Each person gets one email, with the new time.
    assert len(smtp_server.received) == 2
    for item in smtp_server.received:
        check_email(
            item.raw,
            method="REQUEST",
            expect_utc=[t.replace("T13:", "T14:") for t in WEEKLY_UTC],
        )


def test_a_real_worker_on_redis_sends_the_invites(app, api, people, smtp_server, database_url):
    if not redis_available(REDIS_URL):
        missing_service(f"Redis at {REDIS_URL}")
    queue = unique_queue()
    broker_app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": app.config["SECRET_KEY"],
            "MAIL_BACKEND": "memory",  # this process queues; the worker sends
            "CELERY_BROKER_URL": REDIS_URL,
            "FORUM_JOBS_QUEUE": queue,
        }
    )
    broker_api = ApiClient(broker_app.test_client(), api.token, api.organiser_id)
    worker_env = {
        "MAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_SECURITY": "none",
        "MAIL_FROM": "forum <forum@forum.example.org>",
    }
    try:
        with running_worker(database_url, queue, extra_env=worker_env):
            book_weekly(broker_api, people)
            deadline = time.monotonic() + 30
            while len(smtp_server.received) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        purge_queue(queue, REDIS_URL)
        with broker_app.app_context():
            db.engine.dispose()
    assert {r.rcpt_tos[0] for r in smtp_server.received} == {
        "li.wei@pku.example.org",
        "jsmith@umich.example.org",
    }
    for item in smtp_server.received:
        check_email(item.raw, method="REQUEST", expect_utc=WEEKLY_UTC)
    with app.app_context():
        assert db.session.scalars(sa.select(EmailMessage.status)).all() == ["sent", "sent"]
