"""Mail that never stops silently: retries, failures with their reason, and rows that cannot
be built, through a real SMTP server on loopback, the job, `forum send-pending` and the pages.
"""

from __future__ import annotations

import datetime as dt
import html
import time
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import downgrade
from flask_migrate import upgrade

from forum import create_app
from forum.db import now_utc
from forum.directory.models import Person
from forum.events.models import EventSession
from forum.extensions import db
from forum.jobs.tasks import send_due_emails
from forum.notifications import dispatch
from forum.notifications.models import EMAIL_STATUSES
from forum.notifications.models import EmailMessage
from tests.celery_worker import REDIS_URL
from tests.celery_worker import purge_queue
from tests.celery_worker import redis_available
from tests.celery_worker import running_worker
from tests.celery_worker import unique_queue
from tests.conftest import _require_smtp_tools
from tests.conftest import csrf_token
from tests.conftest import missing_service
from tests.factories import SESSIONS
from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session
from tests.smtp_server import SmtpServer
from tests.smtp_server import _Handler
from tests.smtp_server import smtp_settings

GREYLISTED = "grey@umich.example.org"
GONE = "gone@umich.example.org"


@dataclass
class _DeferringHandler(_Handler):
    """Answers 451 (try again later) to each address in ``defer`` that many times first."""

    defer: dict[str, int] = field(default_factory=dict)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # noqa: N802
        with self.lock:
            left = self.defer.get(address, 0)
            if left:
                self.defer[address] = left - 1
        if left:
            return "451 4.7.1 Greylisted, please try again later"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


@pytest.fixture
def smtp_server(tmp_path) -> Iterator[SmtpServer]:
    """The loopback SMTP server, answering 451 once to GREYLISTED and 550 to GONE."""
    _require_smtp_tools()
    server = SmtpServer(folder=tmp_path)
    server._handler = _DeferringHandler(refuse=frozenset({GONE}), defer={GREYLISTED: 1})
    with server:
        yield server


@pytest.fixture
def app_settings(smtp_server: SmtpServer) -> dict[str, Any]:
    return smtp_settings(smtp_server)


@pytest.fixture
def people(api) -> dict[str, dict[str, Any]]:
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    umich = make_institution(api, "University of Michigan", "US", "America/Detroit")
    return {
        "li": make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"]),
        "ben": make_person(api, "Ben Okafor", "ben@pku.example.org", pku["id"]),
        "ana": make_person(api, "Ana Silva", "ana@umich.example.org", umich["id"]),
        "grey": make_person(api, "Grey Lister", GREYLISTED, umich["id"]),
        "gone": make_person(api, "Gone Away", GONE, umich["id"]),
    }


def book(api, title: str, *persons: dict[str, Any]) -> dict[str, Any]:
    event = make_event(api, title="PKU-Michigan exchange", kind="exchange")
    return make_session(api, event["id"], title=title, invitees=[invitee(p) for p in persons])


def recipients(server: SmtpServer) -> list[str]:
    return [rcpt for received in server.received for rcpt in received.rcpt_tos]


def messages_to(app: Flask, address: str) -> list[EmailMessage]:
    with app.app_context():
        found = db.session.scalars(
            sa.select(EmailMessage)
            .where(EmailMessage.recipient == address)
            .order_by(EmailMessage.id)
        ).all()
        db.session.expunge_all()
        return list(found)


def make_due(app: Flask) -> None:
    """Move time on: every retry waiting is due now."""
    with app.app_context():
        db.session.execute(
            sa.update(EmailMessage)
            .where(EmailMessage.status == "retrying")
            .values(next_attempt_at=now_utc() - dt.timedelta(seconds=1))
        )
        db.session.commit()


def email_status(api, session_id: int) -> dict[str, Any]:
    response = api.get(f"{SESSIONS}/{session_id}/invitations")
    assert response.status_code == 200
    return {item["email"]: item["email_status"] for item in response.get_json()["items"]}


def log_in(client: FlaskClient, address: str = "organiser@example.org") -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"email": address, "password": "secret-password", "csrf_token": csrf_token(page.text)},
    )
    assert response.status_code == 302


# --- the mail server says "later", "never", or nothing at all --------------------------------


