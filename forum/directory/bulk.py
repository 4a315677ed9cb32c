"""Bulk directory import: a file of people or institutions, checked as a whole, written at once.

An import is all or nothing. Every row is read and checked (its fields, then against the
directory: institutions it names, emails repeated in the file) before anything is written;
a single bad row refuses the whole file, and the refusal lists every bad row. People are
matched by email (whatever its case), institutions by name and country: a match is
updated with the fields the row gives, anything else is created.

The number of SQL statements does not grow with the rows: the directory is read in one
query per table, new rows are inserted with one executemany (and their ids read back in one
query), changed rows updated with another.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from forum.core.errors import Conflict
from forum.core.errors import ForumError
from forum.core.errors import ValidationFailed
from forum.db import now_utc
from forum.directory.models import DEFAULT_ACCEPTABLE_HOURS
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.directory.services import default_timezone_for_country
from forum.directory.services import default_working_hours
from forum.directory.weekly_hours import HoursSyntaxError
from forum.directory.weekly_hours import parse_hours
from forum.events import feedcache
from forum.extensions import db
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import locale_for_country
from forum.i18n import ngettext

PEOPLE = "people"
INSTITUTIONS = "institutions"
KINDS = (PEOPLE, INSTITUTIONS)
CSV = "text/csv"
JSON = "application/json"
MEDIA_TYPES = (CSV, JSON)

MAX_IMPORT_ROWS = 10_000
# 10,000 people written out as indented JSON with both weeks of hours stay well under this.
MAX_IMPORT_BYTES = 16 * 1024 * 1024

# The CSV header, in the documented order; any order is read.
COLUMNS = {
    PEOPLE: (
        "name",
        "email",
        "institution",
        "timezone",
        "role_title",
        "working_hours",
        "acceptable_hours",
        "locale",
    ),
    INSTITUTIONS: ("name", "short_name", "country", "timezone", "subdivision"),
}
REQUIRED_COLUMNS = {PEOPLE: ("name", "email"), INSTITUTIONS: ("name", "country")}
HOURS_COLUMNS = ("working_hours", "acceptable_hours")
# Fields of the single-create endpoints that an import leaves to their own calls.
NOT_IMPORTED = {
    PEOPLE: {
        "busy": _l("not imported: set busy times with PUT /api/v1/people/{id}/availability"),
        "ics_url": _l("not imported: set it with PUT /api/v1/people/{id}/availability"),
    },
    INSTITUTIONS: {
        "blackouts": _l("not imported: set them with PATCH /api/v1/institutions/{id}"),
    },
}
CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"


class MalformedFile(ForumError):
    """A file that cannot be read as CSV or JSON at all (400, as for any malformed body)."""


class ImportTooLarge(ForumError):
    """A file over the byte cap of an import."""

    status = 413
    code = "payload_too_large"


class ImportRefused(ValidationFailed):
    """Some rows are not valid: nothing was written; ``details["rows"]`` lists every problem."""

    def __init__(self, plan: ImportPlan) -> None:
        problems = plan.problems
        bad = plan.bad_rows
        first = problems[0]
        total = len(plan.rows)
        where = {"position": first.position, "field": first.field, "message": first.message}
        if plan.position_name == "line":
            message = ngettext(
                "nothing was imported: %(num)d of %(total)d rows is not valid "
                "(first: line %(position)s, %(field)s: %(message)s)",
                "nothing was imported: %(num)d of %(total)d rows are not valid "
                "(first: line %(position)s, %(field)s: %(message)s)",
                bad,
                total=total,
                **where,
            )
        else:
            message = ngettext(
                "nothing was imported: %(num)d of %(total)d rows is not valid "
                "(first: index %(position)s, %(field)s: %(message)s)",
                "nothing was imported: %(num)d of %(total)d rows are not valid "
                "(first: index %(position)s, %(field)s: %(message)s)",
                bad,
                total=total,
                **where,
            )
        super().__init__(
            {
                "rows": ngettext(
                    "%(num)d of %(total)d rows is not valid: nothing was imported",
                    "%(num)d of %(total)d rows are not valid: nothing was imported",
                    bad,
                    total=total,
                )
            },
            message=message,
            details={
                "rows": [problem.as_dict(plan.position_name) for problem in problems],
                "bad_rows": bad,
                "total_rows": len(plan.rows),
            },
        )
        self.plan = plan


@dataclass
class Problem:
    """What is wrong with one field of one row."""

    position: int
    field: str
    message: str

    def as_dict(self, position_name: str) -> dict[str, Any]:
        return {position_name: self.position, "field": self.field, "message": self.message}


@dataclass
class SourceRow:
    """One row of an import: as read, then checked, then planned."""

    # The CSV line (the header is line 1) or the index in the JSON list.
    position: int
    # The row's fields under the names of the JSON form. Once checked, the values that
    # passed; a field with a problem is left out, so later checks do not repeat it.
    values: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    # The row as the file has it (a CSV's cells by column, a JSON object), to show it.
    raw: dict[str, Any] = field(default_factory=dict)
    # How a field is called where the row came from (a CSV's "institution" column holds
    # what JSON calls "institution_id").
    aliases: dict[str, str] = field(default_factory=dict)
    # Set by the plan: what the row will do, to which record, with which values (and, for
    # an update, the values it had).
    outcome: str | None = None
    record_id: int | None = None
    final: dict[str, Any] = field(default_factory=dict)
    before: dict[str, Any] = field(default_factory=dict)

    def refuse(self, name: str, message: str) -> None:
        """Record a problem with field ``name``; the file's own name for it is shown."""
        top, dot, rest = name.partition(".")
        self.values.pop(top, None)
        shown = self.aliases.get(top, top) + dot + rest
        if not any(problem.field == shown for problem in self.problems):
            self.problems.append(Problem(self.position, shown, message))

    def has_problem(self, name: str) -> bool:
        shown = self.aliases.get(name, name)
        return any(problem.field.partition(".")[0] == shown for problem in self.problems)


