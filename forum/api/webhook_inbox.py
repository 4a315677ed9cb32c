"""API v1: what providers sent (the inbox), with reprocessing; and a session's attendance."""

from __future__ import annotations

import sqlalchemy as sa
from flask import request

from forum.api import bp
from forum.api import schemas
from forum.api.util import current_organiser
from forum.api.util import paginate
from forum.core.errors import NotFound
from forum.core.errors import ValidationFailed
from forum.core.times import format_instant
from forum.events import services
from forum.extensions import db
from forum.i18n import _
from forum.jobs.queue import enqueue
from forum.webhooks import inbound
from forum.webhooks.models import INBOX_STATUSES
from forum.webhooks.models import Attendance
from forum.webhooks.models import InboxEntry


def entry_out(entry: InboxEntry) -> dict:
    return schemas.InboxEntryOut(
        id=entry.id,
        provider=entry.provider,
        event=entry.event,
        external_id=entry.external_id,
        session_id=entry.session_id,
        status=entry.status,
        attempts=entry.attempts,
        error=entry.error,
        received_at=format_instant(entry.received_at),
        processed_at=format_instant(entry.processed_at) if entry.processed_at else None,
    ).model_dump(mode="json")


def _visible_entries() -> sa.Select:
    return inbound.visible_entries(current_organiser())


@bp.get("/webhook-inbox")
def list_inbox():
    query = _visible_entries()
    if status := request.args.get("status"):
        if status not in INBOX_STATUSES:
            raise ValidationFailed(
                {"status": _("must be one of %(values)s", values=", ".join(INBOX_STATUSES))}
            )
        query = query.where(InboxEntry.status == status)
    return paginate(query, lambda rows: [entry_out(e) for e in rows])


@bp.post("/webhook-inbox/<int:entry_id>/reprocess")
def reprocess(entry_id: int):
    from forum.jobs.tasks import reprocess_delivery

    entry = db.session.scalar(_visible_entries().where(InboxEntry.id == entry_id))
    if entry is None:
        raise NotFound(_("no delivery with id %(id)s", id=entry_id))
    enqueue(reprocess_delivery, entry.id)
    db.session.commit()
    db.session.refresh(entry)
    return entry_out(entry)


def attendance_out(row: Attendance) -> dict:
    invitation = row.invitation_id
    return schemas.AttendanceOut(
        person_id=row.invitation.person_id if invitation and row.invitation else None,
        name=row.name,
        email=row.email,
        guest=invitation is None,
        minutes=row.minutes,
        stays=[
            {"joined": joined, "left": left} for joined, left in sorted((row.stays or {}).items())
        ],
    ).model_dump(mode="json")


@bp.get("/sessions/<int:session_id>/attendance")
def session_attendance(session_id: int):
    session = services.get_session_for(current_organiser(), session_id)
    query = (
        sa.select(Attendance)
        .where(Attendance.session_id == session.id)
        .order_by(Attendance.invitation_id.is_(None), Attendance.email, Attendance.id)
    )
    page = paginate(query, lambda rows: [attendance_out(a) for a in rows])
    page["session"] = {
        "status": session.status,
        "actual_start": format_instant(session.actual_start) if session.actual_start else None,
        "actual_end": format_instant(session.actual_end) if session.actual_end else None,
    }
    return page
