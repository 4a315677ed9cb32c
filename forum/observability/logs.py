"""Logs: one JSON object per line in production, each carrying the request id of its request.

The request id is a context variable, set for each request (``X-Request-ID`` when the
caller sends a sane one, else a new one) and for each job from its message headers, so
every line logged while either runs carries it without anyone passing it along.

Nothing here logs a request's query string, headers or body: tokens travel in query
strings (calendar feeds, participants' links) and webhook bodies hold people's details.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
import uuid
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is kept when it is 1 to 128 of these characters (a UUID, a load
# balancer's trace id); anything else could forge lines in a text log or bloat every line.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=-]{1,128}")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "forum_request_id", default=None
)

# Attributes every LogRecord has; anything else on a record came as `extra=` and is kept.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def request_id_from(value: str | None) -> str:
    """The caller's request id if it is sane, else a new one (32 hex digits)."""
    if value and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (None outside requests and jobs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id,
    then whatever the call gave as ``extra`` (method, path, status, duration_ms...)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The usual text line, with the request id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


_HANDLER_NAME = "forum"


def configure(log_format: str, level: str) -> None:
    """Send every log line (the root logger's) to stderr in ``log_format``; safe to repeat.

    A handler of our own replaces the one a previous call added, and no other: a test
    runner's capture, or gunicorn's own loggers, keep theirs.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("gunicorn.error", "celery", "celery.app.trace", "celery.worker"):
        # Their lines go through the root handler, formatted alike.
        logger = logging.getLogger(name)
        logger.propagate = True
