"""Rate limits on login and the public endpoints, through the real endpoints (SPEC section 14).

Each test sets small limits through the app's settings; clients tell their address with
REMOTE_ADDR, as a WSGI server does. The last tests count in real Redis, shared by two apps.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from config import ConfigError
from config import load_config
from forum import create_app
from forum.accounts.models import Organiser
from forum.directory.models import Person
from forum.events import calendars
from forum.extensions import db
from forum.providers.fakes import webhooks as deliveries
from tests.celery_worker import REDIS_URL
from tests.celery_worker import redis_available
from tests.conftest import ApiClient
from tests.conftest import csrf_token
from tests.conftest import missing_service
from tests.factories import make_institution
from tests.factories import make_person
from tests.fake_setups.zoom import add_signing_account
from tests.helpers import assert_error
from tests.workers import free_port

PASSWORD = "secret-password"
ZOOM_SECRET = "zoom-secret-for-rate-limit-tests"
# Wide enough for every test here: only the limit a test is about is small.
ROOMY = "1000 per minute"
SMALL_LIMITS = {
    "FORUM_RATE_LIMIT_LOGIN_ACCOUNT": ROOMY,
    "FORUM_RATE_LIMIT_LOGIN_ADDRESS": ROOMY,
    "FORUM_RATE_LIMIT_BAD_TOKENS": ROOMY,
    "FORUM_RATE_LIMIT_BAD_LINKS": ROOMY,
    "FORUM_RATE_LIMIT_LINKS": ROOMY,
    "FORUM_RATE_LIMIT_BAD_WEBHOOKS": ROOMY,
}


def random_address() -> str:
    """A client address no other test (or earlier run against the same Redis) has used."""
    return f"2001:db8:{random.getrandbits(16):x}:{random.getrandbits(16):x}::1"


def settings(**limits: str) -> dict[str, Any]:
    return {**SMALL_LIMITS, **limits}


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return settings()


def limits(**small: str) -> pytest.MarkDecorator:
    """Run the test with these limits (the app fixture reads ``app_settings``)."""
    return pytest.mark.parametrize("app_settings", [settings(**small)], ids=["limits"])


def from_address(client: FlaskClient, address: str) -> FlaskClient:
    client.environ_base["REMOTE_ADDR"] = address
    return client


def retry_after(response) -> int:
    """The Retry-After header as whole seconds, checked to be a sensible wait."""
    value = int(response.headers["Retry-After"])
    assert 1 <= value <= 3600, value
    return value


def log_in(client: FlaskClient, email: str, password: str = PASSWORD):
    page = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(page.text)},
    )


def logged_in(client: FlaskClient) -> bool:
    return client.get("/").status_code == 200


# --- login ---------------------------------------------------------------------------------


@limits(FORUM_RATE_LIMIT_LOGIN_ACCOUNT="3 per minute")
def test_failed_logins_for_one_account_lock_it_even_for_the_right_password(
    app: Flask, make_organiser
) -> None:
    make_organiser("olga@uni.example")
    make_organiser("other@uni.example")
    attacker = from_address(app.test_client(), "198.51.100.7")
    for _ in range(3):
        failed = log_in(attacker, "olga@uni.example", "wrong-password")
        assert failed.status_code == 200
        assert "do not match" in failed.text

    # The fourth attempt is refused before the password is looked at: the right one too.
    refused = log_in(attacker, "Olga@Uni.example", PASSWORD)
    assert refused.status_code == 429
    wait = retry_after(refused)
    assert "Too many failed logins" in refused.text
    assert re.search(r"Try again in \d+ (second|minute)s?", refused.text), refused.text
    assert 'name="email"' in refused.text  # the form is still there, for later
    assert not logged_in(attacker)

    # The owner, from another address, is refused too while the limit lasts...
    owner = from_address(app.test_client(), "203.0.113.20")
    assert log_in(owner, "olga@uni.example").status_code == 429
    assert wait <= 60
    # ...but the limit is the account's: another account logs in from the attacker's address.
    assert log_in(attacker, "other@uni.example").status_code == 302


@limits(FORUM_RATE_LIMIT_LOGIN_ADDRESS="3 per minute")
def test_failed_logins_from_one_address_are_limited_whatever_the_account(
    app: Flask, make_organiser
) -> None:
    make_organiser("olga@uni.example")
    attacker = from_address(app.test_client(), "198.51.100.8")
    for email in ("a@uni.example", "b@uni.example", "olga@uni.example"):
        assert log_in(attacker, email, "guess").status_code == 200

    refused = log_in(attacker, "olga@uni.example", PASSWORD)
    assert refused.status_code == 429
    retry_after(refused)
    assert not logged_in(attacker)
    # Olga at her own desk is not held up by the attacker's address.
    assert (
        log_in(from_address(app.test_client(), "203.0.113.21"), "olga@uni.example").status_code
        == 302
    )


@limits(FORUM_RATE_LIMIT_LOGIN_ACCOUNT="2 per minute")
def test_successful_logins_do_not_count(app: Flask, client: FlaskClient, make_organiser) -> None:
    make_organiser("olga@uni.example")
    for _ in range(5):
        assert log_in(client, "olga@uni.example").status_code == 302
        page = client.get("/")
        client.post("/logout", data={"csrf_token": csrf_token(page.text)})


def test_thirty_wrong_passwords_then_the_right_one_is_refused_with_the_default_limits(
    database_url: str, make_organiser, app: Flask
) -> None:
    """The hole as it was: 30 wrong passwords in a few seconds, then the 31st logs in."""
    make_organiser("olga@uni.example")
    defaults = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    try:
        client = from_address(defaults.test_client(), "198.51.100.9")
        answers = [log_in(client, "olga@uni.example", f"guess-{n}").status_code for n in range(30)]
        assert 429 in answers
        assert log_in(client, "olga@uni.example", PASSWORD).status_code == 429
    finally:
        with defaults.app_context():
            db.engine.dispose()


def count_key_derivations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every scrypt or PBKDF2 run from now on: the slow part of a password check."""
    runs: list[str] = []
    for name in ("scrypt", "pbkdf2_hmac"):
        real = getattr(hashlib, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            runs.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(hashlib, name, counted)
    return runs


def test_an_unknown_email_costs_the_same_hashing_as_a_wrong_password(
    app: Flask, client: FlaskClient, make_organiser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Login time must not tell which emails have accounts: the same key derivations run."""
    make_organiser("olga@uni.example")
    with app.app_context():
        organiser = db.session.query(Organiser).filter_by(email="olga@uni.example").one()
        organiser.password_hash = _hash_like_a_new_account()
        db.session.commit()
    log_in(client, "warm-up@nowhere.example", "x")  # anything made once per process

    runs = count_key_derivations(monkeypatch)
    assert log_in(client, "olga@uni.example", "wrong-password").status_code == 200
    known = list(runs)
    runs.clear()
    assert log_in(client, "nobody@nowhere.example", "wrong-password").status_code == 200
    unknown = list(runs)

    assert known, "a wrong password must be checked with a real key derivation"
    assert unknown == known


def _hash_like_a_new_account() -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(PASSWORD)


# --- API tokens ------------------------------------------------------------------------------


@limits(FORUM_RATE_LIMIT_BAD_TOKENS="5 per minute")
def test_unknown_bearer_tokens_from_one_address_get_429(app: Flask) -> None:
    client = from_address(app.test_client(), "198.51.100.10")
    headers = {"Authorization": "Bearer forum_guessed-token"}
    for _ in range(5):
        assert_error(client.get("/api/v1/events", headers=headers), 401, "invalid_token")

    refused = client.get("/api/v1/events", headers=headers)
    error = assert_error(refused, 429, "rate_limited")
    assert error["details"]["retry_after"] == retry_after(refused)
    assert "Try again in" in error["message"]
    # A malformed header counts as a failed token as well.
    malformed = client.get("/api/v1/events", headers={"Authorization": "Basic abc"})
    assert_error(malformed, 429, "rate_limited")


@limits(FORUM_RATE_LIMIT_BAD_TOKENS="3 per minute")
def test_a_valid_token_is_never_throttled_by_others_failures(app: Flask, api: ApiClient) -> None:
    attacker = from_address(app.test_client(), "198.51.100.11")
    for _ in range(10):
        attacker.get("/api/v1/events", headers={"Authorization": "Bearer forum_nope"})
    assert attacker.get("/api/v1/events", headers={"Authorization": "Bearer x"}).status_code == 429

    organiser = {"Authorization": f"Bearer {api.token}"}
    elsewhere = from_address(app.test_client(), "203.0.113.30")
    for _ in range(10):
        assert elsewhere.get("/api/v1/events", headers=organiser).status_code == 200
    # Nor behind the same address (one office, one NAT): only failures are refused there.
    assert attacker.get("/api/v1/events", headers=organiser).status_code == 200


# --- participant, RSVP and calendar links ------------------------------------------------------


BAD_LINKS = [
    ("GET", "/p/not-a-real-token"),
    ("GET", "/rsvp/not-a-real-token"),
    ("POST", "/rsvp/not-a-real-token"),
    ("GET", "/ical/feeds/not-a-real-token.ics"),
    ("GET", "/ical/events/1.ics?token=forged"),
    ("GET", "/ical/sessions/uid@forum.ics?token=forged"),
]


@pytest.fixture
def person_id(api: ApiClient) -> int:
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    return make_person(api, "Li Wei", "li.wei@pku.example.org", pku["id"])["id"]


def person_links(app: Flask, person_id: int) -> tuple[str, str]:
    """The person's agenda and feed paths."""
    with app.test_request_context():
        person = db.session.get(Person, person_id)
        agenda = "/p/" + calendars.agenda_token(person)
        feed = "/ical/feeds/" + calendars.feed_token(person) + ".ics"
    return agenda, feed


@limits(FORUM_RATE_LIMIT_BAD_LINKS="3 per minute")
@pytest.mark.parametrize(("method", "path"), BAD_LINKS)
def test_broken_links_from_one_address_get_429(app: Flask, method: str, path: str) -> None:
    client = from_address(app.test_client(), "198.51.100.12")
    for _ in range(3):
        assert client.open(path, method=method).status_code == 404
    refused = client.open(path, method=method)
    assert refused.status_code == 429
    retry_after(refused)
    assert "Too many unknown or broken links" in refused.text
    # Another address is not held up.
    other = from_address(app.test_client(), "203.0.113.40")
    assert other.open(path, method=method).status_code == 404


@limits(FORUM_RATE_LIMIT_BAD_LINKS="3 per minute")
def test_a_valid_link_is_served_after_failures_from_its_address(app: Flask, person_id: int) -> None:
    agenda, feed = person_links(app, person_id)
    campus = from_address(app.test_client(), "198.51.100.13")
    for _ in range(5):
        campus.get("/ical/feeds/revoked-long-ago.ics")
    assert campus.get("/ical/feeds/revoked-long-ago.ics").status_code == 429
    assert campus.get(agenda).status_code == 200
    assert campus.get(feed).status_code == 200


@limits(FORUM_RATE_LIMIT_LINKS="6 per minute")
def test_every_request_to_the_links_has_a_generous_limit_by_address(
    app: Flask, person_id: int
) -> None:
    agenda, feed = person_links(app, person_id)
    campus = from_address(app.test_client(), "198.51.100.14")
    # The limit is shared by every link of the address: agenda pages and feeds together.
    for path in (agenda, feed, agenda, feed, agenda, feed):
        assert campus.get(path).status_code == 200
    refused = campus.get(feed)
    assert refused.status_code == 429
    retry_after(refused)
    page = campus.get(agenda)
    assert page.status_code == 429
    assert "Try again in" in page.text
    # Other addresses, and the organisers' pages of the same address, are not counted.
    assert from_address(app.test_client(), "203.0.113.50").get(feed).status_code == 200
    assert campus.get("/login").status_code == 200


# --- provider webhooks -----------------------------------------------------------------------


@pytest.fixture
def zoom_account(app: Flask) -> None:
    with app.app_context():
        add_signing_account(ZOOM_SECRET)


def zoom_delivery(secret: str = ZOOM_SECRET, *, meeting_id: int = 92674392836):
    meeting = deliveries.zoom_meeting_object(meeting_id, id_as_string=True)
    return deliveries.zoom_delivery(secret, "meeting.started", meeting)


@limits(FORUM_RATE_LIMIT_BAD_WEBHOOKS="3 per minute")
def test_unsigned_webhooks_from_one_address_get_429_and_verified_ones_never(
    app: Flask, zoom_account: None, row_count
) -> None:
    zoom = from_address(app.test_client(), "198.51.100.15")
    for _ in range(3):
        headers, body = zoom_delivery("not-the-secret")
        assert_error(zoom.post("/webhooks/zoom", data=body, headers=headers), 401, "unauthorized")
    headers, body = zoom_delivery("not-the-secret")
    refused = zoom.post("/webhooks/zoom", data=body, headers=headers)
    error = assert_error(refused, 429, "rate_limited")
    assert error["details"]["retry_after"] == retry_after(refused)
    assert row_count("webhook_inbox") == 0

    # A burst of verified deliveries from the same address: every one is taken.
    for n in range(10):
        headers, body = zoom_delivery(meeting_id=1000 + n)
        assert zoom.post("/webhooks/zoom", data=body, headers=headers).status_code == 200
    assert row_count("webhook_inbox") == 10


@limits(FORUM_RATE_LIMIT_BAD_WEBHOOKS="3 per minute")
def test_verified_webhooks_do_not_count_as_failures(app: Flask, zoom_account: None) -> None:
    zoom = from_address(app.test_client(), "198.51.100.16")
    for n in range(10):
        headers, body = zoom_delivery(meeting_id=2000 + n)
        assert zoom.post("/webhooks/zoom", data=body, headers=headers).status_code == 200
    headers, body = zoom_delivery("not-the-secret")
    assert zoom.post("/webhooks/zoom", data=body, headers=headers).status_code == 401


# --- switched off --------------------------------------------------------------------------


@pytest.fixture
def unlimited_app(database_url: str) -> Any:
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "RATELIMIT_ENABLED": False,
            **settings(FORUM_RATE_LIMIT_BAD_TOKENS="1 per minute"),
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def test_rate_limits_can_be_switched_off(unlimited_app: Flask) -> None:
    client = unlimited_app.test_client()
    for _ in range(5):
        response = client.get("/api/v1/events", headers={"Authorization": "Bearer forum_x"})
        assert response.status_code == 401


# --- settings --------------------------------------------------------------------------------


def test_rate_limit_settings_are_read_and_checked() -> None:
    config = load_config(
        {"FORUM_RATE_LIMIT_LOGIN_ACCOUNT": "10 per hour", "FORUM_RATE_LIMITS": "off"}
    )
    assert config["FORUM_RATE_LIMIT_LOGIN_ACCOUNT"] == "10 per hour"
    assert config["RATELIMIT_ENABLED"] is False
    assert load_config({})["RATELIMIT_ENABLED"] is True

    with pytest.raises(ConfigError, match="FORUM_RATE_LIMIT_BAD_LINKS"):
        load_config({"FORUM_RATE_LIMIT_BAD_LINKS": "lots"})
    with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URL") as refused:
        load_config({"RATELIMIT_STORAGE_URL": "mongodb://user:hunter2@db/limits"})
    assert "hunter2" not in str(refused.value)
    with pytest.raises(ConfigError, match="FORUM_TRUSTED_PROXIES"):
        load_config({"FORUM_TRUSTED_PROXIES": "-1"})


def test_production_counts_in_the_job_queues_redis_and_development_in_memory() -> None:
    production = {
        "FORUM_ENV": "production",
        "SECRET_KEY": "x" * 40,
        "CELERY_BROKER_URL": "redis://redis.internal:6379/2",
    }
    assert load_config(production)["RATELIMIT_STORAGE_URI"] == "redis://redis.internal:6379/2"
    chosen = {**production, "RATELIMIT_STORAGE_URL": "redis://limits.internal:6379/5"}
    assert load_config(chosen)["RATELIMIT_STORAGE_URI"] == "redis://limits.internal:6379/5"
    development = {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"}
    assert load_config(development)["RATELIMIT_STORAGE_URI"] == "memory://"


def test_behind_a_trusted_proxy_the_forwarded_address_counts(database_url: str) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "FORUM_TRUSTED_PROXIES": 1,
            **settings(FORUM_RATE_LIMIT_BAD_TOKENS="2 per minute"),
        }
    )
    try:
        proxy = from_address(app.test_client(), "10.0.0.2")
        bad = {"Authorization": "Bearer forum_nope"}

        def from_client(address: str) -> int:
            headers = {**bad, "X-Forwarded-For": address}
            return proxy.get("/api/v1/events", headers=headers).status_code

        assert [from_client("198.51.100.17") for _ in range(3)] == [401, 401, 429]
        # Another client behind the same proxy has its own count.
        assert from_client("198.51.100.18") == 401
    finally:
        with app.app_context():
            db.engine.dispose()


def test_an_unreachable_storage_lets_requests_through_and_says_so(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "RATELIMIT_STORAGE_URI": nothing_there,
            **settings(FORUM_RATE_LIMIT_BAD_TOKENS="1 per minute"),
        }
    )
    try:
        client = app.test_client()
        for _ in range(3):
            response = client.get("/api/v1/events", headers={"Authorization": "Bearer forum_x"})
            assert response.status_code == 401
        assert "rate limit storage unreachable" in caplog.text
    finally:
        with app.app_context():
            db.engine.dispose()


