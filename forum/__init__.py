"""forum: video conferences between universities across time zones."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from config import ConfigError
from config import check_cache_url
from config import check_timezone
from config import load_config
from config import normalise_database_url


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: settings from the environment, then ``config`` on top."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        static_folder="../static",
        template_folder="../templates",
    )
    app.config.update(load_config())
    if config:
        app.config.update(config)
    _finish_config(app)

    from forum import accounts
    from forum import api
    from forum import cli
    from forum import errors
    from forum import extensions
    from forum import followups
    from forum import i18n
    from forum import jobs
    from forum import models  # noqa: F401  (every table known to the metadata)
    from forum import observability
    from forum import security
    from forum import web
    from forum.events import feedcache
    from forum.jobs import periodic
    from forum.jobs import tasks  # noqa: F401  (the jobs that services queue by name)
    from forum.polls import wiring as polls_wiring
    from forum.webhooks import outbound_tasks  # noqa: F401
    from forum.webhooks import views as webhooks_views

    extensions.db.init_app(app)
    extensions.migrate.init_app(
        app, extensions.db, directory=os.path.join(os.path.dirname(__file__), "migrations")
    )
    extensions.csrf.init_app(app)
    i18n.init_app(app)
    accounts.init_app(app)
    api.init_app(app)
    web.init_app(app)
    app.register_blueprint(webhooks_views.bp)
    extensions.csrf.exempt(webhooks_views.bp)  # providers sign their deliveries instead
    errors.init_app(app)
    security.init_app(app)
    feedcache.init_app(app)
    cli.init_app(app)
    jobs.celery_init_app(app)
    periodic.init_app(app)  # without a broker, the periodic jobs run in this process
    followups.connect()
    polls_wiring.connect()
    observability.init_app(app)  # last: its hooks wrap every other one
    return app


def _finish_config(app: Flask) -> None:
    """Resolve defaults that depend on the instance folder and re-check overridden values."""
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        os.makedirs(app.instance_path, exist_ok=True)
        uri = "sqlite:///" + os.path.join(app.instance_path, "forum.sqlite3")
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url("SQLALCHEMY_DATABASE_URI", uri)
    check_timezone("FORUM_DEFAULT_TIMEZONE", app.config["FORUM_DEFAULT_TIMEZONE"])
    check_cache_url("FORUM_CACHE_URL", app.config.get("FORUM_CACHE_URL") or "memory://")
    if not app.config.get("MAIL_OUTBOX_DIR"):
        app.config["MAIL_OUTBOX_DIR"] = os.path.join(app.instance_path, "outbox")
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Writers wait for each other instead of failing at once with "database is locked".
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30}})
    else:
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})


__all__ = ["ConfigError", "create_app"]
