"""Loading the demo data through the same services the API uses; safe to run again."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from forum.accounts.models import Organiser
from forum.accounts.services import create_organiser
from forum.accounts.services import find_organiser
from forum.core.times import parse_local
from forum.demo.data import EVENTS
from forum.demo.data import INSTITUTIONS
from forum.directory.models import Institution
from forum.directory.services import create_institution
from forum.directory.services import create_person
from forum.directory.services import find_person_by_email
from forum.events.models import Event
from forum.events.services import add_participants
from forum.events.services import create_event
from forum.events.services import create_session
from forum.extensions import db

DEMO_ORGANISER_EMAIL = "organiser@forum.example.org"
DEMO_ORGANISER_PASSWORD = "forum-demo"  # noqa: S105  (printed for the local demo only)


@dataclass
class SeedReport:
    institutions: int = 0
    people: int = 0
    events: int = 0
    sessions: int = 0


def seed_demo() -> SeedReport:
    """Create whatever part of the demo data is missing (the caller commits)."""
    report = SeedReport()
    # The demo's organiser administers the demo instance, so that every page can be tried
    # (provider accounts, the whole webhook inbox) and the directory it loads is its own.
    organiser = find_organiser(DEMO_ORGANISER_EMAIL) or create_organiser(
        email=DEMO_ORGANISER_EMAIL,
        name="Demo Organiser (PKU International Office)",
        password=DEMO_ORGANISER_PASSWORD,
        timezone="Asia/Shanghai",
        is_admin=True,
    )
    existing = set(db.session.scalars(sa.select(Institution.name)))
    for item in INSTITUTIONS:
        if item["name"] in existing:
            institution = db.session.scalar(
                sa.select(Institution).where(Institution.name == item["name"])
            )
        else:
            institution = create_institution(
                name=item["name"],
                short_name=item["short_name"],
                country=item["country"],
                timezone=item["timezone"],
                subdivision=item["subdivision"],
                created_by=organiser,
                blackouts=[
                    {
                        "start_date": dt.date.fromisoformat(b["start_date"]),
                        "end_date": dt.date.fromisoformat(b["end_date"]),
                        "reason": b["reason"],
                    }
                    for b in item["blackouts"]
                ],
            )
            report.institutions += 1
        for person in item["people"]:
            if find_person_by_email(person["email"]) is None:
                create_person(
                    name=person["name"],
                    email=person["email"],
                    institution_id=institution.id,
                    timezone=person["timezone"],
                    role_title=person["role_title"],
                    created_by=organiser,
                )
                report.people += 1
    for item in EVENTS:
        _seed_event(organiser, item, report)
    db.session.flush()
    return report


def _seed_event(organiser: Organiser, item: dict, report: SeedReport) -> None:
    event = db.session.scalar(
        sa.select(Event).where(Event.owner_id == organiser.id, Event.title == item["title"])
    )
    if event is None:
        event = create_event(
            actor=organiser,
            title=item["title"],
            kind=item["kind"],
            description=item["description"],
            timezone=item["timezone"],
            default_provider=item["default_provider"],
        )
        report.events += 1
    invited = {p.person_id for p in event.participants}
    for participant in item["participants"]:
        person = find_person_by_email(participant["email"])
        if person is not None and person.id not in invited:
            add_participants(
                event,
                person_id=person.id,
                role=participant["role"],
                required=participant["required"],
            )
    if not event.sessions:
        for session in item["sessions"]:
            create_session(
                event,
                title=session["title"],
                local_start=parse_local(session["local_start"]),
                timezone=event.timezone,
                duration_minutes=session["duration_minutes"],
                rrule=session["rrule"],
                # Demo people have example.org addresses: no invites for them.
                notify=False,
            )
            report.sessions += 1