def test_a_greylisted_recipient_is_retried_then_sent(app, api, people, smtp_server):
    before = now_utc()
    session = book(api, "Case conference", people["ana"], people["grey"])
    assert recipients(smtp_server) == ["ana@umich.example.org"]

    [waiting] = messages_to(app, GREYLISTED)
    assert (waiting.status, waiting.attempts) == ("retrying", 1)
    assert "451 4.7.1 Greylisted" in waiting.error
    # The first pause of the schedule: a minute.
    assert before + dt.timedelta(minutes=1) <= waiting.next_attempt_at
    assert waiting.next_attempt_at <= now_utc() + dt.timedelta(minutes=1)
    shown = email_status(api, session["id"])[GREYLISTED]
    assert shown["status"] == "retrying"
    assert shown["attempts"] == 1
    assert "451" in shown["error"]
    assert shown["next_attempt_at"].endswith("Z")
    assert shown["sent_at"] is None

    # Not due yet: the periodic job leaves it.
    assert send_due_emails()["sent"] == 0
    assert recipients(smtp_server) == ["ana@umich.example.org"]

    make_due(app)
    assert send_due_emails() == {"sent": 1, "failed": 0, "retrying": 0, "skipped": 0}
    assert recipients(smtp_server) == ["ana@umich.example.org", GREYLISTED]
    [sent] = messages_to(app, GREYLISTED)
    assert (sent.status, sent.attempts, sent.error, sent.next_attempt_at) == ("sent", 2, None, None)
    shown = email_status(api, session["id"])[GREYLISTED]
    assert shown["status"] == "sent"
    assert shown["sent_at"].endswith("Z")


def test_a_refused_recipient_fails_for_good_with_the_reason(app, api, people, smtp_server, runner):
    session = book(api, "Case conference", people["ana"], people["gone"])
    [refused] = messages_to(app, GONE)
    assert refused.status == "failed"
    assert "550 5.1.1 No such mailbox here" in refused.error
    assert refused.next_attempt_at is None

    # Never tried again, by the job or by send-pending --now.
    make_due(app)
    assert send_due_emails()["sent"] == 0
    result = runner.invoke(args=["forum", "send-pending", "--now"])
    assert "0 sent, 0 failed, 0 skipped (superseded or taken), 0 to retry" in result.output
    assert messages_to(app, GONE)[0].attempts == 1
    assert recipients(smtp_server) == ["ana@umich.example.org"]
    shown = email_status(api, session["id"])[GONE]
    assert shown["status"] == "failed"
    assert "550" in shown["error"]
    assert shown["next_attempt_at"] is None


def test_a_mail_server_down_is_retried_on_a_growing_schedule_then_given_up(
    app, api, people, smtp_server
):
    smtp_server.stop()  # its port is closed now: connection refused
    before = now_utc()
    book(api, "Case conference", people["li"])
    after = now_utc()
    for attempt, pause in enumerate(dispatch.RETRY_DELAYS, start=1):
        [message] = messages_to(app, "li.wei@pku.example.org")
        assert (message.status, message.attempts) == ("retrying", attempt)
        assert "connection refused" in message.error
        # Tried again that long after this attempt failed.
        assert before <= message.next_attempt_at - pause <= after
        make_due(app)
        before = now_utc()
        send_due_emails()
        after = now_utc()
    [message] = messages_to(app, "li.wei@pku.example.org")
    assert message.status == "failed"
    assert message.error.startswith(f"gave up after {dispatch.MAX_ATTEMPTS} attempts: ")
    assert "connection refused" in message.error


def test_send_pending_sends_what_is_due_and_now_what_waits(app, api, people, smtp_server, runner):
    smtp_server.stop()
    book(api, "Case conference", people["li"], people["ana"])
    smtp_server.start()

    result = runner.invoke(args=["forum", "send-pending"])
    assert result.exit_code == 0, result.output
    assert "0 sent, 0 failed, 0 skipped (superseded or taken), 0 to retry" in result.output
    assert "2 waiting to be retried, the next at 20" in result.output
    assert smtp_server.received == []

    result = runner.invoke(args=["forum", "send-pending", "--now"])
    assert result.exit_code == 0, result.output
    assert "2 sent, 0 failed, 0 skipped (superseded or taken), 0 to retry" in result.output
    assert sorted(recipients(smtp_server)) == ["ana@umich.example.org", "li.wei@pku.example.org"]
    assert "waiting" not in result.output


# --- rows that cannot be built ---------------------------------------------------------------

