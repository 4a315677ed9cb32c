"""deploy/ as an operator uses it: gunicorn's settings load and size by cores, the server
they describe sums its workers' metrics and logs JSON, the worker and beat scripts start,
and the systemd units, the Procfile, the compose file and the settings example name
commands, files and settings that exist."""

from __future__ import annotations

import ast
import configparser
import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.celery_worker import REDIS_URL
from tests.celery_worker import purge_queue
from tests.celery_worker import redis_available
from tests.celery_worker import unique_queue
from tests.conftest import missing_service
from tests.workers import free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
# Where the units and the Procfile expect the installed code.
INSTALLED = "/opt/forum"
UNITS = ("forum-web", "forum-worker", "forum-beat", "forum-migrate")


def load_gunicorn_settings(monkeypatch, tmp_path, cores: int, **env: str) -> dict:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    # Set, so that loading the settings does not switch this process to multiprocess mode.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    for name in ("FORUM_WEB_WORKERS", "FORUM_WEB_THREADS", "FORUM_BIND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))


def test_gunicorn_settings_size_the_server_by_cores(monkeypatch, tmp_path):
    settings = load_gunicorn_settings(monkeypatch, tmp_path, cores=8)
    assert settings["workers"] == 16
    assert settings["threads"] == 4
    assert settings["worker_class"] == "gthread"
    assert settings["bind"] == "0.0.0.0:8000"
    assert settings["keepalive"] > 60  # past a load balancer's idle timeout
    assert settings["timeout"] > 0 and settings["graceful_timeout"] > 0
    assert callable(settings["child_exit"]) and callable(settings["on_starting"])

    assert load_gunicorn_settings(monkeypatch, tmp_path, cores=2)["workers"] == 4
    given = load_gunicorn_settings(
        monkeypatch, tmp_path, cores=2, FORUM_WEB_WORKERS="3", FORUM_WEB_THREADS="8"
    )
    assert (given["workers"], given["threads"]) == (3, 8)


