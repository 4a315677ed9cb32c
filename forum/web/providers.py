"""The video provider pages: accounts and their health; administrators add, check and delete."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import Field
from wtforms import PasswordField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import Regexp
from wtforms.validators import ValidationError

from forum.accounts.models import Organiser
from forum.core import crypto
from forum.core import text
from forum.core.errors import ForumError
from forum.core.errors import ValidationFailed
from forum.extensions import db
from forum.i18n import _
from forum.i18n import _l
from forum.i18n import ngettext
from forum.providers import accounts
from forum.providers import meetings
from forum.providers.accounts import REQUIRED
from forum.providers.base import ProviderError
from forum.providers.models import ACCOUNT_KINDS
from forum.providers.models import ProviderAccount
from forum.web import bp
from forum.web.forms import clean_lines
from forum.web.forms import show_service_error
from forum.web.forms import single_line

KIND_NAMES: dict[str, Any] = {
    "jitsi": "Jitsi",
    "zoom": "Zoom",
    "teams": "Microsoft Teams",
    "webex": "Webex",
    "google_meet": "Google Meet",
    "manual": _l("Manual (pasted links)"),
}
# The inputs each kind's form shows, in order: what `forum provider add` takes for it.
KIND_FIELDS = {
    "zoom": (
        "account_id",
        "client_id",
        "client_secret",
        "hosts",
        "webhook_secret",
        "api_base_url",
        "oauth_url",
        "options",
    ),
    "teams": (
        "tenant_id",
        "client_id",
        "client_secret",
        "hosts",
        "webhook_secret",
        "api_base_url",
        "oauth_url",
        "options",
    ),
    "webex": (
        "token",
        "client_id",
        "client_secret",
        "hosts",
        "webhook_secret",
        "api_base_url",
        "oauth_url",
        "options",
    ),
    "google_meet": (
        "client_id",
        "client_secret",
        "hosts",
        "webhook_secret",
        "api_base_url",
        "oauth_url",
        "options",
    ),
    "jitsi": ("jitsi_base_url", "client_id", "client_secret", "options"),
    "manual": (),
}
# (label, hint) where a kind names a setting its own way.
KIND_LABELS: dict[tuple[str, str], tuple[Any, Any]] = {
    ("zoom", "account_id"): (
        _l("Account ID"),
        _l("From the Server-to-Server OAuth app's credentials."),
    ),
    ("zoom", "client_id"): (_l("Client ID"), _l("From the same app.")),
    ("zoom", "client_secret"): (_l("Client secret"), _l("Stored encrypted; never shown again.")),
    ("zoom", "webhook_secret"): (
        _l("Webhook secret token"),
        _l("The app's event subscription secret token; checks Zoom's signatures."),
    ),
    ("teams", "tenant_id"): (_l("Directory (tenant) ID"), _l("The Microsoft Entra tenant.")),
    ("teams", "client_id"): (_l("Application (client) ID"), _l("The app registration's id.")),
    ("teams", "client_secret"): (
        _l("Client secret value"),
        _l("Stored encrypted; never shown again."),
    ),
    ("teams", "webhook_secret"): (
        _l("Client state"),
        _l("The clientState forum gives Microsoft Graph subscriptions."),
    ),
    ("webex", "token"): (
        _l("Bot or integration token"),
        _l("Either this, or a client ID and secret. Stored encrypted."),
    ),
    ("webex", "client_id"): (_l("Client ID"), _l("A service app's id, instead of a token.")),
    ("webex", "client_secret"): (_l("Client secret"), _l("Stored encrypted; never shown again.")),
    ("webex", "webhook_secret"): (_l("Webhook secret"), _l("Checks Webex's X-Spark-Signature.")),
    ("google_meet", "client_id"): (
        _l("Service account email"),
        _l("The service account with domain-wide delegation."),
    ),
    ("google_meet", "client_secret"): (
        _l("Service account key"),
        _l("Paste the whole JSON key file (or the PEM private key). Stored encrypted."),
    ),
    ("google_meet", "webhook_secret"): (
        _l("Channel token"),
        _l("The token Google sends back with each notification."),
    ),
    ("jitsi", "jitsi_base_url"): (
        _l("Jitsi server"),
        _l("For example https://meet.uni.example; empty for the public meet.jit.si."),
    ),
    ("jitsi", "client_id"): (_l("JWT app ID"), _l("Only for a self-hosted server with tokens.")),
    ("jitsi", "client_secret"): (_l("JWT app secret"), _l("Stored encrypted; never shown again.")),
}
URL_PATTERN = r"^https?://[^\s/?#]+\S*\Z"
URL_MESSAGE = _l("Enter an http(s) URL, such as https://api.example.org.")


def _options(form: FlaskForm, field: Field) -> None:
    for line in (field.data or "").splitlines():
        key, equals, _value = line.strip().partition("=")
        if line.strip() and not (equals and key.strip()):
            raise ValidationError(
                _("Write each setting as KEY=VALUE; “%(line)s” is not.", line=line.strip())
            )


def _hosts(form: FlaskForm, field: Field) -> None:
    hosts = _split_hosts(field.data)
    if len(hosts) > 200:
        raise ValidationError(_("At most 200 host users."))
    if any(len(host) > 254 for host in hosts):
        raise ValidationError(_("A host user is at most 254 characters."))
    for host in hosts:
        if (found := text.problem(host)) is not None:
            raise ValidationError(
                _(
                    "The host user “%(host)s” %(problem)s.",
                    host=text.scrub_line(host),
                    problem=found,
                )
            )


def _split_hosts(text: str | None) -> list[str]:
    return [host.strip() for line in (text or "").splitlines() for host in line.split(",")]


def _setting(label: Any) -> StringField:
    return StringField(
        label,
        validators=[
            Optional(),
            Length(max=500, message=_l("At most 500 characters.")),
            single_line,
        ],
        render_kw={"spellcheck": "false", "autocomplete": "off"},
    )


def _secret(label: Any) -> PasswordField:
    # PasswordField never writes what was typed back into the page (hide_value).
    return PasswordField(
        label,
        validators=[Optional(), Length(max=10000, message=_l("At most 10000 characters."))],
        render_kw={"autocomplete": "new-password", "spellcheck": "false"},
    )


def _url(label: Any) -> StringField:
    return StringField(
        label,
        validators=[
            Optional(),
            Length(max=500, message=_l("At most 500 characters.")),
            single_line,
            Regexp(URL_PATTERN, message=URL_MESSAGE),
        ],
        render_kw={"type": "url", "spellcheck": "false", "autocomplete": "off"},
    )


class ProviderAccountForm(FlaskForm):
    """Every setting `forum provider add` takes; each kind's page shows the ones it uses."""

    name = StringField(
        _l("Account name"),
        validators=[
            DataRequired(_l("Give the account a name.")),
            Regexp(
                r"^[a-z0-9][a-z0-9_.-]{0,99}\Z",
                message=_l(
                    "Use lowercase letters, digits, '.', '_' or '-', starting with a "
                    "letter or digit (at most 100)."
                ),
            ),
        ],
        render_kw={"spellcheck": "false", "autocomplete": "off", "maxlength": 100},
    )
    account_id = _setting(_l("Account ID"))
    client_id = _setting(_l("Client ID"))
    client_secret = _secret(_l("Client secret"))
    tenant_id = _setting(_l("Tenant ID"))
    token = _secret(_l("Token"))
    webhook_secret = _secret(_l("Webhook secret"))
    hosts = TextAreaField(
        _l("Host users"),
        validators=[clean_lines, _hosts],
        render_kw={"rows": 3, "spellcheck": "false", "autocomplete": "off"},
    )
    api_base_url = _url(_l("API base URL"))
    oauth_url = _url(_l("Token endpoint base URL"))
    jitsi_base_url = _url(_l("Jitsi server"))
    options = TextAreaField(
        _l("Extra settings"),
        validators=[
            clean_lines,
            _options,
            Length(max=10000, message=_l("At most 10000 characters.")),
        ],
        render_kw={"rows": 2, "spellcheck": "false", "autocomplete": "off"},
    )