# A zone tzdata no longer has (dropped in 2020b): stored when it was valid, it cannot be
# written into an invitation now, and no retry will change that.
GONE_ZONE = "US/Pacific-New"
BUILD_FAILURE = "could not build the message: unknown time zone 'US/Pacific-New'"
# An address with letters outside ASCII, which mail servers need not accept (SMTPUTF8).
UNWRITABLE_ADDRESS = "zoë@exämple.org"
ADDRESS_FAILURE = (
    "could not build the message: 'zoë@exämple.org' holds 'ë', where only ASCII may go"
)


def set_person(app: Flask, person: dict[str, Any], **fields: Any) -> None:
    """Change a stored person directly, as an older version (or a hand edit) left them."""
    with app.app_context():
        stored = db.session.get(Person, person["id"])
        for name, value in fields.items():
            setattr(stored, name, value)
        db.session.commit()


def store_old_rows(app: Flask, api, people) -> dict[str, int]:
    """Rows as an older version left them: a name with a vertical tab and a title with a line
    separator (both once accepted, and once fatal to the builder), one message left in
    "sending" by the crash they caused, a person whose zone no longer exists, and a good
    message queued after them all."""
    plenary = book(api, "Plenary", people["li"], people["ana"], people["ben"])
    panel = book(api, "Panel", people["ana"])
    set_person(app, people["li"], name="Li\x0bWei")
    set_person(app, people["ben"], timezone=GONE_ZONE)
    with app.app_context():
        db.session.get(EventSession, panel["id"]).title = "Panel\u2028on climate"
        an_hour_ago = now_utc() - dt.timedelta(hours=1)

        def row(session: dict, person: dict, **fields: Any) -> EmailMessage:
            message = EmailMessage(
                session_id=session["id"],
                person_id=person["id"],
                kind="update",
                sequence=0,
                recipient=person["email"],
                **fields,
            )
            db.session.add(message)
            return message

        rows = {
            "stuck": row(plenary, people["li"], status="sending", claimed_at=an_hour_ago),
            "title": row(panel, people["ana"], status="pending"),
            "zone": row(plenary, people["ben"], status="pending"),
            "good": row(plenary, people["ana"], status="pending"),
        }
        db.session.commit()
        return {name: message.id for name, message in rows.items()}


@pytest.mark.parametrize("how", ["job", "send-pending"])
def test_a_row_that_cannot_be_built_fails_with_its_reason_and_the_rest_still_go(
    app, api, people, smtp_server, runner, how
):
    ids = store_old_rows(app, api, people)
    already = len(smtp_server.received)

    if how == "job":
        run = send_due_emails()
    else:
        result = runner.invoke(args=["forum", "send-pending"])
        assert result.exit_code == 1  # something failed for good: a cron job notices
        assert "Traceback" not in result.output
        assert f"email {ids['zone']} to ben@pku.example.org: {BUILD_FAILURE}" in result.output

    with app.app_context():
        rows = {name: db.session.get(EmailMessage, ids[name]) for name in ids}
        assert rows["zone"].status == "failed"
        assert rows["zone"].error.startswith(BUILD_FAILURE)
        assert rows["zone"].next_attempt_at is None
        assert rows["good"].status == "sent"
        # The rows that stopped every email after them once: now each goes (the builder
        # writes such names and titles on one line) or fails with its reason; none is
        # left in "sending", none holds the others back.
        for name in ("stuck", "title"):
            message = rows[name]
            assert message.status == "sent" or (
                message.status == "failed"
                and message.error.startswith("could not build the message: ")
            ), (name, message.status, message.error)
        statuses = [message.status for message in rows.values()]
    if how == "job":
        assert run["sent"] == statuses.count("sent")
        assert run["failed"] == statuses.count("failed")
    else:
        sent, failed = statuses.count("sent"), statuses.count("failed")
        counts = f"{sent} sent, {failed} failed, 0 skipped (superseded or taken), 0 to retry"
        assert counts in result.output
    assert [r.rcpt_tos for r in smtp_server.received[already:]].count(
        ["ana@umich.example.org"]
    ) >= 1
    assert "ben@pku.example.org" not in recipients(smtp_server)[already:]
    # Recorded, so a second pass finds nothing to do.
    assert send_due_emails() == {"sent": 0, "failed": 0, "retrying": 0, "skipped": 0}


