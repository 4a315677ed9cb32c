"""Bulk directory import as the API, the import page and the CLI run it.

The file is read by forum.directory.bulk, each row is checked by the API's own schemas
(the rules of POST /people and POST /institutions), then the import service plans and
writes it. One path for every edge, so a file gets the same answer everywhere.
"""

from __future__ import annotations

from pydantic import BaseModel
from pydantic import ValidationError

from forum.api import schemas
from forum.api.util import field_errors
from forum.core.errors import ValidationFailed
from forum.directory import bulk

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


def plan(kind: str, data: bytes, media_type: str) -> bulk.ImportPlan:
    """Read and check a whole file against the directory; nothing is written."""
    position_name, rows = bulk.read_file(kind, data, media_type)
    check_rows(kind, rows)
    return bulk.plan_import(kind, position_name, rows)


def run(kind: str, data: bytes, media_type: str) -> bulk.ImportResult:
    """Import a whole file, or raise ImportRefused listing every bad row. The caller commits."""
    return bulk.apply_import(plan(kind, data, media_type))
