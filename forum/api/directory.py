"""API v1: institutions and people, a directory every organiser of the instance reads and
invites from; changing an entry is for those forum.directory.services names."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask import request
from pydantic import BaseModel
from pydantic import ConfigDict
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.exceptions import UnsupportedMediaType

from forum.api import MAX_ID
from forum.api import bp
from forum.api import directory_import
from forum.api import schemas
from forum.api.util import current_organiser
from forum.api.util import load_body
from forum.api.util import paginate
from forum.core.errors import ValidationFailed
from forum.core.times import format_instant
from forum.db import now_utc
from forum.directory import bulk
from forum.directory import imports
from forum.directory import services
from forum.directory.freebusy import check_url_host
from forum.directory.models import DirectoryChange
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.extensions import db
from forum.i18n import _


def institution_out(institution: Institution) -> dict:
    return schemas.InstitutionOut(
        id=institution.id,
        name=institution.name,
        short_name=institution.short_name,
        country=institution.country,
        timezone=institution.timezone,
        subdivision=institution.subdivision,
        blackouts=[
            schemas.BlackoutOut(
                start_date=b.start_date.isoformat(),
                end_date=b.end_date.isoformat(),
                reason=b.reason,
            )
            for b in institution.blackouts
        ],
        created_by_id=institution.created_by_id,
    ).model_dump(mode="json")


def person_out(person: Person) -> dict:
    return schemas.PersonOut(
        id=person.id,
        name=person.name,
        email=person.email,
        institution_id=person.institution_id,
        timezone=person.timezone,
        role_title=person.role_title,
        working_hours=person.working_hours,
        acceptable_hours=person.acceptable_hours,
        busy=[
            schemas.BusyOut(start=format_instant(b.start), end=format_instant(b.end))
            for b in person.busy
        ],
        ics_url=person.ics_url,
        reminders=person.reminders,
        locale=person.locale,
        created_by_id=person.created_by_id,
    ).model_dump(mode="json")


class ChangedByOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    email: str
    name: str


class DirectoryChangeOut(BaseModel):
    """One recorded change of a person's or an institution's field."""

    model_config = ConfigDict(extra="forbid")

    id: int
    field: str
    old: Any
    new: Any
    changed_at: str
    # null: the command line on no one's behalf, or an account since deleted.
    changed_by: ChangedByOut | None


def change_out(change: DirectoryChange) -> dict:
    by = change.changed_by
    return DirectoryChangeOut(
        id=change.id,
        field=change.field,
        old=change.old_value,
        new=change.new_value,
        changed_at=format_instant(change.changed_at),
        changed_by=ChangedByOut(id=by.id, email=by.email, name=by.name) if by else None,
    ).model_dump(mode="json")


def _history(entry: Person | Institution) -> dict:
    query = services.changes_of(entry).options(selectinload(DirectoryChange.changed_by))
    return paginate(query, lambda rows: [change_out(c) for c in rows])


@bp.get("/institutions")
def list_institutions():
    query = (
        sa.select(Institution)
        .order_by(Institution.name)
        .options(selectinload(Institution.blackouts))
    )
    if country := request.args.get("country"):
        # Checked before it reaches the database: PostgreSQL refuses a NUL in text (500).
        if not (len(country) == 2 and country.isascii() and country.isalpha()):
            raise ValidationFailed({"country": _("must be an ISO 3166-1 alpha-2 country code")})
        query = query.where(Institution.country == country.upper())
    return paginate(query, lambda rows: [institution_out(i) for i in rows])


@bp.post("/institutions")
def create_institution():
    body = load_body(schemas.InstitutionCreate)
    institution = services.create_institution(**body.model_dump(), created_by=current_organiser())
    db.session.commit()
    return institution_out(institution), 201


@bp.get("/institutions/<int:institution_id>")
def get_institution(institution_id: int):
    return institution_out(services.get_institution(institution_id))


@bp.patch("/institutions/<int:institution_id>")
def update_institution(institution_id: int):
    institution = services.get_institution(institution_id)
    body = load_body(schemas.InstitutionUpdate)
    services.update_institution(
        institution, body.model_dump(exclude_unset=True), actor=current_organiser()
    )
    db.session.commit()
    return institution_out(institution)


@bp.delete("/institutions/<int:institution_id>")
def delete_institution(institution_id: int):
    services.delete_institution(services.get_institution(institution_id), actor=current_organiser())
    db.session.commit()
    return "", 204


@bp.get("/institutions/<int:institution_id>/history")
def institution_history(institution_id: int):
    return _history(services.get_institution(institution_id))


@bp.get("/people")
def list_people():
    query = sa.select(Person).order_by(Person.name, Person.id).options(selectinload(Person.busy))
    if institution_id := request.args.get("institution_id"):
        # isdigit() alone accepts "²"; the bound keeps the number inside the id column.
        if not (institution_id.isascii() and institution_id.isdigit()) or (
            int(institution_id) > MAX_ID
        ):
            raise ValidationFailed({"institution_id": _("must be an institution id")})
        query = query.where(Person.institution_id == int(institution_id))
    if email := request.args.get("email"):
        if "\x00" in email:
            raise ValidationFailed({"email": _("must not contain NUL characters")})
        query = query.where(sa.func.lower(Person.email) == email.lower())
    return paginate(query, lambda rows: [person_out(p) for p in rows])


@bp.post("/people")
def create_person():
    body = load_body(schemas.PersonCreate)
    _check_ics_url(body.ics_url)
    person = services.create_person(
        **body.model_dump(exclude_unset=True), created_by=current_organiser()
    )
    db.session.commit()
    return person_out(person), 201


@bp.get("/people/<int:person_id>")
def get_person(person_id: int):
    return person_out(services.get_person(person_id))


@bp.patch("/people/<int:person_id>")
def update_person(person_id: int):
    person = services.get_person(person_id)
    body = load_body(schemas.PersonUpdate)
    _check_ics_url(body.ics_url)
    services.update_person(person, body.model_dump(exclude_unset=True), actor=current_organiser())
    db.session.commit()
    return person_out(person)


@bp.put("/people/<int:person_id>/availability")
def set_availability(person_id: int):
    person = services.get_person(person_id)
    body = load_body(schemas.AvailabilityIn)
    _check_ics_url(body.ics_url)
    services.set_availability(
        person, body.model_dump(exclude_unset=True), actor=current_organiser()
    )
    db.session.commit()
    return person_out(person)


@bp.delete("/people/<int:person_id>")
def delete_person(person_id: int):
    services.delete_person(services.get_person(person_id), actor=current_organiser())
    db.session.commit()
    return "", 204


@bp.get("/people/<int:person_id>/history")
def person_history(person_id: int):
    """Changes of the person's email, zone and availability, newest first."""
    return _history(services.get_person(person_id))