HINTS = {
    "hosts": _l(
        "The provider's users that host meetings, one per line (or separated by commas), "
        "in the order they are tried."
    ),
    "api_base_url": _l(
        "Only for a regional endpoint or a test server; empty for the provider's own."
    ),
    "oauth_url": _l("Only for a test server; empty for the provider's own."),
    "options": _l(
        "Rarely needed: KEY=VALUE, one per line. Stored encrypted, so it is not shown "
        "again, not even when the form comes back with a problem."
    ),
    "webhook_secret": _l("Stored encrypted; never shown again."),
    "client_secret": _l("Stored encrypted; never shown again."),
    "token": _l("Stored encrypted; never shown again."),
}


def _form_for(kind: str) -> tuple[ProviderAccountForm, list[tuple[Field, Any]]]:
    """The form, labelled for ``kind``, and its inputs with their hints, in order."""
    form = ProviderAccountForm()
    shown = []
    for name in KIND_FIELDS[kind]:
        field = form[name]
        label, hint = KIND_LABELS.get((kind, name), (field.label.text, HINTS.get(name, "")))
        field.label.text = label
        shown.append((field, hint))
    return form, shown


def _admin_only(organiser: Organiser) -> None:
    if not organiser.is_admin:
        abort(403, _("Only administrators manage provider accounts."))


