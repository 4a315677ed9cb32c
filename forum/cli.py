"""Command-line tools: ``flask --app wsgi forum ...``."""

from __future__ import annotations

import datetime as dt
import time
from typing import BinaryIO

import click
import sqlalchemy as sa
from flask import Flask
from flask import current_app
from flask.cli import AppGroup

from forum.accounts import services as accounts
from forum.accounts.models import ApiToken
from forum.api import directory_import
from forum.core import text
from forum.core.errors import ForumError
from forum.core.times import format_instant
from forum.directory import bulk
from forum.events import planning
from forum.events.models import Event
from forum.extensions import db
from forum.notifications import dispatch
from forum.providers import accounts as provider_accounts
from forum.providers import meetings
from forum.providers.fakes import FAKE_KINDS
from forum.providers.models import ACCOUNT_KINDS
from forum.providers.models import SECRET_FIELDS

forum_cli = AppGroup(
    "forum", help="Manage organisers, API tokens and demo data; send pending emails."
)


def init_app(app: Flask) -> None:
    app.cli.add_command(forum_cli)


def _fail(exc: ForumError) -> None:
    raise click.ClickException(exc.message)


def _clean_line(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A name or setting given on the command line, by the rule of every input."""
    if value is None:
        return None
    try:
        return text.clean_line(value)
    except text.UncleanText as exc:
        raise click.BadParameter(str(exc)) from None


@forum_cli.command("create-organiser")
@click.argument("email")
@click.option(
    "--name",
    default="",
    callback=_clean_line,
    help="Display name (default: the email's local part).",
)
@click.option("--password", default=None, help="Password for the web UI (omit for API only).")
@click.option(
    "--timezone", default=None, help="The organiser's IANA zone (default: FORUM_DEFAULT_TIMEZONE)."
)
@click.option("--admin", is_flag=True, help="Make the account an administrator.")
def create_organiser(
    email: str, name: str, password: str | None, timezone: str | None, admin: bool
) -> None:
    """Create an organiser account and print a new API token for it."""
    timezone = timezone or current_app.config["FORUM_DEFAULT_TIMEZONE"]
    try:
        organiser = accounts.create_organiser(
            email=email, name=name, password=password, timezone=timezone, is_admin=admin
        )
        token = accounts.issue_token(organiser, name="created with the account")
    except ForumError as exc:
        _fail(exc)
    db.session.commit()
    kind = "administrator" if admin else "organiser"
    click.echo(f"Created {kind} {organiser.email} (id {organiser.id}).", err=True)
    click.echo("API token (shown once; keep it secret):", err=True)
    click.echo(token)


@forum_cli.command("set-admin")
@click.argument("email")
@click.option("--off", is_flag=True, help="Make the administrator an organiser only again.")
def set_admin(email: str, off: bool) -> None:
    """Make an organiser an administrator (provider accounts, every webhook delivery, the
    whole directory), or with --off an organiser only again."""
    try:
        organiser = accounts.set_admin(email, admin=not off)
    except ForumError as exc:
        _fail(exc)
    db.session.commit()
    if off:
        click.echo(f"{organiser.email} is no longer an administrator.")
    else:
        click.echo(f"{organiser.email} is now an administrator.")


@forum_cli.command("create-token")
@click.argument("email")
@click.option("--name", default="", callback=_clean_line, help="A label to tell tokens apart.")
def create_token(email: str, name: str) -> None:
    """Print a new API token for an existing organiser."""
    try:
        token = accounts.issue_token_for_email(email, name=name)
    except ForumError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(token)


@forum_cli.command("list-tokens")
@click.argument("email")
def list_tokens(email: str) -> None:
    """List an organiser's tokens (prefix, label, state; never the secret)."""
    organiser = accounts.find_organiser(email)
    if organiser is None:
        raise click.ClickException(f"no organiser with email {email}")
    tokens = db.session.scalars(
        sa.select(ApiToken).where(ApiToken.organiser_id == organiser.id).order_by(ApiToken.id)
    )
    for token in tokens:
        state = "active" if token.is_active else f"revoked {token.revoked_at:%Y-%m-%d}"
        click.echo(f"{token.id}\t{token.prefix}…\t{token.name or '-'}\t{state}")


@forum_cli.command("revoke-token")
@click.argument("email")
@click.argument("token_id", type=int)
def revoke_token(email: str, token_id: int) -> None:
    """Revoke one of an organiser's tokens by its id (see list-tokens)."""
    organiser = accounts.find_organiser(email)
    if organiser is None:
        raise click.ClickException(f"no organiser with email {email}")
    try:
        accounts.revoke_token(organiser, token_id)
    except ForumError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"Revoked token {token_id}.")