def test_gunicorn_accepts_the_settings_and_the_app(database_url, tmp_path):
    done = subprocess.run(
        [str(BIN / "gunicorn"), "--check-config", "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def samples_of(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_server_sums_its_workers_metrics_and_logs_json(database_url, tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left by a previous run")
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FORUM_ENV": "production",
        "SECRET_KEY": "k" * 40,
        "FORUM_BIND": f"127.0.0.1:{port}",
        "FORUM_WEB_WORKERS": "2",
        "FORUM_WEB_THREADS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    with open(log_path, "wb") as log:
        server = subprocess.Popen(  # noqa: S603 (our gunicorn, our settings)
            [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{base}/livez", timeout=10, headers={"X-Request-ID": "warm-up"})
                break
            except (requests.ConnectionError, requests.Timeout):
                assert server.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
        before = samples_of(requests.get(f"{base}/metrics", timeout=5).text)
        # Fresh connections, so both workers answer some of them.
        for _ in range(40):
            assert requests.get(f"{base}/livez", timeout=5).status_code == 200
        health = requests.get(f"{base}/healthz?token=secret-in-the-query", timeout=5)
        assert health.status_code == 200
        page = requests.get(f"{base}/metrics", timeout=5)
        assert page.status_code == 200
        samples = samples_of(page.text)
    finally:
        server.terminate()
        server.wait(timeout=30)

    livez = ("forum_http_requests_total", frozenset(
        {"endpoint": "observability.livez", "method": "GET", "status": "2xx"}.items()
    ))  # fmt: skip
    assert samples[livez] - before[livez] == 40  # whichever worker took each
    written = log_path.read_text()
    pids = {int(p) for p in re.findall(r"Booting worker with pid: (\d+)", written)}
    assert len(pids) == 2
    records = [json.loads(line) for line in written.splitlines() if line.startswith("{")]
    served_by = [r for r in records if r["logger"] == "forum.access" and r["path"] == "/healthz"]
    assert [r["request_id"] for r in served_by] == [health.headers["X-Request-ID"]]
    assert served_by[0]["status"] == 200
    assert "secret-in-the-query" not in written
    assert any(r["logger"] == "gunicorn.error" for r in records)  # gunicorn's own, as JSON


@pytest.mark.parametrize(
    ("script", "ready"), [("celery-worker.sh", " ready."), ("celery-beat.sh", "beat: Starting")]
)
def test_the_worker_and_beat_scripts_start(database_url, tmp_path, script, ready):
    if not redis_available(REDIS_URL):
        missing_service(f"Redis at {REDIS_URL}")
    queue = unique_queue()
    log_path = tmp_path / "celery.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": REDIS_URL,
        "FORUM_JOBS_QUEUE": queue,
        "FORUM_CELERY": str(BIN / "celery"),
        "FORUM_BEAT_SCHEDULE_FILE": str(tmp_path / "celerybeat-schedule"),
        "PYTHONUNBUFFERED": "1",
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 (our script)
            ["sh", str(DEPLOY / script)], cwd=tmp_path, env=env, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 60
        while ready not in log_path.read_text(errors="replace"):
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=60)
        purge_queue(queue, REDIS_URL)
    if script == "celery-worker.sh":
        banner = log_path.read_text()
        assert f".> {queue} " in banner  # the queue of FORUM_JOBS_QUEUE
        # Sized by cores: two processes per core the worker may use.
        assert f".> concurrency: {2 * len(os.sched_getaffinity(0))} (prefork)" in banner


def _wsgi_names() -> set[str]:
    tree = ast.parse((ROOT / "wsgi.py").read_text())
    return {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.Try)
        for assign in ([node] if isinstance(node, ast.Assign) else node.body)
        if isinstance(assign, ast.Assign)
        for target in assign.targets
        if isinstance(target, ast.Name)
    }


def assert_command_exists(words: list[str]) -> None:
    """The program is ours (the venv's, the image's) and its files and app paths exist."""
    program = words[0].removeprefix(f"{INSTALLED}/.venv/bin/")
    if program in ("sh", "/bin/sh"):
        script = words[1].removeprefix(f"{INSTALLED}/")
        assert (ROOT / script).is_file(), script
        for inner in re.findall(r'exec "\$celery" (-A \S+)', (ROOT / script).read_text()):
            assert inner.split()[1].startswith("wsgi:")
            assert inner.split()[1].split(":")[1] in _wsgi_names()
        return
    assert (BIN / program).is_file(), program
    for word, after in zip(words, [*words[1:], ""], strict=True):
        if word in ("-c", "--config"):
            assert (ROOT / after).is_file(), after
        if ":" in word and word.startswith("wsgi"):
            assert word.split(":")[1] in _wsgi_names(), word
    if program == "flask":
        assert words[1:3] == ["--app", "wsgi"]


def test_the_systemd_units_name_commands_that_exist():
    for name in UNITS:
        unit = configparser.ConfigParser(interpolation=None, strict=False)
        unit.optionxform = str  # keys keep their case
        unit.read(DEPLOY / "systemd" / f"{name}.service")
        service = unit["Service"]
        assert service["EnvironmentFile"] == "/etc/forum/forum.env"
        assert service["WorkingDirectory"] == INSTALLED
        assert service["User"] == "forum"
        assert_command_exists(shlex.split(service["ExecStart"]))
    web = configparser.ConfigParser(interpolation=None, strict=False)
    web.optionxform = str
    web.read(DEPLOY / "systemd" / "forum-web.service")
    assert "PROMETHEUS_MULTIPROC_DIR=/run/forum-web/" in web["Service"]["Environment"]
    assert web["Service"]["RuntimeDirectory"] == "forum-web"


def test_systemd_accepts_the_units():
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        missing_service("systemd-analyze (Debian package systemd)")
    with tempfile.TemporaryDirectory() as folder:
        # The units as installed, with this checkout standing for /opt/forum.
        for name in UNITS:
            text = (DEPLOY / "systemd" / f"{name}.service").read_text()
            text = text.replace(f"{INSTALLED}/.venv/bin", str(BIN)).replace(INSTALLED, str(ROOT))
            text = text.replace("/etc/forum/forum.env", str(DEPLOY / "forum.env.example"))
            text = text.replace("User=forum", "User=root").replace("Group=forum", "Group=root")
            (Path(folder) / f"{name}.service").write_text(text)
        done = subprocess.run(
            [analyze, "verify", *sorted(str(p) for p in Path(folder).iterdir())],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr


def test_the_procfile_names_commands_that_exist():
    entries = dict(
        line.split(":", 1)
        for line in (DEPLOY / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert set(entries) == {"release", "web", "worker", "beat"}
    for command in entries.values():
        assert_command_exists(shlex.split(command))


def test_the_compose_file_runs_the_whole_stack():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat"}
    for name in ("migrate", "web", "worker", "beat"):
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["environment"]["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        assert "postgres:5432/forum" in service["environment"]["DATABASE_URL"]
        assert_command_exists(service["command"])
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert (DEPLOY / "Dockerfile").is_file()


def test_docker_compose_accepts_the_compose_file(tmp_path):
    env = {**os.environ, "SECRET_KEY": "k" * 40}
    if (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        command = ["docker", "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "-q"]
    elif shutil.which("docker-compose"):
        # Compose v1 predates the top-level `name`; the rest is checked as written.
        copy = DEPLOY / f".compose-check-{os.getpid()}.yaml"
        text = (DEPLOY / "compose.yaml").read_text()
        copy.write_text(re.sub(r"(?m)^name: .*\n", "", text))
        command = ["docker-compose", "-f", str(copy), "config", "-q"]
    else:
        missing_service("docker compose or docker-compose")
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    finally:
        for stray in DEPLOY.glob(".compose-check-*.yaml"):
            stray.unlink()
    assert done.returncode == 0, done.stderr


def test_the_settings_example_lists_every_setting_config_reads():
    from config import RATE_LIMIT_DEFAULTS

    source = (ROOT / "config.py").read_text()
    read = set(re.findall(r'environ(?:\.get)?\(\s*"([A-Z0-9_]+)"', source))
    read |= set(re.findall(r'\(\s*environ,\s*"([A-Z0-9_]+)"', source))
    read |= set(RATE_LIMIT_DEFAULTS)
    assert {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "FORUM_METRICS_TOKEN"} <= read
    example = (DEPLOY / "forum.env.example").read_text()
    listed = set(re.findall(r"(?m)^#?([A-Z][A-Z0-9_]+)=", example))
    assert read <= listed, sorted(read - listed)
