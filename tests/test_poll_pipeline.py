"""From poll to meeting in one pipeline, on the production parts: a real Celery beat and two
real workers on Redis, the shipped fake Zoom over HTTP, a real SMTP server on loopback.

A poll on the engine's best three slots for the Peking University - University of Tokyo
bilateral; two of the three people asked answer from their links (one looks at the times
in another zone first); the reminder goes only to the third; finalising books the session,
opens the meeting on the fake Zoom and sends invitations every calendar parser reads alike;
the 24-hour reminder reaches each invitee once although both workers run the job at the same
moment; the meeting deleted on the fake Zoom is found by the pre-flight check.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from forum import create_app
from forum.core.times import format_instant
from forum.directory.models import Person
from forum.events import calendars
from forum.events.models import VideoMeeting
from forum.extensions import db
from forum.providers.fakes.base import RunningFake
from forum.reminders.models import PreflightCheck
from forum.reminders.models import SessionReminder
from tests.calendars import check_email
from tests.celery_worker import REDIS_URL
from tests.celery_worker import purge_queue
from tests.celery_worker import redis_available
from tests.celery_worker import running_beat
from tests.celery_worker import running_worker
from tests.celery_worker import unique_queue
from tests.conftest import ApiClient
from tests.conftest import missing_service
from tests.factories import created
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.fake_setups.zoom import ACCOUNT_ID
from tests.fake_setups.zoom import CLIENT_ID
from tests.fake_setups.zoom import CLIENT_SECRET
from tests.fake_setups.zoom import make_fake
from tests.smtp_server import smtp_settings
from tests.test_meetings import add_zoom

WAIT_SECONDS = 60.0


@pytest.fixture
def zoom() -> Iterator[RunningFake]:
    with RunningFake(make_fake()) as running:
        yield running


def wait_for(what: str, done: Callable[[], Any]) -> Any:
    """Poll ``done`` until it gives something true; fail after WAIT_SECONDS saying ``what``."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if found := done():
            return found
        time.sleep(0.1)
    pytest.fail(f"still waiting for {what} after {WAIT_SECONDS:.0f} s")


def received(smtp_server, subject_words: str) -> list[tuple[str, email.message.EmailMessage]]:
    found = []
    for item in smtp_server.received:
        message = email.message_from_bytes(item.raw, policy=email.policy.default)
        if subject_words in str(message["Subject"]):
            found.append((item.rcpt_tos[0], message))
    return found


def link_token(app, person_id: int) -> str:
    with app.app_context():
        return calendars.agenda_token(db.session.get(Person, person_id))