@forum_cli.command("seed-demo")
def seed_demo() -> None:
    """Load the demo institutions, people and events (safe to run again)."""
    from forum.demo.seed import DEMO_ORGANISER_EMAIL
    from forum.demo.seed import DEMO_ORGANISER_PASSWORD
    from forum.demo.seed import seed_demo as seed

    report = seed()
    db.session.commit()
    click.echo(
        f"Demo data: {report.institutions} institutions, {report.people} people, "
        f"{report.events} events, {report.sessions} sessions added."
    )
    click.echo(f"Log in at /login as {DEMO_ORGANISER_EMAIL} / {DEMO_ORGANISER_PASSWORD}")


def _at_least(low: int):
    return click.IntRange(min=low)


@forum_cli.command("seed-semester")
@click.option(
    "--organiser",
    default=None,
    metavar="EMAIL",
    help="The term's owner (default: the demo organiser if present, else a new registrar).",
)
@click.option("--courses", type=_at_least(1), default=4437, show_default=True)
@click.option("--teachers", type=_at_least(1), default=2800, show_default=True)
@click.option("--abroad", type=_at_least(0), default=60, show_default=True, help="Teachers abroad.")
@click.option("--students", type=_at_least(0), default=40000, show_default=True)
@click.option(
    "--per-student",
    type=_at_least(1),
    default=5,
    show_default=True,
    help="Courses per student (one fewer or more for half of them).",
)
@click.option("--weeks", type=click.IntRange(1, 60), default=16, show_default=True)
@click.option("--seed", type=int, default=2020, show_default=True, help="Same seed, same data.")
@click.option(
    "--zoom-account",
    default="pku-zoom",
    show_default=True,
    help="Name of the Zoom provider account the meetings are on.",
)
@click.option(
    "--zoom-webhook-secret",
    envvar="FORUM_SEED_ZOOM_WEBHOOK_SECRET",
    default=None,
    help="The Zoom account's webhook secret token, to sign test deliveries with "
    "(default: a new random one, printed).",
)
@click.option(
    "--digest",
    "show_digest",
    is_flag=True,
    help="Also print a digest of the seeded data (the same seed and sizes give the same).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Delete a semester seeded before (its term, courses, sessions, invitations, meetings, "
    "the people on its demo domain and its Zoom account) and seed again.",
)
def seed_semester(
    organiser: str | None,
    courses: int,
    teachers: int,
    abroad: int,
    students: int,
    per_student: int,
    weeks: int,
    seed: int,
    zoom_account: str,
    zoom_webhook_secret: str | None,
    show_digest: bool,
    replace: bool,
) -> None:
    """Generate a term at Peking University's scale of spring 2020 (deterministic by --seed),
    written in bulk in one transaction; the defaults are the full size."""
    import secrets

    from forum.demo import semester

    size = semester.Size(
        courses=courses,
        teachers=teachers,
        abroad=abroad,
        students=students,
        per_student=per_student,
        weeks=weeks,
        seed=seed,
    )
    for option, problem in size.problems().items():
        raise click.BadParameter(problem, param_hint=f"--{option}")
    secret_given = zoom_webhook_secret is not None
    secret = zoom_webhook_secret or secrets.token_urlsafe(24)
    started = time.perf_counter()

    def progress(line: str) -> None:
        click.echo(f"[{time.perf_counter() - started:6.1f}s] {line}", err=True)

    try:
        report = semester.seed_semester(
            size=size,
            organiser_email=organiser,
            zoom_account=zoom_account,
            zoom_webhook_secret=secret,
            replace=replace,
            progress=progress,
        )
        progress("committing")
        db.session.commit()
    except ForumError as exc:
        db.session.rollback()
        _fail(exc)
    # Bulk rows the ORM never saw: drop any calendar cached for these people and courses
    # (a fresh seed's have none, but --replace deletes some and may reuse their ids).
    from forum.events import feedcache

    feedcache.people_changed(report.person_ids)
    if hasattr(feedcache, "events_changed"):
        feedcache.events_changed(report.event_ids)
    seconds = time.perf_counter() - started
    click.echo(
        f"Seeded {semester.TERM_NAME!r} (term {report.term_id}, owner {report.organiser_email}"
        f"{', created' if report.organiser_created else ''}) in {seconds:.1f} s:"
    )
    click.echo(
        f"  {report.teachers:,} teachers ({report.teachers - report.teachers_abroad:,} in "
        f"Beijing, {report.teachers_abroad} abroad in {report.abroad_countries} countries on "
        f"{report.abroad_continents} continents), {report.students:,} students; institutions "
        f"{report.institutions_created} added, {report.institutions_reused} already there"
    )
    click.echo(
        f"  {report.courses:,} courses, {report.sessions:,} weekly sessions "
        f"({report.sessions_with_holidays:,} with holiday dates left out), "
        f"{report.participants:,} course participants, {report.invitations:,} invitations"
    )
    days = sorted({d["date"] for d in report.holiday_dates})
    click.echo(f"  holidays left out: {', '.join(days) or 'none'}")
    click.echo(
        f"  {report.meetings:,} Zoom meetings on account {report.zoom_account!r} "
        f"({report.zoom_hosts} hosts)"
    )
    if report.replaced:
        replaced = ", ".join(f"{count:,} {label}" for label, count in report.replaced.items())
        click.echo(f"  replaced the earlier seed: deleted {replaced}")
    if show_digest:
        click.echo(f"  digest {semester.digest(report.term_id)}")
    if not secret_given:
        click.echo(f"Zoom webhook secret token (sign test deliveries with it): {secret}")


