"""The migrations build the whole schema, match the models, and go back down, on both backends."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade
from flask_migrate import upgrade

from forum import create_app
from forum.extensions import db


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_upgrade_to_head_then_down_to_nothing(empty_database):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        assert tables(db.engine) == set()
        upgrade()
        assert tables(db.engine) == {t.name for t in db.metadata.sorted_tables} | {
            "alembic_version"
        }
        # The migrated schema is exactly what the models describe.
        with db.engine.connect() as connection, warnings.catch_warnings():
            # SQLite cannot reflect the lower(email) indexes; the next test checks them.
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified")
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "render_as_batch": True}
            )
            assert compare_metadata(context, db.metadata) == []
        downgrade(revision="base")
        assert tables(db.engine) <= {"alembic_version"}
        db.engine.dispose()


def test_email_uniqueness_ignores_case_in_the_migrated_schema(empty_database):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade()
        insert = sa.text(
            "INSERT INTO organisers (email, name, timezone, is_admin, created_at) "
            "VALUES (:email, 'x', 'UTC', false, CURRENT_TIMESTAMP)"
        )
        db.session.execute(insert, {"email": "ada@example.org"})
        db.session.commit()
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(insert, {"email": "ADA@Example.org"})
            db.session.commit()
        db.session.rollback()
        db.session.remove()
        downgrade(revision="base")
        db.engine.dispose()


def test_busy_times_already_stored_get_their_whole_minutes(empty_database):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade(revision="0005")
        with db.engine.begin() as connection:
            person = connection.execute(
                sa.text(
                    "INSERT INTO people (name, email, timezone, role_title, working_hours,"
                    " acceptable_hours, link_version, revision, created_at, updated_at)"
                    " VALUES ('Li Wei', 'li@example.org', 'Asia/Shanghai', '', '{}', '{}',"
                    " 0, 0, :now, :now) RETURNING id"
                ),
                {"now": "2027-01-01 00:00:00"},
            ).scalar_one()
            # 09:30:00 to 10:15:30 UTC on 1 March 2027: the end is widened to 10:16.
            connection.execute(
                sa.text(
                    'INSERT INTO busy_intervals (person_id, start, "end", source)'
                    " VALUES (:person, :start, :end, 'manual')"
                ),
                {"person": person, "start": "2027-03-01 09:30:00", "end": "2027-03-01 10:15:30"},
            )
        upgrade()
        with db.engine.connect() as connection:
            minutes = connection.execute(
                sa.text("SELECT start_minute, end_minute FROM busy_intervals")
            ).one()
        first = int(dt.datetime(2027, 3, 1, 9, 30, tzinfo=dt.UTC).timestamp() // 60)
        assert tuple(minutes) == (first, first + 46)
        db.engine.dispose()
