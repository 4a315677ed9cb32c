"""Webhook intake under gunicorn on PostgreSQL: signed Zoom deliveries over many connections.

    python -m benchmarks.webhook_load           # 3,000 distinct deliveries and 10 % repeats
    python -m benchmarks.webhook_load --quick   # 300 and their repeats: a smoke test

A PostgreSQL database is created for the run (on the server of --postgres-url or
FORUM_TEST_POSTGRES_URL) and dropped after it. The production layout runs on this one
machine: the app under gunicorn (3 workers of 4 threads) on loopback, Redis as the job
broker (--redis-url, a queue of its own), and beside them a Celery worker of 2 processes
(as `make worker`) and Celery beat, which process the deliveries while they arrive and
share the cores with the intake. Deliveries are built and signed before the clock starts;
then several processes, each with several threads, POST them over HTTP/1.1, each thread
keeping its connection open while the server allows it. The figure is deliveries answered
2xx per second.

The baseline, in the same run, on the same server and connections, with the worker
running: as many ``GET /healthz`` (one query, nothing written), the most requests a second
this server can answer now. After the burst the worker finishes what is left; then every
distinct delivery must be stored once and the repeats dropped, each stored fact processed
exactly once, and every participant's attendance whole (each join met by its leave, ten
minutes). The exit status is 1 when they are not or, on the full input, when the target
(300 deliveries a second) is missed.

The load generator (``run_load``) and the jobs layout (``jobs_layout``) also serve
tests/test_webhook_load.py, which checks the same outcome and asserts no rate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from benchmarks import report
from benchmarks.bench_search import POSTGRES_URL
from benchmarks.bench_search import database
from tests.workers import claim_redis_database

# The CPU priority (nice) of the job workers, as deploy/celery-worker.sh sets it.
WORKER_NICE = "10"
ROOT = Path(__file__).resolve().parent.parent
SECRET = "zoom-webhook-secret-token"  # noqa: S105 (the benchmark's own account)
MEETING_ID = 92674392836
START_MS = 1_800_000_000_000
TARGET_PER_SECOND = 300
SETTINGS = {"SECRET_KEY": "load-secret-key", "MAIL_BACKEND": "memory"}


def sign_zoom(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Zoom's scheme (Zoom's webhook docs): v0=HMAC-SHA256(secret, v0:ts:body)."""
    message = b"v0:%d:%s" % (timestamp, body)
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json; charset=utf-8",
        "x-zm-request-timestamp": str(timestamp),
        "x-zm-signature": f"v0={signature}",
    }


