"""Background jobs: queued only after commit, inline by default, and run by a real worker."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from config import ConfigError
from config import check_broker_url
from config import load_config
from forum import create_app
from forum.accounts.models import Organiser
from forum.accounts.services import create_organiser
from forum.extensions import db
from forum.jobs import enqueue
from tests.celery_worker import REDIS_URL
from tests.celery_worker import purge_queue
from tests.celery_worker import redis_available
from tests.celery_worker import running_worker
from tests.celery_worker import unique_queue
from tests.conftest import missing_service
from tests.jobs_probe import fail
from tests.jobs_probe import flaky
from tests.jobs_probe import mark_organiser


def _new_organiser(name: str = "Ada Organiser", email: str = "ada@example.org") -> Organiser:
    organiser = create_organiser(email=email, name=name)
    db.session.flush()
    return organiser


def _seen(markers: Path, organiser_id: int) -> dict[str, Any] | None:
    marker = markers / f"{organiser_id}.json"
    return json.loads(marker.read_text()) if marker.exists() else None


# Settings


def test_inline_mode_is_the_default() -> None:
    config = load_config({})
    assert config["CELERY_BROKER_URL"] == ""
    assert config["FORUM_JOBS_QUEUE"] == "forum"
    assert config["FORUM_JOBS_EAGER_PROPAGATE"] is False


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://h:6380/1", "memory://"])
def test_broker_urls_accepted(url: str) -> None:
    assert load_config({"CELERY_BROKER_URL": url})["CELERY_BROKER_URL"] == url


@pytest.mark.parametrize("url", ["127.0.0.1:6379", "http://user:secret@host/", "sqs://x"])
def test_broker_url_with_another_scheme_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="CELERY_BROKER_URL") as caught:
        load_config({"CELERY_BROKER_URL": url})
    assert "secret" not in str(caught.value)


def test_broker_url_set_in_app_config_is_checked_too() -> None:
    with pytest.raises(ConfigError, match="CELERY_BROKER_URL"):
        create_app({"TESTING": True, "CELERY_BROKER_URL": "localhost", "SECRET_KEY": "x"})
    assert check_broker_url("CELERY_BROKER_URL", "  ") == ""


def test_celery_app_settings(app: Flask) -> None:
    conf = app.extensions["celery"].conf
    assert conf.task_always_eager is True
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_ignore_result is True
    assert conf.task_default_queue == "forum"


def test_celery_app_with_a_broker_and_results(database_url: str) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "CELERY_BROKER_URL": "memory://",
            "CELERY_RESULT_BACKEND": "cache+memory://",
            "FORUM_JOBS_QUEUE": "forum-elsewhere",
        }
    )
    conf = app.extensions["celery"].conf
    assert conf.task_always_eager is False
    assert conf.task_ignore_result is False
    assert conf.task_default_queue == "forum-elsewhere"


# Inline mode: the job runs in this process, right after the commit


def test_inline_job_runs_after_commit_and_sees_the_committed_data(
    app: Flask, tmp_path: Path
) -> None:
    with app.app_context():
        organiser = _new_organiser()
        enqueue(mark_organiser, organiser.id, str(tmp_path))
        db.session.flush()
        assert _seen(tmp_path, organiser.id) is None
        db.session.commit()

        seen = _seen(tmp_path, organiser.id)
        assert seen is not None
        assert seen["name"] == "Ada Organiser"
        assert seen["app_context"] is True
        # Its own session, not the one that was committing.
        assert seen["session"] != id(db.session())
        # The job's own write is committed too: this session reloads it after its commit.
        assert organiser.name == "Ada Organiser (seen)"


def test_job_queued_during_a_request_runs_once_the_request_commits(
    app: Flask, tmp_path: Path
) -> None:
    def rename(organiser_id: int) -> str:
        organiser = db.session.get(Organiser, organiser_id)
        organiser.name = "Grace Organiser"
        enqueue(mark_organiser, organiser_id, str(tmp_path))
        db.session.flush()
        ran_before_commit = _seen(tmp_path, organiser_id) is not None
        db.session.commit()
        return "ran early" if ran_before_commit else "ok"

    app.add_url_rule("/_test/rename/<int:organiser_id>", view_func=rename)
    with app.app_context():
        organiser_id = _new_organiser().id
        db.session.commit()

    response = app.test_client().get(f"/_test/rename/{organiser_id}")

    assert response.status_code == 200
    assert response.text == "ok"
    assert _seen(tmp_path, organiser_id)["name"] == "Grace Organiser"
    with app.app_context():
        assert db.session.get(Organiser, organiser_id).name == "Grace Organiser (seen)"


def test_rolled_back_job_never_runs(app: Flask, tmp_path: Path) -> None:
    with app.app_context():
        organiser_id = _new_organiser().id
        db.session.commit()
        db.session.get(Organiser, organiser_id).name = "Not Saved"
        enqueue(mark_organiser, organiser_id, str(tmp_path))
        db.session.rollback()
        # A later commit in the same session does not bring the job back.
        db.session.get(Organiser, organiser_id).timezone = "Europe/Paris"
        db.session.commit()
        assert _seen(tmp_path, organiser_id) is None


def test_job_of_a_rolled_back_savepoint_is_dropped_the_others_run(
    app: Flask, tmp_path: Path
) -> None:
    # A folder per job: the rolled-back organiser's id is given again to the next one.
    kept_dir, dropped_dir, released_dir = (tmp_path / n for n in ("kept", "dropped", "released"))
    for folder in (kept_dir, dropped_dir, released_dir):
        folder.mkdir()
    with app.app_context():
        kept = _new_organiser()
        enqueue(mark_organiser, kept.id, str(kept_dir))
        with db.session.begin_nested() as savepoint:
            dropped = _new_organiser("Bob Organiser", "bob@example.org")
            enqueue(mark_organiser, dropped.id, str(dropped_dir))
            savepoint.rollback()
        with db.session.begin_nested():
            released = _new_organiser("Cy Organiser", "cy@example.org")
            enqueue(mark_organiser, released.id, str(released_dir))
        # Releasing a savepoint is not the commit: nothing has run yet.
        assert _seen(released_dir, released.id) is None
        db.session.commit()

        assert _seen(kept_dir, kept.id)["name"] == "Ada Organiser"
        assert _seen(released_dir, released.id)["name"] == "Cy Organiser"
        assert list(dropped_dir.iterdir()) == []


def test_job_queued_outside_a_transaction_waits_for_the_next_commit(
    app: Flask, tmp_path: Path
) -> None:
    with app.app_context():
        organiser_id = _new_organiser().id
        db.session.commit()
        assert not db.session().in_transaction()
        enqueue(mark_organiser, organiser_id, str(tmp_path))
        assert _seen(tmp_path, organiser_id) is None
        db.session.commit()
        assert _seen(tmp_path, organiser_id)["name"] == "Ada Organiser"


def test_failing_inline_job_is_logged_and_the_commit_stands(
    app: Flask, caplog: pytest.LogCaptureFixture, row_count: Any
) -> None:
    app.config["FORUM_JOBS_EAGER_PROPAGATE"] = False  # the default outside tests
    with app.app_context():
        _new_organiser()
        enqueue(fail, "the mail server is down")
        with caplog.at_level(logging.ERROR, logger="forum.jobs"):
            db.session.commit()

    assert row_count("organisers") == 1
    [record] = [r for r in caplog.records if r.name == "forum.jobs"]
    assert record.levelno == logging.ERROR
    assert "tests.jobs_probe.fail" in record.getMessage()
    assert "the mail server is down" in str(record.exc_info[1])


def test_failing_inline_job_raises_when_propagation_is_on(
    app: Flask, tmp_path: Path, row_count: Any
) -> None:
    app.config["FORUM_JOBS_EAGER_PROPAGATE"] = True
    with app.app_context():
        _new_organiser()
        enqueue(fail, "the mail server is down")
        with pytest.raises(RuntimeError, match="the mail server is down"):
            db.session.commit()
        # Retries still happen first: only the last try's failure is raised.
        enqueue(flaky, str(tmp_path), 9)
        with pytest.raises(RuntimeError, match="try 3 fails"):
            db.session.commit()
    assert row_count("organisers") == 1
    assert (tmp_path / "tries").read_text().split() == ["0", "1", "2", "3"]


@pytest.mark.parametrize(("failures", "tries", "logged"), [(2, "0 1 2", 0), (5, "0 1 2 3", 1)])
def test_inline_job_is_retried_at_once(
    app: Flask,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    failures: int,
    tries: str,
    logged: int,
) -> None:
    app.config["FORUM_JOBS_EAGER_PROPAGATE"] = False
    with app.app_context():
        enqueue(flaky, str(tmp_path), failures)
        with caplog.at_level(logging.ERROR, logger="forum.jobs"):
            db.session.commit()
    assert (tmp_path / "tries").read_text().split() == tries.split()
    assert len([r for r in caplog.records if r.name == "forum.jobs"]) == logged


@pytest.mark.parametrize(
    "value", [object(), dt.datetime(2030, 1, 1, tzinfo=dt.UTC), b"bytes", float("nan")]
)
def test_job_arguments_must_be_plain_json(app: Flask, tmp_path: Path, value: object) -> None:
    with app.app_context():
        organiser_id = _new_organiser().id
        with pytest.raises(TypeError, match="tests.jobs_probe.mark_organiser"):
            enqueue(mark_organiser, organiser_id, str(tmp_path), note=value)
        db.session.commit()
        assert _seen(tmp_path, organiser_id) is None


# With Redis and a real worker


@pytest.fixture
def redis_queue() -> Iterator[str]:
    """A queue of this test's own on the local Redis, emptied at the end."""
    if not redis_available():
        missing_service(f"Redis at {REDIS_URL}")
    queue = unique_queue()
    yield queue
    purge_queue(queue)