def test_from_poll_to_a_checked_meeting_on_workers_beat_and_the_fake_zoom(
    app, api, runner, zoom, smtp_server, database_url
):
    if not redis_available(REDIS_URL):
        missing_service(f"Redis at {REDIS_URL}")
    add_zoom(runner, zoom)
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    tokyo = make_institution(api, "University of Tokyo", "JP", "Asia/Tokyo")
    li = make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"])
    wang = make_person(api, "Wang Fang", "wang.fang@pku.example.org", pku["id"])
    sato = make_person(api, "Sato Hanako", "sato@u-tokyo.example.org", tokyo["id"])
    event = make_event(
        api, title="PKU - UTokyo cooperation", kind="bilateral", default_provider="zoom"
    )
    for person in (li, wang, sato):
        created(
            api.post(f"/api/v1/events/{event['id']}/participants", json={"person_id": person["id"]})
        )

    queue = unique_queue()
    mail = {key: str(value) for key, value in smtp_settings(smtp_server).items()}
    broker_app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": app.config["SECRET_KEY"],
            "MAIL_BACKEND": "memory",  # this process queues; the workers send
            "CELERY_BROKER_URL": REDIS_URL,
            "FORUM_JOBS_QUEUE": queue,
        }
    )
    organiser = ApiClient(broker_app.test_client(), api.token, api.organiser_id)
    participant = broker_app.test_client()
    celery = broker_app.extensions["celery"]
    try:
        with (
            # Beat sends each periodic job every 2 seconds, beside what the test sends.
            running_beat(
                database_url, queue, extra_env={**mail, "FORUM_PERIODIC_EVERY_SECONDS": "2"}
            ) as beat_log,
            running_worker(database_url, queue, extra_env=mail, name="one"),
            running_worker(database_url, queue, extra_env=mail, name="two"),
        ):
            # 1. A poll on the engine's best three slots, at least two days ahead.
            today = dt.datetime.now(dt.UTC).date()
            poll = created(
                organiser.post(
                    f"/api/v1/events/{event['id']}/polls",
                    json={
                        "title": "Spring coordination call",
                        "from_search": {
                            "duration_minutes": 60,
                            "window_start": (today + dt.timedelta(days=3)).isoformat(),
                            "window_end": (today + dt.timedelta(days=10)).isoformat(),
                            "limit": 3,
                        },
                    },
                )
            )
            assert len(poll["options"]) == 3
            first, second, third = (o["id"] for o in poll["options"])
            wait_for(
                "the three invitations to answer",
                lambda: len(received(smtp_server, "When can you meet?")) == 3,
            )

            # 2. Li looks at the times in Ann Arbor first, then answers; Sato answers.
            li_url = f"/api/v1/p/{link_token(app, li['id'])}/polls/{poll['id']}"
            elsewhere = participant.get(li_url + "?tz=America/Detroit").get_json()
            assert elsewhere["timezone"] == "America/Detroit"
            assert elsewhere["options"][0]["times"][0].endswith("(America/Detroit)")
            answered = participant.put(
                li_url + "?tz=America/Detroit",
                json={
                    "votes": [
                        {"option_id": first, "answer": "no"},
                        {"option_id": second, "answer": "yes"},
                        {"option_id": third, "answer": "if_need_be"},
                    ],
                    "comment": "Thursday mornings are teaching",
                },
            )
            assert answered.status_code == 200, answered.get_json()
            sato_url = f"/api/v1/p/{link_token(app, sato['id'])}/polls/{poll['id']}"
            answered = participant.put(
                sato_url,
                json={
                    "votes": [
                        {"option_id": first, "answer": "yes"},
                        {"option_id": second, "answer": "yes"},
                        {"option_id": third, "answer": "no"},
                    ]
                },
            )
            assert answered.status_code == 200, answered.get_json()

            # 3. The reminder goes only to Wang, who has not answered.
            reminded = organiser.post(f"/api/v1/polls/{poll['id']}/remind")
            assert reminded.status_code == 200, reminded.get_json()
            assert reminded.get_json()["reminded"] == [wang["id"]]
            reminders = wait_for(
                "the reminder to answer",
                lambda: received(smtp_server, "Reminder: when can you meet?"),
            )
            assert [to for to, _ in reminders] == ["wang.fang@pku.example.org"]

            # 4. Finalise the option both answered yes to: booked, opened on Zoom, invited.
            finalised = organiser.post(
                f"/api/v1/polls/{poll['id']}/finalize", json={"option_id": second}
            )
            assert finalised.status_code == 201, finalised.get_json()
            session = finalised.get_json()["session"]
            start = dt.datetime.fromisoformat(session["start"].replace("Z", "+00:00"))
            invites = wait_for(
                "the three invitations",
                lambda: (
                    (found := received(smtp_server, "Invitation:")) and len(found) == 3 and found
                ),
            )
            assert sorted(to for to, _ in invites) == [
                "li.wei@pku.example.org",
                "sato@u-tokyo.example.org",
                "wang.fang@pku.example.org",
            ]
            assert len(received(smtp_server, "Time chosen")) == 3
            with app.app_context():
                meeting = db.session.scalar(
                    sa.select(VideoMeeting).where(VideoMeeting.session_id == session["id"])
                )
                assert meeting.status == "created"
                external_id = meeting.external_id
            stored = zoom.app.state.meetings[external_id]
            assert stored["start_time"].replace("Z", "") == format_instant(start).replace("Z", "")
            for item in smtp_server.received:
                message = email.message_from_bytes(item.raw, policy=email.policy.default)
                if "Invitation:" in str(message["Subject"]):
                    assert stored["join_url"] in message.get_body(("plain",)).get_content()
                    check_email(item.raw, method="REQUEST", expect_utc=[session["start"]])

            # 5. The 24-hour reminder, as the job runs 23 h 50 min before: sent four times
            # at once to the two workers, it reaches each invitee once.
            at = format_instant(start - dt.timedelta(hours=23, minutes=50))
            results = [
                celery.send_task("forum.send_reminders", kwargs={"at": at}, queue=queue)
                for _ in range(4)
            ]
            assert len({r.id for r in results}) == 4
            day_ahead = wait_for(
                "the three 24-hour reminders",
                lambda: (
                    (found := received(smtp_server, "Reminder:"))
                    and len([f for f in found if "when can you meet" not in str(f[1]["Subject"])])
                    == 3
                    and found
                ),
            )
            time.sleep(2)  # whatever a second run would send has had time to arrive
            session_reminders = [
                to
                for to, message in received(smtp_server, "Reminder:")
                if "when can you meet" not in str(message["Subject"])
            ]
            assert sorted(session_reminders) == [
                "li.wei@pku.example.org",
                "sato@u-tokyo.example.org",
                "wang.fang@pku.example.org",
            ], day_ahead
            with app.app_context():
                rows = db.session.scalars(sa.select(SessionReminder)).all()
                assert sorted(r.lead_minutes for r in rows) == [1440, 1440, 1440]

            # 6. The meeting is deleted on Zoom; the pre-flight check finds it.
            token = requests.post(
                f"{zoom.url}/oauth/token",
                data={"grant_type": "account_credentials", "account_id": ACCOUNT_ID},
                auth=(CLIENT_ID, CLIENT_SECRET),
                timeout=5,
            ).json()["access_token"]
            deleted = requests.delete(
                f"{zoom.url}/v2/meetings/{external_id}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )
            assert deleted.status_code == 204
            celery.send_task("forum.preflight_checks", kwargs={"at": at}, queue=queue)

            def failed_meeting() -> VideoMeeting | None:
                with app.app_context():
                    found = db.session.get(VideoMeeting, meeting.id)
                    return found if found.status == "failed" else None

            failed = wait_for("the pre-flight check's report", failed_meeting)
            assert "no longer exists" in failed.error
            with app.app_context():
                check = db.session.scalar(
                    sa.select(PreflightCheck).where(PreflightCheck.session_id == session["id"])
                )
                assert check.ok is False
                assert any("no longer exists" in p for p in check.problems), check.problems
            told = wait_for(
                "the organisers' email",
                lambda: [m for m in smtp_server.received if "organiser@example.org" in m.rcpt_tos],
            )
            assert told
            # Beat ran the schedule beside the workers all along.
            beat_said = beat_log.read_text()
            assert "Sending due task send-reminders (forum.send_reminders)" in beat_said
            assert "Sending due task preflight-checks (forum.preflight_checks)" in beat_said
    finally:
        purge_queue(queue, REDIS_URL)
        with broker_app.app_context():
            db.engine.dispose()