def zoom_attendance_deliveries(
    secret: str, *, meeting_id: int, count: int, start_ms: int
) -> list[tuple[dict[str, str], bytes]]:
    """``count`` distinct participant joins and leaves of one meeting, signed now."""
    now = int(time.time())
    deliveries = []
    for n in range(count):
        joined = n % 2 == 0
        person = n // 2
        event = "meeting.participant_joined" if joined else "meeting.participant_left"
        moment = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_ms / 1000 + person + (0 if joined else 600))
        )
        participant = {
            "user_id": str(16778240 + person),
            "user_name": f"Participant {person}",
            "id": "",
            "participant_uuid": f"uuid-{person}",
            "email": f"participant{person}@uni.example",
            ("join_time" if joined else "leave_time"): moment,
        }
        payload = {
            "event": event,
            "event_ts": start_ms + n,
            "payload": {
                "account_id": "AbC",
                "object": {
                    "id": str(meeting_id),  # a string in participant events (Zoom's quirk)
                    "uuid": "aDYlohsHRtCd4ii1uC2+hA==",
                    "host_id": "30R7kT7bTIKSNUFEuH_Qlg",
                    "topic": "Load test",
                    "type": 2,
                    "start_time": "2027-03-10T13:00:00Z",
                    "timezone": "Asia/Shanghai",
                    "duration": 60,
                    "participant": participant,
                },
            },
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        deliveries.append((sign_zoom(secret, body, now), body))
    return deliveries


@dataclass
class LoadResult:
    sent: int
    ok: int
    failed: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def _render(
    host: str, port: int, path: str, headers: dict[str, str], body: bytes, method: str = "POST"
) -> bytes:
    """The request's bytes, ready to send: the generator spends no time on HTTP itself."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _exchange(sock: socket.socket, request: bytes, buffer: bytearray) -> tuple[int, bool]:
    """Send one request on a kept-alive connection; (status, whether the server closes)."""
    sock.sendall(request)
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer.extend(chunk)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    fields = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])
    }
    length = int(fields.get(b"content-length", b"0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    buffer[:] = rest[length:]
    return status, fields.get(b"connection", b"").lower() == b"close"


def _post_all(host: str, port: int, path: str, items, results, threads: int, method: str) -> None:
    lock = threading.Lock()
    counts = {"ok": 0, "failed": 0}
    queue = [_render(host, port, path, headers, body, method) for headers, body in items]

    def worker() -> None:
        sock: socket.socket | None = None
        buffer = bytearray()
        while True:
            with lock:
                if not queue:
                    break
                request = queue.pop()
            status = 0
            for _ in range(3):  # a connection closed or refused under load is opened again
                try:
                    if sock is None:
                        sock = socket.create_connection((host, port), timeout=30)
                        buffer.clear()
                    status, closing = _exchange(sock, request, buffer)
                    if closing:
                        sock.close()
                        sock = None
                    break
                except (OSError, ValueError, IndexError):
                    if sock is not None:
                        sock.close()
                    sock = None
                    time.sleep(0.02)
            with lock:
                counts["ok" if 200 <= status < 300 else "failed"] += 1
        if sock is not None:
            sock.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    results.put((counts["ok"], counts["failed"]))


def run_load(
    url_host: str,
    port: int,
    path: str,
    deliveries: list[tuple[dict[str, str], bytes]],
    *,
    processes: int = 2,
    threads: int = 8,
    method: str = "POST",
) -> LoadResult:
    """Send every delivery once (``method``, POST by default), shared out over the processes."""
    shares = [deliveries[i::processes] for i in range(processes)]
    results: multiprocessing.Queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(
            target=_post_all, args=(url_host, port, path, share, results, threads, method)
        )
        for share in shares
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    totals = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    ok = sum(t[0] for t in totals)
    failed = sum(t[1] for t in totals)
    return LoadResult(sent=len(deliveries), ok=ok, failed=failed, seconds=seconds)


def with_duplicates(
    deliveries: list[tuple[dict[str, str], bytes]], share: float, seed: int = 6
) -> list[tuple[dict[str, str], bytes]]:
    """The deliveries plus ``share`` of them again (providers repeat), shuffled."""
    rng = random.Random(seed)
    repeated = rng.sample(deliveries, int(len(deliveries) * share))
    mixed = deliveries + repeated
    rng.shuffle(mixed)
    return mixed


# --- the server --------------------------------------------------------------------------


def prepare(url: str) -> None:
    """Migrate; an organiser, a Zoom account with its webhook secret, a session on Zoom."""
    from flask_migrate import upgrade

    from forum import create_app
    from forum.accounts.services import create_organiser
    from forum.events import services
    from forum.events.models import VideoMeeting
    from forum.extensions import db
    from forum.providers import accounts

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, **SETTINGS})
    with app.app_context():
        upgrade()
        organiser = create_organiser(email="load@example.org", name="Load", timezone="UTC")
        accounts.add_account(
            name="uni-zoom",
            kind="zoom",
            account_id="a",
            client_id="c",
            client_secret="s",  # noqa: S106 (never used: no call reaches Zoom)
            webhook_secret=SECRET,
            hosts=["host1@uni.example"],
        )
        event = services.create_event(actor=organiser, title="Load", kind="forum")
        session = services.create_session(
            event,
            actor=organiser,
            title="Load test",
            start=dt.datetime(2027, 3, 10, 13, tzinfo=dt.UTC),
            duration_minutes=60,
            provider="jitsi",
            notify=False,
        )
        db.session.commit()
        meeting = db.session.scalar(
            sa.select(VideoMeeting).where(VideoMeeting.session_id == session.id)
        )
        meeting.provider, meeting.external_id, meeting.status = "zoom", str(MEETING_ID), "created"
        db.session.commit()
        db.engine.dispose()


def server_env(database_url: str, redis_url: str, queue: str) -> dict[str, str]:
    """The environment of the app's processes: the database, Redis as broker, a queue."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "FORUM_ENV": "testing",
        "CELERY_BROKER_URL": redis_url,
        "FORUM_JOBS_QUEUE": queue,
        **SETTINGS,
    }


