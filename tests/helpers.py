"""Small helpers shared by the API tests: building bodies and checking error answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

# A field left out of a request body (None would send JSON null).
MISSING: Any = object()


def body_of(*parts: dict[str, Any]) -> dict[str, Any]:
    """The parts merged, without the fields marked MISSING."""
    merged = {key: value for part in parts for key, value in part.items()}
    return {key: value for key, value in merged.items() if value is not MISSING}


def assert_error(response, status: int, code: str, *fields: str) -> dict[str, Any]:
    """Check the JSON error shape, status and code; ``fields`` must be in details.fields."""
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], dict)
    for field in fields:
        assert field in error["details"]["fields"], error
    return error


@contextmanager
def recorded_statements(app) -> Iterator[list[str]]:
    """The SQL statements the app's database receives inside the block, in order."""
    from forum.extensions import db

    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
