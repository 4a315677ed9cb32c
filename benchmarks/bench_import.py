"""Directory import through HTTP: 1,000 people in one CSV file, beside one call per person.

    python -m benchmarks.bench_import                   # 1,000 people a file, on SQLite and
                                                        # PostgreSQL (a minute or two: the
                                                        # one-call-per-person baseline takes
                                                        # tens of seconds on each)
    python -m benchmarks.bench_import --quick           # 100 people a file: a smoke test
    python -m benchmarks.bench_import --backend sqlite  # one database only
    python -m benchmarks.bench_import --runs 10         # timed imports of each kind (5)

Each database is fresh, built by the migrations (SQLite in a temporary folder; a PostgreSQL
database created for the run and dropped after it, on the server of --postgres-url or
FORUM_TEST_POSTGRES_URL), and the app is served in a process of its own on loopback
(benchmarks/http_server.py). An organiser's API token imports a few institutions through
``POST /api/v1/institutions/import``, then, over a kept-alive connection, each timed run
sends ``POST /api/v1/people/import`` a CSV file of people who are all new (new emails every
run), and then the same file again with another role title for everyone (all updates).
One untimed import of each kind comes first, so the first timed run pays no first-request
costs. The people have a mix of institutions, zones and weekly hours written as text.

The baseline, in the same run: the same number of people created with one
``POST /api/v1/people`` each (the hours as JSON), as an organiser without the import would,
timed once. Then every import's people must be in the directory (the list's ``total``), and
a sample of each file's people is read back and compared with what the file said. The exit
status is 1 when they are not or, on the full input, when a target is missed.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import requests
from flask import Flask
from flask_migrate import upgrade

from benchmarks import http_server
from benchmarks import report
from benchmarks.bench_search import POSTGRES_URL
from benchmarks.bench_search import database
from forum import create_app
from forum.accounts.services import create_organiser
from forum.accounts.services import issue_token
from forum.directory import bulk
from forum.directory.models import DEFAULT_ACCEPTABLE_HOURS
from forum.directory.services import default_working_hours
from forum.directory.weekly_hours import parse_hours
from forum.extensions import db

BACKENDS = ("sqlite", "postgresql")
PEOPLE_IMPORT_PATH = "/api/v1/people/import"
INSTITUTIONS_IMPORT_PATH = "/api/v1/institutions/import"
PEOPLE_PATH = "/api/v1/people"
TARGET_PEOPLE = 1000
TARGET_SECONDS = 2.0
# Every import is sent and answered within this, however loaded the machine.
TIMEOUT = 300
# name, short name, country, zone, subdivision: the working week of Qatar is Sunday to
# Thursday, so the default hours differ by institution.
INSTITUTIONS = (
    ("Peking University", "PKU", "CN", "Asia/Shanghai", "BJ"),
    ("University of Tokyo", "UTokyo", "JP", "Asia/Tokyo", ""),
    ("University of Michigan", "UMich", "US", "America/Detroit", "MI"),
    ("Qatar University", "QU", "QA", "Asia/Qatar", ""),
    ("University of Sao Paulo", "USP", "BR", "America/Sao_Paulo", "SP"),
    ("ETH Zurich", "ETH", "CH", "Europe/Zurich", "ZH"),
)
# Weekly hours as people write them in a spreadsheet; empty takes the country's default.
WORKING_HOURS = (
    "mon-fri 09:00-17:00",
    "mon-fri 08:30-12:00, 13:00-17:30",
    "",
    "mon-thu 10:00-18:00; fri 10:00-14:00",
    "sun-thu 08:00-16:00",
)
ACCEPTABLE_HOURS = "mon-sat 07:00-21:00"
VISITING_ZONE = "Europe/London"
ROLE_TITLE = "Lecturer"
CHANGED_ROLE_TITLE = "Senior Lecturer"
# How many people of each file are read back one by one and compared.
SAMPLE = 10


# --- the people ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Newcomer:
    """One person as a row of the file: empty text is a cell left empty."""

    name: str
    email: str
    institution: str
    timezone: str
    role_title: str
    working_hours: str
    acceptable_hours: str


def newcomers(count: int, batch: str, role_title: str = ROLE_TITLE) -> list[Newcomer]:
    """``count`` people whose emails no other batch has: at every institution in turn, one in
    ten in a zone of their own, one in four with their acceptable hours given."""
    people = []
    for number in range(1, count + 1):
        institution = INSTITUTIONS[number % len(INSTITUTIONS)][1]
        people.append(
            Newcomer(
                name=f"Person {number}",
                email=f"p{number}.{batch}@{institution.lower()}.example",
                institution=institution,
                timezone=VISITING_ZONE if number % 10 == 0 else "",
                role_title=role_title,
                working_hours=WORKING_HOURS[number % len(WORKING_HOURS)],
                acceptable_hours=ACCEPTABLE_HOURS if number % 4 == 0 else "",
            )
        )
    return people


def people_csv(people: list[Newcomer]) -> bytes:
    """The people as an import file, with the documented header."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = bulk.COLUMNS[bulk.PEOPLE]
    writer.writerow(columns)
    for person in people:
        writer.writerow(getattr(person, column, "") for column in columns)
    return out.getvalue().encode()