@contextmanager
def gunicorn(
    env: dict[str, str],
    port: int,
    *,
    workers: int = 3,
    threads: int = 4,
    config: Path | None = None,
    log: Path | None = None,
) -> Iterator[subprocess.Popen]:
    """The app under gunicorn on ``port`` until the block ends, answering /healthz.

    With ``config`` (a gunicorn.conf.py) its settings apply and only the address is given
    here; else ``workers`` of ``threads`` threads. ``log``: where gunicorn's output goes
    (else a pipe, read if it fails to start).
    """
    command = [str(Path(sys.executable).parent / "gunicorn")]
    if config is not None:
        command += ["--config", str(config)]
    else:
        # Threads let a worker keep connections alive between deliveries.
        command += ["--workers", str(workers), "--worker-class", "gthread"]
        command += ["--threads", str(threads), "--log-level", "warning"]
    command += ["--bind", f"127.0.0.1:{port}", "wsgi:app"]
    output = open(log, "wb") if log is not None else subprocess.PIPE  # noqa: SIM115
    server = subprocess.Popen(  # noqa: S603 (our gunicorn, our app)
        command, cwd=ROOT, env=env, stderr=output, stdout=output if log else None
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
                break
            except (requests.ConnectionError, requests.Timeout):
                if server.poll() is not None:
                    text = log.read_text() if log else server.stderr.read().decode()
                    raise RuntimeError(text) from None
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start within 60 s") from None
                time.sleep(0.2)
        yield server
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        if log is None:
            server.stderr.close()
        else:
            output.close()


@contextmanager
def jobs_layout(
    env: dict[str, str], queue: str, folder: str, *, workers: int = 1
) -> Iterator[None]:
    """``workers`` Celery workers of 2 processes each (as `make worker`) and beat, until the
    block ends.

    All log to files in ``folder``; a process that exits early, or a worker not ready
    within 60 s, stops the run with its log.
    """
    celery = str(Path(sys.executable).parent / "celery")
    # At the lower CPU priority deploy/celery-worker.sh gives them: on a machine that also
    # serves, an answer owed within seconds (a webhook, a feed) goes before a job.
    commands = {
        ("worker" if n == 0 else f"worker{n + 1}"): [
            "nice", "-n", WORKER_NICE,
            celery, "-A", "wsgi:celery_app", "worker", "--loglevel=INFO", "--concurrency=2",
            "-Q", queue, "--hostname", f"{queue}-{n + 1}@%h",
        ]
        for n in range(workers)
    }  # fmt: skip
    commands |= {
        "beat": [
            celery, "-A", "wsgi:celery_app", "beat", "--loglevel=INFO",
            "--schedule", str(Path(folder) / "celerybeat-schedule"),
        ],
    }  # fmt: skip
    processes: dict[str, tuple[subprocess.Popen, Path]] = {}
    try:
        for name, command in commands.items():
            log_path = Path(folder) / f"{name}.log"
            with open(log_path, "wb") as log:
                processes[name] = (
                    subprocess.Popen(  # noqa: S603 (our celery, fixed arguments)
                        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
                    ),
                    log_path,
                )
        deadline = time.monotonic() + 60
        for name, (_worker, worker_log) in processes.items():
            if name == "beat":
                continue
            # Celery logs "<hostname> ready." once the worker consumes from its queue.
            while " ready." not in worker_log.read_text(errors="replace"):
                for other, (process, log_path) in processes.items():
                    if process.poll() is not None:
                        raise RuntimeError(f"celery {other} exited:\n{log_path.read_text()}")
                if time.monotonic() > deadline:
                    text = worker_log.read_text()
                    raise RuntimeError(f"celery {name} was not ready in 60 s:\n{text}")
                time.sleep(0.1)
        yield
    finally:
        for process, _ in processes.values():
            # SIGTERM is Celery's warm shutdown: the tasks in hand finish first.
            process.terminate()
        for process, _ in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Redis -------------------------------------------------------------------------------


def purge(redis_url: str, queue: str) -> None:
    """Delete the run's queue, kombu's bindings for it and the intake's drain flag."""
    import redis

    from forum.webhooks.inbound import DRAIN_PENDING_KEY

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=5)
    try:
        priorities = list(client.scan_iter(match=f"{queue}\x06\x16*"))
        bindings = [f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
        client.delete(queue, *priorities, *bindings, DRAIN_PENDING_KEY)
        client.zrem("_kombu.binding_deadlines", queue)
    finally:
        client.close()


# --- what was stored ---------------------------------------------------------------------


@dataclass
class Outcome:
    stored: int
    processed_once: int
    failed: int
    attendance: int
    attendance_whole: int


def wait_until_processed(database_url: str, *, timeout: float = 600.0) -> tuple[int, float]:
    """Wait until the worker has processed every stored fact: (left when called, seconds)."""
    engine = sa.create_engine(database_url)
    waiting = (
        sa.select(sa.func.count())
        .select_from(sa.table("webhook_inbox"))
        .where(sa.column("status") == "received")
    )
    started = time.perf_counter()
    try:
        with engine.connect() as connection:
            left = backlog = connection.scalar(waiting) or 0
            while left:
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"{left} deliveries still unprocessed after {timeout} s")
                time.sleep(0.1)
                connection.rollback()
                left = connection.scalar(waiting) or 0
    finally:
        engine.dispose()
    return backlog, time.perf_counter() - started


