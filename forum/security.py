"""Rate limits on login and the public endpoints, capped request bodies, and security headers.

Rate limits (SPEC section 14) count in Flask-Limiter's storage: memory in one process, or
Redis shared by every app process. Two kinds:

- failures, counted by client address (and, for logins, by the email tried too): failed
  logins, unknown API tokens, broken participant / RSVP / calendar links, webhook
  deliveries whose signature does not verify. A login past its limit is refused before
  the password is checked, so a right password is refused too while it lasts. The other
  failures past their limit answer 429 instead of 401 or 404, but a request that succeeds
  is never refused by a failure limit: an organiser's valid token, a verified provider
  delivery (Zoom sends bursts at class start) or a valid feed link shares an address with
  whoever fails there (a campus NAT, a calendar service's fetchers) and still works.
- every request to the participant, RSVP and calendar links by address, with a generous
  limit (Flask-Limiter's application limit over those endpoints).

Every refusal is a 429 with Retry-After: JSON ``rate_limited`` on the machine paths, a page
that says when to try again elsewhere.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import NoReturn

from flask import Flask
from flask import Request
from flask import Response
from flask import current_app
from flask import render_template
from flask import request
from flask_limiter import ApplicationLimit
from flask_limiter import Limiter
from flask_limiter import RateLimitExceeded
from limits import RateLimitItem
from limits import parse_many
from werkzeug.exceptions import NotFound
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.exceptions import TooManyRequests
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream

from config import RATE_LIMIT_DEFAULTS
from config import check_rate_limit
from forum.i18n import _
from forum.i18n import ngettext

log = logging.getLogger(__name__)

# Pages load nothing from elsewhere and run no inline code, so the policy can be strict;
# frame-ancestors (and X-Frame-Options for older browsers) keeps every page, the login form
# first, out of other sites' frames (clickjacking).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# One year, the value browsers' preload lists ask for; sent in production only, where the
# app is reached over HTTPS (a development server on http://127.0.0.1 must stay reachable).
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"

# The endpoints reached by secret links, without an account.
PUBLIC_LINK_ENDPOINTS = frozenset(
    {
        "web.agenda",
        "web.rsvp",
        "web.poll_ballot",
        "api.get_ballot",
        "api.answer_ballot",
        "calendar.personal_feed",
        "calendar.event_calendar",
        "calendar.session_file",
    }
)

# Of those, the calendar files that calendar apps poll all day: their view counts each
# request in the same per-address bucket (count_polled_link) instead of Flask-Limiter's
# before-request hook, whose own work was about a sixth of a feed's 304.
POLLED_LINK_ENDPOINTS = frozenset({"calendar.personal_feed", "calendar.event_calendar"})

LOGIN_ACCOUNT = "FORUM_RATE_LIMIT_LOGIN_ACCOUNT"
LOGIN_ADDRESS = "FORUM_RATE_LIMIT_LOGIN_ADDRESS"
BAD_TOKENS = "FORUM_RATE_LIMIT_BAD_TOKENS"
BAD_LINKS = "FORUM_RATE_LIMIT_BAD_LINKS"
LINKS = "FORUM_RATE_LIMIT_LINKS"
BAD_WEBHOOKS = "FORUM_RATE_LIMIT_BAD_WEBHOOKS"
KEY_PREFIX = "forum"
REDIS_TIMEOUTS = {"socket_timeout": 2, "socket_connect_timeout": 2}


class RateLimited(TooManyRequests):
    """Too many attempts: ``retry_after`` says in how many seconds the limit lifts."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(description=message, retry_after=retry_after)
        self.message = message
        self.seconds = retry_after


def client_address() -> str:
    """The client's address as rate limits count it: an IPv6 client by its /64 network.

    One IPv6 host usually holds a whole /64 and could take a new address for each attempt.
    Behind proxies, ProxyFix (FORUM_TRUSTED_PROXIES) has already put the client's address
    in ``remote_addr``.
    """
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def wait_words(seconds: int) -> str:
    """How long a person has to wait, in words: 45 seconds, 1 minute, 3 minutes."""
    if seconds < 60:
        return ngettext("%(num)d second", "%(num)d seconds", seconds)
    minutes = math.ceil(seconds / 60)
    return ngettext("%(num)d minute", "%(num)d minutes", minutes)


