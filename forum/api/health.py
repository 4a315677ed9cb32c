"""GET /healthz: is this instance ready to serve? The database, and Redis where configured.

For load balancers and monitors: 200 when every dependency answers, 503 naming the one
that did not. The body keeps the original contract (``status``, ``database``) and adds
``redis`` when a Redis is configured and ``checks``: each dependency's status and the
milliseconds its check took. The same times go in ``Server-Timing``.

Redis is checked when any setting points at it: the broker (``CELERY_BROKER_URL``), the
rate limits' storage, a cache. Each distinct server is pinged once; the answer names the
settings behind a failure, never the URL (it may hold a password). ``/livez``
(forum.observability) is the check that touches nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import sqlalchemy as sa
from flask import Blueprint
from flask import current_app
from flask import jsonify

from forum.extensions import db
from forum.observability.metrics import is_redis
from forum.observability.metrics import redis_client

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


def redis_settings(config: dict[str, Any]) -> dict[str, list[str]]:
    """Each Redis URL in the settings, with the names of the settings that give it."""
    found: dict[str, list[str]] = {}
    for name, value in config.items():
        if name.endswith(("_URL", "_URI")) and isinstance(value, str) and is_redis(value):
            found.setdefault(value, []).append(name)
    return found


def _timed(check) -> tuple[str | None, float]:
    """Run ``check``; the error (None when it passed) and the milliseconds it took."""
    started = time.perf_counter()
    try:
        check()
        error = None
    except Exception as exc:  # noqa: BLE001 (any failure means: not ready)
        error = f"{type(exc).__name__}: {exc}"
    return error, round((time.perf_counter() - started) * 1000, 2)


@bp.get("/healthz")
def healthz():
    checks: dict[str, dict[str, Any]] = {}
    body: dict[str, Any] = {"status": "ok"}

    error, ms = _timed(lambda: db.session.execute(sa.text("SELECT 1")))
    if error:
        db.session.rollback()
        log.warning("health check: database unreachable: %s", error)
    body["database"] = "unreachable" if error else "ok"
    checks["database"] = {"status": body["database"], "ms": ms}

    servers = redis_settings(current_app.config)
    if servers:
        failed: list[str] = []
        total = 0.0
        for url, names in servers.items():
            error, ms = _timed(lambda url=url: redis_client(url).ping())
            total += ms
            if error:
                log.warning("health check: Redis of %s unreachable: %s", ", ".join(names), error)
                failed.extend(names)
        body["redis"] = "unreachable" if failed else "ok"
        checks["redis"] = {"status": body["redis"], "ms": round(total, 2)}
        if failed:
            checks["redis"]["settings"] = sorted(failed)

    body["checks"] = checks
    down = [name for name, check in checks.items() if check["status"] != "ok"]
    if down:
        body["status"] = "error"
        body["failed"] = down
    response = jsonify(body)
    response.headers["Server-Timing"] = ", ".join(
        f"{name};dur={check['ms']}" for name, check in checks.items()
    )
    response.headers["Cache-Control"] = "no-store"
    return response, 503 if down else 200
