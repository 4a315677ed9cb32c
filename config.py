"""Settings for forum, read from the environment in one place and checked at start."""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ENVIRONMENTS = ("development", "testing", "production")
DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"  # noqa: S105


class ConfigError(RuntimeError):
    """A setting is missing or has a value forum cannot use."""


def _int(environ: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 < value <= 300:
        raise ConfigError(f"{name} must be more than 0 and at most 300 seconds, got {raw}")
    return value


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def check_timezone(name: str, value: str) -> str:
    """Return the IANA zone name ``value`` or raise ConfigError naming the setting."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{name} must be an IANA time zone such as Europe/London, got {value!r}"
        ) from None
    return value


def normalise_database_url(name: str, value: str) -> str:
    """Check a database URL and point PostgreSQL URLs at the psycopg 3 driver."""
    try:
        url = make_url(value)
    except ArgumentError:
        raise ConfigError(
            f"{name} is not a database URL: {value!r} "
            "(expected sqlite:///path or postgresql://user@host:port/name)"
        ) from None
    backend = url.get_backend_name()
    if backend == "postgres":
        url = url.set(drivername="postgresql+psycopg")
    elif backend == "postgresql":
        if url.drivername in ("postgresql", "postgresql+psycopg2"):
            url = url.set(drivername="postgresql+psycopg")
        elif url.drivername != "postgresql+psycopg":
            raise ConfigError(
                f"{name}: only the psycopg (3) driver is supported, got {url.drivername}"
            )
        if not url.database:
            raise ConfigError(f"{name} names no database: {value!r}")
    elif backend == "sqlite":
        pass
    else:
        raise ConfigError(f"{name}: forum runs on SQLite or PostgreSQL, not {backend!r}")
    return url.render_as_string(hide_password=False)


def load_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask settings from environment variables; raise ConfigError on a bad value."""
    environ = os.environ if environ is None else environ
    env = environ.get("FORUM_ENV", "development")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"FORUM_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")

    secret_key = environ.get("SECRET_KEY", "")
    if not secret_key:
        if env == "production":
            raise ConfigError("SECRET_KEY must be set in production (a long random string)")
        secret_key = DEV_SECRET_KEY
    elif env == "production" and len(secret_key) < 32:
        raise ConfigError("SECRET_KEY must be at least 32 characters in production")

    database_url = environ.get("DATABASE_URL", "")
    if database_url:
        database_url = normalise_database_url("DATABASE_URL", database_url)

    return {
        "FORUM_ENV": env,
        "SECRET_KEY": secret_key,
        # None means: a SQLite file in the instance folder (resolved by create_app).
        "SQLALCHEMY_DATABASE_URI": database_url or None,
        "FORUM_DEFAULT_TIMEZONE": check_timezone(
            "FORUM_DEFAULT_TIMEZONE", environ.get("FORUM_DEFAULT_TIMEZONE", "UTC")
        ),
        "MAX_CONTENT_LENGTH": _int(environ, "FORUM_MAX_REQUEST_BYTES", 1024 * 1024, minimum=1024),
        "FORUM_PER_PAGE_DEFAULT": _int(environ, "FORUM_PER_PAGE_DEFAULT", 50),
        "FORUM_PER_PAGE_MAX": _int(environ, "FORUM_PER_PAGE_MAX", 200),
        "SESSION_COOKIE_SECURE": _bool(environ, "FORUM_SECURE_COOKIES", env == "production"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Outbound fetches (free/busy ICS URLs): by default forum refuses hosts
        # that resolve to private or loopback addresses, so an organiser cannot make the
        # server read its own network; true allows them (an intranet calendar server,
        # tests). Link-local, multicast and reserved addresses stay refused either way.
        "FORUM_ALLOW_PRIVATE_URLS": _bool(environ, "FORUM_ALLOW_PRIVATE_URLS", False),
        # Longest time one fetch of a calendar may take, connecting and reading included.
        "FORUM_FETCH_TIMEOUT_SECONDS": _seconds(environ, "FORUM_FETCH_TIMEOUT_SECONDS", 10.0),
        # Largest calendar forum reads from an ICS URL; a larger answer is refused.
        "FORUM_ICS_MAX_BYTES": _int(environ, "FORUM_ICS_MAX_BYTES", 2 * 1024 * 1024, minimum=1024),
    }