@dataclass
class RateLimits:
    """An app's limiter (its storage and strategy) and the parsed failure limits."""

    limiter: Limiter
    items: dict[str, list[RateLimitItem]]

    def _args(self, setting: str, key: str) -> tuple[str, ...]:
        return (KEY_PREFIX, setting.removeprefix("FORUM_RATE_LIMIT_").lower(), key)

    def _retry_after(self, item: RateLimitItem, args: tuple[str, ...]) -> int:
        reset_at = self.limiter.limiter.get_window_stats(item, *args).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def blocked_for(self, buckets: list[tuple[str, str]]) -> int:
        """Seconds until every bucket has room for one more failure (0: room now)."""
        wait = 0
        for setting, key in buckets:
            args = self._args(setting, key)
            for item in self.items[setting]:
                if not self.limiter.limiter.test(item, *args):
                    wait = max(wait, self._retry_after(item, args))
        return wait

    def count(self, buckets: list[tuple[str, str]]) -> int:
        """Count one failure in each bucket; seconds to wait if one is now over its limit."""
        wait = 0
        for setting, key in buckets:
            args = self._args(setting, key)
            for item in self.items[setting]:
                if not self.limiter.limiter.hit(item, *args):
                    wait = max(wait, self._retry_after(item, args))
        return wait


def _rate_limits() -> RateLimits | None:
    limits = current_app.extensions.get("forum_rate_limits")
    return limits if limits is not None and limits.limiter.enabled else None


def _guarded(action, buckets: list[tuple[str, str]]) -> int:
    limits = _rate_limits()
    if limits is None:
        return 0
    try:
        return action(limits, buckets)
    except Exception:
        # The storage (Redis) is down: let the request through rather than refuse
        # everyone, and say so in the log.
        log.exception("rate limit storage unreachable; request not limited")
        return 0


def _login_buckets(email: str) -> list[tuple[str, str]]:
    return [(LOGIN_ACCOUNT, email.strip().lower()), (LOGIN_ADDRESS, client_address())]


def check_login_allowed(email: str) -> None:
    """Raise RateLimited while the account or the client's address has failed too often."""
    wait = _guarded(RateLimits.blocked_for, _login_buckets(email))
    if wait:
        raise RateLimited(
            _(
                "Too many failed logins for this account or from your network. "
                "Try again in %(wait)s.",
                wait=wait_words(wait),
            ),
            retry_after=wait,
        )


def count_failed_login(email: str) -> None:
    """Count a failed login for the account and for the client's address."""
    _guarded(RateLimits.count, _login_buckets(email))


def count_failure(setting: str, what: str) -> None:
    """Count a failure by the client's address; raise RateLimited once it is over ``setting``.

    ``what`` names the failing thing in the message: "unknown API tokens".
    """
    wait = _guarded(RateLimits.count, [(setting, client_address())])
    if wait:
        raise RateLimited(_too_many(what, wait_words(wait)), retry_after=wait)


def _too_many(what: str, wait: str) -> str:
    """The refusal once the address has failed too often, one whole sentence per kind."""
    if what == "invalid API tokens":
        return _("Too many invalid API tokens from your address. Try again in %(wait)s.", wait=wait)
    if what == "unknown or broken links":
        return _(
            "Too many unknown or broken links from your address. Try again in %(wait)s.",
            wait=wait,
        )
    if what == "webhook deliveries that did not verify":
        return _(
            "Too many webhook deliveries that did not verify from your address. "
            "Try again in %(wait)s.",
            wait=wait,
        )
    return _("Too many %(what)s from your address. Try again in %(wait)s.", what=what, wait=wait)


def refuse_link() -> NoReturn:
    """404 for an unknown or broken secret link; 429 once the address has sent too many."""
    count_failure(BAD_LINKS, "unknown or broken links")
    raise NotFound()


def count_polled_link() -> None:
    """Count a request to a polled calendar link (POLLED_LINK_ENDPOINTS) in the bucket of
    every public link from the client's address; raise RateLimited once it is full.

    The same key as Flask-Limiter's application limit ("links"), so feeds, pages and RSVP
    links from one address share one limit, as before.
    """
    limits = _rate_limits()
    if limits is None:
        return
    args = (KEY_PREFIX, client_address(), "links")
    try:
        for item in limits.items[LINKS]:
            if not limits.limiter.limiter.hit(item, *args):
                wait = limits._retry_after(item, args)
                raise RateLimited(
                    _(
                        "Too many requests from your address. Try again in %(wait)s.",
                        wait=wait_words(wait),
                    ),
                    retry_after=wait,
                )
    except RateLimited:
        raise
    except Exception:
        log.exception("rate limit storage unreachable; request not limited")


