"""Running forum for real: request ids, JSON logs, Prometheus metrics, /livez and /metrics.

Per request: the first hook takes the request id (a sane ``X-Request-ID``, else a new one)
and the time; the last one echoes the id, counts the request by its endpoint's name and
status class, and, with FORUM_ACCESS_LOG, writes one log line without the query string
and with any token in the path masked. Jobs carry the request id that queued them in their
message headers (with the time they were sent, for the queue's age on /metrics), so a
worker's log lines name the request behind them.

The health check (``/healthz``: database and Redis) lives with the API's, in
forum.api.health; ``/livez`` here answers without touching anything.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import re
import time
from typing import Any

from celery import signals as celery_signals
from flask import Blueprint
from flask import Flask
from flask import Request
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request

from forum.observability import logs
from forum.observability import metrics

bp = Blueprint("observability", __name__)
access_log = logging.getLogger("forum.access")

_VARIABLE = re.compile(r"<(?:[^>:]+:)?([^>]+)>")


@bp.get("/livez")
def livez():
    """Alive: the process answers. No database, no Redis (that is /healthz)."""
    return jsonify(status="ok")


@bp.get("/metrics")
def metrics_page():
    token = current_app.config.get("FORUM_METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            return Response(
                "metrics need Authorization: Bearer <FORUM_METRICS_TOKEN>\n",
                status=401,
                mimetype="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    body = metrics.exposition(current_app.config)
    return Response(body, content_type=metrics.CONTENT_TYPE, headers={"Cache-Control": "no-store"})


# Kept in the request's WSGI environ: the hooks reach the request once each through
# Flask's proxy, rather than g and request a dozen times (a feed's 304 takes ~1 ms, so
# the hooks' microseconds count).
_STARTED = "forum.started"
_REQUEST_ID = "forum.request_id"
_RESET = "forum.request_id_reset"


def _start_request() -> None:
    environ = request._get_current_object().environ  # type: ignore[attr-defined]
    environ[_STARTED] = time.perf_counter()
    environ[_REQUEST_ID] = request_id = logs.request_id_from(environ.get("HTTP_X_REQUEST_ID"))
    environ[_RESET] = logs.request_id_var.set(request_id)


def _finish_request(response: Response) -> Response:
    req = request._get_current_object()  # type: ignore[attr-defined]
    environ = req.environ
    request_id = environ.get(_REQUEST_ID)
    if request_id is not None:
        response.headers[logs.REQUEST_ID_HEADER] = request_id
    started = environ.get(_STARTED)
    if started is None:
        return response
    seconds = time.perf_counter() - started
    rule = req.url_rule
    endpoint = rule.endpoint if rule is not None else "unmatched"
    status = response.status_code
    metrics.observe_request(endpoint, req.method, status, seconds)
    if endpoint == "webhooks.receive":
        provider = (req.view_args or {}).get("provider", "")
        answer = response.get_json(silent=True) if response.is_json else None
        metrics.observe_webhook(provider, status, answer)
    if current_app.config["FORUM_ACCESS_LOG"] and access_log.isEnabledFor(logging.INFO):
        path = _path_for_logs(req)
        access_log.info(
            "%s %s %s",
            req.method,
            path,
            status,
            extra={
                "method": req.method,
                "path": path,
                "endpoint": endpoint,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
            },
        )
    return response


def _path_for_logs(req: Request) -> str:
    """The path without its query, with the value of any ``token`` variable masked: a
    participant's agenda, RSVP and feed links are secrets held in the path."""
    rule, values = req.url_rule, req.view_args or {}
    if rule is None or not any("token" in name for name in values):
        return req.path

    def shown(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"<{name}>" if "token" in name else str(values.get(name, ""))

    return _VARIABLE.sub(shown, rule.rule)


def _end_request(_: BaseException | None) -> None:
    token = request.environ.pop(_RESET, None)
    if token is not None:
        # ValueError: set in another context (a copied one), nothing to undo here.
        with contextlib.suppress(ValueError):
            logs.request_id_var.reset(token)


def init_app(app: Flask) -> None:
    if app.config.get("FORUM_LOG_FORMAT") == "json":
        logs.configure("json", app.config.get("FORUM_LOG_LEVEL") or "INFO")
        _celery_keeps_our_logging()
    app.register_blueprint(bp)
    # First of the app's hooks, so that a request refused by an earlier hook (a rate
    # limit) still has its id, its count and its log line.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    # after_request hooks run last-registered first: at the front of the list, this one
    # runs last, and so sees the final response and times the other hooks too.
    app.after_request_funcs.setdefault(None, []).insert(0, _finish_request)
    app.teardown_request_funcs.setdefault(None, []).append(_end_request)
    _connect_job_signals()


# --- jobs ------------------------------------------------------------------------------------

REQUEST_ID_JOB_HEADER = "forum_request_id"


def _before_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is None:
        return
    headers[metrics.ENQUEUED_AT_HEADER] = time.time()
    request_id = logs.request_id_var.get()
    if request_id is not None:
        headers.setdefault(REQUEST_ID_JOB_HEADER, request_id)


_JOB_TOKENS: dict[str, Any] = {}


def _job_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    request_id = getattr(task.request, REQUEST_ID_JOB_HEADER, None) if task else None
    if request_id is None and task is not None:
        request_id = (getattr(task.request, "headers", None) or {}).get(REQUEST_ID_JOB_HEADER)
    if request_id is None or task_id is None:
        return
    _JOB_TOKENS[task_id] = logs.request_id_var.set(logs.request_id_from(str(request_id)))


def _job_finished(task_id: str | None = None, **_: Any) -> None:
    token = _JOB_TOKENS.pop(task_id, None) if task_id else None
    if token is not None:
        try:
            logs.request_id_var.reset(token)
        except ValueError:
            logs.request_id_var.set(None)


def _connect_job_signals() -> None:
    celery_signals.before_task_publish.connect(
        _before_publish, weak=False, dispatch_uid="forum.observability.before_publish"
    )
    celery_signals.task_prerun.connect(
        _job_started, weak=False, dispatch_uid="forum.observability.job_started"
    )
    celery_signals.task_postrun.connect(
        _job_finished, weak=False, dispatch_uid="forum.observability.job_finished"
    )


def _celery_keeps_our_logging() -> None:
    # A receiver of setup_logging tells Celery not to set up logging itself, so a worker's
    # lines are JSON like the web processes' (configured by create_app at import of wsgi).
    celery_signals.setup_logging.connect(
        _keep_logging, weak=False, dispatch_uid="forum.observability.setup_logging"
    )


def _keep_logging(**_: Any) -> None:
    pass
