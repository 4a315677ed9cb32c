"""The outbound webhook pages: an organiser's subscriptions, their deliveries, redelivery."""

from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_login import current_user
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload
from wtforms import PasswordField
from wtforms import SelectChoice
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import Regexp
from wtforms.widgets import CheckboxInput
from wtforms.widgets import ListWidget

from forum.accounts.models import Organiser
from forum.core.errors import Conflict
from forum.core.errors import ValidationFailed
from forum.extensions import db
from forum.i18n import _
from forum.i18n import _l
from forum.web import bp
from forum.web.forms import keep_secret_for_next_page
from forum.web.forms import show_service_error
from forum.web.forms import single_line
from forum.web.forms import take_kept_secret
from forum.webhooks import outbound
from forum.webhooks.outbound import EVENT_TYPES
from forum.webhooks.outbound import MAX_URL_LENGTH
from forum.webhooks.outbound import WebhookDelivery

# The newest deliveries a subscription's page lists; older ones stay in the API's pages.
DELIVERIES_SHOWN = 100

EVENT_TYPE_HINTS = {
    "session.scheduled": _l("a session was booked"),
    "session.rescheduled": _l("a session moved"),
    "session.cancelled": _l("a session was cancelled"),
    "rsvp.updated": _l("someone answered an invitation"),
    "meeting.started": _l("a session's meeting began"),
    "meeting.ended": _l("a session's meeting ended"),
    "attendance.updated": _l("who attended changed"),
    "recording.ready": _l("a recording can be watched"),
    "provider.error": _l("a video provider refused a meeting"),
}


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes (each with its own label) instead of a list box."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SubscriptionForm(FlaskForm):
    """A receiver URL, the events it wants, and optionally a signing secret of its own."""

    url = StringField(
        _l("Receiver URL"),
        validators=[
            DataRequired(_l("Enter the URL that should receive the events.")),
            # WTForms fills in %(max)d.
            Length(max=MAX_URL_LENGTH, message=_l("At most %(max)d characters.")),
            single_line,
        ],
        render_kw={"type": "url", "spellcheck": "false", "autocomplete": "url"},
    )
    event_types = CheckboxesField(
        _l("Events to send"),
        choices=[SelectChoice(name) for name in EVENT_TYPES],
        validators=[DataRequired(_l("Choose at least one event."))],
    )
    # PasswordField: a secret typed here is never written back into the page.
    secret = PasswordField(
        _l("Signing secret (optional)"),
        validators=[
            Optional(),
            Regexp(
                r"^[\x21-\x7e]{24,200}\Z",
                message=_l("Use 24 to 200 printable ASCII characters, without spaces."),
            ),
        ],
        render_kw={"autocomplete": "new-password", "spellcheck": "false"},
    )


def _list_page(organiser: Organiser, form: SubscriptionForm) -> str:
    subscriptions = db.session.scalars(outbound.subscriptions_of(organiser)).all()
    counts = outbound.delivery_counts(s.id for s in subscriptions)
    return render_template(
        "subscriptions/list.html",
        organiser=organiser,
        subscriptions=subscriptions,
        counts=counts,
        form=form,
        event_type_hints=EVENT_TYPE_HINTS,
    )


@bp.get("/webhook-subscriptions")
@login_required
def subscriptions():
    organiser = current_user._get_current_object()
    return _list_page(organiser, SubscriptionForm())


@bp.post("/webhook-subscriptions")
@login_required
def create_subscription():
    organiser = current_user._get_current_object()
    form = SubscriptionForm()
    if not form.validate_on_submit():
        return _list_page(organiser, form), 422
    try:
        subscription, secret = outbound.create_subscription(
            organiser,
            url=form.url.data.strip(),
            event_types=form.event_types.data,
            secret=form.secret.data or None,
        )
    except ValidationFailed as error:
        db.session.rollback()
        show_service_error(form, error)
        return _list_page(organiser, form), 422
    db.session.commit()
    keep_secret_for_next_page(organiser, f"webhook-subscription-{subscription.id}", secret)
    flash(_("Subscription created. Copy its signing secret now."), "info")
    return redirect(url_for("web.subscription", subscription_id=subscription.id)), 303


@bp.get("/webhook-subscriptions/<int:subscription_id>")
@login_required
def subscription(subscription_id: int):
    organiser = current_user._get_current_object()
    found = outbound.get_subscription_for(organiser, subscription_id)
    rows = db.session.scalars(
        outbound.deliveries_of(found)
        .options(selectinload(WebhookDelivery.attempt_log))
        .limit(DELIVERIES_SHOWN + 1)
    ).all()
    counts = outbound.delivery_counts([found.id])[found.id]
    return render_template(
        "subscriptions/deliveries.html",
        organiser=organiser,
        subscription=found,
        deliveries=rows[:DELIVERIES_SHOWN],
        more=len(rows) > DELIVERIES_SHOWN,
        counts=counts,
        secret=take_kept_secret(organiser, f"webhook-subscription-{found.id}"),
    )


@bp.post("/webhook-subscriptions/<int:subscription_id>/delete")
@login_required
def delete_subscription(subscription_id: int):
    organiser = current_user._get_current_object()
    found = outbound.get_subscription_for(organiser, subscription_id)
    url = found.url
    outbound.delete_subscription(found)
    db.session.commit()
    flash(_("Subscription for %(url)s deleted, with its delivery log.", url=url), "info")
    return redirect(url_for("web.subscriptions")), 303


@bp.post("/webhook-subscriptions/<int:subscription_id>/deliveries/<int:delivery_id>/redeliver")
@login_required
def redeliver_webhook(subscription_id: int, delivery_id: int):
    organiser = current_user._get_current_object()
    found = outbound.get_subscription_for(organiser, subscription_id)
    delivery = outbound.get_delivery_for(found, delivery_id)
    try:
        outbound.redeliver(delivery)
    except Conflict as error:
        db.session.rollback()
        flash(
            _(
                "Delivery %(id)s was not sent again: %(reason)s.",
                id=delivery_id,
                reason=error.message,
            ),
            "error",
        )
    else:
        db.session.commit()
        flash(
            _(
                "Delivery %(id)s is being sent again; its log below shows how it went.",
                id=delivery_id,
            ),
            "info",
        )
    return redirect(url_for("web.subscription", subscription_id=subscription_id)), 303