def _is_public_link_request() -> bool:
    return request.endpoint in PUBLIC_LINK_ENDPOINTS


def _retry_after(exc: TooManyRequests) -> int:
    if isinstance(exc, RateLimited):
        return exc.seconds
    if isinstance(exc, RateLimitExceeded):
        limits = _rate_limits()
        current = limits.limiter.current_limit if limits is not None else None
        if current is not None:
            return max(1, math.ceil(current.reset_at - time.time()))
    return 60


def rate_limited_response(exc: TooManyRequests) -> tuple[str | Response, int, dict[str, str]]:
    """The 429 answer: JSON on the machine paths, a page for a person elsewhere."""
    from forum.api.errors import error_response
    from forum.errors import wants_json

    wait = _retry_after(exc)
    if isinstance(exc, RateLimited):
        message = exc.message
    else:
        message = _(
            "Too many requests from your address. Try again in %(wait)s.", wait=wait_words(wait)
        )
    headers = {"Retry-After": str(wait)}
    if wants_json():
        return error_response(429, "rate_limited", message, {"retry_after": wait}), 429, headers
    page = render_template("errors/429.html", status=429, message=message, wait=wait)
    return page, 429, headers


# --- request bodies --------------------------------------------------------------------------


class CappedStream(LimitedStream):
    """A body stream that answers 413 when a body without Content-Length is over the cap.

    Werkzeug's stream stops reading a chunked body at ``max_content_length`` and hands
    back what it has read: the truncated body then fails as malformed JSON, a bad form
    or a bad signature (400 or 401). Reading it whole here raises 413 instead when more
    follows the cap.
    """

    def __init__(self, stream, limit: int) -> None:
        super().__init__(stream, limit, is_max=True)
        self._source = stream

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted and self._source.read(1):
            raise RequestEntityTooLarge()
        return data


class CappedRequest(Request):
    @cached_property
    def stream(self):
        # The server sets wsgi.input_terminated when it ends the body itself (chunked);
        # a body with Content-Length over the cap is refused by werkzeug before reading.
        limit = self.max_content_length
        if "wsgi.input_terminated" in self.environ and limit is not None:
            return CappedStream(self.environ["wsgi.input"], limit)
        return super().stream


# --- headers ---------------------------------------------------------------------------------


def security_headers(response: Response) -> Response:
    """The headers every response carries, pages, JSON, errors and static files alike."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    # Participant pages' URLs hold their secret: they never go to another site (a join link).
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config.get("FORUM_ENV") == "production":
        headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    return response


def init_app(app: Flask) -> None:
    """Rate limits, capped bodies, client addresses behind proxies and security headers."""
    items = {}
    for setting in RATE_LIMIT_DEFAULTS:
        value = str(app.config.get(setting) or RATE_LIMIT_DEFAULTS[setting])
        items[setting] = parse_many(check_rate_limit(setting, value))
    proxies = int(app.config.get("FORUM_TRUSTED_PROXIES") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    # One limiter per app, not one unbound in extensions.py: Flask-Limiter keeps its storage
    # and settings on the instance, and two apps (two tests, or two apps on one Redis) must
    # each count in the storage they were configured with.
    storage = app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
    limiter = Limiter(
        key_func=client_address,
        key_prefix=KEY_PREFIX,
        storage_uri=storage,
        # A Redis that does not answer must not hold requests up (see swallow_errors).
        storage_options={} if storage.startswith("memory") else REDIS_TIMEOUTS,
        strategy="fixed-window",
        application_limits=[
            ApplicationLimit(
                limit_provider=str(app.config.get(LINKS) or RATE_LIMIT_DEFAULTS[LINKS]),
                scope="links",
                exempt_when=lambda: not _is_public_link_request(),
            )
        ],
        # Storage down: requests go through, and the log says so.
        swallow_errors=True,
        enabled=bool(app.config.get("RATELIMIT_ENABLED", True)),
    )
    limiter.init_app(app)
    # Counted by their views (count_polled_link): Flask-Limiter skips them at once.
    limiter.request_filter(lambda: request.endpoint in POLLED_LINK_ENDPOINTS)
    app.extensions["forum_rate_limits"] = RateLimits(limiter=limiter, items=items)
    app.register_error_handler(TooManyRequests, rate_limited_response)
    app.request_class = CappedRequest
    app.after_request(security_headers)