def _health(account: ProviderAccount) -> str:
    if account.last_check_at is None:
        return "unchecked"
    return "problem" if account.last_check_problems else "ok"


def _details(account: ProviderAccount) -> dict[str, Any]:
    """What administrators see of an account: settings, and only whether each secret is set."""
    try:
        return accounts.describe(account) | {"secrets_unreadable": False}
    except crypto.SecretsUnreadable:
        return {"secrets_unreadable": True}


def _show_refusal(
    form: ProviderAccountForm, kind: str, settings: dict[str, str | None], error: ForumError
) -> None:
    """The service's refusal at the inputs it concerns, in the words of this kind's form."""
    if error.code == "name_taken":
        form.name.errors = [*form.name.errors, _("An account with this name exists.")]
        return
    if not isinstance(error, ValidationFailed):
        show_service_error(form, error)
        return
    fields = dict(error.fields)
    if fields.pop("credentials", None):
        # The service names the credentials together; each one still empty gets the message.
        ways = REQUIRED[kind]
        labels = [_listed([form[name].label.text for name in way]) for way in ways]
        if len(labels) == 1:
            needs = _("%(kind)s needs %(fields)s.", kind=KIND_NAMES[kind], fields=labels[0])
        else:
            # No kind has more than two ways of authenticating.
            first, second = labels
            needs = _(
                "%(kind)s needs %(first)s or %(second)s.",
                kind=KIND_NAMES[kind],
                first=first,
                second=second,
            )
        for name in dict.fromkeys(name for way in ways for name in way if not settings.get(name)):
            form[name].errors = [*form[name].errors, needs]
    if fields:
        show_service_error(form, ValidationFailed(fields))


def _listed(items: list[Any]) -> str:
    """Items one after the other, "A, B, C", with the separator of the reader's language."""
    listed = str(items[0]) if items else ""
    for item in items[1:]:
        listed = _("%(first)s, %(next)s", first=listed, next=item)
    return listed


# --- pages -------------------------------------------------------------------------------------


@bp.get("/providers")
@login_required
def providers():
    organiser = current_user._get_current_object()
    listed = accounts.accounts()
    return render_template(
        "providers/list.html",
        organiser=organiser,
        accounts=listed,
        health={account.id: _health(account) for account in listed},
        details={account.id: _details(account) for account in listed} if organiser.is_admin else {},
        kinds=ACCOUNT_KINDS,
        kind_names=KIND_NAMES,
        hosted_kinds=accounts.HOSTED,
    )


