"""The JSON API, version 1, under /api/v1."""

from __future__ import annotations

from flask import Blueprint
from flask import Flask

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    from forum.api import auth  # noqa: F401  (registers the token check)
    from forum.api import directory  # noqa: F401
    from forum.api import errors
    from forum.api import events  # noqa: F401
    from forum.api import health
    from forum.api import openapi  # noqa: F401
    from forum.extensions import csrf

    # Bearer tokens, not cookies, authenticate API calls: no CSRF token to ask for.
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(health.bp)
    errors.init_app(app)
