"""What `make run` does, end to end: migrate, seed, serve over real HTTP, answer the API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import BACKEND
from tests.conftest import TempPostgres
from tests.workers import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def served_database(tmp_path):
    if BACKEND == "postgresql":
        temp = TempPostgres()
        yield temp.url
        temp.drop()
    else:
        yield f"sqlite:///{tmp_path / 'served.sqlite3'}"


@pytest.mark.slow
def test_migrate_seed_and_serve_the_demo(served_database):
    env = {**os.environ, "DATABASE_URL": served_database, "FORUM_ENV": "development"}
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]

    def run(*args: str) -> str:
        done = subprocess.run(
            [*flask, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("db", "upgrade")
    assert "Demo data:" in run("forum", "seed-demo")
    token = run("forum", "create-token", "organiser@forum.example.org").strip()

    port = free_port()
    server = subprocess.Popen(
        [*flask, "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = requests.get(f"{base}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "the server did not start in 30 s"
                time.sleep(0.2)
        assert (health.json()["status"], health.json()["database"]) == ("ok", "ok")

        login = requests.get(f"{base}/login", timeout=5)
        assert login.status_code == 200
        assert "csrf_token" in login.text

        auth = {"Authorization": f"Bearer {token}"}
        events = requests.get(f"{base}/api/v1/events", headers=auth, timeout=5).json()
        forum = next(e for e in events["items"] if e["kind"] == "forum")
        participants = requests.get(
            f"{base}/api/v1/events/{forum['id']}/participants?per_page=200",
            headers=auth,
            timeout=5,
        ).json()["items"]
        assert len({p["institution_id"] for p in participants}) == 40
        assert len({p["country"] for p in participants}) == 18
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stderr.close()