def test_a_real_worker_runs_the_periodic_job_past_a_row_that_cannot_be_built(
    app, api, people, smtp_server, database_url
):
    if not redis_available(REDIS_URL):
        missing_service(f"Redis at {REDIS_URL}")
    ids = store_old_rows(app, api, people)
    queue = unique_queue()
    broker_app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": app.config["SECRET_KEY"],
            "CELERY_BROKER_URL": REDIS_URL,
            "FORUM_JOBS_QUEUE": queue,
        }
    )
    worker_env = {
        "MAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_SECURITY": "none",
        "MAIL_FROM": "forum <forum@forum.example.org>",
    }
    try:
        with running_worker(database_url, queue, extra_env=worker_env):
            # What beat sends every minute.
            broker_app.extensions["celery"].send_task("forum.send_due_emails", queue=queue)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with app.app_context():
                    left = db.session.scalar(
                        sa.select(sa.func.count(EmailMessage.id)).where(
                            EmailMessage.id.in_(ids.values()),
                            EmailMessage.status.in_(("pending", "sending")),
                        )
                    )
                if not left:
                    break
                time.sleep(0.1)
    finally:
        purge_queue(queue, REDIS_URL)
        with broker_app.app_context():
            db.engine.dispose()
    with app.app_context():
        zone = db.session.get(EmailMessage, ids["zone"])
        assert (zone.status, zone.error.startswith(BUILD_FAILURE)) == ("failed", True)
        assert db.session.get(EmailMessage, ids["good"]).status == "sent"
        assert db.session.get(EmailMessage, ids["stuck"]).status in ("sent", "failed")


def test_a_row_that_cannot_be_built_fails_at_booking_without_stopping_the_others(
    app, api, people, smtp_server
):
    set_person(app, people["ben"], email=UNWRITABLE_ADDRESS)
    session = book(api, "Case conference", people["ben"], people["ana"])
    assert recipients(smtp_server) == ["ana@umich.example.org"]
    shown = email_status(api, session["id"])
    assert shown[UNWRITABLE_ADDRESS]["status"] == "failed"
    assert shown[UNWRITABLE_ADDRESS]["error"] == ADDRESS_FAILURE
    assert shown[UNWRITABLE_ADDRESS]["attempts"] == 1
    assert shown["ana@umich.example.org"]["status"] == "sent"


# --- what the organiser sees -----------------------------------------------------------------


def test_the_session_page_and_the_dashboard_show_a_failure_and_retry_fixes_it(
    app, api, people, smtp_server, client
):
    set_person(app, people["ben"], email=UNWRITABLE_ADDRESS)
    session = book(api, "Case conference", people["ben"], people["ana"])
    log_in(client)

    home = client.get("/").text
    assert "Invitations that could not be emailed" in home
    assert f'href="/sessions/{session["id"]}">Case conference</a>' in home
    assert "1 invitee not reached" in home

    response = client.get(f"/sessions/{session['id']}")
    assert response.status_code == 200
    page = response.text
    assert "Failed" in page
    assert ADDRESS_FAILURE in html.unescape(page)
    assert "Sent" in page  # Ana's
    [failed] = messages_to(app, UNWRITABLE_ADDRESS)
    retry = f"/sessions/{session['id']}/emails/{failed.id}/retry"
    assert f'action="{retry}"' in page

    # Without the form's token the retry is refused.
    assert client.post(retry).status_code == 400
    assert messages_to(app, UNWRITABLE_ADDRESS)[0].status == "failed"

    # The organiser corrects the address, then retries: it goes to the new one.
    set_person(app, people["ben"], email="ben@pku.example.org")
    response = client.post(retry, data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).text
    assert "The email to Ben Okafor is sent." in page
    assert recipients(smtp_server) == ["ana@umich.example.org", "ben@pku.example.org"]
    assert email_status(api, session["id"])["ben@pku.example.org"]["status"] == "sent"
    assert "Invitations that could not be emailed" not in client.get("/").text


def test_a_retrying_email_shows_when_it_is_tried_again(app, api, people, smtp_server, client):
    session = book(api, "Case conference", people["grey"])
    log_in(client)
    page = client.get(f"/sessions/{session['id']}").text
    assert "Retrying" in page
    assert "Attempt 1 failed: " in page
    [waiting] = messages_to(app, GREYLISTED)
    assert f'datetime="{waiting.next_attempt_at:%Y-%m-%dT%H:%M:%SZ}"' in page
    # A retry is not a failure: the dashboard has nothing to report.
    assert "Invitations that could not be emailed" not in client.get("/").text


