"""A term at Peking University's scale on the production stack of this one machine.

    python -m benchmarks.bench_scale            # full size: 4,437 courses, 40,000 students
    python -m benchmarks.bench_scale --quick    # a tiny term: shows that every step runs

A PostgreSQL database is created for the run (on the server of --postgres-url or
FORUM_TEST_POSTGRES_URL), migrated and seeded with ``flask forum seed-semester`` (timed),
and dropped after it. Then the production layout starts on loopback: two gunicorn app
processes on two ports (deploy/gunicorn.conf.py when it exists, else 2 workers of 4
threads each), two Celery workers of 2 processes and beat (as `make worker`, `make beat`),
Redis as broker, rate-limit store and feed cache (a database number of its own), with
FORUM_ENV=production. The load generator (benchmarks/loadgen.py) sends from 2 processes
over kept-alive HTTP/1.1 connections, every load split across both app processes:

1. Baseline: GET /healthz on the same connections, the most this stack answers a second.
2. Feeds: every student's personal feed once cold (200, built), then polled with its ETag
   through the *other* app process (304: the copy is shared), then fetched again without
   one (a warm 200); a sample fetched through both processes must be byte for byte equal.
3. A class-start burst: signed Zoom participant joins and leaves for the seeded meetings,
   paced (500 a second offered), 10 % of them sent twice; then PostgreSQL must hold every
   distinct delivery once, processed exactly once, and each attendance row whole.
4. Moving one course: one of its sessions rescheduled through the API; its students'
   feeds are polled with their ETags until every one has changed; other students' feeds
   must still answer 304.

Every figure is printed with the load it ran under and its target. The exit status is 1
when a correctness check fails (with --strict, also when a target is missed). Every
process, the database and the run's Redis keys are removed at the end, on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import sqlalchemy as sa

from benchmarks import loadgen
from benchmarks import report
from benchmarks.bench_search import POSTGRES_URL
from benchmarks.bench_search import database
from benchmarks.webhook_load import free_port
from benchmarks.webhook_load import gunicorn
from benchmarks.webhook_load import jobs_layout
from benchmarks.webhook_load import purge
from benchmarks.webhook_load import sign_zoom
from benchmarks.webhook_load import wait_until_processed
from tests.workers import claim_redis_database

ROOT = Path(__file__).resolve().parent.parent
FLASK = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi"]
ZOOM_SECRET = "zoom-scale-webhook-secret"  # noqa: S105 (the benchmark's own account)
SECRET_KEY = "bench-scale-secret-key-" + "x" * 24  # production wants >= 32 characters
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
# A feed poller, a load generator and a campus NAT are one address: the per-address limit
# on link requests (3000 a minute by default) is lifted for the run, and said so.
LINKS_LIMIT = "10000000 per minute"
STAY_MINUTES = 45
# The longest the run waits for the workers after the burst (the target is 5 minutes).
PROCESSING_LIMIT = 900.0
EVENT_TS_START = 1_800_000_000_000

FULL = {
    "courses": 4437,
    "teachers": 2800,
    "abroad": 60,
    "students": 40000,
    "per_student": 5,
    "deliveries": 60000,
    "burst_seconds": 120.0,
    "sample": 500,
    "others": 2000,
}
QUICK = {
    "courses": 40,
    "teachers": 16,
    "abroad": 2,
    "students": 240,
    "per_student": 3,
    "deliveries": 400,
    "burst_seconds": 4.0,
    "sample": 40,
    "others": None,  # every other student
}
TARGETS = {
    "seed_seconds": 300.0,
    "not_modified_p99": 0.050,
    "not_modified_rate": 1000.0,
    "intake_rate": 500.0,
    "answer_p99": 3.0,
    "processed_within": 300.0,
}


class BenchFailed(RuntimeError):
    """A step could not run (a process that did not start, a seed that failed)."""


# --- the data ----------------------------------------------------------------------------


@dataclass
class Term:
    """What the seed made, as the load needs it: people, courses, meetings."""

    # person id -> (email, link_version), for every student (participant of a course)
    students: dict[int, tuple[str, int]]
    # session id -> its participants' person ids
    session_students: dict[int, list[int]]
    # session id -> (event id, start, the Zoom meeting id)
    meetings: dict[int, tuple[int, dt.datetime, str]]
    # event id -> owner's email
    owners: dict[int, str]


def seed(env: dict[str, str], sizes: dict, seed_value: int) -> float:
    """Migrate (untimed), then run seed-semester at ``sizes``; its seconds."""
    migrated = subprocess.run(  # noqa: S603
        [*FLASK, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if migrated.returncode:
        raise BenchFailed(f"migration failed:\n{migrated.stderr[-4000:]}")
    options = [
        "--courses", str(sizes["courses"]), "--teachers", str(sizes["teachers"]),
        "--abroad", str(sizes["abroad"]), "--students", str(sizes["students"]),
        "--per-student", str(sizes["per_student"]), "--seed", str(seed_value),
    ]  # fmt: skip
    if sizes.get("weeks"):
        options += ["--weeks", str(sizes["weeks"])]
    command = [*FLASK, "forum", "seed-semester", *options]
    command += ["--zoom-webhook-secret", ZOOM_SECRET]
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 (our flask, our arguments)
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise BenchFailed(f"seed-semester failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return seconds


def read_term(url: str) -> Term:
    """The students, their sessions and the Zoom meetings, read back from the database."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT p.id, p.email, p.link_version, i.session_id FROM invitations i "
                    "JOIN people p ON p.id = i.person_id WHERE i.role = 'participant' "
                    "ORDER BY p.id, i.session_id"
                )
            ).all()
            meetings = connection.execute(
                sa.text(
                    "SELECT s.id, s.event_id, s.start, m.external_id FROM sessions s "
                    "JOIN video_meetings m ON m.session_id = s.id "
                    "WHERE m.provider = 'zoom' AND m.external_id IS NOT NULL ORDER BY s.id"
                )
            ).all()
            owners = connection.execute(
                sa.text("SELECT e.id, o.email FROM events e JOIN organisers o ON o.id = e.owner_id")
            ).all()
    finally:
        engine.dispose()
    students: dict[int, tuple[str, int]] = {}
    session_students: dict[int, list[int]] = {}
    for person_id, email, link_version, session_id in rows:
        students[person_id] = (email, link_version)
        session_students.setdefault(session_id, []).append(person_id)
    return Term(
        students=students,
        session_students=session_students,
        meetings={
            sid: (eid, start if start.tzinfo else start.replace(tzinfo=dt.UTC), str(ext))
            for sid, eid, start, ext in meetings
            if str(ext).isdigit()
        },
        owners=dict(owners),
    )