# --- bulk import ----------------------------------------------------------------------


def _import_file(kind: str) -> dict:
    """Import the request body, a CSV or JSON file of ``kind``, all or nothing."""
    media_type = request.mimetype
    if media_type not in bulk.MEDIA_TYPES:
        if media_type:
            refusal = _(
                "send the file as the request body with Content-Type: text/csv (UTF-8) "
                "or application/json, not %(media_type)s",
                media_type=media_type,
            )
        else:
            refusal = _(
                "send the file as the request body with Content-Type: text/csv (UTF-8) "
                "or application/json, not no Content-Type"
            )
        raise UnsupportedMediaType(refusal)
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(_("send the file as UTF-8, not %(charset)s", charset=charset))
    too_large = bulk.ImportTooLarge(
        _(
            "the file is larger than %(max_bytes)s bytes, the most one import takes: "
            "split it into several files",
            max_bytes=bulk.MAX_IMPORT_BYTES,
        ),
        details={"max_bytes": bulk.MAX_IMPORT_BYTES},
    )
    if (request.content_length or 0) > bulk.MAX_IMPORT_BYTES:
        raise too_large
    # An import may be larger than other request bodies (FORUM_MAX_REQUEST_BYTES).
    request.max_content_length = bulk.MAX_IMPORT_BYTES
    try:
        data = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise too_large from None
    result = directory_import.run(kind, data, media_type, actor=current_organiser())
    db.session.commit()
    return schemas.ImportOut.model_validate(result.as_dict()).model_dump(
        mode="json", exclude_none=True
    )


@bp.post("/people/import")
def import_people():
    return _import_file(bulk.PEOPLE)


@bp.post("/institutions/import")
def import_institutions():
    return _import_file(bulk.INSTITUTIONS)


# --- free/busy import ------------------------------------------------------------------


def _check_ics_url(url: str | None) -> None:
    """Refuse an ICS URL naming a private or loopback address literally (section 14)."""
    if url is not None:
        check_url_host(url, allow_private=current_app.config["FORUM_ALLOW_PRIVATE_URLS"])


@bp.post("/people/<int:person_id>/availability/ics")
def import_availability_ics(person_id: int):
    person = services.get_person(person_id)
    # An uploaded calendar is the person's own times: as PUT availability, for those who
    # may change the person.
    services.check_can_change(current_organiser(), person)
    if request.mimetype != "text/calendar":
        raise UnsupportedMediaType(
            _("send the .ics file itself as the request body, with Content-Type: text/calendar")
        )
    ics_bytes = request.get_data(cache=False)
    if not ics_bytes.strip():
        raise ValidationFailed({"ics": _("is empty: send the .ics file as the request body")})
    window_start, window_end = imports.default_window(now_utc())
    before = services.person_snapshot(person)
    imports.import_busy(
        person,
        ics_bytes,
        window_start=window_start,
        window_end=window_end,
        source=imports.SOURCE_UPLOAD,
    )
    services.record_changes(
        person, before, services.person_snapshot(person), actor=current_organiser()
    )
    db.session.commit()
    return person_out(person)


@bp.post("/people/<int:person_id>/availability/refresh")
def refresh_availability(person_id: int):
    # Any organiser may refresh: the times come from the address set by those who may
    # change the person, and the refresh is recorded.
    person = services.get_person(person_id)
    window_start, window_end = imports.default_window(now_utc())
    before = services.person_snapshot(person)
    imports.refresh_from_url(
        person,
        window_start=window_start,
        window_end=window_end,
        allow_private=current_app.config["FORUM_ALLOW_PRIVATE_URLS"],
        timeout=current_app.config["FORUM_FETCH_TIMEOUT_SECONDS"],
        max_bytes=current_app.config["FORUM_ICS_MAX_BYTES"],
    )
    services.record_changes(
        person, before, services.person_snapshot(person), actor=current_organiser()
    )
    db.session.commit()
    return person_out(person)