def test_another_organisers_email_cannot_be_retried(
    app, api, people, smtp_server, client, make_organiser
):
    set_person(app, people["ben"], email=UNWRITABLE_ADDRESS)
    session = book(api, "Case conference", people["ben"])
    [message] = messages_to(app, UNWRITABLE_ADDRESS)
    make_organiser("other@example.org", name="Other Organiser")
    log_in(client, "other@example.org")
    page = client.get("/").text
    assert "Invitations that could not be emailed" not in page
    response = client.post(
        f"/sessions/{session['id']}/emails/{message.id}/retry",
        data={"csrf_token": csrf_token(page)},
    )
    assert response.status_code == 404
    assert messages_to(app, UNWRITABLE_ADDRESS)[0].status == "failed"


def test_the_openapi_document_describes_the_email_status(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    email = schemas["InvitationEmailOut"]
    assert set(email["properties"]) == {
        "status",
        "error",
        "attempts",
        "sent_at",
        "next_attempt_at",
    }
    assert email["properties"]["status"]["enum"] == list(EMAIL_STATUSES)
    assert "email_status" in schemas["InvitationOut"]["properties"]


# --- the migration ---------------------------------------------------------------------------


def test_the_migration_keeps_owed_emails_owed(empty_database):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade(revision="0006")
        with db.engine.begin() as connection:
            now = {"now": "2027-01-01 00:00:00"}
            organiser = connection.execute(
                sa.text(
                    "INSERT INTO organisers (email, name, timezone, is_admin, created_at)"
                    " VALUES ('o@example.org', 'O', 'UTC', false, :now) RETURNING id"
                ),
                now,
            ).scalar_one()
            person = connection.execute(
                sa.text(
                    "INSERT INTO people (name, email, timezone, role_title, working_hours,"
                    " acceptable_hours, link_version, revision, created_at, updated_at)"
                    " VALUES ('Li Wei', 'li@example.org', 'Asia/Shanghai', '', '{}', '{}',"
                    " 0, 0, :now, :now) RETURNING id"
                ),
                now,
            ).scalar_one()
            event = connection.execute(
                sa.text(
                    "INSERT INTO events (title, kind, description, owner_id, timezone,"
                    " default_provider, status, revision, created_at, updated_at)"
                    " VALUES ('E', 'forum', '', :owner, 'UTC', 'jitsi', 'active', 0, :now, :now)"
                    " RETURNING id"
                ),
                {**now, "owner": organiser},
            ).scalar_one()
            session = connection.execute(
                sa.text(
                    'INSERT INTO sessions (event_id, title, start, "end", timezone, exdates,'
                    " status, ical_uid, sequence, revision, created_at, updated_at)"
                    " VALUES (:event, 'S', :now, '2027-01-01 01:00:00', 'UTC', '[]',"
                    " 'scheduled', 'uid-1@example.org', 0, 0, :now, :now) RETURNING id"
                ),
                {**now, "event": event},
            ).scalar_one()
            for status in ("failed", "sent", "pending"):
                connection.execute(
                    sa.text(
                        "INSERT INTO email_messages (session_id, person_id, kind, sequence,"
                        " status, attempts, recipient, created_at)"
                        " VALUES (:session, :person, 'invite', 0, :status, 1,"
                        " 'li@example.org', :now)"
                    ),
                    {**now, "session": session, "person": person, "status": status},
                )
        upgrade()
        statuses = db.session.scalars(
            sa.select(EmailMessage.status).order_by(EmailMessage.id)
        ).all()
        # A failure used to mean "not sent yet": such an email is owed still, and retried.
        assert statuses == ["retrying", "sent", "pending"]
        assert dispatch.due_message_ids() == [1, 3]
        db.session.remove()
        # The new status is allowed, and an unknown one still refused.
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE email_messages SET status = 'lost'"))

        downgrade(revision="0006")
        with db.engine.connect() as connection:
            statuses = (
                connection.execute(sa.text("SELECT status FROM email_messages ORDER BY id"))
                .scalars()
                .all()
            )
        assert statuses == ["failed", "sent", "pending"]
        downgrade(revision="base")
        db.engine.dispose()