def feed_paths(url: str, students: dict[int, tuple[str, int]]) -> dict[int, str]:
    """Each student's feed path, signed as the app signs it (same SECRET_KEY)."""
    from forum.core import signing

    return {
        person_id: "/ical/feeds/"
        + signing.sign(SECRET_KEY, "feed", f"{person_id}-{link_version}")
        + ".ics"
        for person_id, (_email, link_version) in students.items()
    }


def point_providers_at_loopback(url: str, port: int) -> None:
    """Send every call to a provider's API to a loopback port where nothing answers.

    Moving a session has the workers update its Zoom meeting: the run must not reach Zoom.
    """
    engine = sa.create_engine(url)
    table = sa.table("provider_accounts", sa.column("id"), sa.column("settings", sa.JSON))
    try:
        with engine.begin() as connection:
            for account_id, settings in connection.execute(sa.select(table.c.id, table.c.settings)):
                settings = dict(settings or {})
                for name in ("api_base_url", "oauth_url"):
                    settings[name] = f"http://127.0.0.1:{port}"
                connection.execute(
                    table.update().where(table.c.id == account_id).values(settings=settings)
                )
    finally:
        engine.dispose()


# --- the stack ---------------------------------------------------------------------------


def deploy_conf() -> Path | None:
    """deploy/gunicorn.conf.py once it is part of the product (committed), else None."""
    tracked = subprocess.run(  # noqa: S603
        ["git", "ls-files", "--error-unmatch", str(GUNICORN_CONF)],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    return GUNICORN_CONF if GUNICORN_CONF.exists() and tracked.returncode == 0 else None


def stack_env(url: str, redis_url: str, queue: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "FORUM_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": redis_url,
        "FORUM_JOBS_QUEUE": queue,
        "FORUM_BASE_URL": f"http://127.0.0.1:{port}",
        # No mail server on this machine: emails are kept in memory and dropped.
        "MAIL_BACKEND": "memory",
        "FORUM_RATE_LIMIT_LINKS": LINKS_LIMIT,
        "FORUM_SECURE_COOKIES": "false",  # plain HTTP on loopback
        # deploy/gunicorn.conf.py sizes each app process from these: two app processes on
        # this machine's cores share them (2 workers of 4 threads each).
        "FORUM_WEB_WORKERS": "2",
        "FORUM_WEB_THREADS": "4",
        # The shared calendar cache (the default too: the broker's Redis), said outright.
        "FORUM_CACHE_URL": redis_url,
    }


def load_line() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min)"


