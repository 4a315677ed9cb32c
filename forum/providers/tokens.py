"""Provider access tokens, cached per account for the process and shared through Redis.

Every adapter builds its clients afresh for each job, so a token kept on the adapter would be
asked for again by every job; Zoom rate-limits its token endpoint, and a burst of creates at
the start of a class would run into it. So tokens live here instead:

- in the app's process (``app.extensions``; an app per process), keyed by the account's kind
  and name plus a hash of its credentials, so rotated credentials get a new token;
- where the Celery broker is Redis, also in Redis, encrypted with the app's key
  (forum.core.crypto), with a TTL that ends before the token's expiry; a process that finds
  none takes a short Redis lock, so that a burst of workers asks for one token, not one each;
- a token is used until shortly before it expires (60 s, or a tenth of a shorter lifetime),
  and dropped when the API answers 401 with it (forum.providers.http asks once more).

Token values are never logged, and repr() leaves them out.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import redis
from flask import current_app
from flask import has_app_context

from forum.core.crypto import SecretsUnreadable
from forum.core.crypto import decrypt
from forum.core.crypto import encrypt

log = logging.getLogger("forum.providers")

MARGIN_SECONDS = 60.0  # a token is renewed this long before it expires...
MARGIN_SHARE = 0.1  # ...or a tenth of its lifetime before, if that is shorter
LOCK_MS = 10_000  # how long one process may hold the right to fetch an account's token
WAIT_STEP = 0.05  # seconds between looks while another process fetches
REDIS_PREFIX = "forum:provider-token:"
REDIS_TIMEOUTS = {"socket_timeout": 2, "socket_connect_timeout": 2}
EXTENSION = "forum_provider_tokens"

# What an adapter's token request returns: the token, its lifetime in seconds, and extras
# (Zoom's regional api_url) that every user of the token needs.
Fetch = Callable[[], tuple[str, float, dict[str, Any]]]

# Releases the lock only if it is still ours (it may have expired and been taken since).
_UNLOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Token:
    value: str = field(repr=False)
    # time.time() from which the token is no longer used (the margin already taken off).
    expires_at: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fresh(self) -> bool:
        return time.time() < self.expires_at


def usable_until(expires_in: float, *, now: float | None = None) -> float:
    """When a token given ``expires_in`` seconds stops being used: shortly before it expires."""
    lifetime = max(0.0, float(expires_in))
    margin = min(MARGIN_SECONDS, lifetime * MARGIN_SHARE)
    return (time.time() if now is None else now) + lifetime - margin


def cache_key(settings: Any, *scope: str) -> str:
    """The cache key of an account's token: kind, name, and a hash of what the token depends on.

    ``scope`` narrows it further (Google: one delegated token per host user).
    """
    credentials = [
        settings.kind,
        settings.account_id,
        settings.client_id,
        settings.client_secret,
        settings.tenant_id,
        settings.token,
        settings.oauth_url,
        settings.options,
        list(scope),
    ]
    digest = hashlib.sha256(json.dumps(credentials, sort_keys=True, default=str).encode())
    return f"{settings.kind}:{settings.name}:{digest.hexdigest()}"


class SharedTokens:
    """Tokens in Redis, encrypted, expiring before the tokens do; and the lock to fetch one."""

    def __init__(self, url: str, *, encryption_key: str, secret_key: str) -> None:
        self.client = redis.Redis.from_url(url, **REDIS_TIMEOUTS)
        self._keys = {"encryption_key": encryption_key, "secret_key": secret_key}
        self._unlock = self.client.register_script(_UNLOCK)

    @staticmethod
    def _name(key: str) -> str:
        # Hashed: the key holds an account's name, which Redis need not see.
        return REDIS_PREFIX + hashlib.sha256(key.encode()).hexdigest()

    def load(self, key: str) -> Token | None:
        raw = self.client.get(self._name(key))
        if raw is None:
            return None
        try:
            values = decrypt(raw.decode(), **self._keys)
            token = Token(str(values["value"]), float(values["expires_at"]), values["extra"])
        except (SecretsUnreadable, KeyError, TypeError, ValueError):
            return None  # written with another key, or unreadable: fetch a new one
        return token if token.fresh else None

    def save(self, key: str, token: Token) -> None:
        ttl_ms = int((token.expires_at - time.time()) * 1000)
        if ttl_ms <= 0:
            return
        values = {"value": token.value, "expires_at": token.expires_at, "extra": token.extra}
        self.client.set(self._name(key), encrypt(values, **self._keys), px=ttl_ms)

    def forget(self, key: str, token: Token) -> None:
        """Drop the stored token, unless another process has already replaced it."""
        stored = self.load(key)
        if stored is not None and stored.value == token.value:
            self.client.delete(self._name(key))

    def lock(self, key: str) -> str | None:
        """The right to fetch this account's token (an owner id), or None if another has it."""
        owner = secrets.token_hex(16)
        taken = self.client.set(self._name(key) + ":lock", owner, nx=True, px=LOCK_MS)
        return owner if taken else None

    def unlock(self, key: str, owner: str) -> None:
        self._unlock(keys=[self._name(key) + ":lock"], args=[owner])


