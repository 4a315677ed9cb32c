"""The directory import page: a file of people or institutions, every row checked and shown
before anything is written, then imported on confirmation.

The confirmation carries the previewed file back in a hidden field, signed with the
instance's key and bound to the organiser, so what is written is exactly the file that was
shown, with no copy kept on the server between the two requests (app processes stay
stateless). The confirmed file is checked again, as the directory may have changed since.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from flask_wtf.file import FileRequired
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer
from wtforms import HiddenField
from wtforms import RadioField
from wtforms import SelectChoice
from wtforms.validators import InputRequired

from forum.accounts.models import Organiser
from forum.api import directory_import
from forum.core.errors import ForumError
from forum.directory import bulk
from forum.directory.weekly_hours import EXAMPLE as HOURS_EXAMPLE
from forum.directory.weekly_hours import format_hours
from forum.extensions import csrf
from forum.extensions import db
from forum.i18n import _
from forum.i18n import _l
from forum.web import bp
from forum.web.forms import protect_upload
from forum.web.forms import show_service_error

KIND_LABELS = {bulk.PEOPLE: _l("People"), bulk.INSTITUTIONS: _l("Institutions")}
# The preview lists every row with a problem (up to the first thousand) and the first of
# the others: enough to see that the columns were read as meant, without a page of 10,000.
SHOWN_BAD_ROWS = 1000
SHOWN_GOOD_ROWS = 200
# A preview can be confirmed for this long.
CONFIRM_WITHIN_SECONDS = 3600
# The file, and on confirmation its signed copy (compressed, then base64: at most a third
# larger than the file), with room for the rest of the form.
MAX_FORM_BYTES = 2 * bulk.MAX_IMPORT_BYTES
_SIGNING_SALT = "forum.directory-import"


class UploadForm(FlaskForm):
    kind = RadioField(
        _l("The file holds"),
        choices=[SelectChoice(kind, label) for kind, label in KIND_LABELS.items()],
        default=bulk.PEOPLE,
        validators=[InputRequired(_l("Choose what the file holds."))],
    )
    file = FileField(
        _l("CSV file"),
        validators=[FileRequired(_l("Choose a CSV file."))],
        render_kw={"accept": ".csv,text/csv,.json,application/json"},
    )


class ConfirmForm(FlaskForm):
    """The previewed file, signed (see the module's docstring)."""

    upload = HiddenField()


@dataclass
class Cell:
    text: str
    note: str = ""
    problems: list[str] = field(default_factory=list)


@dataclass
class PreviewRow:
    position: int
    outcome: str | None
    cells: list[Cell]
    # Problems with the row as a whole or with fields that have no column.
    problems: list[str]


@dataclass
class Preview:
    kind: str
    filename: str
    plan: bulk.ImportPlan
    rows: list[PreviewRow]
    hidden_bad: int
    hidden_good: int

    @property
    def columns(self) -> tuple[str, ...]:
        return bulk.COLUMNS[self.kind]


# --- pages -------------------------------------------------------------------------------------


def _organiser() -> Organiser:
    return current_user._get_current_object()


def _page(form: UploadForm, *, preview: Preview | None = None, confirm: ConfirmForm | None = None):
    return render_template(
        "directory/import.html",
        form=form,
        preview=preview,
        confirm=confirm,
        columns=bulk.COLUMNS,
        required_columns=bulk.REQUIRED_COLUMNS,
        kind_labels=KIND_LABELS,
        hours_example=HOURS_EXAMPLE,
        max_rows=bulk.MAX_IMPORT_ROWS,
        max_megabytes=bulk.MAX_IMPORT_BYTES // (1024 * 1024),
    )


@bp.get("/directory/import")
@login_required
def directory_import_page():
    return _page(UploadForm())


@bp.post("/directory/import")
@csrf.exempt
@login_required
def preview_directory_import():
    if (refused := _read_form()) is not None:
        return refused
    form = UploadForm()
    if not form.validate():
        return _page(form), 422
    upload = form.file.data
    data = upload.read(bulk.MAX_IMPORT_BYTES + 1)
    if len(data) > bulk.MAX_IMPORT_BYTES:
        form.file.errors.append(_too_large())
        return _page(form), 413
    filename = upload.filename or _("the file")
    media_type = bulk.media_type_for_filename(upload.filename or "")
    try:
        plan = directory_import.plan(form.kind.data, data, media_type, actor=_organiser())
    except ForumError as exc:
        show_service_error(form, exc)
        return _page(form), 422
    confirm = None
    if not plan.bad_rows:
        try:
            confirm = ConfirmForm(upload=_sign(form.kind.data, filename, media_type, data))
        except UnicodeDecodeError:
            form.file.errors.append(_("Save the file as UTF-8 and upload it again."))
            return _page(form), 422
    return _page(form, preview=_preview(form.kind.data, filename, plan), confirm=confirm)


@bp.post("/directory/import/confirm")
@csrf.exempt
@login_required
def confirm_directory_import():
    if (refused := _read_form()) is not None:
        return refused
    upload = _unsign(ConfirmForm().upload.data or "", _organiser())
    if upload is None:
        flash(_("This preview is too old or was changed: upload the file again."), "error")
        return redirect(url_for("web.directory_import_page")), 303
    kind, filename = upload["kind"], upload["filename"]
    plan = directory_import.plan(
        kind, upload["data"].encode("utf-8"), upload["media_type"], actor=_organiser()
    )
    if plan.bad_rows:
        # The directory changed since the preview (an institution deleted, an email taken).
        form = UploadForm(formdata=None, kind=kind)
        form.form_errors.append(
            _(
                "The directory changed since the preview and some rows no longer fit; nothing "
                "was imported. Fix the rows marked below and upload the file again."
            )
        )
        return _page(form, preview=_preview(kind, filename, plan)), 422
    result = directory_import.apply(plan, actor=_organiser())
    db.session.commit()
    flash(
        _(
            "Imported %(filename)s: %(created)s added, %(updated)s updated, "
            "%(unchanged)s unchanged.",
            filename=filename,
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
        ),
        "info",
    )
    return redirect(url_for("web.directory_import_page")), 303


def _too_large() -> str:
    return _(
        "The file is larger than %(megabytes)s MB, the most one import takes: split it into "
        "several files.",
        megabytes=bulk.MAX_IMPORT_BYTES // (1024 * 1024),
    )


def _read_form() -> tuple[str, int] | None:
    """Read the form under this page's limits (an import file and its signed copy exceed
    the ordinary ones) and check its CSRF token; None if it passes."""
    if protect_upload(MAX_FORM_BYTES):
        return None
    form = UploadForm(formdata=None)
    form.form_errors.append(_too_large())
    return _page(form), 413


# --- the signed copy of a previewed file -------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    # The URL-safe serializer compresses what it signs: a CSV shrinks to a fraction.
    return URLSafeTimedSerializer(current_app.secret_key, salt=_SIGNING_SALT)


def _sign(kind: str, filename: str, media_type: str, data: bytes) -> str:
    return _serializer().dumps(
        {
            "organiser": _organiser().id,
            "kind": kind,
            "filename": filename,
            "media_type": media_type,
            "data": data.decode("utf-8"),
        }
    )


def _unsign(token: str, organiser: Organiser) -> dict[str, Any] | None:
    """The upload a genuine, recent token of this organiser carries; None otherwise."""
    try:
        upload = _serializer().loads(token, max_age=CONFIRM_WITHIN_SECONDS)
    except BadSignature:
        return None
    if upload.get("organiser") != organiser.id:
        return None
    return upload


# --- the preview -------------------------------------------------------------------------------


def _preview(kind: str, filename: str, plan: bulk.ImportPlan) -> Preview:
    bad = [row for row in plan.rows if row.problems]
    good = [row for row in plan.rows if not row.problems]
    shown = {id(row) for row in (*bad[:SHOWN_BAD_ROWS], *good[:SHOWN_GOOD_ROWS])}
    return Preview(
        kind=kind,
        filename=filename,
        plan=plan,
        rows=[_preview_row(plan, row) for row in plan.rows if id(row) in shown],
        hidden_bad=max(0, len(bad) - SHOWN_BAD_ROWS),
        hidden_good=max(0, len(good) - SHOWN_GOOD_ROWS),
    )


def _column_of(field_name: str) -> str:
    """The column a problem's field belongs to ("working_hours.mon.0" to working_hours)."""
    top = field_name.partition(".")[0]
    return "institution" if top == "institution_id" else top


def _preview_row(plan: bulk.ImportPlan, row: bulk.SourceRow) -> PreviewRow:
    columns = bulk.COLUMNS[plan.kind]
    cells = []
    for column in columns:
        # A bad row shows what the file says; a good one what will be written.
        cell = Cell(_raw_text(row, column)) if row.problems else _final_cell(plan, row, column)
        cell.problems = [p.message for p in row.problems if _column_of(p.field) == column]
        cells.append(cell)
    others = [
        f"{p.field}: {p.message}" if p.field != "row" else p.message
        for p in row.problems
        if _column_of(p.field) not in columns
    ]
    return PreviewRow(row.position, None if row.problems else row.outcome, cells, others)


def _raw_text(row: bulk.SourceRow, column: str) -> str:
    value = row.raw.get(column)
    if value is None and column == "institution":
        value = row.raw.get("institution_id")
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if column in bulk.HOURS_COLUMNS and isinstance(value, dict):
        try:
            return format_hours(value)
        except (TypeError, ValueError, AttributeError):
            pass
    return json.dumps(value, ensure_ascii=False)


def _final_cell(plan: bulk.ImportPlan, row: bulk.SourceRow, column: str) -> Cell:
    """The value the row will have once imported, noting a default, a kept or a former value."""
    name = "institution_id" if column == "institution" else column
    text = _shown(plan, column, row.final.get(name))
    given = row.raw.get(column) not in (None, "") or (
        column == "institution" and row.raw.get("institution_id") not in (None, "")
    )
    if row.outcome == bulk.UPDATED and row.before.get(name) != row.final.get(name):
        before = _shown(plan, column, row.before.get(name)) or _("empty")
        return Cell(text, _("was %(value)s", value=before))
    if given or not text:
        return Cell(text)
    return Cell(text, _("default") if row.outcome == bulk.CREATED else _("kept"))


def _shown(plan: bulk.ImportPlan, column: str, value: Any) -> str:
    if value is None:
        return ""
    if column == "institution":
        return plan.institution_names.get(value, "")
    if column in bulk.HOURS_COLUMNS:
        return format_hours(value)
    return str(value)