def _id_list(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int]:
    """Ids typed as 1,2,3, as a list."""
    if not value:
        return []
    try:
        ids = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter("must be ids separated by commas, e.g. 1,2,3") from None
    # Ids are 32-bit columns: PostgreSQL refuses to compare them with a larger number.
    if any(not 1 <= row_id < 2**31 for row_id in ids):
        raise click.BadParameter("ids are whole numbers from 1 to 2147483647")
    return ids


def _window_bound(ctx: click.Context, param: click.Parameter, value: str) -> planning.WindowBound:
    try:
        return planning.window_bound(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _local_span(start: str, end: str, weekday: str) -> str:
    """A local slot as "Tue 2027-03-16 20:00-22:00", marking an end on a later day "(+1)"."""
    until = end[11:16]
    days = (dt.date.fromisoformat(end[:10]) - dt.date.fromisoformat(start[:10])).days
    if days == 1 and until == "00:00":
        # Ending at midnight ends the day it started, not the next.
        until, days = "24:00", 0
    later = f" (+{days})" if days else ""
    return f"{weekday} {start[:10]} {start[11:16]}-{until}{later}"


@forum_cli.command("find-slots")
@click.option("--event", "event_id", type=int, default=None, help="Search for this event's people.")
@click.option("--people", callback=_id_list, help="Required people's ids, e.g. 1,2,3.")
@click.option("--institutions", callback=_id_list, help="Every person of these institutions' ids.")
@click.option("--optional", "optional_people", callback=_id_list, help="Optional people's ids.")
@click.option("--duration", type=int, required=True, help="Length of the meeting in minutes.")
@click.option(
    "--from",
    "window_start",
    required=True,
    callback=_window_bound,
    help="First day (or an instant with Z).",
)
@click.option(
    "--to",
    "window_end",
    required=True,
    callback=_window_bound,
    help="Last day, included (or an instant).",
)
@click.option("--timezone", default=None, help="Zone of the dates (default: the event's, or UTC).")
@click.option("--step", type=int, default=30, show_default=True, help="Minutes between starts.")
@click.option("--limit", type=int, default=5, show_default=True, help="How many slots to show.")
@click.option("--skip-weekends", is_flag=True, help="Refuse local weekends for required people.")
@click.option(
    "--skip-holidays/--include-holidays",
    default=True,
    show_default=True,
    help="Refuse local public holidays for required people.",
)
@click.option("--organiser", default=None, help="Search as this organiser (default: event owner).")
def find_slots(
    event_id: int | None,
    people: list[int],
    institutions: list[int],
    optional_people: list[int],
    duration: int,
    window_start: planning.WindowBound,
    window_end: planning.WindowBound,
    timezone: str | None,
    step: int,
    limit: int,
    skip_weekends: bool,
    skip_holidays: bool,
    organiser: str | None,
) -> None:
    """Print the best slots for an event or a list of people, and who pays for each."""
    actor = None
    if organiser is not None:
        actor = accounts.find_organiser(organiser)
        if actor is None:
            raise click.ClickException(f"no organiser with email {organiser}")
    elif event_id is not None:
        # The command line is trusted with the whole database: it searches as the owner.
        event = db.session.get(Event, event_id)
        if event is None:
            raise click.ClickException(f"no event with id {event_id}")
        actor = event.owner
    try:
        answer = planning.search(
            actor,
            event_id=event_id,
            person_ids=people,
            institution_ids=institutions,
            optional_person_ids=optional_people,
            duration_minutes=duration,
            window_start=window_start,
            window_end=window_end,
            timezone=timezone,
            step_minutes=step,
            limit=limit,
            skip_weekends=skip_weekends,
            skip_holidays=skip_holidays,
        )
    except ForumError as exc:
        _fail(exc)
    count = len(answer["slots"])
    slots = "slot" if count == 1 else "slots"
    click.echo(
        f"Best {count} {slots} of {answer['duration_minutes']} minutes from "
        f"{answer['window_start']} to {answer['window_end']} "
        f"(dates in {answer['timezone']}, every {answer['step_minutes']} minutes)"
    )
    for rank, slot in enumerate(answer["slots"], start=1):
        feasible = "" if slot["feasible"] else "  NOT FEASIBLE"
        click.echo(
            f"\n#{rank}  {slot['start']}  required available "
            f"{slot['required_available']}/{slot['required_total']}  "
            f"worst cost {slot['worst_cost']}  total cost {slot['total_cost']}{feasible}"
        )
        click.echo(f"    {slot['summary']}")
        sites = answer["sites"]
        rows = [
            (
                sites[row["site"]]["label"],
                sites[row["site"]]["country"] or "--",
                row["local_start"],
                row["local_end"],
                row["weekday"],
                ", ".join(row["categories"]),
            )
            # The sites that pay the most first.
            for row in sorted(slot["institutions"], key=lambda row: -row["worst_cost"])
        ]
        width = max((len(row[0]) for row in rows), default=0)
        for name, country, local_start, local_end, weekday, category in rows:
            span = _local_span(local_start, local_end, weekday)
            click.echo(f"    {name:<{width}}  {country}  {span:<30}  {category}")


@forum_cli.command("send-pending")
@click.option("--limit", default=1000, show_default=True, help="At most this many emails.")
@click.option(
    "--now",
    "waiting_too",
    is_flag=True,
    help="Also the retries whose time has not come (the mail server is back).",
)
def send_pending(limit: int, waiting_too: bool) -> None:
    """Send the emails that are due: new ones, retries whose time has come, and any a job
    left unfinished. A message that fails is recorded and the others still go; exits with
    status 1 if any failed for good."""
    run = dispatch.send_due_messages(limit=limit, waiting_too=waiting_too)
    for message_id, recipient, reason in run.problems:
        to = f" to {recipient}" if recipient else ""
        click.echo(f"email {message_id}{to}: {reason}", err=True)
    click.echo(
        f"{run.sent} sent, {run.failed} failed, {run.skipped} skipped (superseded or taken), "
        f"{run.retrying} to retry"
    )
    waiting = dispatch.waiting_retries()
    if waiting:
        click.echo(
            f"{waiting} waiting to be retried, the next at "
            f"{format_instant(dispatch.next_retry_at())} (--now sends them now)"
        )
    if run.failed:
        raise SystemExit(1)


# --- before each occurrence ----------------------------------------------------------------------


def _as_of(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    from forum.core.times import parse_instant

    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


_AT = click.option(
    "--at",
    callback=_as_of,
    default=None,
    help="Run as of this instant (ISO 8601 with offset or Z; default: now).",
)


@forum_cli.command("send-reminders")
@_AT
def send_reminders(at: dt.datetime | None) -> None:
    """Send the reminders due now (or as of --at), each once per invitee, occurrence and lead."""
    from forum.reminders import reminders

    run = reminders.send_reminders(now=at)
    for sent in run.sent:
        click.echo(
            f"reminded {sent.recipient} of session {sent.session_id} ({sent.title!r}) at "
            f"{format_instant(sent.occurrence_start)}, {sent.lead_minutes} minutes ahead"
        )
    for session_id, reason in run.failed:
        click.echo(f"session {session_id}: {reason}", err=True)
    click.echo(f"{len(run.sent)} reminders sent")
    if run.failed:
        raise SystemExit(1)


@forum_cli.command("preflight")
@_AT
def preflight(at: dt.datetime | None) -> None:
    """Check at their providers the meetings due a pre-flight check now (or as of --at)."""
    from forum.reminders import preflight as checks

    run = checks.run_checks(now=at)
    for check in run.checks:
        said = "ok" if check.ok else "; ".join(check.problems)
        click.echo(
            f"session {check.session_id} ({check.title!r}) at "
            f"{format_instant(check.occurrence_start)}, {check.lead_minutes} minutes ahead: {said}"
        )
    for session_id, reason in run.failed:
        click.echo(f"session {session_id}: {reason}", err=True)
    click.echo(f"{len(run.checks)} checked, {len(run.problems)} with problems")
    if run.failed:
        raise SystemExit(1)


# --- directory import ----------------------------------------------------------------------------


def _import_command(
    kind: str, file: BinaryIO, file_format: str | None, dry_run: bool, as_email: str | None
) -> None:
    """Import a CSV or JSON file of ``kind``: counts, or every bad row and exit status 1."""
    name = getattr(file, "name", "-")
    media_type = {"csv": bulk.CSV, "json": bulk.JSON}.get(
        file_format or "", bulk.media_type_for_filename(name)
    )
    actor = None
    if as_email is not None:
        actor = accounts.find_organiser(as_email)
        if actor is None:
            raise click.ClickException(f"no organiser with email {as_email}")
    try:
        plan = directory_import.plan(kind, file.read(), media_type, actor=actor)
        if plan.bad_rows:
            raise bulk.ImportRefused(plan)
        if not dry_run:
            directory_import.apply(plan, actor=actor)
            db.session.commit()
    except bulk.ImportRefused as exc:
        for problem in exc.plan.problems:
            where = f"{exc.plan.position_name} {problem.position}"
            click.echo(f"{name}: {where}: {problem.field}: {problem.message}", err=True)
        _fail(exc)
    except ForumError as exc:
        _fail(exc)
    created, updated, unchanged = (
        plan.count(outcome) for outcome in (bulk.CREATED, bulk.UPDATED, bulk.UNCHANGED)
    )
    if dry_run:
        click.echo(
            f"{kind}: {created} to create, {updated} to update, {unchanged} unchanged "
            f"({_rows(len(plan.rows))}); nothing written (--dry-run)"
        )
    else:
        click.echo(
            f"{kind}: {created} created, {updated} updated, {unchanged} unchanged "
            f"({_rows(len(plan.rows))})"
        )


def _rows(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"


_FILE = click.argument("file", type=click.File("rb"))
_FORMAT = click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "json"]),
    help="The file's format (default: JSON for a .json file, else CSV).",
)
_DRY_RUN = click.option("--dry-run", is_flag=True, help="Check every row; write nothing.")
_AS = click.option(
    "--as",
    "as_email",
    default=None,
    metavar="EMAIL",
    help="Import as this organiser: new entries are theirs, and only entries they may change "
    "are updated (default: no one's; new entries are left to administrators).",
)