@dataclass
class ImportPlan:
    """The rows of an import with what each will do, or why it cannot."""

    kind: str
    position_name: str
    rows: list[SourceRow]
    # Institution names by id, for showing the rows of a people import.
    institution_names: dict[int, str] = field(default_factory=dict)

    @property
    def problems(self) -> list[Problem]:
        return [problem for row in self.rows for problem in row.problems]

    @property
    def bad_rows(self) -> int:
        return sum(1 for row in self.rows if row.problems)

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome and not row.problems)


@dataclass
class ImportResult:
    """What an import wrote, row by row in the file's order."""

    kind: str
    position_name: str
    created: int
    updated: int
    unchanged: int
    rows: list[tuple[int, int, str]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rows": [
                {self.position_name: position, "id": record_id, "result": outcome}
                for position, record_id, outcome in self.rows
            ],
        }


# --- reading files -----------------------------------------------------------------------------


def media_type_for_filename(filename: str) -> str:
    """JSON for a ``.json`` file, CSV for anything else (``.csv``, ``.txt``...)."""
    return JSON if filename.lower().endswith(".json") else CSV


def read_file(kind: str, data: bytes, media_type: str) -> tuple[str, list[SourceRow]]:
    """The rows of a CSV or JSON file, and what their positions are called ("line", "index").

    File-wide faults raise at once: not UTF-8 or not JSON (400), an empty file, unknown or
    missing columns, more than MAX_IMPORT_ROWS rows (422). A row's own faults are recorded
    on the row.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}")
    if not data.strip():
        raise _empty_file(kind)
    if media_type == CSV:
        rows = _read_csv(kind, data)
        position_name = "line"
    elif media_type == JSON:
        rows = _read_json(kind, data)
        position_name = "index"
    else:
        raise ValueError(f"unknown media type {media_type!r}")
    if len(rows) > MAX_IMPORT_ROWS:
        raise ValidationFailed(
            {
                "rows": _(
                    "at most %(max_rows)s rows per import; this file has %(rows)s",
                    max_rows=MAX_IMPORT_ROWS,
                    rows=len(rows),
                )
            },
            message=_(
                "the file has %(rows)s rows, more than the %(max_rows)s an import "
                "takes: split it into several files",
                rows=len(rows),
                max_rows=MAX_IMPORT_ROWS,
            ),
            code="too_many_rows",
            details={"max_rows": MAX_IMPORT_ROWS, "total_rows": len(rows)},
        )
    return position_name, rows


def _empty_file(kind: str) -> ValidationFailed:
    header = ",".join(COLUMNS[kind])
    return ValidationFailed(
        {
            "file": _(
                "is empty: give a CSV header line (%(header)s) and a line per row, or a JSON list",
                header=header,
            )
        }
    )


def decode_csv(data: bytes) -> str:
    """A CSV file's text (UTF-8, with or without a byte order mark); a clear error otherwise."""
    try:
        # utf-8-sig: spreadsheets save "CSV UTF-8" with a byte order mark in front.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedFile(
            _(
                "the file is not UTF-8 text (byte %(byte)s cannot be read): save it as CSV UTF-8",
                byte=exc.start,
            ),
            code="malformed_csv",
        ) from None


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Each CSV record with the line it starts on (a quoted cell may span lines).

    Cells are separated by commas, or by semicolons when the header is (as spreadsheets
    save "CSV" where the comma is the decimal separator, in much of Europe).
    """
    header = text.partition("\n")[0]
    delimiter = ";" if ";" in header and "," not in header else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    line = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise MalformedFile(
                _(
                    "line %(line)s: the file is not valid CSV: %(reason)s",
                    line=reader.line_num,
                    reason=exc,
                ),
                code="malformed_csv",
            ) from None
        yield line, record
        line = reader.line_num + 1


def check_header(
    header: list[str], *, expected: tuple[str, ...], required: tuple[str, ...]
) -> list[str]:
    """The column names of a CSV header line (trimmed, lower case); a clear error for a
    column without a name, one not ``expected``, one given twice or a ``required`` one
    missing. The directory import and the timetable import read their headers with it."""
    names = [name.strip().lower() for name in header]
    unknown = [name for name in names if name not in expected]
    if "" in unknown:
        raise ValidationFailed(
            {
                "columns": _(
                    "column %(column)s of the header has no name", column=names.index("") + 1
                )
            },
            details={"columns": list(expected)},
        )
    if unknown:
        raise ValidationFailed(
            {
                "columns": ngettext(
                    "unknown column %(unknown)s: the columns are %(columns)s",
                    "unknown columns %(unknown)s: the columns are %(columns)s",
                    len(unknown),
                    unknown=", ".join(unknown),
                    columns=", ".join(expected),
                )
            },
            details={"unknown_columns": unknown, "columns": list(expected)},
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValidationFailed(
            {"columns": _("repeated column %(columns)s", columns=", ".join(repeated))}
        )
    missing = [name for name in required if name not in names]
    if missing:
        raise ValidationFailed(
            {
                "columns": ngettext(
                    "missing column %(missing)s",
                    "missing columns %(missing)s",
                    len(missing),
                    missing=", ".join(missing),
                )
            },
            details={"missing_columns": missing, "columns": list(expected)},
        )
    return names


def _read_csv(kind: str, data: bytes) -> list[SourceRow]:
    text = decode_csv(data)
    records = _records(text)
    header = next(records, None)
    if header is None or not any(cell.strip() for cell in header[1]):
        raise _empty_file(kind)
    columns = check_header(header[1], expected=COLUMNS[kind], required=REQUIRED_COLUMNS[kind])
    rows: list[SourceRow] = []
    for line, cells in records:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines, and the ",,,," rows spreadsheets leave
        row = SourceRow(
            line,
            {},
            raw=dict(zip(columns, (cell.strip() for cell in cells), strict=False)),
            aliases={"institution_id": "institution"},
        )
        if len(cells) > len(columns):
            row.problems.append(
                Problem(
                    line,
                    "row",
                    ngettext(
                        "has %(num)d cell; the header has %(columns)d",
                        "has %(num)d cells; the header has %(columns)d",
                        len(cells),
                        columns=len(columns),
                    ),
                )
            )
        for name, cell in zip(columns, cells, strict=False):
            _csv_cell(kind, row, name, cell.strip())
        rows.append(row)
    if not rows:
        raise ValidationFailed({"file": _("has a header but no rows")})
    return rows


def _csv_cell(kind: str, row: SourceRow, name: str, cell: str) -> None:
    """Put one cell into the row under its JSON name; an empty cell gives no value."""
    if not cell:
        return
    if "\x00" in cell:
        row.problems.append(Problem(row.position, name, _("must not contain NUL characters")))
    elif kind == PEOPLE and name == "institution":
        # An id, or the short name or name of an institution.
        if cell.isascii() and cell.isdigit():
            row.values["institution_id"] = int(cell)
        else:
            row.values["institution"] = cell
    elif name in HOURS_COLUMNS:
        try:
            row.values[name] = parse_hours(cell)
        except HoursSyntaxError as exc:
            row.problems.append(Problem(row.position, name, str(exc)))
    else:
        row.values[name] = cell


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _read_json(kind: str, data: bytes) -> list[SourceRow]:
    try:
        items = json.loads(data)
    # RecursionError: arrays nested thousands deep overflow the parser: malformed too.
    except (ValueError, RecursionError) as exc:
        raise MalformedFile(
            _("the file is not valid JSON: %(reason)s", reason=exc), code="malformed_json"
        ) from None
    example = f'[{{"name": ..., "{REQUIRED_COLUMNS[kind][1]}": ...}}, ...]'
    if not isinstance(items, list):
        raise ValidationFailed(
            {"file": _("must be a JSON list with one object per row: %(example)s", example=example)}
        )
    if not items:
        raise ValidationFailed(
            {"file": _("is an empty list: give one object per row: %(example)s", example=example)}
        )
    rows: list[SourceRow] = []
    for index, item in enumerate(items):
        row = SourceRow(index, {}, raw=item if isinstance(item, dict) else {})
        rows.append(row)
        if not isinstance(item, dict):
            row.problems.append(Problem(index, "row", _("must be a JSON object")))
            continue
        for name, value in item.items():
            if name in NOT_IMPORTED[kind]:
                row.problems.append(Problem(index, name, str(NOT_IMPORTED[kind][name])))
            elif _has_nul(value) or _has_nul(name):
                row.problems.append(Problem(index, name, _("must not contain NUL characters")))
            elif value is not None:
                # null is "not given", as an empty CSV cell.
                row.values[name] = value
    return rows


# --- planning: every row against the directory --------------------------------------------------


def plan_import(kind: str, position_name: str, rows: list[SourceRow]) -> ImportPlan:
    """What each checked row will do (create, update, nothing), or its problems.

    Reads the directory (one query per table) and writes nothing.
    """
    plan = ImportPlan(kind, position_name, rows)
    if kind == PEOPLE:
        _plan_people(plan)
    else:
        _plan_institutions(plan)
    return plan


def _repeated(plan: ImportPlan, field_name: str, key: Any) -> None:
    """Refuse every row whose ``key`` (e.g. its lowercased email) another row has too."""
    rows_by_key: dict[Any, list[SourceRow]] = defaultdict(list)
    for row in plan.rows:
        value = key(row)
        if value is not None:
            rows_by_key[value].append(row)
    for same in rows_by_key.values():
        for row in same if len(same) > 1 else ():
            others = [str(other.position) for other in same if other is not row]
            row.refuse(field_name, _also_given(plan.position_name, others))


def _also_given(position_name: str, positions: list[str]) -> str:
    """ "also given on line 7", "on lines 7, 9", "at index 3", "at indexes 3, 5"."""
    if position_name == "line":
        return ngettext(
            "also given on line %(lines)s",
            "also given on lines %(lines)s",
            len(positions),
            lines=", ".join(positions),
        )
    return ngettext(
        "also given at index %(indexes)s",
        "also given at indexes %(indexes)s",
        len(positions),
        indexes=", ".join(positions),
    )


def _text(row: SourceRow, name: str) -> str | None:
    value = row.values.get(name)
    return value if isinstance(value, str) and not row.has_problem(name) else None


def _plan_people(plan: ImportPlan) -> None:
    institutions = db.session.execute(
        sa.select(
            Institution.id,
            Institution.name,
            Institution.short_name,
            Institution.country,
            Institution.timezone,
        )
    ).all()
    by_id = {institution.id: institution for institution in institutions}
    by_name = {institution.name.lower(): institution for institution in institutions}
    by_short_name: dict[str, list[Any]] = defaultdict(list)
    for institution in institutions:
        if institution.short_name:
            by_short_name[institution.short_name.lower()].append(institution)
    plan.institution_names = {institution.id: institution.name for institution in institutions}

    def email_key(row: SourceRow) -> str | None:
        email = _text(row, "email")
        return email.lower() if email else None

    _repeated(plan, "email", email_key)
    emails = sorted({key for row in plan.rows if (key := email_key(row))})
    existing = {}
    if emails:
        found = db.session.execute(
            sa.select(
                Person.id,
                Person.name,
                Person.email,
                Person.institution_id,
                Person.timezone,
                Person.role_title,
                Person.locale,
                Person.working_hours,
                Person.acceptable_hours,
            ).where(sa.func.lower(Person.email).in_(emails))
        ).all()
        existing = {person.email.lower(): person for person in found}

    weekly_defaults: dict[str | None, dict[str, list[list[str]]]] = {}
    for row in plan.rows:
        institution = _institution_of(row, by_id, by_name, by_short_name)
        if row.problems:
            continue
        values = row.values
        current = existing.get(values["email"].lower())
        if current is None:
            country = institution.country if institution else None
            if country not in weekly_defaults:
                weekly_defaults[country] = default_working_hours(country)
            timezone = values.get("timezone") or (institution.timezone if institution else None)
            if timezone is None:
                row.refuse("timezone", _("required for a person without an institution"))
                continue
            row.final = {
                "name": values["name"],
                "email": values["email"],
                "institution_id": institution.id if institution else None,
                "timezone": timezone,
                "role_title": values.get("role_title", ""),
                "locale": values.get("locale") or locale_for_country(country),
                "working_hours": values.get("working_hours") or weekly_defaults[country],
                "acceptable_hours": values.get("acceptable_hours") or DEFAULT_ACCEPTABLE_HOURS,
            }
            row.outcome = CREATED
            continue
        before = {
            "name": current.name,
            "email": current.email,
            "institution_id": current.institution_id,
            "timezone": current.timezone,
            "role_title": current.role_title,
            "locale": current.locale,
            "working_hours": current.working_hours,
            "acceptable_hours": current.acceptable_hours,
        }
        # As PATCH: the fields the row gives replace the stored ones, the others stay.
        row.final = {**before, **_given(values, before)}
        if institution is not None:
            row.final["institution_id"] = institution.id
        row.record_id = current.id
        row.before = before
        row.outcome = UPDATED if row.final != before else UNCHANGED


def _given(values: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if name in fields}


def _institution_of(
    row: SourceRow,
    by_id: dict[int, Any],
    by_name: dict[str, Any],
    by_short_name: dict[str, list[Any]],
) -> Any:
    """The institution a person's row names by id, name or short name (None if none)."""
    values = row.values
    if "institution_id" in values and "institution" in values:
        row.refuse("institution", _("give institution_id or institution, not both"))
        return None
    institution_id = values.get("institution_id")
    if isinstance(institution_id, int) and not row.has_problem("institution_id"):
        institution = by_id.get(institution_id)
        if institution is None:
            row.refuse("institution_id", _("no institution with id %(id)s", id=institution_id))
        return institution
    reference = _text(row, "institution")
    if reference is None:
        return None
    institution = by_name.get(reference.lower())
    if institution is not None:
        return institution
    matches = by_short_name.get(reference.lower(), [])
    if len(matches) == 1:
        return matches[0]
    if matches:
        named = ", ".join(f"{match.name} (id {match.id})" for match in matches)
        row.refuse(
            "institution",
            _(
                "%(reference)s is the short name of %(named)s: give the id",
                reference=repr(reference),
                named=named,
            ),
        )
    else:
        row.refuse(
            "institution",
            _(
                "no institution has the name or short name %(reference)s",
                reference=repr(reference),
            ),
        )
    return None


