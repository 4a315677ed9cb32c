"""Bulk directory import as the API, the import page and the CLI run it.

The file is read by forum.directory.bulk, each row is checked by the API's own schemas
(the rules of POST /people and POST /institutions), then the import service plans and
writes it. One path for every edge, so a file gets the same answer everywhere.

An import acts for an organiser: the entries it creates are theirs, a row that would change
an entry they may not change (forum.directory.services) is refused like any bad row, and
what it changes is recorded under their name. The command line may import on no one's
behalf (``actor=None``): it is trusted with the whole directory, and what it creates has no
recorded creator.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from pydantic import ValidationError

from forum.accounts.models import Organiser
from forum.api import schemas
from forum.api.util import field_errors
from forum.core.errors import ValidationFailed
from forum.db import now_utc
from forum.db import one_of
from forum.directory import bulk
from forum.directory import services
from forum.directory.models import DirectoryChange
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.extensions import db
from forum.i18n import _

ROW_SCHEMAS: dict[str, type[BaseModel]] = {
    bulk.PEOPLE: schemas.PersonImportRow,
    bulk.INSTITUTIONS: schemas.InstitutionImportRow,
}


def check_rows(kind: str, rows: list[bulk.SourceRow]) -> None:
    """Validate each row's fields; a row keeps the values that passed, as the schema gives them."""
    schema = ROW_SCHEMAS[kind]
    for row in rows:
        if row.problems and not row.raw:
            continue  # not an object at all: its fields cannot be read
        try:
            checked = schema.model_validate(row.values, strict=True)
        except ValidationError as exc:
            problems = field_errors(exc)
        except ValidationFailed as exc:
            problems = exc.fields
        else:
            row.values = checked.model_dump(exclude_none=True)
            continue
        for name, message in problems.items():
            row.refuse("row" if name == "body" else name, message)


def plan(kind: str, data: bytes, media_type: str, *, actor: Organiser | None) -> bulk.ImportPlan:
    """Read and check a whole file against the directory as ``actor``; nothing is written."""
    position_name, rows = bulk.read_file(kind, data, media_type)
    check_rows(kind, rows)
    import_plan = bulk.plan_import(kind, position_name, rows)
    if actor is not None and not actor.is_admin:
        refuse_others_entries(import_plan, actor)
    return import_plan


def refuse_others_entries(import_plan: bulk.ImportPlan, actor: Organiser) -> None:
    """Refuse each row that would change an entry ``actor`` may not change.

    A row that matches such an entry but changes nothing passes: a shared file can be
    imported again by everyone who uses it.
    """
    updates = [row for row in import_plan.rows if row.outcome == bulk.UPDATED and not row.problems]
    if not updates:
        return
    model = Person if import_plan.kind == bulk.PEOPLE else Institution
    key = "email" if model is Person else "name"
    entries = db.session.execute(
        sa.select(model.id, model.name, model.created_by_id, Organiser.email)
        .outerjoin(Organiser, Organiser.id == model.created_by_id)
        .where(one_of(model.id, sorted({row.record_id for row in updates}), db.engine.dialect))
    ).all()
    trusted = services.creators_trusting(actor)
    refused = {entry.id: entry for entry in entries if entry.created_by_id not in trusted}
    for row in updates:
        entry = refused.get(row.record_id)
        if entry is None:
            continue
        who = services.who_may_change(
            f"{entry.name} (id {entry.id})", entry.email, person=model is Person
        )
        row.refuse(key, _("%(who)s; leave the row out or give the values stored now", who=who))


def apply(import_plan: bulk.ImportPlan, *, actor: Organiser | None) -> bulk.ImportResult:
    """Write a checked plan as ``actor`` and record what it changed. The caller commits."""
    result = bulk.apply_import(import_plan, created_by=actor.id if actor is not None else None)
    _record_changes(import_plan, actor)
    return result


def _record_changes(import_plan: bulk.ImportPlan, actor: Organiser | None) -> None:
    """One DirectoryChange per recorded field an updated row changed, in one INSERT."""
    if import_plan.kind == bulk.PEOPLE:
        key, tracked = "person_id", services.PERSON_TRACKED
    else:
        key, tracked = "institution_id", services.INSTITUTION_TRACKED
    now = now_utc()
    changes: list[dict[str, Any]] = [
        {
            key: row.record_id,
            "changed_by_id": actor.id if actor is not None else None,
            "changed_at": now,
            "field": name,
            "old_value": row.before[name],
            "new_value": row.final[name],
        }
        for row in import_plan.rows
        if row.outcome == bulk.UPDATED
        for name in tracked
        if name in row.before and row.before[name] != row.final[name]
    ]
    if changes:
        db.session.execute(sa.insert(DirectoryChange), changes)


def run(kind: str, data: bytes, media_type: str, *, actor: Organiser | None) -> bulk.ImportResult:
    """Import a whole file as ``actor``, or raise ImportRefused listing every bad row.
    The caller commits."""
    return apply(plan(kind, data, media_type, actor=actor), actor=actor)