def person_body(person: Newcomer, institution_ids: dict[str, int]) -> dict[str, Any]:
    """The same person as the body of ``POST /api/v1/people``: hours as JSON."""
    body: dict[str, Any] = {
        "name": person.name,
        "email": person.email,
        "institution_id": institution_ids[person.institution],
        "role_title": person.role_title,
    }
    if person.timezone:
        body["timezone"] = person.timezone
    for name in ("working_hours", "acceptable_hours"):
        if text := getattr(person, name):
            body[name] = parse_hours(text)
    return body


def as_stored(person: Newcomer, institution_ids: dict[str, int]) -> dict[str, Any]:
    """The fields the API should answer for the person, defaults filled in."""
    _, short_name, country, zone, _ = next(i for i in INSTITUTIONS if i[1] == person.institution)
    return {
        "name": person.name,
        "email": person.email,
        "institution_id": institution_ids[short_name],
        "timezone": person.timezone or zone,
        "role_title": person.role_title,
        "working_hours": (
            parse_hours(person.working_hours)
            if person.working_hours
            else default_working_hours(country)
        ),
        "acceptable_hours": (
            parse_hours(person.acceptable_hours)
            if person.acceptable_hours
            else DEFAULT_ACCEPTABLE_HOURS
        ),
    }


# --- asking the app --------------------------------------------------------------------------


def _answer(response: requests.Response, what: str, status: int = 200) -> dict[str, Any]:
    if response.status_code != status:
        raise SystemExit(f"{what} answered {response.status_code}: {response.text[:1000]}")
    return response.json()


def send_import(session: requests.Session, url: str, body: bytes) -> tuple[float, dict[str, Any]]:
    """One CSV import, timed until the whole answer has arrived: the seconds and the answer."""
    started = time.perf_counter()
    response = session.post(url, data=body, headers={"Content-Type": bulk.CSV}, timeout=TIMEOUT)
    elapsed = time.perf_counter() - started
    return elapsed, _answer(response, f"POST {url}")


def import_people(
    session: requests.Session, base: str, people: list[Newcomer], outcome: str
) -> float:
    """Import the people as one file, each of whom must be ``outcome``: the seconds it took."""
    elapsed, answer = send_import(session, base + PEOPLE_IMPORT_PATH, people_csv(people))
    counts = {key: answer[key] for key in (bulk.CREATED, bulk.UPDATED, bulk.UNCHANGED)}
    if counts != {key: len(people) if key == outcome else 0 for key in counts}:
        raise SystemExit(f"an import of {len(people)} people to be {outcome} gave {counts}")
    return elapsed


def import_institutions(session: requests.Session, base: str) -> dict[str, int]:
    """The benchmark's institutions, imported: their ids by short name."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(bulk.COLUMNS[bulk.INSTITUTIONS])
    writer.writerows(INSTITUTIONS)
    _, answer = send_import(session, base + INSTITUTIONS_IMPORT_PATH, out.getvalue().encode())
    if answer[bulk.CREATED] != len(INSTITUTIONS):
        raise SystemExit(f"the institutions' import created {answer[bulk.CREATED]} of them")
    ids = [row["id"] for row in answer["rows"]]
    return {short_name: id_ for (_, short_name, *_), id_ in zip(INSTITUTIONS, ids, strict=True)}


def create_one_by_one(
    session: requests.Session, base: str, people: list[Newcomer], institution_ids: dict[str, int]
) -> tuple[float, list[float]]:
    """Create each person with a call of their own: the seconds for all, and for each call."""
    url = base + PEOPLE_PATH
    bodies = [person_body(person, institution_ids) for person in people]
    calls = []
    started = time.perf_counter()
    for body in bodies:
        began = time.perf_counter()
        response = session.post(url, json=body, timeout=TIMEOUT)
        calls.append(time.perf_counter() - began)
        _answer(response, f"POST {url}", status=201)
    return time.perf_counter() - started, calls


def people_total(session: requests.Session, base: str) -> int:
    url = base + PEOPLE_PATH
    return _answer(session.get(url, params={"per_page": 1}, timeout=TIMEOUT), f"GET {url}")["total"]


def differences(
    session: requests.Session,
    base: str,
    people: list[Newcomer],
    institution_ids: dict[str, int],
) -> list[str]:
    """How a sample of the people, read back by email, differ from what was sent."""
    url = base + PEOPLE_PATH
    found = []
    for person in people[:: max(1, len(people) // SAMPLE)][:SAMPLE]:
        response = session.get(url, params={"email": person.email}, timeout=TIMEOUT)
        items = _answer(response, f"GET {url}")["items"]
        if len(items) != 1:
            found.append(f"  {person.email}: {len(items)} people with that email")
            continue
        expected = as_stored(person, institution_ids)
        got = {key: items[0].get(key) for key in expected}
        if got != expected:
            found.append(f"  {person.email}: stored {got}\n    sent {expected}")
    return found


# --- one database ----------------------------------------------------------------------------


@dataclass
class Measured:
    """One database's timings and what it held at the end."""

    backend: str
    created: list[float] = field(default_factory=list)
    updated: list[float] = field(default_factory=list)
    one_by_one: float = 0.0
    calls: list[float] = field(default_factory=list)
    total: int = 0
    expected_total: int = 0
    mismatches: list[str] = field(default_factory=list)
    file_bytes: int = 0