def _plan_institutions(plan: ImportPlan) -> None:
    found = db.session.execute(
        sa.select(
            Institution.id,
            Institution.name,
            Institution.short_name,
            Institution.country,
            Institution.timezone,
            Institution.subdivision,
        )
    ).all()
    # Names are unique whatever their case (as when an institution is created alone).
    existing = {institution.name.lower(): institution for institution in found}

    def name_key(row: SourceRow) -> str | None:
        name = _text(row, "name")
        return name.lower() if name else None

    _repeated(plan, "name", name_key)
    for row in plan.rows:
        if row.problems:
            continue
        values = row.values
        current = existing.get(values["name"].lower())
        if current is None:
            timezone = values.get("timezone")
            if timezone is None:
                try:
                    timezone = default_timezone_for_country(values["country"])
                except ValidationFailed as exc:
                    row.refuse("timezone", exc.fields["timezone"])
                    continue
            row.final = {
                "name": values["name"],
                "short_name": values.get("short_name", ""),
                "country": values["country"],
                "timezone": timezone,
                "subdivision": values.get("subdivision"),
            }
            row.outcome = CREATED
            continue
        if current.country != values["country"]:
            row.refuse(
                "country",
                _(
                    "%(name)s (id %(id)s) is in %(country)s; names are unique, "
                    "so another institution of that name cannot be added",
                    name=current.name,
                    id=current.id,
                    country=current.country,
                ),
            )
            continue
        before = {
            "name": current.name,
            "short_name": current.short_name,
            "country": current.country,
            "timezone": current.timezone,
            "subdivision": current.subdivision,
        }
        row.final = {**before, **_given(values, before)}
        row.record_id = current.id
        row.before = before
        row.outcome = UPDATED if row.final != before else UNCHANGED


