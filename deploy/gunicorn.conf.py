"""gunicorn settings for forum's web processes: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Sized from the machine's cores (os.cpu_count()) unless the environment says otherwise:

- FORUM_WEB_WORKERS: processes; default 2 per core. Python runs one thread at a time per
  process, and most requests are CPU-bound (a feed's 304, a page), so processes are what
  use the cores; two per core keep a core busy while the other waits on the database.
- FORUM_WEB_THREADS: threads per process (gthread); default 4. They overlap the waits on
  PostgreSQL, Redis and slow clients, and keep idle keep-alive connections cheap.
- FORUM_BIND: default 0.0.0.0:8000 (a load balancer in front; see the README).

Each process holds up to FORUM_WEB_THREADS + 1 database connections (SQLAlchemy's pool of
5 by default), so PostgreSQL's max_connections must exceed machines x workers x (threads
+ 1), plus the Celery workers' processes.

Metrics: every process counts its own requests into a file of PROMETHEUS_MULTIPROC_DIR,
and /metrics (any process) adds them up. The directory is emptied when the server starts
(counts restart with the service, as Prometheus expects of counters), and a dead
worker's live gauges are dropped (``child_exit``). It must be set before the app is
imported, which is why it is set here: the master reads this file first.
"""

from __future__ import annotations

import os
import shutil
import tempfile

_cores = os.cpu_count() or 1


def _whole(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = int(raw)
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


bind = os.environ.get("FORUM_BIND", "0.0.0.0:8000")  # noqa: S104 (behind a load balancer)
workers = _whole("FORUM_WEB_WORKERS", 2 * _cores)
worker_class = "gthread"
threads = _whole("FORUM_WEB_THREADS", 4)
# Idle keep-alive connections are held by the worker's poller, not a thread. Longer than
# the load balancer's idle timeout (60 s on most), so the balancer closes first and never
# sends a request on a connection gunicorn is closing.
keepalive = 75
# A worker silent this long is killed and replaced (a request stuck on a dead connection);
# the slowest legitimate request (a large import) takes well under it.
timeout = 120
# On SIGTERM and on reload, requests in progress get this long to finish.
graceful_timeout = 30
# Requests and headers larger than this are refused before the app sees them.
limit_request_line = 8190
# No access log from gunicorn: the app writes one line per request, JSON with its request
# id (FORUM_ACCESS_LOG); gunicorn's own messages go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("FORUM_LOG_LEVEL", "info").lower()
# Workers are not restarted after N requests: each restart leaves a metrics file behind,
# and the app does not leak. Set GUNICORN_CMD_ARGS="--max-requests 10000" if it ever must.
max_requests = 0
# The app is imported by each worker, not the master: nothing (a database pool, a Redis
# client) is shared across a fork.
preload_app = False
proc_name = "forum-web"

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # systemd and compose set it (a runtime directory); for a server started by hand, a
    # folder of this master's own.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(
        tempfile.gettempdir(), f"forum-metrics-{os.getpid()}"
    )
_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]

if (
    os.environ.get("FORUM_LOG_FORMAT", "").lower() == "json"
    or os.environ.get("FORUM_ENV") == "production"
) and os.environ.get("FORUM_LOG_FORMAT", "").lower() != "text":
    # gunicorn's own lines (worker started, worker timed out) as JSON too.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "forum.observability.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        # The root logger is the app's (forum.observability.logs adds its handler there).
        "root": {"level": loglevel.upper(), "handlers": []},
        "loggers": {
            "gunicorn.error": {
                "level": loglevel.upper(),
                "handlers": ["stderr"],
                "propagate": False,
            },
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }


def on_starting(server) -> None:
    """Start the counts afresh: files of a previous run's processes would be added in."""
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, _metrics_dir)


def on_exit(server) -> None:
    if os.path.basename(_metrics_dir).startswith("forum-metrics-"):
        shutil.rmtree(_metrics_dir, ignore_errors=True)
