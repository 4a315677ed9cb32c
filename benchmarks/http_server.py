"""The app on a loopback port in a process of its own, each answer saying how many queries it took.

    python -m benchmarks.http_server DATABASE_URL   # prints "listening on PORT", serves until
                                                    # stopped

A benchmark starts it with ``serving(url)``. In its own process the server neither shares the
GIL with the client that times it nor pays for collecting the client's objects, as a server
in a thread of the benchmark would.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
QUERIES_HEADER = "X-Benchmark-Queries"
SETTINGS = {"SECRET_KEY": "bench-secret-key", "MAIL_BACKEND": "memory", "TESTING": False}


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without a log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class CountQueries:
    """WSGI middleware: the statements the engine ran for a request, in a response header.

    Flask runs the view before it starts the response, so the count is complete when the
    headers go out.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], engine: sa.Engine) -> None:
        self.app = app
        self.counts = threading.local()
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        self.counts.value = getattr(self.counts, "value", 0) + 1

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.counts.value = 0

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append((QUERIES_HEADER, str(self.counts.value)))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def serve(database_url: str) -> None:
    """Serve the app on a free loopback port until the process is stopped."""
    from forum import create_app
    from forum.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, **SETTINGS})
    with app.app_context():
        engine = db.engine
    # As wsgi.py does for the real server.
    gc.collect()
    gc.freeze()
    counted = CountQueries(app.wsgi_app, engine)
    app.wsgi_app = counted  # type: ignore[method-assign]
    # A threaded server speaks HTTP/1.1, so a client's connection is kept alive.
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    print(f"listening on {server.server_port}", flush=True)
    server.serve_forever()


@contextmanager
def serving(database_url: str) -> Iterator[str]:
    """The app served in another process on ``database_url``: its base URL while inside."""
    process = subprocess.Popen(  # noqa: S603 (our interpreter, our module)
        [sys.executable, "-m", "benchmarks.http_server", database_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("listening on "):
            raise SystemExit(f"the app server did not start (exit status {process.wait()})")
        yield f"http://127.0.0.1:{int(line.split()[-1])}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


if __name__ == "__main__":
    serve(sys.argv[1])