# --- writing -------------------------------------------------------------------------------------


def apply_import(plan: ImportPlan, *, created_by: int | None = None) -> ImportResult:
    """Write a plan without problems (else ImportRefused, nothing written). The caller commits.

    ``created_by``: the organiser the new rows are recorded as added by.
    """
    if plan.bad_rows:
        raise ImportRefused(plan)
    model = Person if plan.kind == PEOPLE else Institution
    now = now_utc()
    created = [row for row in plan.rows if row.outcome == CREATED]
    updated = [row for row in plan.rows if row.outcome == UPDATED]
    try:
        if created:
            _insert(model, created, now, created_by)
        if updated:
            _update(model, updated, now)
    except IntegrityError:
        # Someone added the same email or name between the check and the write.
        raise Conflict(
            _(
                "the directory changed while the file was imported; nothing was imported: "
                "send the file again"
            ),
            code="conflict",
        ) from None
    return ImportResult(
        kind=plan.kind,
        position_name=plan.position_name,
        created=len(created),
        updated=len(updated),
        unchanged=plan.count(UNCHANGED),
        rows=[(row.position, row.record_id, row.outcome) for row in plan.rows],
    )


def _insert(
    model: type[Person] | type[Institution],
    rows: list[SourceRow],
    now: Any,
    created_by: int | None,
) -> None:
    """One INSERT sent with every new row (executemany), then their ids in one query.

    The ids are read back by the exact email or name just written (unique) rather than with
    RETURNING: SQLite can only match returned rows to their parameters one row at a time.
    """
    db.session.execute(
        sa.insert(model),
        [
            {**row.final, "created_at": now, "updated_at": now, "created_by_id": created_by}
            for row in rows
        ],
    )
    key = model.email if model is Person else model.name
    keys = [row.final[key.key] for row in rows]
    ids = dict(db.session.execute(sa.select(key, model.id).where(key.in_(keys))).all())
    for row in rows:
        row.record_id = ids[row.final[key.key]]


def _update(model: type[Person] | type[Institution], rows: list[SourceRow], now: Any) -> None:
    """One UPDATE ... WHERE id = ? sent with every changed row's values (executemany)."""
    table = model.__table__
    names = list(rows[0].final)
    values: dict[str, Any] = {
        name: sa.bindparam(f"new_{name}", type_=table.c[name].type) for name in names
    }
    values["updated_at"] = sa.bindparam("new_updated_at", type_=table.c.updated_at.type)
    if model is Person:
        # Calendar feeds rebuild when a person's revision moves (forum.events.revisions).
        values["revision"] = table.c.revision + 1
    statement = sa.update(table).where(table.c.id == sa.bindparam("row_id")).values(values)
    if model is Person:
        # A statement the flush does not see: their feeds are dropped after the commit.
        feedcache.changed_after_commit(db.session, people=[row.record_id for row in rows])
    db.session.execute(
        statement,
        [
            {
                "row_id": row.record_id,
                "new_updated_at": now,
                **{f"new_{name}": row.final[name] for name in names},
            }
            for row in rows
        ],
    )
