"""Prometheus metrics: what each process counts, and what is read at scrape time.

Two kinds of numbers, kept apart on purpose:

- Counted in the process that sees them (HTTP requests, webhook intake): prometheus_client
  counters and histograms. Under gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` set (see
  deploy/gunicorn.conf.py) every worker writes its own file there and ``/metrics`` sums
  the files, so any worker's answer covers the whole machine.
- Shared by every process on every machine (the job queue in Redis, the webhook inbox,
  emails, meetings): read from Redis and the database when ``/metrics`` is scraped, by
  ``StateCollector``. Every app process answers the same numbers for these, so they are
  gauges to read with ``max``, not ``sum``, across instances.

Provider errors happen in the workers, often on other machines: with Redis they are
counted in a Redis hash that every process adds to and ``/metrics`` reads.

Per request the cost is a few dictionary lookups and two increments (measured in
the README, "Running in production"): nothing here touches the network on the request path.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from prometheus_client import REGISTRY
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Histogram
from prometheus_client import disable_created_metrics
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger("forum.observability")
# The *_created series double the page and tell nothing a scrape's own history does not.
disable_created_metrics()

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds; the feed's 304 answers take about a millisecond, a slot search a second.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "forum_http_requests",
    "HTTP requests answered, by endpoint (the route's name, never the path), method and "
    "status class",
    ["endpoint", "method", "status"],
)
HTTP_DURATION = Histogram(
    "forum_http_request_duration_seconds",
    "Time from the first hook to the response, by endpoint and status class",
    ["endpoint", "status"],
    buckets=DURATION_BUCKETS,
)
WEBHOOK_STORED = Counter(
    "forum_webhook_facts_stored", "Webhook facts stored by the intake, by provider", ["provider"]
)
WEBHOOK_DUPLICATES = Counter(
    "forum_webhook_duplicates",
    "Webhook facts received again and skipped (already stored), by provider",
    ["provider"],
)
WEBHOOK_REFUSED = Counter(
    "forum_webhook_refused",
    "Webhook deliveries refused: no account of the provider verified them",
    ["provider"],
)
# Without Redis, jobs run inline in the web processes, so a process counter is the whole
# count; it is collected with the shared numbers (StateCollector), never on its own.
_LOCAL_PROVIDER_ERRORS = Counter(
    "forum_provider_errors",
    "Provider calls that failed, by provider and kind of error",
    ["provider", "error"],
    registry=None,
)

# Redis keys: the provider errors of every process, "<provider>\t<error>" -> count.
PROVIDER_ERRORS_KEY = "forum:metrics:provider-errors"
# Kombu's Redis transport keeps a queue's messages of priority p > 0 in "<queue>\x06\x16<p>".
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)
# Message header set when a job is sent (forum.observability: before_task_publish).
ENQUEUED_AT_HEADER = "forum_enqueued_at"

_REDIS: dict[str, Any] = {}


def redis_client(url: str):
    """One client (one pool) per URL and process, with short timeouts: a scrape or a health
    check must answer even when Redis does not."""
    import redis

    client = _REDIS.get(url)
    if client is None:
        client = _REDIS[url] = redis.Redis.from_url(
            url, socket_connect_timeout=1, socket_timeout=2, health_check_interval=30
        )
    return client


def is_redis(url: str | None) -> bool:
    return bool(url) and url.startswith(("redis://", "rediss://"))  # type: ignore[union-attr]


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


# --- counted where it happens ----------------------------------------------------------------


# Any token is a method to HTTP: a label per method sent would let a caller add series.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    status_class = f"{status // 100}xx"
    if method not in KNOWN_METHODS:
        method = "other"
    HTTP_REQUESTS.labels(endpoint, method, status_class).inc()
    HTTP_DURATION.labels(endpoint, status_class).observe(seconds)


def observe_webhook(provider: str, status: int, answer: Any) -> None:
    """Count an intake from its answer: 401 refused, 200 {"received", "duplicates"}."""
    if status == 401:
        WEBHOOK_REFUSED.labels(provider).inc()
    elif status == 200 and isinstance(answer, dict):
        stored, duplicates = answer.get("received"), answer.get("duplicates")
        if isinstance(stored, int) and stored:
            WEBHOOK_STORED.labels(provider).inc(stored)
        if isinstance(duplicates, int) and duplicates:
            WEBHOOK_DUPLICATES.labels(provider).inc(duplicates)


def count_provider_error(provider: str, error: BaseException) -> None:
    """One failed provider call: in Redis when it is the broker (workers on any machine add
    to one count), else in this process. Never raises: a metric must not fail a job."""
    from flask import current_app

    kind = type(error).__name__
    broker_url = current_app.config.get("CELERY_BROKER_URL") if current_app else None
    if is_redis(broker_url):
        try:
            redis_client(broker_url).hincrby(PROVIDER_ERRORS_KEY, f"{provider}\t{kind}", 1)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001
            log.warning("could not count a %s error of %s in Redis", kind, provider)
        return
    _LOCAL_PROVIDER_ERRORS.labels(provider, kind).inc()


# --- read at scrape time ---------------------------------------------------------------------


def queue_keys(queue: str) -> list[str]:
    return [queue if p == 0 else f"{queue}{_PRIORITY_SEPARATOR}{p}" for p in _PRIORITY_STEPS]


def queue_state(broker_url: str, queue: str, *, now: float | None = None) -> tuple[int, float]:
    """Jobs waiting in the Redis queue, and the age in seconds of the oldest (0 if none).

    Kombu pushes on the left and workers pop on the right, so the oldest message of each
    list is its last one; its age is read from the header forum adds when it sends a job.
    """
    client = redis_client(broker_url)
    keys = queue_keys(queue)
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.llen(key)
            pipe.lindex(key, -1)
        answers = pipe.execute()
    now = time.time() if now is None else now
    depth, oldest = 0, None
    for length, last in zip(answers[::2], answers[1::2], strict=True):
        depth += length or 0
        sent = _enqueued_at(last)
        if sent is not None and (oldest is None or sent < oldest):
            oldest = sent
    return depth, max(0.0, now - oldest) if oldest is not None else 0.0


def _enqueued_at(raw: bytes | None) -> float | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)["headers"].get(ENQUEUED_AT_HEADER)
        return float(value) if value is not None else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _age(oldest: dt.datetime | str | None, now: dt.datetime) -> float:
    if oldest is None:
        return 0.0
    if isinstance(oldest, str):  # SQLite hands back text for an aggregate of a datetime
        oldest = dt.datetime.fromisoformat(oldest)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    return max(0.0, (now - oldest).total_seconds())


class StateCollector(Collector):
    """The numbers every process shares, read from Redis and the database at each scrape."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily(
            "forum_metrics_source_up",
            "1 if the source of the shared numbers answered this scrape",
            labels=["source"],
        )
        yield from self._guarded("database", up, self._database)
        broker = self.config.get("CELERY_BROKER_URL") or ""
        if is_redis(broker):
            yield from self._guarded("redis", up, self._redis)
        elif not multiprocess_dir():
            # (Under gunicorn the process files carry the local count: MultiProcessCollector.)
            yield self._provider_errors(_local_provider_errors())
        yield up

    def _guarded(self, source: str, up: GaugeMetricFamily, read) -> Iterator[Any]:
        try:
            families = list(read())
        except Exception as exc:  # noqa: BLE001 (a scrape says the source is down, not 500)
            log.warning("metrics: %s did not answer: %s", source, exc)
            up.add_metric([source], 0)
            return
        up.add_metric([source], 1)
        yield from families

    def _redis(self) -> Iterator[Any]:
        broker = self.config["CELERY_BROKER_URL"]
        queue = self.config.get("FORUM_JOBS_QUEUE") or "forum"
        depth, age = queue_state(broker, queue)
        families = [
            GaugeMetricFamily(
                "forum_jobs_waiting", "Jobs waiting in the broker's queue", labels=["queue"]
            ),
            GaugeMetricFamily(
                "forum_jobs_oldest_waiting_seconds",
                "Age of the oldest job waiting in the broker's queue (0 when none waits)",
                labels=["queue"],
            ),
        ]
        families[0].add_metric([queue], depth)
        families[1].add_metric([queue], age)
        counts: dict[tuple[str, str], float] = {}
        for field, value in redis_client(broker).hgetall(PROVIDER_ERRORS_KEY).items():
            provider, _, kind = field.decode().partition("\t")
            counts[(provider, kind)] = float(value)
        yield families[0]
        yield families[1]
        yield self._provider_errors(counts)

    @staticmethod
    def _provider_errors(counts: dict[tuple[str, str], float]) -> CounterMetricFamily:
        family = CounterMetricFamily(
            "forum_provider_errors",
            "Provider calls that failed, by provider and kind of error",
            labels=["provider", "error"],
        )
        for (provider, kind), value in sorted(counts.items()):
            family.add_metric([provider, kind], value)
        return family

    def _database(self) -> Iterator[Any]:
        from forum.db import now_utc
        from forum.events.models import VideoMeeting
        from forum.extensions import db
        from forum.notifications.models import EmailMessage
        from forum.providers.models import ProviderAccount
        from forum.webhooks.models import INBOX_STATUSES
        from forum.webhooks.models import InboxEntry

        now = now_utc()
        inbox = GaugeMetricFamily(
            "forum_webhook_inbox_entries",
            "Stored webhook facts by status (received: waiting to be processed)",
            labels=["status"],
        )
        found = dict(
            db.session.execute(
                sa.select(InboxEntry.status, sa.func.count()).group_by(InboxEntry.status)
            ).all()
        )
        for status in INBOX_STATUSES:
            inbox.add_metric([status], found.get(status, 0))
        yield inbox
        oldest = db.session.scalar(
            sa.select(sa.func.min(InboxEntry.received_at)).where(InboxEntry.status == "received")
        )
        yield GaugeMetricFamily(
            "forum_webhook_oldest_waiting_seconds",
            "Age of the oldest webhook fact waiting to be processed (0 when none waits)",
            value=_age(oldest, now),
        )

        emails = GaugeMetricFamily(
            "forum_emails",
            "Emails not sent (yet): pending, sending, retrying, failed",
            labels=["status"],
        )
        open_statuses = ("pending", "sending", "retrying", "failed")
        found = dict(
            db.session.execute(
                sa.select(EmailMessage.status, sa.func.count())
                .where(EmailMessage.status.in_(open_statuses))
                .group_by(EmailMessage.status)
            ).all()
        )
        for status in open_statuses:
            emails.add_metric([status], found.get(status, 0))
        yield emails

        meetings = GaugeMetricFamily(
            "forum_meetings",
            "Meetings not (yet) open on their provider, by provider and status",
            labels=["provider", "status"],
        )
        for provider, status, count in db.session.execute(
            sa.select(VideoMeeting.provider, VideoMeeting.status, sa.func.count())
            .where(VideoMeeting.status.in_(("pending", "failed", "deferred")))
            .group_by(VideoMeeting.provider, VideoMeeting.status)
            .order_by(VideoMeeting.provider, VideoMeeting.status)
        ):
            meetings.add_metric([provider, status], count)
        yield meetings

        problems = GaugeMetricFamily(
            "forum_provider_account_problems",
            "Problems found by the last health check of each provider account",
            labels=["account", "kind"],
        )
        for name, kind, found_problems in db.session.execute(
            sa.select(
                ProviderAccount.name, ProviderAccount.kind, ProviderAccount.last_check_problems
            ).order_by(ProviderAccount.name)
        ):
            problems.add_metric([name, kind], len(found_problems or []))
        yield problems
        db.session.rollback()  # read only: end the transaction the scrape opened


def _local_provider_errors() -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], float] = {}
    for family in _LOCAL_PROVIDER_ERRORS.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                counts[(sample.labels["provider"], sample.labels["error"])] = sample.value
    return counts


def exposition(config: dict[str, Any]) -> bytes:
    """The text page of /metrics: this machine's processes' counts, then the shared state."""
    directory = multiprocess_dir()
    if directory:
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry, path=directory)
        counted = generate_latest(registry)
    else:
        counted = generate_latest(REGISTRY)
    shared = CollectorRegistry(auto_describe=False)
    shared.register(StateCollector(config))
    return counted + generate_latest(shared)