def organiser_token(app: Flask) -> str:
    """An organiser's API token, in a database just migrated."""
    with app.app_context():
        organiser = create_organiser(
            email="olga@example.org", name="Olga Organiser", timezone="Asia/Shanghai"
        )
        token = issue_token(organiser, name="benchmark")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return token


def run_backend(backend: str, folder: str, postgres_url: str, count: int, runs: int) -> Measured:
    """Build the database, serve the app, and time the imports and the baseline."""
    measured = Measured(backend)
    with database(backend, folder, postgres_url) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, **http_server.SETTINGS})
        with app.app_context():
            upgrade()
            db.engine.dispose()
        token = organiser_token(app)
        with http_server.serving(url) as base, requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            institution_ids = import_institutions(session, base)
            sent: list[list[Newcomer]] = []
            for run in range(runs + 1):
                batch = f"r{run}"
                people = newcomers(count, batch)
                changed = newcomers(count, batch, role_title=CHANGED_ROLE_TITLE)
                created = import_people(session, base, people, bulk.CREATED)
                updated = import_people(session, base, changed, bulk.UPDATED)
                if run:  # the first is the untimed warm-up
                    measured.created.append(created)
                    measured.updated.append(updated)
                sent.append(changed)
            measured.file_bytes = len(people_csv(sent[-1]))
            one_by_one = newcomers(count, "one")
            measured.one_by_one, measured.calls = create_one_by_one(
                session, base, one_by_one, institution_ids
            )
            sent.append(one_by_one)
            measured.total = people_total(session, base)
            measured.expected_total = sum(len(people) for people in sent)
            for people in sent:
                measured.mismatches.extend(differences(session, base, people, institution_ids))
    return measured


# --- the report ------------------------------------------------------------------------------


def describe(label: str, timings: list[float]) -> str:
    return report.describe(label, timings, width=40, decimals=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 people a file")
    parser.add_argument(
        "--backend", choices=(*BACKENDS, "both"), default="both", help="the database (both)"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed imports of each kind (5)")
    parser.add_argument(
        "--postgres-url",
        default=POSTGRES_URL,
        help="a PostgreSQL server where the benchmark may create and drop a database",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    count = 100 if args.quick else TARGET_PEOPLE
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    print(
        f"Directory import through HTTP: {count:,} people a CSV file at {len(INSTITUTIONS)} "
        f"institutions, {args.runs} runs, beside one POST /people each, "
        f"on {' and '.join(backends)}"
    )

    results = []
    with tempfile.TemporaryDirectory(prefix="forum-bench-") as folder:
        for backend in backends:
            result = run_backend(backend, folder, args.postgres_url, count, args.runs)
            results.append(result)
            print(
                f"{backend}: {len(INSTITUTIONS)} institutions imported; "
                f"each people file {result.file_bytes / 1024:.0f} KB"
            )
            print(describe(f"{backend}: import, new people", result.created))
            print(describe(f"{backend}: import, updates", result.updated))
            print(describe(f"{backend}: one POST /people each", [result.one_by_one]))
            print(
                f"  one POST /people each, per call: median "
                f"{statistics.median(result.calls) * 1000:.1f} ms over {len(result.calls):,} calls"
            )
            ratio = result.one_by_one / statistics.median(result.created)
            print(f"{backend}: one POST per person / import median: {ratio:.0f}x")
            print(
                f"{backend}: people in the directory: {result.total:,} "
                f"(expected {result.expected_total:,})"
            )
            same = not result.mismatches
            print(
                f"{backend}: people as sent, {SAMPLE} read back from each file: "
                f"{'yes' if same else 'NO'}"
            )
            if result.mismatches:
                print("\n".join(result.mismatches))

    landed = all(r.total == r.expected_total and not r.mismatches for r in results)
    checks = []
    for result in results:
        median = statistics.median(result.created)
        checks.append(
            (
                f"{result.backend}: import of {TARGET_PEOPLE:,} people <= {TARGET_SECONDS:.0f} s",
                median <= TARGET_SECONDS,
                f"median {median:.2f} s for {count:,} people",
            )
        )
    judged = report.judge(checks, quick=args.quick)
    return 0 if landed and judged == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
