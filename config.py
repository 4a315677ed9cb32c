"""Settings for forum, read from the environment in one place and checked at start."""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Mapping
from email.errors import HeaderParseError
from email.headerregistry import HeaderRegistry
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ENVIRONMENTS = ("development", "testing", "production")
# memory:// is Celery's in-process transport, for tests that need a broker without Redis.
BROKER_SCHEMES = ("redis", "rediss", "amqp", "memory")
DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"  # noqa: S105
MAIL_BACKENDS = ("outbox", "smtp", "memory")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SMTP_SECURITIES = ("starttls", "ssl", "none")
# The usual port for each kind of connection: submission with STARTTLS (RFC 6409),
# implicit TLS (RFC 8314), plain SMTP.
SMTP_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


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


def check_broker_url(name: str, value: str) -> str:
    """Return the Celery broker URL ``value`` (empty: jobs run inline) or raise ConfigError."""
    value = value.strip()
    if not value:
        return ""
    scheme, separator, _ = value.partition("://")
    if not separator or scheme.lower() not in BROKER_SCHEMES:
        # Only the scheme is echoed: the rest of a broker URL may hold a password.
        shown = f"{scheme}://..." if separator else "a value with no scheme"
        raise ConfigError(
            f"{name} must be a redis://, rediss://, amqp:// or memory:// URL, got {shown}"
        )
    return value


def check_encryption_key(name: str, value: str) -> str:
    """Return ``value`` if empty or a Fernet key, else raise ConfigError naming the setting."""
    from forum.core.crypto import check_key

    try:
        return check_key(value)
    except ValueError:
        raise ConfigError(
            f"{name} must be a Fernet key (32 url-safe base64 bytes), e.g. from "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())'"
        ) from None


def check_base_url(name: str, value: str) -> str:
    """Return the public base URL ``value`` without its trailing slash, or raise ConfigError."""
    value = value.strip().rstrip("/")
    scheme, separator, rest = value.partition("://")
    host = rest.split("/")[0]
    if (
        scheme not in ("http", "https")
        or not separator
        or not host
        or not value.isprintable()
        or any(c in value for c in " ?#")
    ):
        raise ConfigError(f"{name} must be an http(s) URL such as https://forum.example.org")
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


