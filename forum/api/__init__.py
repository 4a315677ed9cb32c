"""The JSON API, version 1, under /api/v1."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Flask

from forum.core.errors import NotFound

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_ID = 2**31 - 1


@bp.url_value_preprocessor
def refuse_ids_out_of_range(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Ids are 32-bit INTEGER columns: a larger id names nothing, and the database would
    # refuse the comparison itself (PostgreSQL: "integer out of range"; SQLite: overflow).
    for name, value in (values or {}).items():
        if name.endswith("_id") and isinstance(value, int) and value > MAX_ID:
            raise NotFound(f"no {name.removesuffix('_id')} with id {value}")


def init_app(app: Flask) -> None:
    from forum.api import auth  # noqa: F401  (registers the token check)
    from forum.api import directory  # noqa: F401
    from forum.api import events  # noqa: F401
    from forum.api import health
    from forum.api import openapi  # noqa: F401
    from forum.api import polls  # noqa: F401
    from forum.api import providers  # noqa: F401
    from forum.api import scheduling  # noqa: F401
    from forum.api import webhook_inbox  # noqa: F401
    from forum.api import webhook_subscriptions  # noqa: F401
    from forum.extensions import csrf

    # Bearer tokens, not cookies, authenticate API calls: no CSRF token to ask for.
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(health.bp)