@contextmanager
def stopped_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP end the run as Ctrl-C does: through every cleanup."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def clear_redis(redis_url: str) -> None:
    """Empty the run's own Redis database (claimed for this process alone)."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=30)
    try:
        client.flushdb()
    finally:
        client.close()


def cached_feeds(redis_url: str) -> int:
    """How many personal feeds the shared calendar cache holds (one hash per person)."""
    import redis

    from forum.events.feedcache import KEY_PREFIX

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=30)
    try:
        return sum(1 for _ in client.scan_iter(match=KEY_PREFIX + "p*", count=5000))
    finally:
        client.close()


def api_token(env: dict[str, str], email: str) -> str:
    done = subprocess.run(  # noqa: S603 (our flask, fixed arguments)
        [*FLASK, "forum", "create-token", email, "--name", "bench-scale"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise BenchFailed(f"create-token failed: {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


# --- loads -------------------------------------------------------------------------------


def spread(index: int, ports: tuple[int, int], processes: int) -> int:
    """The port of job ``index``: job i goes to process i % processes, so the port turns on
    i // processes, and each generator process sends to both app processes."""
    return ports[(index // processes) % 2]


@dataclass
class Figures:
    lines: list[str] = field(default_factory=list)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        print(line, flush=True)
        self.lines.append(line)

    def correct(self, name: str, ok: bool, detail: str) -> None:
        self.say(f"check {name}: {'ok' if ok else 'FAILED'} ({detail})")
        if not ok:
            self.failures.append(name)


def latency_line(label: str, run: loadgen.Run, *statuses: int) -> str:
    return (
        f"{label:<34} {run.rate(*statuses):8.0f} per second   "
        f"p50 {run.percentile(0.5, *statuses) * 1000:7.1f} ms   "
        f"p99 {run.percentile(0.99, *statuses) * 1000:7.1f} ms   "
        f"({run.count(*statuses):,} of {len(run.answers):,} in {run.seconds:.1f} s)"
    )


def get_jobs(paths, ports, processes, *, other=False, etags=None) -> list[loadgen.Job]:
    jobs = []
    for n, path in enumerate(paths):
        port = spread(n, ports, processes)
        if other:
            port = ports[1] if port == ports[0] else ports[0]
        headers = {"If-None-Match": etags[n]} if etags is not None else {}
        jobs.append(loadgen.Job(port, loadgen.render("GET", path, port=port, headers=headers)))
    return jobs


def statuses(run: loadgen.Run) -> str:
    seen: dict[int, int] = {}
    for answer in run.answers:
        seen[answer.status] = seen.get(answer.status, 0) + 1
    return ", ".join(f"{count:,} x {status}" for status, count in sorted(seen.items()))


@dataclass
class Delivery:
    session_id: int
    email: str
    joined: bool
    body: bytes


def burst_deliveries(term: Term, distinct: int, seed_value: int) -> list[Delivery]:
    """``distinct`` deliveries (even): a join and, 45 minutes later, a leave for as many
    (meeting, student) pairs, the meetings taken in turn so that each class fills up."""
    rng = random.Random(seed_value)
    queues = {
        sid: list(term.session_students.get(sid, []))
        for sid in sorted(term.meetings)
        if term.session_students.get(sid)
    }
    order = list(queues)
    rng.shuffle(order)
    pairs: list[tuple[int, int]] = []
    while len(pairs) < distinct // 2 and order:
        for sid in list(order):
            if not queues[sid]:
                order.remove(sid)
                continue
            pairs.append((sid, queues[sid].pop()))
            if len(pairs) == distinct // 2:
                break
    if len(pairs) < distinct // 2:
        raise BenchFailed(f"only {len(pairs)} meeting places for {distinct // 2} pairs")
    deliveries = []
    for n, (sid, person_id) in enumerate(pairs):
        _event_id, start, meeting_id = term.meetings[sid]
        email = term.students[person_id][0]
        joined_at = start + dt.timedelta(seconds=n % 600)
        for joined in (True, False):
            moment = joined_at if joined else joined_at + dt.timedelta(minutes=STAY_MINUTES)
            number = 2 * n + (0 if joined else 1)
            participant = {
                "user_id": str(16778240 + n),
                "user_name": f"Student {person_id}",
                "id": "",
                "participant_uuid": f"uuid-{sid}-{person_id}",
                "email": email,
                ("join_time" if joined else "leave_time"): moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            payload = {
                "event": "meeting.participant_joined" if joined else "meeting.participant_left",
                "event_ts": EVENT_TS_START + number,
                "payload": {
                    "account_id": "AbC",
                    "object": {
                        "id": meeting_id,  # a string in participant events (Zoom's quirk)
                        "uuid": f"class-{sid}==",
                        "host_id": "30R7kT7bTIKSNUFEuH_Qlg",
                        "topic": f"Course session {sid}",
                        "type": 8,
                        "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "timezone": "Asia/Shanghai",
                        "duration": 110,
                        "participant": participant,
                    },
                },
            }
            body = json.dumps(payload, separators=(",", ":")).encode()
            deliveries.append(Delivery(sid, email, joined, body))
    return deliveries


@dataclass
class Burst:
    stored: int
    processed_once: int
    failed: int
    attendance: int
    whole: int
    linked: int


def burst_outcome(url: str) -> Burst:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            inbox = connection.execute(sa.text("SELECT status, attempts FROM webhook_inbox")).all()
            rows = connection.execute(
                sa.text("SELECT stays, early_leaves, minutes, invitation_id FROM attendance")
            ).all()
    finally:
        engine.dispose()
    return Burst(
        stored=len(inbox),
        processed_once=sum(1 for s, a in inbox if (s, a) == ("processed", 1)),
        failed=sum(1 for s, _ in inbox if s == "failed"),
        attendance=len(rows),
        whole=sum(
            1
            for stays, early, minutes, _inv in rows
            if len(stays) == 1
            and None not in stays.values()
            and not early
            and minutes == STAY_MINUTES
        ),
        linked=sum(1 for *_rest, invitation in rows if invitation is not None),
    )


# --- the run -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny term: every step runs")
    for name in ("courses", "teachers", "abroad", "students", "per-student", "deliveries"):
        parser.add_argument(f"--{name}", type=int, default=None)
    parser.add_argument("--weeks", type=int, default=None, help="the seed's default if unset")
    parser.add_argument("--burst-seconds", type=float, default=None)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--connections", type=int, default=8, help="per process and app port")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument(
        "--redis-url", default=os.environ.get("FORUM_BENCH_REDIS_URL", "redis://127.0.0.1:6379")
    )
    parser.add_argument(
        "--logs", type=Path, default=None, help="keep the processes' logs in this folder"
    )
    parser.add_argument(
        "--gunicorn-conf",
        default="auto",
        help="a gunicorn.conf.py, 'none' for 2 workers x 4 threads (default: "
        "deploy/gunicorn.conf.py once committed)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 on a missed target too")
    args = parser.parse_args(argv)

    sizes = dict(QUICK if args.quick else FULL)
    for name in ("courses", "teachers", "abroad", "students", "per_student", "deliveries"):
        if getattr(args, name) is not None:
            sizes[name] = getattr(args, name)
    if args.burst_seconds is not None:
        sizes["burst_seconds"] = args.burst_seconds
    sizes["weeks"] = args.weeks
    figures = Figures()
    try:
        with stopped_on_signals():
            run(args, sizes, figures)
    except BenchFailed as failed:
        print(f"bench-scale could not run: {failed}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench-scale interrupted: everything it started is stopped", file=sys.stderr)
        return 130
    judged = report.judge(figures.checks, quick=args.quick)
    if figures.failures:
        print(f"correctness FAILED: {', '.join(figures.failures)}")
        return 1
    print("correctness: every check passed")
    return judged if args.strict else 0


def run(args, sizes: dict, figures: Figures) -> None:
    say = figures.say
    cpus = os.cpu_count() or 1
    redis_url = f"{args.redis_url.rstrip('/')}/{claim_redis_database()}"
    queue = f"forum-scale-{uuid.uuid4().hex[:12]}"
    processes, connections = args.processes, args.connections
    say(
        f"bench-scale: {sizes['courses']:,} courses, {sizes['teachers']:,} teachers "
        f"({sizes['abroad']} abroad), {sizes['students']:,} students x {sizes['per_student']} "
        f"courses; {cpus} CPUs, {load_line()}"
    )
    with ExitStack() as stack:
        if args.logs:
            folder = str(args.logs)
            Path(folder).mkdir(parents=True, exist_ok=True)
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="forum-scale-"))
        url = stack.enter_context(database("postgresql", folder, args.postgres_url))
        stack.callback(clear_redis, redis_url)
        stack.callback(purge, redis_url, queue)
        clear_redis(redis_url)
        ports = (free_port(), free_port())
        env = stack_env(url, redis_url, queue, ports[0])

        seconds = seed(env, sizes, args.seed)
        term = read_term(url)
        say(
            f"seed-semester: {seconds:.1f} s for {len(term.students):,} students, "
            f"{len(term.meetings):,} sessions on Zoom ({load_line()})"
        )
        figures.checks.append(
            ("seed <= 5 min on PostgreSQL", seconds <= TARGETS["seed_seconds"], f"{seconds:.0f} s")
        )
        figures.correct(
            "seeded students",
            len(term.students) == sizes["students"],
            f"{len(term.students):,} with courses of {sizes['students']:,}",
        )
        point_providers_at_loopback(url, free_port())

        # The stack: two app processes, two workers and beat.
        conf = deploy_conf() if args.gunicorn_conf == "auto" else None
        if args.gunicorn_conf not in ("auto", "none"):
            conf = Path(args.gunicorn_conf)
        for n, port in enumerate(ports):
            stack.enter_context(
                gunicorn(
                    env, port, workers=2, threads=4, config=conf, log=Path(folder) / f"app{n}.log"
                )
            )
        stack.enter_context(jobs_layout(env, queue, folder, workers=2))
        layout = (
            f"2 app processes ({'deploy/gunicorn.conf.py' if conf else '2 workers x 4 threads'}"
            f" each, ports {ports[0]} and {ports[1]}), 2 Celery workers x 2 processes and beat, "
            f"PostgreSQL and Redis, {cpus} CPUs; load generator: {processes} processes x "
            f"{connections} connections to each app process"
        )
        say(f"stack: {layout}")
        say(
            "settings: FORUM_ENV=production on loopback; FORUM_RATE_LIMIT_LINKS="
            f"'{LINKS_LIMIT}' so that one load-generator address is not throttled; "
            "MAIL_BACKEND=memory (no mail server here); provider API calls go to a loopback "
            "port where nothing answers"
        )
        load = {"processes": processes, "connections": connections}

        # 1. The ceiling: GET /healthz on the same connections.
        health_paths = ["/healthz"] * max(400, min(20000, 2 * len(term.students)))
        loadgen.run(get_jobs(health_paths[:400], ports, processes), **load)  # untimed warm-up
        health = loadgen.run(get_jobs(health_paths, ports, processes), **load)
        say(latency_line("baseline GET /healthz", health, 200) + f"   {load_line()}")
        figures.correct("healthz", health.count(200) == len(health.answers), statuses(health))

        # 2. Feeds.
        paths_by_person = feed_paths(url, term.students)
        people = sorted(paths_by_person)
        paths = [paths_by_person[p] for p in people]
        cold = loadgen.run(get_jobs(paths, ports, processes), **load)
        say(latency_line("feeds cold 200 (built)", cold, 200) + f"   {load_line()}")
        figures.correct("cold feeds answer 200", cold.count(200) == len(paths), statuses(cold))
        etags = [a.etag or "" for a in cold.answers]
        cached = cached_feeds(redis_url)
        figures.correct(
            "one shared copy of each feed in Redis after the cold pass",
            cached == len(paths),
            f"{cached:,} personal feeds cached for {len(paths):,} fetched",
        )
        polled = loadgen.run(get_jobs(paths, ports, processes, other=True, etags=etags), **load)
        say(latency_line("feeds 304 (other app process)", polled, 304) + f"   {load_line()}")
        figures.correct(
            "a feed built through one app process answers 304 through the other",
            polled.count(304) == len(paths),
            statuses(polled),
        )
        warm = loadgen.run(get_jobs(paths, ports, processes), **load)
        say(latency_line("feeds warm 200 (cached)", warm, 200) + f"   {load_line()}")
        same = sum(1 for a, etag in zip(warm.answers, etags, strict=True) if a.etag == etag)
        figures.correct(
            "warm feeds answer 200 with the cold ETag",
            warm.count(200) == len(paths) and same == len(paths),
            f"{statuses(warm)}; {same:,} same ETag",
        )
        sample = random.Random(args.seed).sample(
            range(len(paths)), min(sizes["sample"], len(paths))
        )
        both = loadgen.run_here(
            [
                loadgen.Job(port, loadgen.render("GET", paths[i], port=port))
                for i in sample
                for port in ports
            ],
            connections=2,
            keep_body=True,
        )
        identical = sum(
            1
            for k in range(len(sample))
            if both.answers[2 * k].status == 200
            and both.answers[2 * k].body == both.answers[2 * k + 1].body
        )
        figures.correct(
            "feeds byte for byte identical through both app processes",
            identical == len(sample),
            f"{identical} of {len(sample)} sampled",
        )
        figures.checks.append(
            (
                "feed 304s p99 <= 50 ms",
                polled.percentile(0.99, 304) <= TARGETS["not_modified_p99"],
                f"{polled.percentile(0.99, 304) * 1000:.1f} ms",
            )
        )
        figures.checks.append(
            (
                "feed 304s >= 1,000 per second",
                polled.rate(304) >= TARGETS["not_modified_rate"],
                f"{polled.rate(304):.0f} per second, healthz {health.rate(200):.0f}",
            )
        )

        # 3. The class-start burst.
        total = sizes["deliveries"]
        distinct_count = (round(total * 0.9) // 2) * 2
        distinct = burst_deliveries(term, distinct_count, args.seed)
        rng = random.Random(args.seed + 1)
        mixed = distinct + rng.sample(distinct, total - distinct_count)
        rng.shuffle(mixed)
        rate = total / sizes["burst_seconds"]
        # Zoom signs a delivery when it sends it, and the intake refuses a timestamp more
        # than 5 minutes away: each is signed for the moment it is due.
        start_at = time.time() + 10 + total / 4000
        jobs = []
        for n, delivery in enumerate(mixed):
            port = spread(n, ports, processes)
            headers = sign_zoom(ZOOM_SECRET, delivery.body, int(start_at + n / rate))
            request = loadgen.render(
                "POST", "/webhooks/zoom", port=port, headers=headers, body=delivery.body
            )
            jobs.append(loadgen.Job(port, request, at=n / rate))
        # Open loop: more connections than the answers in flight at the offered rate need.
        burst = loadgen.run(
            jobs, processes=processes, connections=max(connections, 16), start_at=start_at
        )
        say(
            f"burst: {total:,} signed Zoom deliveries ({total - distinct_count:,} repeats) "
            f"offered at {rate:.0f} per second over {sizes['burst_seconds']:.0f} s, "
            f"{processes} processes x {max(connections, 16)} connections per app process"
        )
        say(
            latency_line("burst intake POST /webhooks/zoom", burst, 200, 202, 204)
            + f"   {load_line()}"
        )
        answered = burst.count(200, 202, 204)
        figures.correct("every delivery answered 2xx", answered == total, statuses(burst))
        try:
            backlog, _seconds = wait_until_processed(url, timeout=PROCESSING_LIMIT)
        except RuntimeError as late:
            figures.correct("every delivery processed", False, str(late))
            backlog = -1
        finishing = max(0.0, time.time() - burst.ended)
        say(
            f"processing: {backlog:,} facts waiting at the burst's end, all processed "
            f"{finishing:.1f} s after it ({load_line()})"
        )
        outcome = burst_outcome(url)
        figures.correct(
            "each distinct delivery stored once",
            outcome.stored == distinct_count,
            f"{outcome.stored:,} stored, {distinct_count:,} distinct",
        )
        figures.correct(
            "each stored delivery processed exactly once",
            outcome.processed_once == distinct_count and outcome.failed == 0,
            f"{outcome.processed_once:,} processed once, {outcome.failed} failed",
        )
        figures.correct(
            "attendance exact (each join met by its leave)",
            outcome.attendance == outcome.whole == distinct_count // 2,
            f"{outcome.attendance:,} rows, {outcome.whole:,} whole of {distinct_count // 2:,}; "
            f"{outcome.linked:,} matched to the student's invitation",
        )
        intake_rate = answered / burst.seconds
        figures.checks += [
            (
                ">= 500 deliveries per second taken in",
                intake_rate >= TARGETS["intake_rate"] * 0.98,
                f"{intake_rate:.0f} per second at {rate:.0f} offered",
            ),
            (
                "deliveries answered within 3 s (p99)",
                burst.percentile(0.99) <= TARGETS["answer_p99"],
                f"p99 {burst.percentile(0.99) * 1000:.0f} ms",
            ),
            (
                "all processed within 5 min of the burst's end",
                finishing <= TARGETS["processed_within"],
                f"{finishing:.1f} s",
            ),
        ]

        # 4. Moving one course.
        move_course(
            term,
            paths_by_person,
            dict(zip(people, etags, strict=True)),
            env,
            ports,
            load,
            args.seed,
            sizes,
            figures,
        )


def move_course(term, paths_by_person, etags, env, ports, load, seed_value, sizes, figures):
    """Reschedule one session of one course; poll its students' feeds until all changed."""
    import requests

    say = figures.say
    rng = random.Random(seed_value + 2)
    candidates = [
        sid for sid in sorted(term.meetings) if len(term.session_students.get(sid, [])) > 1
    ]
    session_id = rng.choice(candidates)
    event_id, start, _meeting = term.meetings[session_id]
    moved = set(term.session_students[session_id])
    token = api_token(env, term.owners[event_id])
    new_start = start + dt.timedelta(hours=1)
    answer = requests.patch(
        f"http://127.0.0.1:{ports[0]}/api/v1/sessions/{session_id}",
        json={"start": new_start.strftime("%Y-%m-%dT%H:%M:%SZ")},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    patched = time.time()
    figures.correct(
        "the session moves through the API",
        answer.status_code == 200,
        f"PATCH /api/v1/sessions/{session_id}: {answer.status_code}",
    )
    waiting = sorted(moved)
    rounds = 0
    last_change = patched
    while waiting and time.time() - patched < 120:
        rounds += 1
        paths = [paths_by_person[p] for p in waiting]
        polled = loadgen.run_here(
            get_jobs(paths, ports, 1, etags=[etags[p] for p in waiting]), connections=4
        )
        last_change = polled.ended
        waiting = [
            p
            for p, a in zip(waiting, polled.answers, strict=True)
            if not (a.status == 200 and a.etag and a.etag != etags[p])
        ]
    seconds = last_change - patched
    say(
        f"moving one course: session {session_id} one hour later; {len(moved) - len(waiting)} of "
        f"{len(moved)} students' feeds changed {seconds:.2f} s after the PATCH was answered "
        f"({rounds} polling rounds through both app processes)"
    )
    figures.correct(
        "every moved student's feed changed",
        not waiting,
        f"{len(waiting)} unchanged after {seconds:.1f} s",
    )
    others = [p for p in sorted(paths_by_person) if p not in moved]
    wanted = sizes["others"]
    sample = others if wanted is None or len(others) <= wanted else rng.sample(others, wanted)
    polled = loadgen.run_here(
        get_jobs([paths_by_person[p] for p in sample], ports, 1, etags=[etags[p] for p in sample]),
        connections=4,
    )
    figures.correct(
        "other students' feeds unchanged (304)",
        polled.count(304) == len(sample),
        f"{polled.count(304)} of {len(sample)} sampled: {statuses(polled)}",
    )


if __name__ == "__main__":
    sys.exit(main())
