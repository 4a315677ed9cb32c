"""The UTC datetime column: aware in, aware UTC out, naive refused, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import sqlalchemy as sa

from forum.accounts.models import Organiser
from forum.extensions import db


@pytest.mark.parametrize(
    ("local", "zone", "expected_utc"),
    [
        (dt.datetime(2020, 3, 8, 3, 30), "America/Detroit", dt.datetime(2020, 3, 8, 7, 30)),
        (dt.datetime(2020, 10, 4, 3, 0), "Australia/Sydney", dt.datetime(2020, 10, 3, 16, 0)),
        (dt.datetime(2020, 1, 1, 0, 30), "Pacific/Auckland", dt.datetime(2019, 12, 31, 11, 30)),
        (dt.datetime(2020, 3, 10, 21, 0), "Asia/Shanghai", dt.datetime(2020, 3, 10, 13, 0)),
    ],
)
def test_an_aware_datetime_comes_back_as_the_same_instant_in_utc(app, local, zone, expected_utc):
    with app.app_context():
        organiser = Organiser(
            email="a@example.org",
            name="A",
            timezone="UTC",
            created_at=local.replace(tzinfo=zoneinfo.ZoneInfo(zone)),
        )
        db.session.add(organiser)
        db.session.commit()
        db.session.expire_all()
        stored = db.session.scalar(sa.select(Organiser.created_at))
        assert stored == expected_utc.replace(tzinfo=dt.UTC)
        assert stored.utcoffset() == dt.timedelta(0)
        # Comparisons in SQL use the instant, whatever zone the value was given in.
        later = dt.datetime(2000, 1, 1, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))
        assert (
            db.session.scalar(sa.select(sa.func.count()).where(Organiser.created_at > later)) == 1
        )


def test_a_naive_datetime_is_refused(app):
    with app.app_context():
        db.session.add(
            Organiser(
                email="a@example.org",
                name="A",
                timezone="UTC",
                created_at=dt.datetime(2020, 3, 8, 3, 30),
            )
        )
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            db.session.commit()
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Organiser)) == 0