def outcome_of(database_url: str) -> Outcome:
    """What the database holds once processing is over."""
    engine = sa.create_engine(database_url)
    inbox = sa.table("webhook_inbox", sa.column("status"), sa.column("attempts"))
    attendance = sa.table(
        "attendance",
        sa.column("stays", postgresql.JSONB),
        sa.column("early_leaves", postgresql.JSONB),
        sa.column("minutes"),
    )
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(inbox.c.status, inbox.c.attempts)).all()
            people = connection.execute(
                sa.select(attendance.c.stays, attendance.c.early_leaves, attendance.c.minutes)
            ).all()
    finally:
        engine.dispose()
    # Each participant joined once and left ten minutes later, in whatever order the two
    # deliveries were processed.
    whole = sum(
        1
        for stays, early, minutes in people
        if len(stays) == 1 and None not in stays.values() and not early and minutes == 10
    )
    return Outcome(
        stored=len(rows),
        processed_once=sum(
            1 for status, attempts in rows if (status, attempts) == ("processed", 1)
        ),
        failed=sum(1 for status, _ in rows if status == "failed"),
        attendance=len(people),
        attendance_whole=whole,
    )


def _rate_line(label: str, result: LoadResult) -> str:
    return (
        f"{label:<32} {result.per_second:7.0f} per second   {result.ok:,} of {result.sent:,} "
        f"answered 2xx in {result.seconds:.2f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 distinct deliveries")
    parser.add_argument(
        "--postgres-url",
        default=POSTGRES_URL,
        help="a PostgreSQL server where the benchmark may create and drop a database",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("FORUM_BENCH_REDIS_URL", "redis://127.0.0.1:6379"),
        help="a Redis server; the run claims a database of its own there (1-15)",
    )
    parser.add_argument("--processes", type=int, default=2, help="sending processes (2)")
    parser.add_argument("--threads", type=int, default=8, help="connections per process (8)")
    args = parser.parse_args(argv)

    distinct_count = 300 if args.quick else 3000
    # A database of its own, claimed as the tests claim theirs: the intake keeps a flag that
    # every client of a database shares.
    redis_url = f"{args.redis_url.rstrip('/')}/{claim_redis_database()}"
    queue = f"forum-bench-{uuid.uuid4().hex[:12]}"
    distinct = zoom_attendance_deliveries(
        SECRET, meeting_id=MEETING_ID, count=distinct_count, start_ms=START_MS
    )
    mixed = with_duplicates(distinct, 1 / 9)  # repeats are 10 % of what is sent
    print(
        f"Webhook intake under gunicorn (3 workers x 4 threads) on PostgreSQL, a Celery worker "
        f"(2 processes) and beat running: {distinct_count:,} signed Zoom deliveries and "
        f"{len(mixed) - distinct_count:,} repeats, {args.processes} processes x "
        f"{args.threads} connections, beside GET /healthz"
    )
    load = {"processes": args.processes, "threads": args.threads}
    health = [({}, b"")] * len(mixed)
    with (
        tempfile.TemporaryDirectory(prefix="forum-bench-") as folder,
        database("postgresql", folder, args.postgres_url) as url,
    ):
        prepare(url)
        port = free_port()
        env = server_env(url, redis_url, queue)
        try:
            with gunicorn(env, port), jobs_layout(env, queue, folder):
                # Untimed: each gunicorn worker opens its connections and loads its code.
                run_load("127.0.0.1", port, "/healthz", health[:300], method="GET", **load)
                baseline = run_load("127.0.0.1", port, "/healthz", health, method="GET", **load)
                intake = run_load("127.0.0.1", port, "/webhooks/zoom", mixed, **load)
                backlog, finishing = wait_until_processed(url)
            outcome = outcome_of(url)
        finally:
            purge(redis_url, queue)

    print(_rate_line("baseline GET /healthz", baseline))
    print(_rate_line("intake POST /webhooks/zoom", intake))
    print(f"intake / baseline: {intake.per_second / baseline.per_second:.2f}")
    print(
        f"processing: {distinct_count - backlog:,} of {distinct_count:,} done during the burst, "
        f"the other {backlog:,} in {finishing:.2f} s after it "
        f"({distinct_count / (intake.seconds + finishing):.0f} per second overall)"
    )
    print(f"stored: {outcome.stored:,} (expected {distinct_count:,}; repeats dropped)")
    print(
        f"processed exactly once: {outcome.processed_once:,} of {outcome.stored:,} "
        f"({outcome.failed:,} failed)"
    )
    print(
        f"attendance rows: {outcome.attendance:,} (expected {distinct_count // 2:,}), "
        f"{outcome.attendance_whole:,} whole (each join met by its leave)"
    )
    complete = (
        intake.failed == 0
        and baseline.failed == 0
        and outcome.stored == distinct_count
        and outcome.processed_once == distinct_count
        and outcome.attendance == outcome.attendance_whole == distinct_count // 2
    )
    print(f"none lost or doubled: {'yes' if complete else 'NO'}")
    judged = report.judge(
        [
            (
                f"intake >= {TARGET_PER_SECOND} deliveries per second with the worker running",
                intake.per_second >= TARGET_PER_SECOND,
                f"{intake.per_second:.0f} per second",
            )
        ],
        quick=args.quick,
    )
    return 0 if complete and judged == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
