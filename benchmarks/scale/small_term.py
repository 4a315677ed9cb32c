"""A small term through the services, for bench-scale where seed-semester is not there.

    python -m benchmarks.scale.small_term --courses 40 --teachers 16 --students 240 \
        --per-student 3 --zoom-webhook-secret S

Reads DATABASE_URL and SECRET_KEY like the app. Courses are series events of one weekly
session each on Zoom (a numeric meeting id), a teacher as chair and students as
participants; deterministic for one --seed. Only for small sizes: seed-semester (bulk
writes) is what seeds a full term.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random

from forum import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    for name in ("courses", "teachers", "abroad", "students", "per-student", "seed"):
        parser.add_argument(f"--{name}", type=int, required=name != "abroad")
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--zoom-webhook-secret", required=True)
    args = parser.parse_args(argv)

    from forum.accounts.services import create_organiser
    from forum.directory.services import create_institution
    from forum.directory.services import create_person
    from forum.events import services
    from forum.extensions import db
    from forum.providers import accounts

    rng = random.Random(args.seed)
    app = create_app()
    with app.app_context():
        registrar = create_organiser(
            email="registrar@pku.example.edu", name="Registrar", timezone="Asia/Shanghai"
        )
        accounts.add_account(
            name="pku-zoom",
            kind="zoom",
            account_id="a",
            client_id="c",
            client_secret="s",  # noqa: S106 (no call reaches Zoom)
            webhook_secret=args.zoom_webhook_secret,
            hosts=["host1@pku.example.edu"],
        )
        pku = create_institution(name="Peking University", country="CN", timezone="Asia/Shanghai")
        db.session.flush()
        teachers = [
            create_person(
                name=f"Teacher {n}",
                email=f"teacher{n}@pku.example.edu",
                institution_id=pku.id,
                timezone="Asia/Shanghai",
            )
            for n in range(args.teachers)
        ]
        students = [
            create_person(
                name=f"Student {n}",
                email=f"student{n}@pku.example.edu",
                institution_id=pku.id,
                timezone="Asia/Shanghai",
            )
            for n in range(args.students)
        ]
        db.session.flush()
        enrolled: dict[int, list] = {c: [] for c in range(args.courses)}
        for student in students:
            for course in rng.sample(range(args.courses), args.per_student):
                enrolled[course].append(student)
        first = dt.datetime(2020, 2, 17, 0, tzinfo=dt.UTC)
        for course in range(args.courses):
            event = services.create_event(
                actor=registrar, title=f"Course {course}", kind="series", timezone="Asia/Shanghai"
            )
            db.session.flush()
            services.add_participants(
                event, person_id=teachers[course % len(teachers)].id, role="chair"
            )
            for student in enrolled[course]:
                services.add_participants(event, person_id=student.id)
            session = services.create_session(
                event,
                actor=registrar,
                title=f"Course {course}",
                start=first + dt.timedelta(days=course % 5, hours=course % 10),
                duration_minutes=110,
                rrule=f"FREQ=WEEKLY;COUNT={args.weeks}",
                provider="jitsi",
                allow_conflicts=True,
                notify=False,
            )
            db.session.flush()
            session.meeting.provider = "zoom"
            session.meeting.external_id = str(90_000_000_000 + course)
            session.meeting.status = "created"
        db.session.commit()


if __name__ == "__main__":
    main()
