"""What every fake provider server shares: a WSGI app, switches that inject faults, a runner.

A fake follows its provider's real contract (status codes, id types, error envelopes, token
endpoint) so that adapters tested against it work against the real API. Faults are queued
and consumed by the requests they match:

    fake.faults.add("rate-limit", retry_after="seconds")   # next matching call: 429
    fake.faults.add("status", status=503, count=2)          # two 503s
    fake.faults.add("slow", delay=2.0)                      # answer after 2 s
    fake.faults.add("lost-answer", delay=2.0)               # do the work, then answer late
    fake.faults.add("expire-tokens")                        # every issued token stops working

The same switches are reachable over HTTP (``POST /_fake/faults`` with that JSON), for a
fake started from the command line (``flask --app wsgi forum fake-provider zoom``).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from dateutil import rrule as rrules
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import NotFound
from werkzeug.routing import Map
from werkzeug.routing import Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

FAULT_KINDS = ("status", "rate-limit", "slow", "lost-answer", "expire-tokens")
RETRY_AFTER_FORMS = ("seconds", "date", "iso", None)


@dataclass
class Fault:
    kind: str
    count: int = 1
    status: int = 500
    # How a 429 says when to come back: "seconds", "date" (HTTP date), "iso", or None.
    retry_after: str | None = "seconds"
    wait: int = 1  # seconds the Retry-After asks for
    delay: float = 0.0
    method: str | None = None
    path: str | None = None  # a prefix of the path it applies to

    def matches(self, request: Request) -> bool:
        return (self.method is None or self.method == request.method) and (
            self.path is None or request.path.startswith(self.path)
        )


class Faults:
    """Queued faults; each matching request takes one from the first fault that matches."""

    def __init__(self) -> None:
        self._items: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, kind: str, **options: Any) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        fault = Fault(kind=kind, **options)
        if fault.retry_after not in RETRY_AFTER_FORMS:
            raise ValueError(f"retry_after must be one of {RETRY_AFTER_FORMS}")
        with self._lock:
            self._items.append(fault)
        return fault

    def take(self, request: Request) -> Fault | None:
        with self._lock:
            for fault in self._items:
                if fault.matches(request):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._items.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def rfc5545_dates(rule: str, dtstart: dt.datetime) -> Iterator[dt.datetime]:
    """The dates of an RRULE value from an aware ``dtstart``, as RFC 5545 (and 2445) count.

    The rule runs in ``dtstart``'s wall-clock time (dateutil keeps the time and the zone of
    each date, the offset following the date). "The DTSTART property value always counts as
    the first occurrence", also when the rule would not give it, and COUNT includes it;
    dateutil leaves such a start out, so it is put back here. Raises ValueError for a rule
    RFC 5545 does not allow (an UNTIL not in UTC with a zoned start, among others).
    """
    dates = rrules.rrulestr(rule, dtstart=dtstart)
    assert isinstance(dates, rrules.rrule)  # one RRULE value, no set
    if next(iter(dates), None) == dtstart:
        return iter(dates)
    count = next(
        (int(part.split("=")[1]) for part in rule.upper().split(";") if part.startswith("COUNT=")),
        None,
    )
    if count is None:
        return itertools.chain([dtstart], dates)
    rest = dates.replace(count=count - 1) if count > 1 else iter(())
    return itertools.chain([dtstart], rest)


def retry_after_header(fault: Fault, now: dt.datetime | None = None) -> dict[str, str]:
    now = now or dt.datetime.now(dt.UTC)
    when = now + dt.timedelta(seconds=fault.wait)
    if fault.retry_after == "seconds":
        return {"Retry-After": str(fault.wait)}
    if fault.retry_after == "date":
        return {"Retry-After": email.utils.format_datetime(when, usegmt=True)}
    if fault.retry_after == "iso":
        return {"Retry-After": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        headers=headers or {},
        content_type="application/json;charset=UTF-8",
    )


@dataclass
class IssuedToken:
    value: str
    expires_at: float
    valid: bool = True


@dataclass
class FakeState:
    """What a fake remembers: issued tokens, meetings by id, and how many calls it served."""

    tokens: dict[str, IssuedToken] = field(default_factory=dict)
    meetings: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)


class FakeProvider:
    """Base WSGI app of a fake provider; subclasses add their rules and error envelope."""

    #: Seconds an issued token lives.
    token_lifetime = 3600

    def __init__(self) -> None:
        self.faults = Faults()
        self.state = FakeState()
        self.lock = threading.RLock()
        self.base_url = ""  # set by serve(): where the fake answers
        self.url_map = Map(
            [
                Rule("/_fake/faults", endpoint="fake_faults", methods=["POST", "DELETE"]),
                Rule("/_fake/state", endpoint="fake_state", methods=["GET"]),
                *self.rules(),
            ]
        )

    # -- to override -------------------------------------------------------------------------

    def rules(self) -> list[Rule]:
        raise NotImplementedError

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """The provider's error envelope."""
        raise NotImplementedError

    def unauthorized(self) -> Response:
        return self.error(401, "Invalid access token.")

    # -- tokens ------------------------------------------------------------------------------

    def issue_token(self) -> IssuedToken:
        token = IssuedToken(secrets.token_urlsafe(24), time.time() + self.token_lifetime)
        with self.lock:
            self.state.tokens[token.value] = token
        return token

    def token_ok(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        token = self.state.tokens.get(header.removeprefix("Bearer "))
        return token is not None and token.valid and token.expires_at > time.time()

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.state.tokens.values():
                token.valid = False

    # -- the WSGI app ------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except NotFound:
            return self.error(404, f"Not found: {request.path}")
        except HTTPException as error:
            return self.error(error.code or 400, error.description or "bad request")
        if endpoint.startswith("fake_"):
            return getattr(self, endpoint)(request)
        with self.lock:
            self.state.calls.append((request.method, request.path))
        fault = self.faults.take(request)
        late = 0.0
        if fault is not None:
            if fault.kind == "expire-tokens":
                self.expire_tokens()
            elif fault.kind == "status":
                return self.error(fault.status, "Internal error (injected)")
            elif fault.kind == "rate-limit":
                return self.rate_limited(fault)
            elif fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind == "lost-answer":
                late = fault.delay
        response = getattr(self, endpoint)(request, **values)
        if late:
            # The work is done; the answer comes after the client has given up waiting.
            time.sleep(late)
        return response

    def rate_limited(self, fault: Fault) -> Response:
        response = self.error(429, "Too many requests (injected)")
        response.headers.update(retry_after_header(fault))
        return response

    def fake_faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.faults.clear()
            return json_response({"faults": 0})
        # curl -d sends a form content type: read the body as JSON whatever it says.
        try:
            options = json.loads(request.get_data() or b"{}")
        except ValueError:
            return json_response({"error": "send the fault as a JSON object"}, 400)
        if not isinstance(options, dict):
            return json_response({"error": "send the fault as a JSON object"}, 400)
        kind = options.pop("kind", "")
        try:
            self.faults.add(kind, **options)
        except (TypeError, ValueError) as error:
            return json_response({"error": str(error)}, 400)
        return json_response({"added": kind}, 201)

    def fake_state(self, request: Request) -> Response:
        with self.lock:
            return json_response(
                {"meetings": list(self.state.meetings.values()), "calls": len(self.state.calls)}
            )


POLL_INTERVAL = 0.05


class RunningFake:
    """A fake served on loopback in a thread; ``url`` is its base URL."""

    def __init__(self, app: FakeProvider, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.server = make_server(host, port, app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        app.base_url = self.url
        # shutdown() waits for the loop to look at its flag, every poll_interval (0.5 s by
        # default): a short one lets tests stop their fakes at once.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL}, daemon=True
        )

    def __enter__(self) -> RunningFake:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> RunningFake:
        return self.__enter__()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
