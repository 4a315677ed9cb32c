"""Settings come from the environment, are checked at start, and the factory honours overrides."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError
from config import load_config
from forum import create_app


def test_defaults_need_nothing():
    config = load_config({})
    assert config["FORUM_ENV"] == "development"
    assert config["SQLALCHEMY_DATABASE_URI"] is None  # a SQLite file in the instance folder
    assert config["FORUM_DEFAULT_TIMEZONE"] == "UTC"


def test_the_embedded_default_is_a_sqlite_file_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("/instance/forum.sqlite3")


def test_production_requires_a_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY must be set in production"):
        load_config({"FORUM_ENV": "production"})
    with pytest.raises(ConfigError, match="at least 32 characters"):
        load_config({"FORUM_ENV": "production", "SECRET_KEY": "short"})
    config = load_config({"FORUM_ENV": "production", "SECRET_KEY": "x" * 40})
    assert config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FORUM_DEFAULT_TIMEZONE": "Mars/Olympus"}, "FORUM_DEFAULT_TIMEZONE must be an IANA"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL is not a database URL"),
        ({"DATABASE_URL": "mysql://root@localhost/forum"}, "SQLite or PostgreSQL"),
        ({"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432"}, "names no database"),
        ({"FORUM_ENV": "staging"}, "FORUM_ENV must be one of"),
        ({"FORUM_MAX_REQUEST_BYTES": "lots"}, "FORUM_MAX_REQUEST_BYTES must be a whole number"),
        ({"FORUM_SECURE_COOKIES": "perhaps"}, "FORUM_SECURE_COOKIES must be true or false"),
        ({"FORUM_INLINE_SCHEDULER": "sometimes"}, "FORUM_INLINE_SCHEDULER must be true or"),
        ({"FORUM_PERIODIC_EVERY_SECONDS": "soon"}, "FORUM_PERIODIC_EVERY_SECONDS must be"),
    ],
)
def test_bad_settings_fail_at_start_with_a_clear_message(environ, message):
    with pytest.raises(ConfigError, match=message):
        load_config(environ)


def test_a_bad_environment_stops_the_factory(monkeypatch):
    monkeypatch.setenv("FORUM_DEFAULT_TIMEZONE", "EST5EDT-ish")
    with pytest.raises(ConfigError, match="FORUM_DEFAULT_TIMEZONE"):
        create_app()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@db:5432/forum", "postgresql+psycopg://u@db:5432/forum"),
        ("postgresql://u:p@db/forum", "postgresql+psycopg://u:p@db/forum"),
        ("postgresql+psycopg://u@db/forum", "postgresql+psycopg://u@db/forum"),
        ("sqlite:////var/lib/forum.db", "sqlite:////var/lib/forum.db"),
    ],
)
def test_postgresql_urls_use_psycopg_3(given, expected):
    assert load_config({"DATABASE_URL": given})["SQLALCHEMY_DATABASE_URI"] == expected


def test_overrides_are_checked_too():
    with pytest.raises(ConfigError, match="SQLite or PostgreSQL"):
        create_app({"SQLALCHEMY_DATABASE_URI": "oracle://scott@tiger/db"})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FORUM_ENV": "production"}, "SECRET_KEY must be set in production"),
        ({"DATABASE_URL": "mysql://root@localhost/forum"}, "DATABASE_URL"),
    ],
)
def test_the_server_refuses_to_start_with_one_clear_line(environ, message):
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "routes"],
        cwd=root,
        env={**env, **environ},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert f"forum: configuration error: {message}" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_inline_scheduler_follows_the_broker_unless_told():
    assert load_config({})["FORUM_INLINE_SCHEDULER"] is None  # decided by the broker
    assert load_config({"FORUM_INLINE_SCHEDULER": "false"})["FORUM_INLINE_SCHEDULER"] is False
    assert load_config({"FORUM_INLINE_SCHEDULER": "true"})["FORUM_INLINE_SCHEDULER"] is True
    every = load_config({"FORUM_PERIODIC_EVERY_SECONDS": "2.5"})
    assert every["FORUM_PERIODIC_EVERY_SECONDS"] == 2.5
