"""Settings pages through the real endpoints: providers, webhook subscriptions, API tokens."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from forum.accounts.models import ApiToken
from forum.accounts.models import Organiser
from forum.accounts.services import issue_token
from forum.db import now_utc
from forum.extensions import db
from forum.providers import accounts as provider_accounts
from forum.providers.fakes.base import RunningFake
from forum.providers.fakes.zoom import FakeZoomProvider
from forum.providers.models import ProviderAccount
from forum.webhooks import outbound
from forum.webhooks.outbound import DeliveryAttempt
from forum.webhooks.outbound import WebhookDelivery
from forum.webhooks.outbound import WebhookSubscription
from tests.conftest import ApiClient
from tests.conftest import csrf_token
from tests.factories import make_event
from tests.factories import make_session
from tests.fake_setups.zoom import ACCOUNT_ID
from tests.fake_setups.zoom import CLIENT_ID
from tests.fake_setups.zoom import CLIENT_SECRET
from tests.helpers import recorded_statements
from tests.test_outbound_webhooks import Receiver
from tests.test_web import log_in

SCRIPT = "<script>alert(1)</script>\"'"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;"
ZOOM_HOSTS = ("host1@uni.example", "host2@uni.example")


@pytest.fixture
def app_settings(request) -> dict[str, Any]:
    """Receivers on loopback are allowed; a test may pass other settings."""
    return getattr(request, "param", {"FORUM_ALLOW_PRIVATE_URLS": True})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def zoom() -> Iterator[RunningFake]:
    fake = FakeZoomProvider(
        hosts=ZOOM_HOSTS, account_id=ACCOUNT_ID, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    with RunningFake(fake) as running:
        yield running


@pytest.fixture
def organiser(client: FlaskClient, make_organiser) -> ApiClient:
    """The default organiser, logged in to the pages."""
    api = make_organiser()
    assert log_in(client, "organiser@example.org").status_code == 302
    return api


@pytest.fixture
def admin(app: Flask, organiser: ApiClient) -> ApiClient:
    """The logged-in organiser, made an administrator."""
    with app.app_context():
        db.session.get(Organiser, organiser.organiser_id).is_admin = True
        db.session.commit()
    return organiser


def get_page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.mimetype == "text/html"
    return response.text


def post(
    client: FlaskClient, path: str, data: dict[str, Any] | None = None, *, form_page: str = "/"
):
    """A form POST with the CSRF token a page of the site carries."""
    token = csrf_token(client.get(form_page).text)
    return client.post(path, data={"csrf_token": token, **(data or {})})


def field_errors(page: str, field_id: str) -> list[str]:
    """The messages shown next to a field (the list its input names in aria-describedby)."""
    match = re.search(rf'<ul class="field-errors" id="{field_id}-errors">(.*?)</ul>', page, re.S)
    if not match:
        return []
    return [html.unescape(text).strip() for text in re.findall(r"<li>(.*?)</li>", match[1], re.S)]


def described_by_errors(page: str, field_id: str) -> bool:
    """The input names its error list, so that screen readers announce it with the field."""
    tag = re.search(rf'<input[^>]*\bid="{field_id}"[^>]*>', page)
    return bool(tag) and f"{field_id}-errors" in tag[0] and 'aria-invalid="true"' in tag[0]


def flashes(page: str) -> str:
    match = re.search(r'<div class="flashes" role="status">(.*?)</div>', page, re.S)
    return html.unescape(match[1]) if match else ""


def redirected_to(response, path: str) -> None:
    assert response.status_code == 303, response.text
    assert response.headers["Location"].split("#")[0] == path


def count_statements(app: Flask, client: FlaskClient, path: str) -> tuple[int, str]:
    with recorded_statements(app) as statements:
        response = client.get(path)
    assert response.status_code == 200
    return len(statements), response.text


# --- every page needs a login ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/providers",
        "/providers/new/zoom",
        "/webhook-subscriptions",
        "/webhook-subscriptions/1",
        "/tokens",
    ],
)
def test_pages_send_anonymous_visitors_to_the_login(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(
    ("path", "table"),
    [
        ("/tokens", "api_tokens"),
        ("/webhook-subscriptions", "webhook_subscriptions"),
        ("/providers/new/jitsi", "provider_accounts"),
    ],
)
def test_anonymous_posts_change_nothing(
    client: FlaskClient, make_organiser, row_count, path: str, table: str
) -> None:
    make_organiser()
    before = row_count(table)
    response = post(
        client, path, {"name": "x", "url": "https://h.example.org/"}, form_page="/login"
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert row_count(table) == before


# --- API tokens --------------------------------------------------------------------------------


def test_tokens_page_lists_names_prefixes_and_use_never_the_secret(
    app: Flask, client: FlaskClient, organiser: ApiClient
) -> None:
    with app.app_context():
        issue_token(db.session.get(Organiser, organiser.organiser_id), name="timetable sync")
        db.session.commit()
    assert organiser.get("/api/v1/events").status_code == 200  # the fixture's token is used

    page = get_page(client, "/tokens")

    assert "timetable sync" in page
    assert '<th scope="col">Last used</th>' in page
    assert "<caption" in page
    with app.app_context():
        tokens = db.session.scalars(sa.select(ApiToken).order_by(ApiToken.id)).all()
        assert tokens[0].last_used_at is not None and tokens[1].last_used_at is None
        for token in tokens:
            assert f"{token.prefix}…" in page
            assert token.token_hash not in page
    assert organiser.token not in page
    assert page.count(">never<") == 1
    assert page.count('data-confirm="Revoke the token') == 2


def test_a_new_token_is_shown_once_and_works(client: FlaskClient, organiser: ApiClient) -> None:
    response = post(client, "/tokens", {"name": "room booking"}, form_page="/tokens")
    redirected_to(response, "/tokens")

    page = get_page(client, "/tokens")
    assert "API token “room booking” created." in flashes(page)
    assert "Copy it now" in page
    token = re.search(r'id="new-token" class="secret-value" value="([^"]+)"', page)[1]
    assert token != organiser.token
    as_new = ApiClient(client, token, organiser.organiser_id)
    assert as_new.get("/api/v1/events").status_code == 200

    again = get_page(client, "/tokens")
    assert token not in again
    assert "Copy it now" not in again
    assert "room booking" in again


def test_the_new_token_is_not_shown_to_someone_else_on_the_same_browser(
    client: FlaskClient, organiser: ApiClient, make_organiser
) -> None:
    make_organiser("second@example.org")
    redirected_to(post(client, "/tokens", {"name": "mine"}, form_page="/tokens"), "/tokens")
    post(client, "/logout")
    log_in(client, "second@example.org")
    page = get_page(client, "/tokens")
    assert "Copy it now" not in page and "secret-value" not in page


def test_a_revoked_token_no_longer_opens_the_api(
    app: Flask, client: FlaskClient, organiser: ApiClient
) -> None:
    assert organiser.get("/api/v1/events").status_code == 200
    with app.app_context():
        token_id = db.session.scalar(sa.select(ApiToken.id))

    response = post(client, f"/tokens/{token_id}/revoke", form_page="/tokens")

    redirected_to(response, "/tokens")
    assert organiser.get("/api/v1/events").status_code == 401
    page = get_page(client, "/tokens")
    assert "the API no longer accepts it" in flashes(page)
    assert "revoked" in page
    assert f"/tokens/{token_id}/revoke" not in page  # nothing left to revoke


def test_another_organisers_token_cannot_be_revoked(
    app: Flask, client: FlaskClient, organiser: ApiClient, make_organiser
) -> None:
    other = make_organiser("other@example.org")
    with app.app_context():
        other_token = db.session.scalar(
            sa.select(ApiToken.id).where(ApiToken.organiser_id == other.organiser_id)
        )
    response = post(client, f"/tokens/{other_token}/revoke", form_page="/tokens")
    assert response.status_code == 404
    assert other.get("/api/v1/events").status_code == 200
    assert "other@example.org" not in get_page(client, "/tokens")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the token a name"),
        ("   ", "Give the token a name"),
        ("x" * 201, "At most 200 characters."),
        ("two\nlines", "Write it on one line."),
    ],
)
def test_a_bad_token_name_is_shown_at_its_field_and_nothing_is_written(
    client: FlaskClient, organiser: ApiClient, row_count, name: str, message: str
) -> None:
    before = row_count("api_tokens")
    response = post(client, "/tokens", {"name": name}, form_page="/tokens")
    assert response.status_code == 422
    assert any(message in error for error in field_errors(response.text, "name"))
    assert described_by_errors(response.text, "name")
    assert row_count("api_tokens") == before


def test_token_posts_without_csrf_token_are_refused(
    app: Flask, client: FlaskClient, organiser: ApiClient, row_count
) -> None:
    with app.app_context():
        token_id = db.session.scalar(sa.select(ApiToken.id))
    assert client.post("/tokens", data={"name": "sneaky"}).status_code == 400
    assert client.post(f"/tokens/{token_id}/revoke").status_code == 400
    assert row_count("api_tokens") == 1
    assert organiser.get("/api/v1/events").status_code == 200


# --- webhook subscriptions ---------------------------------------------------------------------


def subscribe(client: FlaskClient, url: str, *types: str, secret: str = "") -> Any:
    data: dict[str, Any] = {"url": url, "event_types": list(types), "secret": secret}
    return post(client, "/webhook-subscriptions", data, form_page="/webhook-subscriptions")


def subscription_id_of(response) -> int:
    assert response.status_code == 303, response.text
    return int(re.fullmatch(r"/webhook-subscriptions/(\d+)", response.headers["Location"])[1])


def shown_secret(page: str) -> str | None:
    match = re.search(r'id="signing-secret" class="secret-value" value="([^"]+)"', page)
    return html.unescape(match[1]) if match else None


def test_a_new_subscription_shows_its_secret_once_and_is_listed(
    client: FlaskClient, organiser: ApiClient, receiver: Receiver
) -> None:
    empty = get_page(client, "/webhook-subscriptions")
    assert "You have no webhook subscriptions yet." in empty
    assert "<legend>Events to send</legend>" in empty
    checkboxes = re.findall(r'<input[^>]*type="checkbox"[^>]*>', empty)
    assert len(checkboxes) == len(outbound.EVENT_TYPES)
    assert not any(" required" in box for box in checkboxes)  # one is enough, not each

    response = subscribe(client, receiver.url, "session.scheduled", "session.cancelled")
    subscription_id = subscription_id_of(response)

    page = get_page(client, f"/webhook-subscriptions/{subscription_id}")
    secret = shown_secret(page)
    assert secret and secret.startswith("whsec_")
    assert "Copy it now" in page
    again = get_page(client, f"/webhook-subscriptions/{subscription_id}")
    assert shown_secret(again) is None and secret not in again

    listed = get_page(client, "/webhook-subscriptions")
    assert receiver.url in listed
    assert "<code>session.scheduled</code>" in listed
    assert "<code>session.cancelled</code>" in listed
    assert "<code>rsvp.updated</code></li>" not in listed
    assert ">active<" in listed
    assert secret not in listed
    assert [s["url"] for s in organiser.get("/api/v1/webhook-subscriptions").json["items"]] == [
        receiver.url
    ]

    # The secret shown is the one deliveries are signed with.
    receiver.secret = secret
    make_session(organiser, make_event(organiser)["id"])
    assert len(receiver.received) == 1 and receiver.events()[0]["type"] == "session.scheduled"


def test_an_own_secret_signs_the_deliveries(
    client: FlaskClient, organiser: ApiClient, receiver: Receiver
) -> None:
    own = "my-own-signing-secret-0123456789"
    subscription_id = subscription_id_of(
        subscribe(client, receiver.url, "session.scheduled", secret=own)
    )
    assert shown_secret(get_page(client, f"/webhook-subscriptions/{subscription_id}")) == own
    receiver.secret = own
    make_session(organiser, make_event(organiser)["id"])
    assert [event["type"] for event in receiver.events()] == ["session.scheduled"]


def test_subscription_form_errors_are_shown_at_their_fields(
    client: FlaskClient, organiser: ApiClient, row_count
) -> None:
    response = subscribe(client, "", secret="too-short")
    assert response.status_code == 422
    assert field_errors(response.text, "url") == ["Enter the URL that should receive the events."]
    assert described_by_errors(response.text, "url")
    assert "Choose at least one event." in response.text
    assert 'aria-describedby="event_types-errors"' in response.text
    assert field_errors(response.text, "secret") == [
        "Use 24 to 200 printable ASCII characters, without spaces."
    ]
    assert "too-short" not in response.text  # a typed secret is not written back
    assert row_count("webhook_subscriptions") == 0


def test_a_refused_url_is_shown_at_the_url_field(
    client: FlaskClient, organiser: ApiClient, row_count
) -> None:
    response = subscribe(client, "ftp://files.example.org/hook", "session.scheduled")
    assert response.status_code == 422
    assert field_errors(response.text, "url") == ["Must be an http or https URL."]
    # The choices made stay chosen.
    assert re.search(r'<input checked[^>]*value="session.scheduled"', response.text) or re.search(
        r'<input[^>]*value="session.scheduled"[^>]*checked', response.text
    )
    assert row_count("webhook_subscriptions") == 0


@pytest.mark.parametrize("app_settings", [{"FORUM_ALLOW_PRIVATE_URLS": False}], indirect=True)
def test_a_private_address_is_refused_at_the_url_field(
    client: FlaskClient, organiser: ApiClient, row_count
) -> None:
    response = subscribe(client, "http://127.0.0.1:9000/hook", "session.scheduled")
    assert response.status_code == 422
    [error] = field_errors(response.text, "url")
    assert "loopback" in error and "127.0.0.1" in error
    assert row_count("webhook_subscriptions") == 0


def test_deleting_a_subscription_removes_it(
    client: FlaskClient, organiser: ApiClient, row_count, receiver: Receiver
) -> None:
    subscription_id = subscription_id_of(subscribe(client, receiver.url, "session.scheduled"))
    listed = get_page(client, "/webhook-subscriptions")
    assert f'data-confirm="Delete the subscription for {receiver.url}' in listed

    response = post(client, f"/webhook-subscriptions/{subscription_id}/delete")

    redirected_to(response, "/webhook-subscriptions")
    page = get_page(client, "/webhook-subscriptions")
    assert "deleted" in flashes(page)
    assert "You have no webhook subscriptions yet." in page
    assert row_count("webhook_subscriptions") == 0


def test_the_delivery_log_shows_attempts_and_redelivery_sends_again(
    client: FlaskClient, organiser: ApiClient, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    subscription_id = subscription_id_of(subscribe(client, receiver.url, "session.scheduled"))
    receiver.secret = shown_secret(get_page(client, f"/webhook-subscriptions/{subscription_id}"))
    make_session(organiser, make_event(organiser)["id"])
    assert len(receiver.received) == 1

    page = get_page(client, f"/webhook-subscriptions/{subscription_id}")
    assert "<code>session.scheduled</code>" in page
    assert ">pending<" in page
    assert "<strong>500</strong>" in page
    assert "answered 500" in page  # the attempt's error
    assert re.search(r"\d+ ms", page)
    assert ">failing<" in page  # the subscription's state says so
    [delivery] = organiser.get(f"/api/v1/webhook-subscriptions/{subscription_id}/deliveries").json[
        "items"
    ]
    next_at = dt.datetime.fromisoformat(delivery["next_attempt_at"].replace("Z", "+00:00"))
    assert f'datetime="{delivery["next_attempt_at"]}"' in page or next_at.strftime("%H:%M") in page
    redeliver = f"/webhook-subscriptions/{subscription_id}/deliveries/{delivery['id']}/redeliver"
    assert f'action="{redeliver}"' in page
    assert 'data-busy="Sending again…"' in page

    response = post(client, redeliver)

    redirected_to(response, f"/webhook-subscriptions/{subscription_id}")
    assert len(receiver.received) == 2
    assert all(r["valid"] for r in receiver.received)
    page = get_page(client, f"/webhook-subscriptions/{subscription_id}")
    assert "is being sent again" in flashes(page)
    assert ">delivered<" in page
    assert "<strong>500</strong>" in page and "<strong>200</strong>" in page
    assert ">active<" in page


def test_a_disabled_subscription_says_why_and_offers_no_redelivery(
    app: Flask, client: FlaskClient, organiser: ApiClient, receiver: Receiver
) -> None:
    subscription_id = subscription_id_of(subscribe(client, receiver.url, "session.scheduled"))
    make_session(organiser, make_event(organiser)["id"])
    with app.app_context():
        subscription = db.session.get(WebhookSubscription, subscription_id)
        subscription.active = False
        subscription.disabled_at = now_utc()
        subscription.disabled_reason = "every delivery failed since yesterday"
        delivery_id = db.session.scalar(sa.select(WebhookDelivery.id))
        db.session.commit()

    page = get_page(client, f"/webhook-subscriptions/{subscription_id}")
    assert ">disabled<" in page and "every delivery failed since yesterday" in page
    assert "/redeliver" not in page
    listed = get_page(client, "/webhook-subscriptions")
    assert "every delivery failed since yesterday" in listed

    response = post(
        client, f"/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver"
    )
    redirected_to(response, f"/webhook-subscriptions/{subscription_id}")
    assert "was not sent again" in flashes(
        get_page(client, f"/webhook-subscriptions/{subscription_id}")
    )
    assert len(receiver.received) == 1


def test_another_organisers_subscription_is_not_found(
    app: Flask, client: FlaskClient, organiser: ApiClient, make_organiser, row_count
) -> None:
    other = make_organiser("other@example.org")
    with app.app_context():
        theirs, _ = outbound.create_subscription(
            db.session.get(Organiser, other.organiser_id),
            url="https://hooks.other.example/forum",
            event_types=["session.scheduled"],
        )
        db.session.commit()
        theirs_id = theirs.id
    assert client.get(f"/webhook-subscriptions/{theirs_id}").status_code == 404
    assert post(client, f"/webhook-subscriptions/{theirs_id}/delete").status_code == 404
    assert (
        post(client, f"/webhook-subscriptions/{theirs_id}/deliveries/1/redeliver").status_code
        == 404
    )
    assert "hooks.other.example" not in get_page(client, "/webhook-subscriptions")
    assert row_count("webhook_subscriptions") == 1


def test_subscription_posts_without_csrf_token_are_refused(
    client: FlaskClient, organiser: ApiClient, row_count, receiver: Receiver
) -> None:
    data = {"url": receiver.url, "event_types": ["session.scheduled"]}
    assert client.post("/webhook-subscriptions", data=data).status_code == 400
    assert row_count("webhook_subscriptions") == 0
    subscription_id = subscription_id_of(subscribe(client, receiver.url, "session.scheduled"))
    assert client.post(f"/webhook-subscriptions/{subscription_id}/delete").status_code == 400
    assert row_count("webhook_subscriptions") == 1


# --- provider accounts -------------------------------------------------------------------------


def add_provider(client: FlaskClient, kind: str, **fields: str):
    return post(client, f"/providers/new/{kind}", fields, form_page=f"/providers/new/{kind}")


def zoom_fields(zoom: RunningFake, **changes: str) -> dict[str, str]:
    return {
        "name": "uni-zoom",
        "account_id": ACCOUNT_ID,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "webhook_secret": "zoom-webhook-secret-token",
        "hosts": "\n".join(ZOOM_HOSTS),
        "api_base_url": f"{zoom.url}/v2",
        "oauth_url": zoom.url,
        **changes,
    }


def account_row(page: str, name: str) -> str:
    """The table row of one account."""
    start = page.index(f'<th scope="row">{name}</th>')
    return page[page.rindex("<tr", 0, start) : page.index("</tr>", start)]


def test_an_administrator_adds_a_zoom_account_and_sees_it_without_its_secrets(
    app: Flask, client: FlaskClient, admin: ApiClient, zoom: RunningFake
) -> None:
    form = get_page(client, "/providers/new/zoom")
    for label in ("Account ID", "Client ID", "Client secret", "Host users", "API base URL"):
        assert f">{label}</label>" in form
    assert 'name="tenant_id"' not in form  # Teams only
    assert form.count('type="password"') == 2  # client secret, webhook secret token
    assert re.search(r'<input[^>]*id="name"[^>]*required', form)
    assert not re.search(r'<input[^>]*id="api_base_url"[^>]*required', form)
    assert 'required="None"' not in form

    response = add_provider(client, "zoom", **zoom_fields(zoom))

    redirected_to(response, "/providers")
    page = get_page(client, "/providers")
    assert "Zoom account “uni-zoom” added." in flashes(page)
    row = account_row(page, "uni-zoom")
    assert "Zoom" in row and "not checked yet" in row
    for host in ZOOM_HOSTS:
        assert f"<li>{host}</li>" in row
    assert f"<code>{ACCOUNT_ID}</code>" in row and f"<code>{CLIENT_ID}</code>" in row
    assert f"<code>{zoom.url}/v2</code>" in row
    assert "<dt>Client secret</dt><dd>set</dd>" in row
    assert "<dt>Webhook secret</dt><dd>set</dd>" in row
    assert "<dt>Token</dt><dd>not set</dd>" in row
    assert CLIENT_SECRET not in page and "zoom-webhook-secret-token" not in page
    assert 'data-confirm="Delete the provider account “uni-zoom”?' in row
    assert 'data-busy="Checking uni-zoom…' in row
    with app.app_context():
        account = provider_accounts.get_account("uni-zoom")
        assert account.hosts == list(ZOOM_HOSTS)
        assert CLIENT_SECRET not in account.secrets


def test_check_now_records_health_and_marks_problems(
    app: Flask, client: FlaskClient, admin: ApiClient, zoom: RunningFake
) -> None:
    redirected_to(add_provider(client, "zoom", **zoom_fields(zoom)), "/providers")
    fields = zoom_fields(zoom, name="zoom-ghost", hosts="host1@uni.example,ghost@uni.example")
    redirected_to(add_provider(client, "zoom", **fields), "/providers")
    with app.app_context():
        good = provider_accounts.get_account("uni-zoom").id
        ghost = provider_accounts.get_account("zoom-ghost").id

    response = post(client, f"/providers/{good}/check", form_page="/providers")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/providers#account-{good}"
    page = get_page(client, "/providers")
    assert "“uni-zoom” was checked: no problems." in flashes(page)
    row = account_row(page, "uni-zoom")
    assert '<span class="badge badge-ok">ok</span>' in row and "Checked" in row

    post(client, f"/providers/{ghost}/check", form_page="/providers")
    page = get_page(client, "/providers")
    assert "“zoom-ghost” has 1 problem" in flashes(page)
    row = account_row(page, "zoom-ghost")
    assert '<span class="badge badge-problem">problem</span>' in row
    assert "ghost@uni.example" in row.split('class="problems"')[1]
    assert "not checked yet" not in page


def test_an_administrator_changes_an_accounts_host_users_on_the_page(
    app: Flask, client: FlaskClient, admin: ApiClient, zoom: RunningFake
) -> None:
    redirected_to(add_provider(client, "zoom", **zoom_fields(zoom)), "/providers")
    with app.app_context():
        account_id = provider_accounts.get_account("uni-zoom").id
    row = account_row(get_page(client, "/providers"), "uni-zoom")
    assert "<summary>Change</summary>" in row and f'id="hosts-{account_id}"' in row

    path = f"/providers/{account_id}/hosts"
    response = post(client, path, {"hosts": "host3@uni.example\nhost1@uni.example"})
    assert response.headers["Location"] == f"/providers#account-{account_id}"
    page = get_page(client, "/providers")
    assert "now has the host users host3@uni.example, host1@uni.example" in flashes(page)
    row = account_row(page, "uni-zoom")
    assert "<li>host3@uni.example</li>" in row and "<li>host2@uni.example</li>" not in row

    post(client, path, {"hosts": " , "})
    assert "were not changed: give at least one." in flashes(get_page(client, "/providers"))
    assert client.post(path, data={"hosts": "x@uni.example"}).status_code == 400  # no CSRF
    with app.app_context():
        assert provider_accounts.get_account("uni-zoom").hosts == [
            "host3@uni.example",
            "host1@uni.example",
        ]


def test_a_jitsi_account_needs_no_secrets_and_checks_without_a_server(
    client: FlaskClient, admin: ApiClient
) -> None:
    form = get_page(client, "/providers/new/jitsi")
    assert ">Jitsi server</label>" in form and 'name="hosts"' not in form
    response = add_provider(
        client, "jitsi", name="campus-jitsi", jitsi_base_url="https://meet.uni.example"
    )
    redirected_to(response, "/providers")
    with client.application.app_context():
        account_id = provider_accounts.get_account("campus-jitsi").id
    post(client, f"/providers/{account_id}/check", form_page="/providers")
    row = account_row(get_page(client, "/providers"), "campus-jitsi")
    assert "badge-ok" in row and "<code>https://meet.uni.example</code>" in row


@pytest.mark.parametrize(
    ("fields", "field_id", "message"),
    [
        ({"name": ""}, "name", "Give the account a name."),
        ({"name": "Uni Zoom"}, "name", "Use lowercase letters"),
        ({"account_id": ""}, "account_id", "Zoom needs Account ID, Client ID, Client secret."),
        ({"client_secret": ""}, "client_secret", "Zoom needs Account ID"),
        ({"hosts": " , "}, "hosts", "Zoom meetings need at least one host user."),
        ({"api_base_url": "not a url"}, "api_base_url", "Enter an http(s) URL"),
        ({"options": "scope"}, "options", "Write each setting as KEY=VALUE"),
    ],
)
def test_account_form_errors_are_shown_at_their_fields_and_nothing_is_written(
    client: FlaskClient,
    admin: ApiClient,
    zoom: RunningFake,
    row_count,
    fields: dict[str, str],
    field_id: str,
    message: str,
) -> None:
    response = add_provider(client, "zoom", **zoom_fields(zoom, **fields))
    assert response.status_code == 422
    errors = field_errors(response.text, field_id)
    assert any(error.startswith(message) for error in errors), errors
    assert CLIENT_SECRET not in response.text  # secrets are not written back
    assert row_count("provider_accounts") == 0


def test_a_taken_account_name_is_shown_at_the_name(
    client: FlaskClient, admin: ApiClient, zoom: RunningFake, row_count
) -> None:
    redirected_to(add_provider(client, "jitsi", name="uni-zoom"), "/providers")
    response = add_provider(client, "zoom", **zoom_fields(zoom))
    assert response.status_code == 422
    assert field_errors(response.text, "name") == ["An account with this name exists."]
    assert row_count("provider_accounts") == 1


def test_an_unknown_kind_is_not_found(client: FlaskClient, admin: ApiClient) -> None:
    assert client.get("/providers/new/skype").status_code == 404


def test_an_administrator_deletes_an_account(
    client: FlaskClient, admin: ApiClient, row_count
) -> None:
    redirected_to(add_provider(client, "manual", name="pasted-links"), "/providers")
    with client.application.app_context():
        account_id = provider_accounts.get_account("pasted-links").id
    response = post(client, f"/providers/{account_id}/delete", form_page="/providers")
    redirected_to(response, "/providers")
    page = get_page(client, "/providers")
    assert "“pasted-links” deleted" in flashes(page)
    assert "No provider accounts." in page
    assert row_count("provider_accounts") == 0


def test_organisers_see_health_read_only_and_may_not_change_accounts(
    app: Flask, client: FlaskClient, organiser: ApiClient, row_count
) -> None:
    with app.app_context():
        account = provider_accounts.add_account(
            name="uni-webex", kind="webex", token="webex-bot-token", hosts=["host1@uni.example"]
        )
        account.last_check_at = now_utc()
        account.last_check_problems = ["session 7 ('Board meeting'): the meeting was deleted"]
        db.session.commit()
        account_id = account.id

    page = get_page(client, "/providers")
    row = account_row(page, "uni-webex")
    assert "Webex" in row and "badge-problem" in row
    assert "1 problem found; an administrator can see and fix them." in row
    assert "Board meeting" not in page  # another organiser's session
    assert "host1@uni.example" not in page
    assert "Secrets" not in page and "Check now" not in page and "Add a Zoom account" not in page

    assert client.get("/providers/new/zoom").status_code == 403
    assert post(client, "/providers/new/jitsi", {"name": "mine"}).status_code == 403
    assert post(client, f"/providers/{account_id}/check").status_code == 403
    assert post(client, f"/providers/{account_id}/delete").status_code == 403
    assert row_count("provider_accounts") == 1
    with app.app_context():
        assert db.session.get(ProviderAccount, account_id).last_check_problems == [
            "session 7 ('Board meeting'): the meeting was deleted"
        ]


def test_provider_posts_without_csrf_token_are_refused(
    app: Flask, client: FlaskClient, admin: ApiClient, row_count
) -> None:
    assert client.post("/providers/new/jitsi", data={"name": "x"}).status_code == 400
    with app.app_context():
        account_id = provider_accounts.add_account(name="kept", kind="jitsi").id
        db.session.commit()
    assert client.post(f"/providers/{account_id}/delete").status_code == 400
    assert client.post(f"/providers/{account_id}/check").status_code == 400
    assert row_count("provider_accounts") == 1


# --- escaping ----------------------------------------------------------------------------------


def test_names_and_urls_are_escaped(app: Flask, client: FlaskClient, admin: ApiClient) -> None:
    with app.app_context():
        organiser = db.session.get(Organiser, admin.organiser_id)
        issue_token(organiser, name=SCRIPT)
        subscription, _ = outbound.create_subscription(
            organiser, url=f"https://hooks.example.org/{SCRIPT}", event_types=["rsvp.updated"]
        )
        # The service allows only plain names; one written by other means must still be safe.
        db.session.add(
            ProviderAccount(
                name=SCRIPT,
                kind="jitsi",
                settings={"jitsi_base_url": f"https://meet.example.org/{SCRIPT}"},
                hosts=[SCRIPT],
                secrets="",
                last_check_at=now_utc(),
                last_check_problems=[SCRIPT],
            )
        )
        db.session.commit()
        subscription_id = subscription.id

    for path in (
        "/tokens",
        "/webhook-subscriptions",
        f"/webhook-subscriptions/{subscription_id}",
        "/providers",
    ):
        page = get_page(client, path)
        assert "<script>alert" not in page, path
        assert ESCAPED_SCRIPT in page, path


# --- queries do not grow with the rows shown ---------------------------------------------------


def test_tokens_page_queries_do_not_grow_with_tokens(
    app: Flask, client: FlaskClient, organiser: ApiClient
) -> None:
    def add_tokens(count: int) -> None:
        with app.app_context():
            owner = db.session.get(Organiser, organiser.organiser_id)
            for index in range(count):
                issue_token(owner, name=f"token {index:02d}")
            db.session.commit()

    add_tokens(1)
    with_two, page = count_statements(app, client, "/tokens")
    assert page.count('<th scope="row">') == 2
    add_tokens(18)
    with_twenty, page = count_statements(app, client, "/tokens")
    assert page.count('<th scope="row">') == 20
    assert with_twenty == with_two, f"{with_two} statements with 2 tokens, {with_twenty} with 20"


def add_deliveries(subscription: WebhookSubscription, count: int) -> None:
    """Deliveries with two attempts each, as the log of a flaky receiver shows them."""
    now = now_utc()
    for _ in range(count):
        delivery = WebhookDelivery(
            subscription=subscription,
            event_id=outbound.new_event_id(),
            type="session.scheduled",
            created_at=now,
            payload="{}",
            status="delivered",
            attempts=2,
            delivered_at=now,
        )
        delivery.attempt_log = [
            DeliveryAttempt(number=1, at=now, status_code=503, duration_ms=12, error="busy"),
            DeliveryAttempt(number=2, at=now, status_code=200, duration_ms=8),
        ]
        db.session.add(delivery)
    db.session.flush()


def test_subscription_pages_queries_do_not_grow_with_rows(
    app: Flask, client: FlaskClient, organiser: ApiClient
) -> None:
    def add_subscriptions(count: int) -> int:
        with app.app_context():
            owner = db.session.get(Organiser, organiser.organiser_id)
            for index in range(count):
                subscription, _ = outbound.create_subscription(
                    owner,
                    url=f"https://hooks{index}.example.org/forum",
                    event_types=["session.scheduled", "rsvp.updated"],
                )
                add_deliveries(subscription, 2)
            db.session.commit()
            return subscription.id

    first = add_subscriptions(2)
    with_two, page = count_statements(app, client, "/webhook-subscriptions")
    assert page.count("2 delivered") == 2
    add_subscriptions(18)
    with_twenty, page = count_statements(app, client, "/webhook-subscriptions")
    assert page.count("2 delivered") == 20
    assert with_twenty == with_two, f"{with_two} statements with 2, {with_twenty} with 20"

    log_two, page = count_statements(app, client, f"/webhook-subscriptions/{first}")
    assert page.count(">Redeliver<") == 2
    with app.app_context():
        add_deliveries(db.session.get(WebhookSubscription, first), 18)
        db.session.commit()
    log_twenty, page = count_statements(app, client, f"/webhook-subscriptions/{first}")
    assert page.count(">Redeliver<") == 20
    assert page.count("<strong>503</strong>") == 20 and page.count("busy") >= 20
    assert log_twenty == log_two, f"{log_two} statements with 2 deliveries, {log_twenty} with 20"


def test_providers_page_queries_do_not_grow_with_accounts(
    app: Flask, client: FlaskClient, admin: ApiClient
) -> None:
    def add_accounts(start: int, count: int) -> None:
        with app.app_context():
            for index in range(start, start + count):
                account = provider_accounts.add_account(
                    name=f"webex-{index:02d}",
                    kind="webex",
                    token="webex-bot-token",
                    hosts=["host1@uni.example", "host2@uni.example"],
                )
                account.last_check_at = now_utc()
                account.last_check_problems = ["Webex user host2@uni.example does not exist"]
            db.session.commit()

    add_accounts(0, 2)
    with_two, page = count_statements(app, client, "/providers")
    assert page.count("badge-problem") == 2
    add_accounts(2, 18)
    with_twenty, page = count_statements(app, client, "/providers")
    assert page.count("badge-problem") == 20
    assert with_twenty == with_two, f"{with_two} statements with 2 accounts, {with_twenty} with 20"