@forum_cli.command("import-people")
@_FILE
@_FORMAT
@_DRY_RUN
@_AS
def import_people(
    file: BinaryIO, file_format: str | None, dry_run: bool, as_email: str | None
) -> None:
    """Import people from a CSV or JSON file, all or nothing (matched by email).

    CSV header: name,email,institution,timezone,role_title,working_hours,acceptable_hours.
    """
    _import_command("people", file, file_format, dry_run, as_email)


@forum_cli.command("import-institutions")
@_FILE
@_FORMAT
@_DRY_RUN
@_AS
def import_institutions(
    file: BinaryIO, file_format: str | None, dry_run: bool, as_email: str | None
) -> None:
    """Import institutions from a CSV or JSON file, all or nothing (matched by name).

    CSV header: name,short_name,country,timezone,subdivision.
    """
    _import_command("institutions", file, file_format, dry_run, as_email)


@forum_cli.command("import-timetable")
@_FILE
@_FORMAT
@click.option(
    "--organiser",
    "organiser_email",
    required=True,
    metavar="EMAIL",
    help="The organiser the term and its courses belong to.",
)
@click.option("--term-name", default=None, help="The term's name (or the JSON file's term).")
@click.option("--first-day", default=None, metavar="YYYY-MM-DD", help="Week 1 starts on this day.")
@click.option("--weeks", default=None, type=click.IntRange(1, 60), help="The term's length.")
@click.option("--timezone", default=None, help="IANA zone the meeting times are written in.")
@click.option("--country", default=None, help="ISO 3166-1 alpha-2 code whose holidays apply.")
@click.option("--subdivision", default=None, help="ISO 3166-2 subdivision, e.g. ENG.")
@click.option("--no-holidays", is_flag=True, help="Meet on public holidays too.")
@click.option(
    "--rate",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Invitations per minute (default: FORUM_TIMETABLE_INVITES_PER_MINUTE).",
)
@_DRY_RUN
def import_timetable(
    file: BinaryIO,
    file_format: str | None,
    organiser_email: str,
    term_name: str | None,
    first_day: str | None,
    weeks: int | None,
    timezone: str | None,
    country: str | None,
    subdivision: str | None,
    no_holidays: bool,
    rate: int | None,
    dry_run: bool,
) -> None:
    """Import a term's weekly courses from a CSV or JSON file, all or nothing, then send the
    invitations at the term's rate (a progress bar; with a broker, the workers send them).

    CSV header: course_code,title,teachers,weekday,start,minutes,weeks,students.
    """
    from forum.accounts.models import Organiser
    from forum.timetables import importer
    from forum.timetables import sending

    organiser = db.session.scalar(
        sa.select(Organiser).where(sa.func.lower(Organiser.email) == organiser_email.lower())
    )
    if organiser is None:
        raise click.ClickException(f"no organiser with email {organiser_email}")
    if file_format:
        media_type = importer.JSON if file_format == "json" else importer.CSV
    else:
        media_type = importer.media_type_for_filename(file.name)
    inline = bool(current_app.extensions["celery"].conf.task_always_eager)
    term = {
        "name": term_name,
        "first_day": first_day,
        "weeks": weeks,
        "timezone": timezone,
        "country": country,
        "subdivision": subdivision,
        "skip_holidays": False if no_holidays else None,
        "rate_per_minute": rate,
    }
    try:
        result = importer.import_timetable(
            file.read(),
            media_type,
            organiser=organiser,
            term=term,
            default_rate=current_app.config.get("FORUM_TIMETABLE_INVITES_PER_MINUTE", 600),
            # Without a broker this command sends the invitations itself, below.
            queue_sending=not inline,
            dry_run=dry_run,
        )
    except importer.TimetableRefused as exc:
        for problem in exc.plan.problems:
            where = f"{exc.plan.position_name} {problem.position}"
            click.echo(f"{where}: {problem.field}: {problem.message}", err=True)
        click.echo(f"Error: {exc.message}", err=True)
        raise SystemExit(1) from None
    except ForumError as exc:
        _fail(exc)
    if isinstance(result, importer.TimetablePlan):
        meetings = sum(len(course.meetings) for course in result.courses.values())
        click.echo(
            f"{len(result.courses)} courses, {meetings} weekly meetings: "
            "the file is valid; nothing written (--dry-run)"
        )
        _echo_excluded(result.periods)
        return
    db.session.commit()
    timetable_import = result.timetable_import
    click.echo(
        f"{result.term.name}: {timetable_import.courses} courses, "
        f"{timetable_import.sessions} weekly meetings, "
        f"{timetable_import.invitations_total} invitations"
    )
    for excluded in result.term.excluded_dates:
        click.echo(f"  left out: {excluded['date']} ({excluded['name']})")
    if not inline:
        base = current_app.config.get("FORUM_BASE_URL", "").rstrip("/")
        click.echo(
            f"The workers send the invitations at {timetable_import.rate_per_minute} a minute: "
            f"{base}/timetable-imports/{timetable_import.id}"
        )
        return
    _send_in_foreground(sending, timetable_import.id)


