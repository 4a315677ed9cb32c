"""The development page that lists the file outbox and shows each message in it."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from email import message_from_binary_file
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import default

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import render_template
from flask import send_file
from flask_login import login_required

from forum.notifications.senders import OUTBOX_FILE_NAME
from forum.web.views import page_headers

bp = Blueprint("dev_outbox", __name__, url_prefix="/dev/outbox")
bp.after_request(page_headers)

# The list shows the newest messages only, so a busy development outbox stays fast to read.
LISTED_AT_MOST = 200


@dataclass(frozen=True)
class OutboxEntry:
    name: str
    written: dt.datetime
    to: str
    subject: str
    size: int


@bp.before_request
def development_outbox_only() -> None:
    # The page shows every message, with its RSVP links and tokens: it exists only on a
    # developer's machine, and answers 404 elsewhere as if there were no such page.
    config = current_app.config
    if config.get("FORUM_ENV") != "development" or config.get("MAIL_BACKEND") != "outbox":
        abort(404)


@bp.get("/")
@login_required
def outbox():
    folder = current_app.config["MAIL_OUTBOX_DIR"]
    names = _outbox_names(folder)
    entries = [entry for name in names[:LISTED_AT_MOST] if (entry := _entry(folder, name))]
    return render_template(
        "dev/outbox.html", entries=entries, total=len(names), folder=folder, limit=LISTED_AT_MOST
    )


@bp.get("/<name>")
@login_required
def outbox_message(name: str):
    path = _message_path(name)
    with open(path, "rb") as file:
        message = message_from_binary_file(file, _class=EmailMessage, policy=default)
    text = message.get_body(preferencelist=("plain",))
    calendar = next(
        (part for part in message.walk() if part.get_content_type() == "text/calendar"), None
    )
    parts = [
        (
            _raw_content_type(part),
            len(part.get_payload(decode=True) or b""),
            part.get_filename(),
        )
        for part in message.walk()
        if not part.is_multipart()
    ]
    return render_template(
        "dev/outbox_message.html",
        name=name,
        written=_written(name),
        headers=list(message.items()),
        text=text.get_content() if text is not None else None,
        calendar=calendar.get_content() if calendar is not None else None,
        parts=parts,
        size=os.path.getsize(path),
    )


@bp.get("/<name>/raw")
@login_required
def outbox_raw(name: str):
    return send_file(
        _message_path(name), mimetype="message/rfc822", as_attachment=True, download_name=name
    )


def _outbox_names(folder: str) -> list[str]:
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    # Names start with the UTC time they were written, so reverse order is newest first.
    return sorted((name for name in names if OUTBOX_FILE_NAME.fullmatch(name)), reverse=True)


def _message_path(name: str) -> str:
    # Only names the outbox writes are served: no "..", no slashes, no hidden files.
    if not OUTBOX_FILE_NAME.fullmatch(name):
        abort(404)
    path = os.path.join(current_app.config["MAIL_OUTBOX_DIR"], name)
    if not os.path.isfile(path):
        abort(404)
    return path


def _raw_content_type(part: EmailMessage) -> str:
    # As written, unfolded: parameters included (method= is what calendars look at), and
    # not re-quoted as the parsed header would be.
    raw = dict(part.raw_items()).get("Content-Type")
    return " ".join(str(raw).split()) if raw is not None else part.get_content_type()


def _written(name: str) -> dt.datetime:
    stamp = name.split("-", 1)[0]
    return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=dt.UTC)


def _entry(folder: str, name: str) -> OutboxEntry | None:
    path = os.path.join(folder, name)
    try:
        with open(path, "rb") as file:
            # Headers only: the list needs no bodies, and attachments can be large.
            headers = BytesHeaderParser(policy=default).parse(file)
            size = os.fstat(file.fileno()).st_size
    except FileNotFoundError:
        # Deleted by hand between listing the folder and reading the file.
        return None
    return OutboxEntry(
        name=name,
        written=_written(name),
        to=str(headers.get("To", "")),
        subject=str(headers.get("Subject", "")),
        size=size,
    )