@bp.route("/providers/new/<kind>", methods=["GET", "POST"])
@login_required
def add_provider(kind: str):
    organiser = current_user._get_current_object()
    _admin_only(organiser)
    if kind not in ACCOUNT_KINDS:
        abort(404)
    form, shown = _form_for(kind)
    if form.validate_on_submit():
        settings = {
            name: (form[name].data or "").strip() or None
            for name in KIND_FIELDS[kind]
            if name not in ("hosts", "options")
        }
        options = dict(
            (key.strip(), value.strip())
            for key, _equals, value in (
                line.partition("=") for line in (form.options.data or "").splitlines()
            )
            if key.strip() and "options" in KIND_FIELDS[kind]
        )
        try:
            account = accounts.add_account(
                name=form.name.data.strip(),
                kind=kind,
                hosts=_split_hosts(form.hosts.data) if "hosts" in KIND_FIELDS[kind] else (),
                options=options or None,
                **settings,
            )
        except ForumError as error:
            db.session.rollback()
            _show_refusal(form, kind, settings, error)
        else:
            db.session.commit()
            flash(
                _("%(kind)s account “%(name)s” added.", kind=KIND_NAMES[kind], name=account.name),
                "info",
            )
            return redirect(url_for("web.providers")), 303
    # Extra settings are stored encrypted: like the secrets, they are not written back.
    form.options.data = ""
    status = 422 if form.is_submitted() else 200
    return render_template(
        "providers/new.html",
        form=form,
        fields=shown,
        kind=kind,
        kind_name=KIND_NAMES[kind],
    ), status


def _back_to_account(account_id: int):
    return redirect(url_for("web.providers") + f"#account-{account_id}"), 303


@bp.post("/providers/<int:account_id>/check")
@login_required
def check_provider(account_id: int):
    organiser = current_user._get_current_object()
    _admin_only(organiser)
    account = accounts.get_account(account_id)
    name = account.name
    try:
        problems = meetings.check_account(account)
    except (crypto.SecretsUnreadable, ProviderError) as error:
        db.session.rollback()
        reason = getattr(error, "message", None) or str(error)
        flash(_("“%(name)s” could not be checked: %(reason)s", name=name, reason=reason), "error")
    else:
        if problems:
            count = len(problems)
            flash(
                ngettext(
                    "“%(name)s” has %(num)d problem: see below.",
                    "“%(name)s” has %(num)d problems: see below.",
                    count,
                    name=name,
                ),
                "error",
            )
        else:
            flash(_("“%(name)s” was checked: no problems.", name=name), "info")
    return _back_to_account(account_id)


class HostsForm(FlaskForm):
    hosts = TextAreaField(
        _l("Host users"),
        validators=[DataRequired(message=_l("Give at least one host user.")), _hosts],
        description=_l("One per line or comma-separated."),
    )


@bp.post("/providers/<int:account_id>/hosts")
@login_required
def provider_hosts(account_id: int):
    """Replace an account's host users (meetings still to open move when retried)."""
    organiser = current_user._get_current_object()
    _admin_only(organiser)
    account = accounts.get_account(account_id)
    form = HostsForm()
    if not form.validate_on_submit():
        problems = "; ".join(message for messages in form.errors.values() for message in messages)
        flash(
            _(
                "The host users of “%(name)s” were not changed: %(problems)s",
                name=account.name,
                problems=problems,
            ),
            "error",
        )
        return _back_to_account(account_id)
    hosts = [host for host in _split_hosts(form.hosts.data) if host]
    if not hosts:
        flash(
            _(
                "The host users of “%(name)s” were not changed: give at least one.",
                name=account.name,
            ),
            "error",
        )
        return _back_to_account(account_id)
    try:
        accounts.set_hosts(account, hosts)
    except ForumError as error:
        db.session.rollback()
        flash(
            _(
                "The host users of “%(name)s” were not changed: %(problems)s",
                name=account.name,
                problems=error.message,
            ),
            "error",
        )
    else:
        db.session.commit()
        flash(
            _(
                "“%(name)s” now has the host users %(hosts)s.",
                name=account.name,
                hosts=", ".join(account.hosts),
            ),
            "info",
        )
    return _back_to_account(account_id)


@bp.post("/providers/<int:account_id>/delete")
@login_required
def delete_provider(account_id: int):
    organiser = current_user._get_current_object()
    _admin_only(organiser)
    account = accounts.get_account(account_id)
    name = account.name
    accounts.delete_account(account)
    db.session.commit()
    flash(_("Provider account “%(name)s” deleted.", name=name), "info")
    return redirect(url_for("web.providers")), 303
