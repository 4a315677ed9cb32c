"""Languages benchmark: a participant's agenda page in each language beside English.

    python -m benchmarks.bench_languages           # 100 requests per language, interleaved
    python -m benchmarks.bench_languages --quick   # 5 of each: a smoke test

One process, a fresh migrated SQLite database in a temporary folder with the demo loaded,
the real agenda route through Flask's test client. A Peking University participant's agenda
(the demo's forum sessions, each time in three zones) is read in English, then switched to
each other language, round after round, so that every language sees the same machine. The
target: a translated page costs at most 25 % more than the English one (same run, medians):
translating and writing dates the local way must not make a reader wait.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from benchmarks import report
from forum import create_app
from forum.demo.seed import seed_demo
from forum.directory.models import Person
from forum.events import calendars
from forum.extensions import db
from forum.i18n import LANGUAGES

TOLERANCE = 0.25


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few requests: a smoke test")
    args = parser.parse_args()
    rounds = 5 if args.quick else 100

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(Path(folder) / "bench.sqlite3"),
                "MAIL_BACKEND": "memory",
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            upgrade()
            seed_demo()
            db.session.commit()
            person = db.session.scalars(
                sa.select(Person).where(Person.email.like("%@pku.example.org")).order_by(Person.id)
            ).first()
            path = "/" + calendars.agenda_url(person).split("/", 3)[3]
            person_id = person.id
        client = app.test_client()

        def agenda_in(locale: str) -> float:
            with app.app_context():
                db.session.get(Person, person_id).locale = locale
                db.session.commit()
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.status_code
            assert f'lang="{locale}"' in response.text
            return elapsed

        timings: dict[str, list[float]] = {locale: [] for locale in LANGUAGES}
        for locale in LANGUAGES:
            agenda_in(locale)  # each catalogue loaded once before timing
        for _ in range(rounds):
            for locale in LANGUAGES:
                timings[locale].append(agenda_in(locale))
        with app.app_context():
            db.engine.dispose()

    print(f"A participant's agenda page, {rounds} requests per language, interleaved")
    for locale, name in LANGUAGES.items():
        print(report.describe(f"{locale} ({name})", timings[locale], width=24))
    english = statistics.median(timings["en"])
    checks = []
    for locale in LANGUAGES:
        if locale == "en":
            continue
        ratio = statistics.median(timings[locale]) / english
        checks.append(
            (
                f"{locale} page within {TOLERANCE:.0%} of English",
                ratio <= 1 + TOLERANCE,
                f"{locale} / en = {ratio:.2f}",
            )
        )
    return report.judge(checks, quick=args.quick)


if __name__ == "__main__":
    sys.exit(main())