def _choice(environ: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """The value of ``name`` (the first choice when unset), which must be one of ``choices``."""
    value = environ.get(name) or choices[0]
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def check_mail_address(name: str, value: str) -> str:
    """Return ``value`` if it is one address such as ``forum <forum@example.org>``."""
    if "\r" in value or "\n" in value:
        raise ConfigError(f"{name} must be one email address on one line, got {value!r}")
    try:
        header = HeaderRegistry()("From", value)
    except (HeaderParseError, IndexError, ValueError):
        # The email package's parser raises IndexError on some malformed input ("a@").
        header = None
    addresses = header.addresses if header is not None else ()
    if (
        header is None
        or header.defects
        or len(addresses) != 1
        or not addresses[0].username
        or not addresses[0].domain
        or not addresses[0].addr_spec.isascii()
    ):
        raise ConfigError(
            f"{name} must be one email address such as 'forum <forum@example.org>', got {value!r}"
        )
    return value


def _mail_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    backend = _choice(environ, "MAIL_BACKEND", MAIL_BACKENDS)
    security = _choice(environ, "SMTP_SECURITY", SMTP_SECURITIES)
    port = _int(environ, "SMTP_PORT", SMTP_DEFAULT_PORTS[security])
    if port > 65535:
        raise ConfigError(f"SMTP_PORT must be a port number from 1 to 65535, got {port}")
    host = environ.get("SMTP_HOST", "").strip()
    if backend == "smtp" and not host:
        raise ConfigError("SMTP_HOST must be set when MAIL_BACKEND is smtp")
    username = environ.get("SMTP_USERNAME") or None
    password = environ.get("SMTP_PASSWORD") or None
    if username and not password:
        raise ConfigError("SMTP_PASSWORD must be set when SMTP_USERNAME is set")
    if password and not username:
        raise ConfigError("SMTP_USERNAME must be set when SMTP_PASSWORD is set")
    return {
        # Where emails go: "outbox" writes .eml files (development), "smtp" sends them,
        # "memory" keeps them in a list (tests).
        "MAIL_BACKEND": backend,
        "MAIL_FROM": check_mail_address(
            "MAIL_FROM", environ.get("MAIL_FROM") or "forum <forum@localhost>"
        ),
        # None means: the folder "outbox" in the instance folder (resolved by create_app).
        "MAIL_OUTBOX_DIR": environ.get("MAIL_OUTBOX_DIR") or None,
        "SMTP_HOST": host or None,
        "SMTP_PORT": port,
        "SMTP_SECURITY": security,
        "SMTP_USERNAME": username,
        "SMTP_PASSWORD": password,
        "SMTP_TIMEOUT_SECONDS": _seconds(environ, "SMTP_TIMEOUT_SECONDS", 20.0),
    }


# Rate limits (forum.security): each setting is a limit such as "5 per minute", or several
# separated by ";" ("5 per minute; 30 per hour").
RATE_LIMIT_DEFAULTS = {
    # Failed logins for one account (the email tried), and from one client address.
    "FORUM_RATE_LIMIT_LOGIN_ACCOUNT": "5 per minute; 30 per hour",
    "FORUM_RATE_LIMIT_LOGIN_ADDRESS": "20 per minute; 100 per hour",
    # Unknown or revoked API tokens from one address (a valid token is never refused).
    "FORUM_RATE_LIMIT_BAD_TOKENS": "20 per minute",
    # Unknown or broken participant, RSVP and calendar links from one address.
    "FORUM_RATE_LIMIT_BAD_LINKS": "30 per minute",
    # Every request to those links from one address: generous, for a campus behind one
    # NAT address whose calendar apps poll their feeds.
    "FORUM_RATE_LIMIT_LINKS": "3000 per minute",
    # Webhook deliveries whose signature does not verify, from one address.
    "FORUM_RATE_LIMIT_BAD_WEBHOOKS": "20 per minute",
}
RATE_LIMIT_STORAGE_SCHEMES = ("memory", "redis", "rediss")


def check_rate_limit(name: str, value: str) -> str:
    """Return the rate limit ``value`` ("5 per minute") or raise ConfigError naming the setting."""
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(
            f"{name} must be a rate limit such as '5 per minute' "
            f"(several separated by ';'), got {value!r}"
        ) from None
    return value


def check_rate_limit_storage(name: str, value: str) -> str:
    """Return the rate limit storage URL ``value`` (memory:// or Redis) or raise ConfigError."""
    scheme, separator, _ = value.strip().partition("://")
    if not separator or scheme.lower() not in RATE_LIMIT_STORAGE_SCHEMES:
        # Only the scheme is echoed: the rest of a Redis URL may hold a password.
        shown = f"{scheme}://..." if separator else "a value with no scheme"
        raise ConfigError(f"{name} must be memory:// or a redis:// or rediss:// URL, got {shown}")
    return value.strip()


def _rate_limit_settings(environ: Mapping[str, str], env: str, broker: str) -> dict[str, Any]:
    storage = environ.get("RATELIMIT_STORAGE_URL", "").strip()
    if not storage:
        # Production shares its counts between app processes through the Redis that
        # carries the jobs; elsewhere each process counts alone.
        redis_broker = broker.startswith(("redis://", "rediss://"))
        storage = broker if env == "production" and redis_broker else "memory://"
    return {
        # Flask-Limiter's own names: false switches every limit off (development only).
        "RATELIMIT_ENABLED": _bool(environ, "FORUM_RATE_LIMITS", True),
        "RATELIMIT_STORAGE_URI": check_rate_limit_storage("RATELIMIT_STORAGE_URL", storage),
        **{
            name: check_rate_limit(name, environ.get(name, "").strip() or default)
            for name, default in RATE_LIMIT_DEFAULTS.items()
        },
        # How many proxies (load balancer, nginx) stand in front of the app and append to
        # X-Forwarded-For; 0 trusts no forwarding header. Rate limits count by the client
        # address this gives.
        "FORUM_TRUSTED_PROXIES": _int(environ, "FORUM_TRUSTED_PROXIES", 0, minimum=0),
    }


def _observability_settings(environ: Mapping[str, str], env: str) -> dict[str, Any]:
    """Logs, metrics and the request id (forum.observability)."""
    log_format = environ.get("FORUM_LOG_FORMAT", "").strip().lower()
    if not log_format:
        log_format = "json" if env == "production" else "text"
    if log_format not in LOG_FORMATS:
        raise ConfigError(
            f"FORUM_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}"
        )
    level = environ.get("FORUM_LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        raise ConfigError(f"FORUM_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    token = environ.get("FORUM_METRICS_TOKEN", "").strip()
    if token and (len(token) < 16 or not token.isascii() or not token.isprintable()):
        # Not echoed: it is a secret.
        raise ConfigError("FORUM_METRICS_TOKEN must be at least 16 printable ASCII characters")
    return {
        # "json": one JSON object per line (time, level, logger, message, request id, ...),
        # the default in production; "text" for a person at a terminal.
        "FORUM_LOG_FORMAT": log_format,
        "FORUM_LOG_LEVEL": level,
        # One log line per request (method, path without its query, status, duration):
        # on by default with JSON logs, where the lines go to a log store.
        "FORUM_ACCESS_LOG": _bool(environ, "FORUM_ACCESS_LOG", log_format == "json"),
        # GET /metrics asks for "Authorization: Bearer <token>" when set; unset, it is open
        # and meant for the internal network only.
        "FORUM_METRICS_TOKEN": token or None,
    }


CACHE_SCHEMES = ("memory", "redis", "rediss")


def check_cache_url(name: str, value: str) -> str:
    """Return the calendar cache URL ``value`` (memory:// or Redis) or raise ConfigError."""
    scheme, separator, _ = value.strip().partition("://")
    if not separator or scheme.lower() not in CACHE_SCHEMES:
        # Only the scheme is echoed: the rest of a Redis URL may hold a password.
        shown = f"{scheme}://..." if separator else "a value with no scheme"
        raise ConfigError(f"{name} must be memory:// or a redis:// or rediss:// URL, got {shown}")
    return value.strip()


def _cache_settings(environ: Mapping[str, str], broker: str) -> dict[str, Any]:
    url = environ.get("FORUM_CACHE_URL", "").strip()
    if not url:
        # Every app process and job worker reaches the broker's Redis: they share the
        # calendars there. Without one, each process keeps its own (`make run`).
        url = broker if broker.startswith(("redis://", "rediss://")) else "memory://"
    return {
        # Where built personal feeds and event calendars are kept (forum.events.feedcache).
        "FORUM_CACHE_URL": check_cache_url("FORUM_CACHE_URL", url),
        # The longest a cached calendar is served: changes drop it at once, this only
        # bounds what a change made outside the app (SQL by hand) leaves behind.
        "FORUM_CALENDAR_CACHE_SECONDS": _int(
            environ, "FORUM_CALENDAR_CACHE_SECONDS", 24 * 3600, minimum=60
        ),
    }


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
    broker_url = check_broker_url("CELERY_BROKER_URL", environ.get("CELERY_BROKER_URL", ""))

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
        "FORUM_PROVIDER_BACKOFF_SECONDS": _seconds(environ, "FORUM_PROVIDER_BACKOFF_SECONDS", 0.5),
        # Largest calendar forum reads from an ICS URL; a larger answer is refused.
        "FORUM_ICS_MAX_BYTES": _int(environ, "FORUM_ICS_MAX_BYTES", 2 * 1024 * 1024, minimum=1024),
        # Key for secrets at rest (provider credentials): a Fernet key; empty derives one
        # from SECRET_KEY.
        "FORUM_ENCRYPTION_KEY": check_encryption_key(
            "FORUM_ENCRYPTION_KEY", environ.get("FORUM_ENCRYPTION_KEY", "").strip()
        ),
        # Where people reach this instance: links in emails and calendar files start here.
        "FORUM_BASE_URL": check_base_url(
            "FORUM_BASE_URL", environ.get("FORUM_BASE_URL", "http://127.0.0.1:5000")
        ),
        # Background jobs: with no broker URL each job runs inline, right after the commit
        # that queued it; with one, a worker (`make worker`) runs it.
        "CELERY_BROKER_URL": broker_url,
        # Optional: jobs are fire-and-forget, so results are stored only when this is set.
        "CELERY_RESULT_BACKEND": environ.get("CELERY_RESULT_BACKEND", "").strip(),
        "FORUM_JOBS_QUEUE": environ.get("FORUM_JOBS_QUEUE", "").strip() or "forum",
        # Inline jobs log their failures so the commit that queued them stands; tests that
        # want to see a failing job raise instead.
        "FORUM_JOBS_EAGER_PROPAGATE": _bool(environ, "FORUM_JOBS_EAGER_PROPAGATE", False),
        # Periodic jobs (forum.jobs.periodic) in the web process: unset means on without a
        # broker (off in tests), off with one, where `make beat` runs them; true with a broker
        # is refused at start.
        "FORUM_INLINE_SCHEDULER": (
            _bool(environ, "FORUM_INLINE_SCHEDULER", False)
            if environ.get("FORUM_INLINE_SCHEDULER", "").strip()
            else None
        ),
        # Every periodic job at this interval instead of its own, by Celery beat or without
        # a broker (to try the jobs out); unset keeps the schedule's intervals.
        "FORUM_PERIODIC_EVERY_SECONDS": (
            _seconds(environ, "FORUM_PERIODIC_EVERY_SECONDS", 60.0)
            if environ.get("FORUM_PERIODIC_EVERY_SECONDS", "").strip()
            else None
        ),
        # Personal feeds also show the times of open polls a person is asked to answer,
        # as TENTATIVE holds, until the poll is closed or a time is chosen.
        "FORUM_FEED_POLL_HOLDS": _bool(environ, "FORUM_FEED_POLL_HOLDS", False),
        # Timetable imports (forum.timetables.sending): invitation emails sent per minute at
        # most (an import may set its own), in batches of at most this many.
        "FORUM_TIMETABLE_INVITES_PER_MINUTE": _int(
            environ, "FORUM_TIMETABLE_INVITES_PER_MINUTE", 600
        ),
        "FORUM_TIMETABLE_INVITES_BATCH": _int(environ, "FORUM_TIMETABLE_INVITES_BATCH", 50),
        **_cache_settings(environ, broker_url),
        **_mail_settings(environ),
        **_rate_limit_settings(environ, env, broker_url),
        **_observability_settings(environ, env),
    }
