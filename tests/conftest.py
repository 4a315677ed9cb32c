"""Fixtures: a migrated database (SQLite or PostgreSQL), the app, clients and factories.

``FORUM_TEST_DB=postgresql`` runs the whole suite on a fresh PostgreSQL database created
for the run (``FORUM_TEST_POSTGRES_URL`` points at the server); the default is SQLite.
With pytest-xdist (``make test``) each worker creates, migrates and drops its own.
The schema is always built by running the migrations, never by ``create_all``.
"""

from __future__ import annotations

import functools
import os
import re
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from forum import create_app
from forum.accounts.services import create_organiser
from forum.accounts.services import issue_token
from forum.extensions import db
from tests.smtp_server import SmtpServer

# The browser fixtures (live_server, browser, page, phone_page, make_page): tests/browser.py;
# what keeps parallel workers apart (ports, the machine lock): tests/workers.py.
pytest_plugins = ["tests.browser", "tests.workers"]

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get(
    "FORUM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKEND = os.environ.get("FORUM_TEST_DB", "sqlite")


def missing_service(what: str) -> None:
    """Skip a test that needs ``what`` when it is absent, but fail in CI, where it must be."""
    if IN_CI:
        pytest.fail(f"{what} is not available, and CI must run every test", pytrace=False)
    pytest.skip(f"{what} is not available")


def postgres_admin_engine() -> sa.Engine:
    engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError:
        engine.dispose()
        missing_service(f"PostgreSQL at {POSTGRES_URL}")
    return engine


class TempPostgres:
    """A fresh PostgreSQL database for a test run, dropped at the end."""

    def __init__(self) -> None:
        self.admin = postgres_admin_engine()
        # Named after the xdist worker too ("gw0"), for a database a crashed worker leaves.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        worker = f"{worker}_" if worker else ""
        self.name = f"forum_test_{worker}{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        self.url = (
            sa.engine.make_url(POSTGRES_URL)
            .set(database=self.name)
            .render_as_string(hide_password=False)
        )

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database for the whole run (for each xdist worker), upgraded to the latest migration."""
    from flask_migrate import upgrade

    if BACKEND == "postgresql":
        temp = TempPostgres()
        url = temp.url
    elif BACKEND == "sqlite":
        temp = None
        url = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "forum.sqlite3")
    else:
        raise pytest.UsageError("FORUM_TEST_DB must be sqlite or postgresql")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    if temp is not None:
        temp.drop()


def _empty_tables() -> None:
    """Delete every row, dependent tables first, and start the ids at 1 again.

    DELETE on PostgreSQL too, not TRUNCATE: TRUNCATE gives each table and index new files,
    and every checkpoint (each DROP DATABASE asks for one) must then sync tens of thousands of
    files, which stalls every database on the server for minutes on a busy machine.
    """
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(sa.text(f'DELETE FROM "{table.name}"'))
    if db.engine.dialect.name == "postgresql":
        # What RESTART IDENTITY did; setval changes the sequence in place, with no new file.
        db.session.execute(
            sa.text(
                "SELECT setval(c.oid, 1, false) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'S' AND n.nspname = current_schema()"
            )
        )
    db.session.commit()


@pytest.fixture
def app_settings() -> dict[str, Any]:
    """Settings on top of the test ones; a test module overrides this to change them."""
    return {}


@pytest.fixture
def app(database_url: str, tmp_path: Any, app_settings: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key",
            # Emails stay in memory (app.extensions["forum_mail_sender"].messages) unless a
            # test points them at an SMTP server; a failing job fails the test.
            "MAIL_BACKEND": "memory",
            "FORUM_JOBS_EAGER_PROPAGATE": True,
            # A provider that fails is tried again after milliseconds, not seconds: the tests
            # of failures then wait for nothing (the backoff itself is tested on the adapters).
            "FORUM_PROVIDER_BACKOFF_SECONDS": 0.01,
            **app_settings,
        }
    )
    app.instance_path = str(tmp_path / "instance")
    yield app
    with app.app_context():
        db.session.remove()
        _empty_tables()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection to a host other than this machine fails the test."""
    real_connect = socket.socket.connect

    def guarded_connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if not (host in ("localhost", "::1") or str(host).startswith("127.")):
                raise AssertionError(f"test tried to reach {address}: only loopback is allowed")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


class ApiClient:
    """A test client that sends an organiser's bearer token and JSON bodies."""

    def __init__(self, client: FlaskClient, token: str, organiser_id: int) -> None:
        self.client = client
        self.token = token
        self.organiser_id = organiser_id

    def _call(self, method: str, path: str, json: Any = None, **kwargs: Any):
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, json=json, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any):
        return self._call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any):
        return self._call("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any):
        return self._call("PATCH", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any):
        return self._call("PUT", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any):
        return self._call("DELETE", path, **kwargs)


@functools.cache
def _password_hash() -> str:
    # A real hash of "secret-password", computed once: hashing is deliberately slow
    # (about 0.15 s), and most tests only need the account to exist.
    return generate_password_hash("secret-password")


@pytest.fixture
def make_organiser(app: Flask, client: FlaskClient):
    """Factory: an organiser account (password "secret-password") with an API client."""

    def make(
        email: str = "organiser@example.org",
        *,
        name: str = "Olga Organiser",
        timezone: str = "Asia/Shanghai",
    ) -> ApiClient:
        with app.app_context():
            organiser = create_organiser(email=email, name=name, timezone=timezone)
            organiser.password_hash = _password_hash()
            token = issue_token(organiser)
            db.session.commit()
            return ApiClient(client, token, organiser.id)

    return make


@pytest.fixture
def api(make_organiser) -> ApiClient:
    """An API client for the default organiser."""
    return make_organiser()


@pytest.fixture
def row_count(app: Flask):
    """Count rows of a table, to check that a refused request wrote nothing."""

    def count(table: str) -> int:
        with app.app_context():
            return db.session.scalar(sa.text(f'SELECT count(*) FROM "{table}"'))

    return count


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "the form carries no CSRF token"
    return match.group(1)


# --- a real SMTP server on loopback ----------------------------------------------------


def _require_smtp_tools() -> None:
    try:
        import aiosmtpd  # noqa: F401
        import cryptography  # noqa: F401
    except ImportError as exc:
        missing_service(f"{exc.name} (pip install -r requirements-dev.txt)")


@pytest.fixture
def smtp_server(tmp_path) -> Iterator[SmtpServer]:
    """A plain SMTP server on loopback; ``server.received`` lists what it got."""
    _require_smtp_tools()
    with SmtpServer(folder=tmp_path) as server:
        yield server


@pytest.fixture
def make_smtp_server(tmp_path):
    """Factory: an SMTP server with TLS, AUTH or refused recipients, stopped after the test."""
    _require_smtp_tools()
    servers: list[SmtpServer] = []

    def make(**options: Any) -> SmtpServer:
        server = SmtpServer(folder=tmp_path, **options).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """The URL of a database with no tables yet, on each backend, for the migration tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    temp = TempPostgres()
    try:
        yield temp.url
    finally:
        temp.drop()