class TokenStore:
    """One process's tokens by cache key; each key fetched by one thread at a time."""

    def __init__(self, shared: SharedTokens | None = None) -> None:
        self.shared = shared
        self._tokens: dict[str, Token] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: str, fetch: Fetch) -> Token:
        with self._lock_for(key):
            token = self._tokens.get(key)
            if token is None or not token.fresh:
                token = self._from_shared(key, fetch) if self.shared else _fetch(fetch)
                self._tokens[key] = token
            return token

    def invalidate(self, key: str, token: Token | None = None) -> None:
        """Forget the key's token (only if it is still ``token``: it may have been renewed)."""
        with self._lock_for(key):
            current = self._tokens.get(key)
            refused = token or current
            if current is not None and current.value == refused.value:
                del self._tokens[key]
            if self.shared is None or refused is None:
                return
            try:
                self.shared.forget(key, refused)
            except redis.RedisError:
                log.warning("Redis did not answer; a refused token stays there until it expires")

    def _from_shared(self, key: str, fetch: Fetch) -> Token:
        shared = self.shared
        assert shared is not None
        deadline = time.monotonic() + LOCK_MS / 1000
        try:
            while True:
                token = shared.load(key)
                if token is not None:
                    return token
                owner = shared.lock(key)
                if owner is not None:
                    break
                if time.monotonic() >= deadline:
                    # The holder is stuck: better one more token than a stuck job.
                    return _fetch(fetch)
                time.sleep(WAIT_STEP)
        except redis.RedisError:
            log.warning("Redis did not answer; this process fetches its own provider token")
            return _fetch(fetch)
        try:
            # Another process may have stored one between our look and our lock.
            token = shared.load(key)
            if token is None:
                token = _fetch(fetch)
                shared.save(key, token)
            return token
        except redis.RedisError:
            log.warning("Redis did not answer; the provider token stays in this process")
            return token if token is not None else _fetch(fetch)
        finally:
            with contextlib.suppress(redis.RedisError):  # else the lock expires by itself
                shared.unlock(key, owner)


def _fetch(fetch: Fetch) -> Token:
    value, expires_in, extra = fetch()
    return Token(value, usable_until(expires_in), dict(extra))


_SETUP = threading.Lock()


def shared_tokens(config: Mapping[str, Any]) -> SharedTokens | None:
    """Redis to share tokens through: the Celery broker when it is Redis, else None."""
    broker = str(config.get("CELERY_BROKER_URL") or "")
    if not broker.startswith(("redis://", "rediss://")):
        return None
    return SharedTokens(
        broker,
        encryption_key=config.get("FORUM_ENCRYPTION_KEY", ""),
        secret_key=config["SECRET_KEY"],
    )


def store() -> TokenStore:
    """The current app's token store, made on first use.

    Every job, request and command runs in an app, one per process. An adapter built outside
    any app (a script, a test of one adapter) gets a store of its own, as it would have kept
    its token itself: nothing outlives it there to share with.
    """
    if not has_app_context():
        return TokenStore()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get(EXTENSION)
    if found is None:
        with _SETUP:
            found = app.extensions.get(EXTENSION)
            if found is None:
                found = app.extensions[EXTENSION] = TokenStore(shared_tokens(app.config))
    return found