def _echo_excluded(periods) -> None:
    for period in periods:
        click.echo(f"  left out: {period.start} to {period.end} ({period.name})")


def _send_in_foreground(sending, import_id: int) -> None:
    """Send an import's invitations batch by batch at its rate, with a progress bar."""
    from forum.timetables.models import TimetableImport

    timetable_import = db.session.get(TimetableImport, import_id)
    total = timetable_import.invitations_total
    with click.progressbar(length=total, label="Sending invitations") as bar:
        bar.update(timetable_import.invitations_sent)
        while True:
            outcome = sending.send_next_batch(import_id)
            bar.update(outcome.sent)
            if outcome.status != "sending":
                break
            time.sleep(outcome.wait_seconds)
    db.session.expire_all()
    timetable_import = db.session.get(TimetableImport, import_id)
    if timetable_import.status == "failed":
        raise click.ClickException(timetable_import.error or "sending failed")
    click.echo(f"{timetable_import.invitations_sent} invitations sent")


# --- video providers -----------------------------------------------------------------------------

provider_cli = AppGroup("provider", help="Video provider accounts: add, list, hosts, check.")
forum_cli.add_command(provider_cli)


@provider_cli.command("add")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(ACCOUNT_KINDS))
@click.option(
    "--account-id",
    callback=_clean_line,
    help="Zoom: the Server-to-Server OAuth app's account id.",
)
@click.option("--client-id", callback=_clean_line)
@click.option("--client-secret", help="Stored encrypted; never shown again.")
@click.option("--tenant-id", callback=_clean_line, help="Teams: the Microsoft Entra tenant.")
@click.option("--token", help="Webex: a bot or integration token. Stored encrypted.")
@click.option("--webhook-secret", help="Stored encrypted.")
@click.option(
    "--hosts",
    default="",
    callback=_clean_line,
    help="Host users, comma-separated: a@uni.example,b@...",
)
@click.option("--api-base-url", help="The API's base URL (regional endpoints, a fake server).")
@click.option("--oauth-url", help="The token endpoint's base URL.")
@click.option("--jitsi-base-url", help="Jitsi: the server, e.g. https://meet.uni.example.")
@click.option("--option", "options", multiple=True, help="Extra setting KEY=VALUE (repeatable).")
def provider_add(name: str, kind: str, hosts: str, options: tuple[str, ...], **fields) -> None:
    """Add a provider account (secrets are encrypted at rest)."""
    extra = dict(option.split("=", 1) for option in options if "=" in option)
    try:
        account = provider_accounts.add_account(
            name=name, kind=kind, hosts=hosts.split(","), options=extra, **fields
        )
    except ForumError as exc:
        _fail(exc)
    db.session.commit()
    hosts_text = ", ".join(account.hosts) or "no hosts"
    click.echo(f"Added {account.kind} account {account.name!r} ({hosts_text}).")


