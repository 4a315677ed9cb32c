"""HTTP for provider adapters: timeouts, retries with backoff, Retry-After, tokens, lost answers.

Every adapter talks to its provider through ``ProviderHttp``:
- every call has a timeout (connect, read);
- timeouts, connection errors, 5xx and 429 are retried with exponential backoff, honouring
  Retry-After given as seconds, as an HTTP date or as an ISO 8601 instant (Zoom), or absent;
  a wait longer than ``max_wait`` is not slept through: RateLimited goes up with it, so the
  job can be deferred instead of holding a worker;
- the bearer token comes from a ``TokenCache`` (shared by every adapter of the account in the
  process, and through Redis where configured: forum.providers.tokens); a 401 gets one fresh
  token and one more try;
- a call that is not safe to repeat (a create) is not retried after a timeout or a 5xx, since
  the provider may have done it: ``create_once`` first looks for what the lost answer made.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import requests
from flask_babel import LazyString

from forum.i18n import _
from forum.i18n import _l
from forum.providers.base import AuthenticationFailed
from forum.providers.base import MeetingInfo
from forum.providers.base import ProviderError
from forum.providers.base import ProviderUnavailable
from forum.providers.base import QuotaExceeded
from forum.providers.base import RateLimited
from forum.providers.tokens import Fetch
from forum.providers.tokens import Token
from forum.providers.tokens import TokenStore
from forum.providers.tokens import store as token_store

log = logging.getLogger("forum.providers")

DEFAULT_TIMEOUT = (5.0, 20.0)  # seconds to connect, seconds between bytes of the answer
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
# What a provider is called in messages when its adapter gives no name.
DEFAULT_LABEL = _l("the provider")


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds, an HTTP date or ISO 8601.

    RFC 9110 section 10.2.3 allows seconds or an HTTP date; Zoom sends an ISO instant
    (``2020-05-31T00:00:00Z``) on its daily limit, and sometimes nothing at all.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    now = now or dt.datetime.now(dt.UTC)
    when: dt.datetime | None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        when = None
    if when is None:
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


class TokenCache:
    """An adapter's handle on its account's token, kept in the process's (or app's) TokenStore.

    The store outlives the adapter, so jobs that each build a new adapter share one token
    (forum.providers.tokens). ``on_token`` sees every token handed out (Zoom: its api_url).
    """

    def __init__(
        self,
        fetch: Fetch,
        *,
        key: str,
        on_token: Callable[[Token], None] | None = None,
        store: TokenStore | None = None,
    ) -> None:
        self._fetch = fetch
        self.key = key
        self._on_token = on_token
        self.store = store or token_store()

    def get(self) -> Token:
        token = self.store.get(self.key, self._fetch)
        if self._on_token is not None:
            self._on_token(token)
        return token

    def invalidate(self, token: Token | None = None) -> None:
        """Forget the token (only if it is still ``token``: another may have renewed it)."""
        self.store.invalidate(self.key, token)


ErrorParser = Callable[[requests.Response], ProviderError]


def http_options(
    settings: Any,
    *,
    sleep: Callable[[float], None],
    label: str | LazyString,
    session: requests.Session | None = None,
) -> dict[str, Any]:
    """ProviderHttp's keyword arguments from an account's settings (one requests session)."""
    return {
        "session": session or requests.Session(),
        "timeout": (settings.timeout_seconds, settings.timeout_seconds),
        "attempts": settings.attempts,
        "backoff": settings.backoff_seconds,
        "max_wait": settings.max_wait_seconds,
        "sleep": sleep,
        "provider_label": label,
    }


class ProviderHttp:
    """A requests session bound to one provider's API, with its retry and token rules."""

    def __init__(
        self,
        *,
        base_url: str,
        error_from: ErrorParser,
        tokens: TokenCache | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        attempts: int = 4,
        backoff: float = 0.5,
        max_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        provider_label: str | LazyString = DEFAULT_LABEL,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.error_from = error_from
        self.tokens = tokens
        self.session = session or requests.Session()
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self.label = provider_label

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        # Exponential backoff with jitter, so many workers do not retry in step.
        return self.backoff * (2**attempt) * (0.5 + random.random() / 2)  # noqa: S311

    def request(
        self,
        method: str,
        path: str,
        *,
        safe_to_repeat: bool = True,
        expected: tuple[int, ...] = (200, 201, 202, 204),
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request; return the response with an expected status or raise ProviderError.

        With ``safe_to_repeat`` false (a create), a timeout, a connection lost after sending,
        or a 5xx is not retried here: the caller must first check whether it was done.
        """
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        refreshed = False
        attempt = 0
        while True:
            token = self.tokens.get() if self.tokens is not None else None
            if token is not None:
                headers["Authorization"] = f"Bearer {token.value}"
            try:
                response = self.session.request(
                    method, self.url(path), headers=headers, timeout=self.timeout, **kwargs
                )
            except requests.ConnectionError as error:
                # A refused connection never reached the provider: always safe to repeat.
                unsent = isinstance(error, requests.exceptions.ConnectTimeout) or (
                    "refused" in str(error).lower()
                )
                if (safe_to_repeat or unsent) and attempt + 1 < self.attempts:
                    self.sleep(self._wait(attempt, None))
                    attempt += 1
                    continue
                raise ProviderUnavailable(
                    _(
                        "%(provider)s could not be reached (%(error)s); forum will try again",
                        provider=self.label,
                        error=type(error).__name__,
                    ),
                ) from error
            except requests.Timeout as error:
                if safe_to_repeat and attempt + 1 < self.attempts:
                    self.sleep(self._wait(attempt, None))
                    attempt += 1
                    continue
                raise ProviderUnavailable(
                    _(
                        "%(provider)s did not answer in time; forum will try again",
                        provider=self.label,
                    )
                ) from error

            if response.status_code in expected:
                return response
            if response.status_code == 401 and self.tokens is not None and not refreshed:
                # Tokens die early (revoked, rotated): one fresh token and one more try.
                self.tokens.invalidate(token)
                refreshed = True
                continue
            error = self.error_from(response)
            if isinstance(error, QuotaExceeded):
                # A daily quota (Zoom's 100 per host) is not a moment's rate limit: retrying
                # now would only spend more of it.
                raise error
            if response.status_code in RETRIED_STATUSES:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                retryable = response.status_code == 429 or safe_to_repeat
                if retry_after is not None and retry_after > self.max_wait:
                    raise RateLimited(error.message, status=429, retry_after=retry_after)
                if retryable and attempt + 1 < self.attempts:
                    self.sleep(self._wait(attempt, retry_after))
                    attempt += 1
                    continue
                if response.status_code == 429:
                    raise RateLimited(error.message, status=429, retry_after=retry_after)
                raise ProviderUnavailable(error.message, status=response.status_code)
            if response.status_code == 401:
                raise AuthenticationFailed(error.message, status=401, code=error.code)
            raise error


def token_and_api_clients(
    settings: Any,
    *,
    sleep: Callable[[float], None],
    label: str,
    login_url: str,
    login_errors: ErrorParser,
    fetch_token: Fetch,
    token_key: str,
    api_url: str,
    api_errors: ErrorParser,
    login_label: str | None = None,
    api_label: str | None = None,
    on_token: Callable[[Token], None] | None = None,
) -> tuple[ProviderHttp, TokenCache, ProviderHttp]:
    """The token endpoint's client, the token cache, and the API's client, for one account.

    The token endpoint gets a client of its own (same session, timeouts and retries) that
    sends no bearer token: fetching a token through the API's client would make its
    TokenCache wait on itself.
    """
    common = http_options(settings, sleep=sleep, label=label)
    login = ProviderHttp(
        base_url=login_url,
        error_from=login_errors,
        **{**common, "provider_label": login_label or label},
    )
    token_cache = TokenCache(fetch_token, key=token_key, on_token=on_token)
    api = ProviderHttp(
        base_url=api_url,
        error_from=api_errors,
        tokens=token_cache,
        **{**common, "provider_label": api_label or label},
    )
    return login, token_cache, api


def create_once(
    post: Callable[[], MeetingInfo],
    find: Callable[[], MeetingInfo | None],
    *,
    attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
    backoff: float = 0.5,
) -> MeetingInfo:
    """Create a meeting exactly once although answers can be lost.

    ``post`` sends the create (not retried by the HTTP layer on timeouts or 5xx); when it
    fails in a way that leaves us not knowing whether the provider made the meeting,
    ``find`` looks for it by the request's marker before trying again.
    """
    last: ProviderError | None = None
    for attempt in range(attempts):
        if attempt:
            found = find()
            if found is not None:
                log.info("a create whose answer was lost had made meeting %s", found.external_id)
                return found
            sleep(backoff * (2 ** (attempt - 1)))
        try:
            return post()
        except ProviderUnavailable as error:
            last = error
    found = find()
    if found is not None:
        return found
    assert last is not None
    raise last
