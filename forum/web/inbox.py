"""The webhook inbox page: what providers sent about the organiser's sessions, reprocessable."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_required

from forum.events.models import EventSession
from forum.extensions import db
from forum.i18n import _
from forum.i18n import _l
from forum.jobs.queue import enqueue
from forum.web import bp
from forum.webhooks import inbound
from forum.webhooks.models import INBOX_STATUSES
from forum.webhooks.models import InboxEntry

PAGE_SIZE = 100

# What the page calls each state of a delivery.
STATUS_LABELS = {
    "received": _l("received"),
    "processed": _l("processed"),
    "failed": _l("failed"),
    "ignored": _l("ignored"),
}


@bp.get("/inbox")
@login_required
def inbox():
    organiser = current_user._get_current_object()
    query = inbound.visible_entries(organiser)
    status = request.args.get("status", "")
    if status in INBOX_STATUSES:
        query = query.where(InboxEntry.status == status)
    entries = db.session.scalars(query.limit(PAGE_SIZE)).all()
    return render_template(
        "inbox.html",
        entries=entries,
        sessions=sessions_of(entries),
        status=status,
        statuses=INBOX_STATUSES,
        status_labels=STATUS_LABELS,
        organiser=organiser,
    )


def sessions_of(entries: list[InboxEntry]) -> dict[int, EventSession]:
    """The entries' sessions by id, read in one query, so that each row can name its own."""
    ids = {entry.session_id for entry in entries if entry.session_id is not None}
    if not ids:
        return {}
    found = db.session.scalars(sa.select(EventSession).where(EventSession.id.in_(ids)))
    return {session.id: session for session in found}


@bp.post("/inbox/<int:entry_id>/reprocess")
@login_required
def reprocess(entry_id: int):
    from forum.jobs.tasks import reprocess_delivery

    organiser = current_user._get_current_object()
    entry = db.session.scalar(inbound.visible_entries(organiser).where(InboxEntry.id == entry_id))
    if entry is None:
        abort(404)
    enqueue(reprocess_delivery, entry.id)
    db.session.commit()
    flash(_("Delivery %(id)s is being processed again.", id=entry.id), "info")
    return redirect(url_for("web.inbox")), 303