def test_real_worker_runs_the_job_after_commit(
    app: Flask, database_url: str, tmp_path: Path, redis_queue: str
) -> None:
    # `app` empties the tables afterwards; this second app sends its jobs to Redis.
    broker_app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key",
            "CELERY_BROKER_URL": REDIS_URL,
            "FORUM_JOBS_QUEUE": redis_queue,
        }
    )
    queued = redis.Redis.from_url(REDIS_URL)
    try:
        with broker_app.app_context():
            organiser = _new_organiser()
            enqueue(mark_organiser, organiser.id, str(tmp_path))
            db.session.rollback()

            organiser = _new_organiser()
            organiser_id = organiser.id
            enqueue(mark_organiser, organiser_id, str(tmp_path))
            db.session.flush()
            assert queued.llen(redis_queue) == 0, "sent before the commit"
            db.session.commit()
            # One message: the rolled-back job was never sent.
            assert queued.llen(redis_queue) == 1

        with running_worker(database_url, redis_queue, include=["tests.jobs_probe"]):
            deadline = time.monotonic() + 20
            while (seen := _seen(tmp_path, organiser_id)) is None:
                assert time.monotonic() < deadline, "the worker did not run the job in 20 s"
                time.sleep(0.05)

        assert seen["app_context"] is True
        assert seen["queue"] == redis_queue
        assert seen["name"] == "Ada Organiser"
        with broker_app.app_context():
            assert db.session.get(Organiser, organiser_id).name == "Ada Organiser (seen)"
    finally:
        queued.close()
        broker_app.extensions["celery"].close()
        with broker_app.app_context():
            db.engine.dispose()
