"""The JSON API, version 1, under /api/v1."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Flask

from forum.core.errors import NotFound
from forum.i18n import _

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_ID = 2**31 - 1


@bp.url_value_preprocessor
def refuse_ids_out_of_range(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Ids are 32-bit INTEGER columns: a larger id names nothing, and the database would
    # refuse the comparison itself (PostgreSQL: "integer out of range"; SQLite: overflow).
    for name, value in (values or {}).items():
        if name.endswith("_id") and isinstance(value, int) and value > MAX_ID:
            raise NotFound(_no_such(name.removesuffix("_id"), value))


def _no_such(what: str, value: int) -> str:
    """ "no event with id 3", one whole sentence per kind of id in the API's paths."""
    if what == "account":
        return _("no account with id %(id)s", id=value)
    if what == "delivery":
        return _("no delivery with id %(id)s", id=value)
    if what == "entry":
        return _("no entry with id %(id)s", id=value)
    if what == "event":
        return _("no event with id %(id)s", id=value)
    if what == "institution":
        return _("no institution with id %(id)s", id=value)
    if what == "person":
        return _("no person with id %(id)s", id=value)
    if what == "poll":
        return _("no poll with id %(id)s", id=value)
    if what == "session":
        return _("no session with id %(id)s", id=value)
    if what == "subscription":
        return _("no subscription with id %(id)s", id=value)
    return _("no %(what)s with id %(id)s", what=what, id=value)


def init_app(app: Flask) -> None:
    from forum.api import auth  # noqa: F401  (registers the token check)
    from forum.api import directory  # noqa: F401
    from forum.api import events  # noqa: F401
    from forum.api import health
    from forum.api import openapi  # noqa: F401
    from forum.api import polls  # noqa: F401
    from forum.api import providers  # noqa: F401
    from forum.api import scheduling  # noqa: F401
    from forum.api import term_reports
    from forum.api import timetables  # noqa: F401
    from forum.api import webhook_inbox  # noqa: F401
    from forum.api import webhook_subscriptions  # noqa: F401
    from forum.extensions import csrf

    # Bearer tokens, not cookies, authenticate API calls: no CSRF token to ask for.
    csrf.exempt(bp)
    csrf.exempt(term_reports.bp)
    app.register_blueprint(bp)
    app.register_blueprint(term_reports.bp)
    app.register_blueprint(health.bp)
