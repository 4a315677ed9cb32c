"""Server-rendered pages for organisers."""

from __future__ import annotations

from flask import Blueprint
from flask import Flask

bp = Blueprint("web", __name__)


def init_app(app: Flask) -> None:
    from forum.web import views  # noqa: F401

    app.register_blueprint(bp)