# --- shared counts in Redis ------------------------------------------------------------------


@pytest.fixture
def redis_apps(database_url: str) -> Any:
    """Two apps, as two app processes would be, counting in the same real Redis database."""
    if not redis_available(REDIS_URL):
        missing_service(f"Redis at {REDIS_URL}")
    limits = settings(
        FORUM_RATE_LIMIT_BAD_TOKENS="4 per minute",
        FORUM_RATE_LIMIT_LOGIN_ACCOUNT="2 per minute",
        FORUM_RATE_LIMIT_BAD_WEBHOOKS="2 per minute",
    )
    apps = [
        create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": database_url,
                "RATELIMIT_STORAGE_URI": REDIS_URL,
                **limits,
            }
        )
        for _ in range(2)
    ]
    yield apps
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def test_two_apps_share_their_counts_in_redis(
    redis_apps: list[Flask], make_organiser, app: Flask
) -> None:
    first, second = redis_apps
    address = random_address()
    bad = {"Authorization": "Bearer forum_guess"}
    one = from_address(first.test_client(), address)
    two = from_address(second.test_client(), address)
    assert [one.get("/api/v1/events", headers=bad).status_code for _ in range(2)] == [401, 401]
    assert [two.get("/api/v1/events", headers=bad).status_code for _ in range(2)] == [401, 401]
    refused = one.get("/api/v1/events", headers=bad)
    assert_error(refused, 429, "rate_limited")
    retry_after(refused)
    assert_error(two.get("/api/v1/events", headers=bad), 429, "rate_limited")

    # The counts are in Redis, under the product's prefix.
    keys = redis.Redis.from_url(REDIS_URL).keys("*forum*bad_tokens*")
    assert any(address.split("::")[0].encode() in key for key in keys), keys

    # A login lock taken through one app holds in the other.
    email = f"olga-{random.getrandbits(32):x}@uni.example"
    make_organiser(email)
    assert log_in(one, email, "wrong").status_code == 200
    assert log_in(two, email, "wrong").status_code == 200
    assert log_in(one, email, PASSWORD).status_code == 429
    assert log_in(two, email, PASSWORD).status_code == 429


@limits(FORUM_RATE_LIMIT_BAD_TOKENS="2 per 2 seconds")
def test_the_limit_lifts_when_its_window_ends(app: Flask) -> None:
    """Retry-After tells the truth: after that many seconds the address may try again."""
    client = from_address(app.test_client(), "198.51.100.19")
    bad = {"Authorization": "Bearer forum_guess"}
    statuses = [client.get("/api/v1/events", headers=bad) for _ in range(3)]
    assert [r.status_code for r in statuses] == [401, 401, 429]
    wait = retry_after(statuses[-1])
    assert wait <= 2
    time.sleep(wait + 0.2)
    assert client.get("/api/v1/events", headers=bad).status_code == 401