@provider_cli.command("list")
def provider_list() -> None:
    """The accounts, their hosts and last check; secrets only as 'set' or 'not set'."""
    for account in provider_accounts.accounts():
        shown = provider_accounts.describe(account)
        secrets = ", ".join(
            f"{field} {'set' if shown[f'has_{field}'] else 'not set'}" for field in SECRET_FIELDS
        )
        click.echo(f"{account.name}  {account.kind}  hosts: {', '.join(account.hosts) or '-'}")
        click.echo(f"    {secrets}")
        if account.last_check_at:
            problems = "; ".join(account.last_check_problems) or "no problems"
            click.echo(f"    checked {format_instant(account.last_check_at)}: {problems}")


@provider_cli.command("hosts")
@click.argument("name")
@click.argument("hosts", callback=_clean_line)
def provider_hosts(name: str, hosts: str) -> None:
    """Replace an account's host users: HOSTS is comma-separated, a@uni.example,b@...

    Meetings opened on a host that leaves keep it; those still to open move to a free host
    when retried (recorded on the meeting).
    """
    try:
        account = provider_accounts.get_account(name)
        provider_accounts.set_hosts(account, hosts.split(","))
    except ForumError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"{account.name}: hosts {', '.join(account.hosts)}.")


@provider_cli.command("check")
@click.argument("name")
def provider_check(name: str) -> None:
    """Check an account now: its token, its hosts, its meetings of the next 7 days."""
    try:
        account = provider_accounts.get_account(name)
    except ForumError as exc:
        _fail(exc)
    problems = meetings.check_account(account)
    if not problems:
        click.echo(f"{name}: no problems.")
        return
    for problem in problems:
        click.echo(f"{name}: {problem}")
    raise SystemExit(1)


@forum_cli.command("fake-provider")
@click.argument("kind", type=click.Choice(FAKE_KINDS))
@click.option("--port", default=8801, show_default=True)
@click.option("--host", "hosts", default="host1@uni.example,host2@uni.example", show_default=True)
def fake_provider(kind: str, port: int, hosts: str) -> None:
    """Serve a fake provider API on 127.0.0.1 for trials without an account."""
    from forum.providers.fakes import serve_fake

    serve_fake(kind, port=port, hosts=[h for h in hosts.split(",") if h])
