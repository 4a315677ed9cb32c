"""Request and response schemas of API v1: they validate input and generate the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated
from typing import Any
from typing import ClassVar
from typing import Generic
from typing import Literal
from typing import TypeVar

import pytz
from dateutil.rrule import rrulestr
from pydantic import AfterValidator
from pydantic import BaseModel
from pydantic import BeforeValidator
from pydantic import ConfigDict
from pydantic import EmailStr
from pydantic import Field
from pydantic import PlainValidator
from pydantic import RootModel
from pydantic import WithJsonSchema
from pydantic import model_validator

from forum import i18n
from forum.api import MAX_ID
from forum.core import recurrence
from forum.core import text
from forum.core import times
from forum.core.errors import ValidationFailed
from forum.directory import bulk
from forum.events.models import EVENT_KINDS
from forum.events.models import EVENT_STATUSES
from forum.events.models import MEETING_STATUSES
from forum.events.models import PROVIDERS
from forum.events.models import ROLES
from forum.events.models import RSVP_STATES
from forum.events.models import SESSION_STATUSES
from forum.events.planning import MAX_LIMIT
from forum.events.planning import MAX_PARTICIPANTS
from forum.events.planning import MAX_WEIGHT
from forum.events.planning import window_bound
from forum.i18n import _
from forum.notifications.models import EMAIL_STATUSES
from forum.reminders.reminders import MAX_LEAD_MINUTES
from forum.reminders.reminders import MAX_LEADS
from forum.reminders.reminders import MIN_LEAD_MINUTES
from forum.scheduling.model import CATEGORIES
from forum.scheduling.model import DEFAULT_COSTS
from forum.scheduling.model import MAX_COST
from forum.scheduling.model import STEPS
from forum.webhooks.outbound import EVENT_TYPES as WEBHOOK_EVENT_TYPES

MAX_SESSION_MINUTES = 24 * 60
# The rrule column is VARCHAR(500): PostgreSQL refuses longer values.
MAX_RRULE_LENGTH = 500
# Instants far from now overflow Python's datetime range once shifted by a zone or a
# duration (year 9999 + 2 hours); nobody books a conference outside these years.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


def _no_line_breaks(value: str) -> str:
    # Text ends up in iCalendar properties and email headers, where a line break would
    # let input write its own properties (forum.core.text: no control characters either).
    if (found := text.problem(value)) is not None:
        raise ValueError(found)
    return value


def _clean(check: Callable[[str], str]) -> BeforeValidator:
    # Runs before the type's own checks (put it after Field in Annotated), so that lengths
    # count the text as stored, stripped: a name of spaces is "at least 1 character".
    return BeforeValidator(lambda value: check(value) if isinstance(value, str) else value)


# forum.core.text: the one rule for names, titles (single line) and descriptions.
CleanLine = _clean(text.clean_line)
CleanText = _clean(text.clean_text)


def _country(value: object) -> str:
    if not isinstance(value, str) or value not in pytz.country_names:
        raise ValueError(_("must be an ISO 3166-1 alpha-2 country code in capitals, e.g. CN"))
    return value


def _date(value: object) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(_("must be a date such as 2027-01-18"))
    return dt.date.fromisoformat(value)


def _hhmm(value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d|24:00", value):
        raise ValueError(_("must be a local time HH:MM between 00:00 and 24:00"))
    return value


def _rrule(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(_("must be an RFC 5545 RRULE such as FREQ=WEEKLY;COUNT=10"))
    if len(value) > MAX_RRULE_LENGTH:
        raise ValueError(_("must be at most %(count)s characters", count=MAX_RRULE_LENGTH))
    _no_line_breaks(value)
    rule = value.removeprefix("RRULE:")
    if not rule.startswith("FREQ=") and ";FREQ=" not in rule:
        raise ValueError(_("must contain FREQ, e.g. FREQ=WEEKLY;COUNT=10"))
    if "DTSTART" in rule.upper():
        raise ValueError(_("must not contain DTSTART: the session's start is the first occurrence"))
    try:
        rrulestr(rule, dtstart=dt.datetime(2020, 1, 1))
    except (ValueError, TypeError) as exc:
        raise ValueError(_("is not a valid RRULE: %(reason)s", reason=exc)) from None
    return rule


def _distinct_leads(value: list[int]) -> list[int]:
    if len(set(value)) != len(value):
        raise ValueError(_("must not name the same number of minutes twice"))
    return sorted(value, reverse=True)


def _plausible_year(value: dt.datetime) -> dt.datetime:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(
            _(
                "must be between the years %(earliest)s and %(latest)s",
                earliest=EARLIEST_YEAR,
                latest=LATEST_YEAR,
            )
        )
    return value


SingleLine = Annotated[str, CleanLine]
ReminderMinutes = Annotated[
    list[Annotated[int, Field(ge=MIN_LEAD_MINUTES, le=MAX_LEAD_MINUTES)]],
    Field(
        max_length=MAX_LEADS,
        description="how many minutes before each occurrence invitees are reminded, e.g. "
        "[1440, 60] (a day and an hour: the default); [] sends no reminders",
    ),
    AfterValidator(_distinct_leads),
]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Annotated[str, Field(min_length=1, max_length=200), CleanLine]
Title = Annotated[str, Field(min_length=1, max_length=300), CleanLine]
Description = Annotated[str, Field(max_length=20000), CleanText]
IcsUrl = Annotated[str, Field(max_length=2000, pattern=r"^(https?|webcal)://\S+$"), CleanLine]
JoinUrl = Annotated[str, Field(max_length=2000, pattern=r"^https://\S+$"), CleanLine]
ZoneName = Annotated[
    str,
    PlainValidator(times.check_zone_name),
    WithJsonSchema({"type": "string", "description": "IANA time zone", "example": "Asia/Shanghai"}),
]
Locale = Annotated[
    str,
    PlainValidator(i18n.check_locale),
    WithJsonSchema(
        {
            "type": "string",
            "enum": list(i18n.LANGUAGES),
            "description": "the language of their pages, emails and calendar text",
            "example": "zh-Hans",
        }
    ),
]
Country = Annotated[
    str,
    PlainValidator(_country),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{2}$", "example": "CN"}),
]
Instant = Annotated[
    dt.datetime,
    PlainValidator(times.parse_instant),
    AfterValidator(_plausible_year),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "example": "2020-03-10T13:00:00Z",
            "description": "ISO 8601 instant with an offset or Z",
        }
    ),
]
LocalDateTime = Annotated[
    dt.datetime,
    PlainValidator(times.parse_local),
    AfterValidator(_plausible_year),
    WithJsonSchema(
        {
            "type": "string",
            "example": "2020-03-10T21:00",
            "description": "local date-time without offset, read in `timezone`",
        }
    ),
]
Date = Annotated[
    dt.date,
    PlainValidator(_date),
    WithJsonSchema({"type": "string", "format": "date", "example": "2027-01-18"}),
]
LocalTime = Annotated[
    str, PlainValidator(_hhmm), WithJsonSchema({"type": "string", "example": "09:00"})
]
RRule = Annotated[
    str,
    PlainValidator(_rrule),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": MAX_RRULE_LENGTH,
            "example": "FREQ=WEEKLY;BYDAY=TU;COUNT=10",
        }
    ),
]
ShortName = Annotated[str, Field(max_length=50), CleanLine]
Subdivision = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,3}$")]
RoleTitle = Annotated[str, Field(max_length=200), CleanLine]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Role = Literal[ROLES]  # type: ignore[valid-type]


def _ranges_in_order(hours: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
    cleaned: dict[str, list[list[str]]] = {}
    for day in times.WEEKDAYS:
        ranges = sorted(hours.get(day, []))
        for start, end in ranges:
            if end <= start:
                raise ValueError(
                    _(
                        "%(day)s: %(start)s-%(end)s ends before it starts; "
                        "split a range that crosses midnight over two days",
                        day=day,
                        start=start,
                        end=end,
                    )
                )
        for (_start, end), (next_start, _end) in zip(ranges, ranges[1:], strict=False):
            if next_start < end:
                raise ValueError(_("%(day)s: ranges overlap", day=day))
        cleaned[day] = [[start, end] for start, end in ranges]
    return cleaned


# Each range is a [start, end] pair, declared as a two-item list (not a tuple) because
# _ranges_in_order returns lists: a tuple type made every model_dump warn.
HoursRange = Annotated[list[LocalTime], Field(min_length=2, max_length=2)]
WeeklyHours = Annotated[
    dict[Weekday, list[HoursRange]],
    AfterValidator(_ranges_in_order),
    Field(
        description="local ranges per weekday; a day left out has no range",
        examples=[{"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "sat": []}],
    ),
]


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Patch(Schema):
    """A partial update: a field left out stays as it is; null clears only a nullable field."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required_fields(self) -> Patch:
        refused = {
            name: _("must not be null; leave the field out to keep its value")
            for name in sorted(self.model_fields_set - self.nullable)
            if getattr(self, name) is None
        }
        if refused:
            raise ValidationFailed(refused)
        return self


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


T = TypeVar("T")


class Page(Out, Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int


# --- institutions ------------------------------------------------------------------------


class BlackoutIn(Schema):
    start_date: Date
    end_date: Date
    reason: Annotated[str, Field(max_length=200), CleanLine] = ""

    @model_validator(mode="after")
    def _in_order(self) -> BlackoutIn:
        if self.end_date < self.start_date:
            raise ValueError(_("end_date is before start_date"))
        return self


class InstitutionCreate(Schema):
    name: Name
    short_name: ShortName = ""
    country: Country
    timezone: ZoneName | None = Field(
        None, description="default: the country's zone when it has only one"
    )
    subdivision: Subdivision | None = None
    blackouts: list[BlackoutIn] = Field(default_factory=list, max_length=200)


class InstitutionUpdate(Patch):
    nullable = frozenset({"subdivision"})

    name: Name | None = None
    short_name: ShortName | None = None
    country: Country | None = None
    timezone: ZoneName | None = None
    subdivision: Subdivision | None = None
    blackouts: list[BlackoutIn] | None = Field(None, max_length=200)


class BlackoutOut(Out):
    start_date: str
    end_date: str
    reason: str


class InstitutionOut(Out):
    id: int
    name: str
    short_name: str
    country: str
    timezone: str
    subdivision: str | None
    blackouts: list[BlackoutOut]
    created_by_id: int | None = Field(
        description="the organiser who added it: they, the co-organisers of their events and "
        "administrators may change it (null: administrators only)"
    )


# --- people ------------------------------------------------------------------------------


class BusyIn(Schema):
    start: Instant
    end: Instant

    @model_validator(mode="after")
    def _in_order(self) -> BusyIn:
        if self.end <= self.start:
            raise ValueError(_("end must be after start"))
        return self


class AvailabilityIn(Patch):
    nullable = frozenset({"ics_url"})

    working_hours: WeeklyHours | None = None
    acceptable_hours: WeeklyHours | None = None
    busy: list[BusyIn] | None = Field(None, max_length=5000)
    ics_url: IcsUrl | None = None


class PersonCreate(AvailabilityIn):
    nullable = frozenset({"ics_url", "institution_id", "timezone"})

    name: Name
    email: EmailStr
    institution_id: Id | None = None
    timezone: ZoneName | None = Field(None, description="default: the institution's zone")
    role_title: RoleTitle = ""
    reminders: bool = Field(True, description="false: no reminder emails before sessions")
    locale: Locale | None = Field(
        None,
        description="default: the language of the institution's country where one is clear "
        "(CN zh-Hans, JP ja, FR fr, QA ar ...), else en",
    )


class PersonUpdate(AvailabilityIn):
    nullable = frozenset({"ics_url", "institution_id"})

    name: Name | None = None
    email: EmailStr | None = None
    institution_id: Id | None = None
    timezone: ZoneName | None = None
    role_title: RoleTitle | None = None
    reminders: bool | None = None
    locale: Locale | None = None


class BusyOut(Out):
    start: str
    end: str


class PersonOut(Out):
    id: int
    name: str
    email: str
    institution_id: int | None
    timezone: str
    role_title: str
    working_hours: dict[str, list[list[str]]]
    acceptable_hours: dict[str, list[list[str]]]
    busy: list[BusyOut]
    ics_url: str | None
    reminders: bool = Field(description="whether they get reminder emails before sessions")
    locale: str = Field(description="the language of their pages, emails and calendar text")
    created_by_id: int | None = Field(
        description="the organiser who added them: they, the co-organisers of their events and "
        "administrators may change them (null: administrators only)"
    )


# --- bulk directory import -------------------------------------------------------------


class InstitutionImportRow(Schema):
    """One institution of an import: matched by name and country, else created."""

    name: Name
    short_name: ShortName | None = None
    country: Country
    timezone: ZoneName | None = Field(
        None, description="new institutions: default the country's zone when it has only one"
    )
    subdivision: Subdivision | None = None


class PersonImportRow(Schema):
    """One person of an import: matched by email (whatever its case), else created.

    A field left out (or null) keeps a matched person's value, and takes the default of
    POST /people for a new one.
    """

    name: Name
    email: EmailStr
    institution_id: Id | None = None
    institution: Name | None = Field(
        None, description="instead of institution_id: the institution's short name or name"
    )
    timezone: ZoneName | None = Field(None, description="default: the institution's zone")
    role_title: RoleTitle | None = None
    locale: Locale | None = Field(
        None, description="default: the language of the institution's country, else en"
    )
    working_hours: WeeklyHours | None = Field(
        None, description="default: 09:00-18:00 on the working days of the institution's country"
    )
    acceptable_hours: WeeklyHours | None = Field(None, description="default: 07:00-22:00 daily")


class InstitutionImport(RootModel[list[InstitutionImportRow]]):
    """A JSON list of institutions (or a CSV file: name,short_name,country,timezone,subdivision)."""

    root: list[InstitutionImportRow] = Field(min_length=1, max_length=bulk.MAX_IMPORT_ROWS)


class PeopleImport(RootModel[list[PersonImportRow]]):
    """A JSON list of people (or a CSV file: name,email,institution,timezone,role_title,
    working_hours,acceptable_hours,locale)."""

    root: list[PersonImportRow] = Field(min_length=1, max_length=bulk.MAX_IMPORT_ROWS)


class ImportRowOut(Out):
    line: int | None = Field(None, description="CSV: the row's line (the header is line 1)")
    index: int | None = Field(None, description="JSON: the row's index in the list")
    id: int
    result: Literal["created", "updated", "unchanged"]


class ImportOut(Out):
    created: int
    updated: int
    unchanged: int
    rows: list[ImportRowOut] = Field(description="every row, in the file's order")


# --- events ------------------------------------------------------------------------------


class EventCreate(Schema):
    title: Title
    kind: Literal[EVENT_KINDS]  # type: ignore[valid-type]
    description: Description = ""
    timezone: ZoneName | None = Field(None, description="home zone; default: the organiser's")
    default_provider: Literal[PROVIDERS] = "jitsi"  # type: ignore[valid-type]
    reminder_minutes: ReminderMinutes | None = None
    organisers: list[EmailStr] = Field(
        default_factory=list, description="emails of co-organisers (existing accounts)"
    )


class EventUpdate(Patch):
    title: Title | None = None
    kind: Literal[EVENT_KINDS] | None = None  # type: ignore[valid-type]
    description: Description | None = None
    timezone: ZoneName | None = None
    default_provider: Literal[PROVIDERS] | None = None  # type: ignore[valid-type]
    status: Literal[EVENT_STATUSES] | None = None  # type: ignore[valid-type]
    reminder_minutes: ReminderMinutes | None = None
    organisers: list[EmailStr] | None = None


class OrganiserOut(Out):
    id: int
    name: str
    email: str
    role: Literal["owner", "co-organiser"]


class EventOut(Out):
    id: int
    title: str
    kind: str
    description: str
    timezone: str
    default_provider: str
    status: str
    reminder_minutes: list[int] = Field(
        description="minutes before each occurrence that invitees are reminded, longest first"
    )
    organisers: list[OrganiserOut]
    calendar_url: str = Field(
        description="secret link: all sessions of the event as an iCalendar file (PUBLISH)"
    )


class ParticipantAdd(Schema):
    person_id: Id | None = None
    institution_id: Id | None = Field(None, description="add every person of the institution")
    role: Role = "participant"
    required: bool = True

    @model_validator(mode="after")
    def _one_target(self) -> ParticipantAdd:
        if (self.person_id is None) == (self.institution_id is None):
            raise ValidationFailed(
                {"person_id": _("give exactly one of person_id and institution_id")}
            )
        return self


class ParticipantOut(Out):
    person_id: int
    name: str
    email: str
    institution_id: int | None
    country: str | None
    timezone: str
    role: str
    required: bool


# --- sessions ----------------------------------------------------------------------------


class InviteeIn(Schema):
    person_id: Id
    role: Role = "participant"
    required: bool = True


class SessionTimes(Schema):
    start: Instant | None = None
    local_start: LocalDateTime | None = None
    timezone: ZoneName | None = Field(
        None, description="anchor zone; with local_start, the zone it is read in"
    )
    # An int from 0 to 1, not Literal[0, 1]: a literal would also take true and 1.0.
    fold: Annotated[int, Field(ge=0, le=1)] | None = Field(
        None, description="for a local time that happens twice: 0 the first, 1 the second"
    )
    duration_minutes: Annotated[int, Field(gt=0, le=MAX_SESSION_MINUTES)] | None = None
    end: Instant | None = None

    @model_validator(mode="after")
    def _one_way_each(self) -> SessionTimes:
        # ValidationFailed is not a ValueError, so it leaves pydantic as it is, naming
        # the field rather than the whole body.
        if self.start is not None and self.local_start is not None:
            raise ValidationFailed(
                {"local_start": _("give either start or local_start with timezone, not both")}
            )
        if self.duration_minutes is not None and self.end is not None:
            raise ValidationFailed({"end": _("give either end or duration_minutes, not both")})
        return self


class SessionCreate(SessionTimes):
    title: Title
    rrule: RRule | None = None
    provider: Literal[PROVIDERS] | None = None  # type: ignore[valid-type]
    join_url: JoinUrl | None = Field(
        None, description="the meeting link, for provider manual (https)"
    )
    invitees: list[InviteeIn] | None = Field(
        None, description="default: the event's participants", max_length=2000
    )
    allow_conflicts: bool = False
    skip_invalid_local_times: bool = Field(
        False,
        description=(
            "leave out, as EXDATEs, the dates of the series whose local time does not exist "
            "(clocks jump forward) or happens twice (clocks go back) in its zone; without it "
            "such a series is refused, listing those dates"
        ),
    )


class SessionUpdate(SessionTimes, Patch):
    # Null picks the other way of giving a time (start or local_start, end or duration);
    # a null rrule makes the session a one-off.
    nullable = frozenset(
        {"start", "local_start", "timezone", "fold", "duration_minutes", "end", "rrule"}
    )

    title: Title | None = None
    rrule: RRule | None = None
    allow_conflicts: bool = False
    skip_invalid_local_times: bool = Field(
        False,
        description=(
            "leave out, as EXDATEs, the dates of the series whose local time does not exist "
            "(clocks jump forward) or happens twice (clocks go back) in its zone; without it "
            "such a series is refused, listing those dates"
        ),
    )


class HostChangeOut(Out):
    at: str = Field(description="when the meeting changed host (UTC)")
    from_host: str
    to_host: str
    reason: str


class MeetingOut(Out):
    provider: str
    join_url: str | None
    passcode: str | None
    status: Literal[MEETING_STATUSES]  # type: ignore[valid-type]
    error: str | None
    host_account: str | None = Field(description="the host user the meeting belongs to")
    host_url: str | None = Field(description="secret: starts the meeting as host")
    recurrence_note: str | None = Field(
        None,
        description=(
            "how the provider repeats the series when it cannot repeat it as the rule says "
            "(e.g. one Zoom meeting with no fixed time, whose one link serves every date)"
        ),
    )
    host_changes: list[HostChangeOut] = Field(
        default_factory=list,
        description=(
            "the meeting's latest changes of host: its host had become busy at its time, or "
            "had left the account's pool, when it was rescheduled, retried or opened"
        ),
    )


class SessionOut(Out):
    id: int
    event_id: int
    title: str
    start: str
    end: str
    timezone: str
    local_start: str
    local_end: str
    duration_minutes: int
    status: Literal[SESSION_STATUSES]  # type: ignore[valid-type]
    sequence: int
    ical_uid: str
    rrule: str | None
    exdates: list[str]
    meeting: MeetingOut | None
    calendar_url: str = Field(description="secret link: this session as an .ics download")


class OccurrenceUpdate(SessionTimes, Patch):
    nullable = frozenset({"start", "local_start", "timezone", "fold", "duration_minutes", "end"})

    title: Title | None = None
    allow_conflicts: bool = False


class OccurrenceOut(Out):
    recurrence_id: str = Field(description="the occurrence's original start (RECURRENCE-ID)")
    start: str
    end: str
    local_start: str = Field(description="in the session's anchor zone")
    title: str
    status: Literal["scheduled", "moved", "cancelled"]


class InvitationEmailOut(Out):
    status: Literal[EMAIL_STATUSES]  # type: ignore[valid-type]
    error: str | None = Field(description="why the last attempt failed, for a person to read")
    attempts: int
    sent_at: str | None
    next_attempt_at: str | None = Field(description="when it is tried (again), if it waits")


class InvitationOut(Out):
    person_id: int
    name: str
    email: str
    role: str
    required: bool
    rsvp: Literal[RSVP_STATES]  # type: ignore[valid-type]
    rsvp_at: str | None
    email_status: InvitationEmailOut | None = Field(
        description="the newest email to this invitee about the session (null: none yet)"
    )


class ErrorBody(Out):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(Out):
    error: ErrorBody


class HealthCheckOut(Out):
    status: str
    ms: float
    # Redis only, on a failure: the settings that point at the server that did not answer.
    settings: list[str] | None = None


class HealthOut(Out):
    status: str
    database: str
    # Present when a setting points at Redis (broker, rate limits, cache).
    redis: str | None = None
    checks: dict[str, HealthCheckOut] = {}
    # On 503: the checks that failed ("database", "redis").
    failed: list[str] | None = None


# --- scheduling --------------------------------------------------------------------------


def _step(value: int) -> int:
    if value not in STEPS:
        raise ValueError(_("must be one of %(values)s", values=", ".join(str(s) for s in STEPS)))
    return value


def _site_hours(value: list[int]) -> list[int]:
    if value[0] >= value[1]:
        raise ValueError(_("earliest must be before latest"))
    return value


WindowBound = Annotated[
    dt.date | dt.datetime,
    PlainValidator(window_bound),
    WithJsonSchema(
        {
            "type": "string",
            "examples": ["2027-03-01", "2027-03-01T08:00:00Z"],
            "description": "a date (local midnight in `timezone`; as window_end, the whole "
            "day is included) or an ISO 8601 instant with an offset or Z",
        }
    ),
]
MAX_SEARCH_IDS = 2000
SearchIds = Annotated[list[Id], Field(max_length=MAX_SEARCH_IDS)]
HourOfDay = Annotated[int, Field(ge=0, le=24)]


class PeopleSelection(Schema):
    """Who a scheduling request is about: people, whole institutions, or an event's people."""

    person_ids: SearchIds = Field(default_factory=list, description="required people")
    institution_ids: SearchIds = Field(
        default_factory=list, description="every person of these institutions, required"
    )
    optional_person_ids: SearchIds = Field(
        default_factory=list, description="optional people (also overrides event or institution)"
    )
    event_id: Id | None = Field(
        None, description="the event's participants, each with their required flag"
    )


StepMinutes = Annotated[
    int, AfterValidator(_step), WithJsonSchema({"type": "integer", "enum": list(STEPS)})
]


class SearchRules(PeopleSelection):
    duration_minutes: Annotated[int, Field(ge=1, le=MAX_SESSION_MINUTES)]
    step_minutes: StepMinutes = 30
    skip_weekends: bool = False
    skip_holidays: bool = True
    weights: dict[Id, Annotated[int, Field(ge=1, le=MAX_WEIGHT)]] = Field(
        default_factory=dict,
        max_length=MAX_PARTICIPANTS,
        description="person_id: 1-10, how much that person's inconvenience counts",
    )
    site_hours: dict[
        Id,
        Annotated[list[HourOfDay], Field(min_length=2, max_length=2), AfterValidator(_site_hours)],
    ] = Field(
        default_factory=dict,
        max_length=MAX_PARTICIPANTS,
        description="institution_id: [earliest, latest] local hours the site can meet",
        examples=[{"12": [8, 20]}],
    )


class SearchRequest(SearchRules):
    window_start: WindowBound
    window_end: WindowBound
    timezone: ZoneName | None = Field(
        None, description="zone the window's dates are read in; default: the event's, else UTC"
    )
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 10
    # The names and ranges are checked by the search itself, so that a wrong one is named
    # in the same words as everywhere else ("costs.lunch: unknown; the costs are ...").
    costs: dict[Annotated[str, Field(max_length=20)], int] = Field(
        default_factory=dict,
        max_length=len(DEFAULT_COSTS),
        description=(
            f"the cost of each fact (whole numbers from 0 to {MAX_COST}), replacing the "
            "defaults given; a participant's cost in a "
            "slot is their hour class's cost (working, early, late, night) plus their day's "
            "(weekend, holiday, blackout: the costliest that holds), plus busy, times their "
            f"weight. Defaults: {', '.join(f'{k} {v}' for k, v in DEFAULT_COSTS.items())}"
        ),
        examples=[{"night": 10, "weekend": 6}],
    )
    explain: Literal["sites", "people", "none"] = Field(
        "sites",
        description=(
            "sites: per slot, every site's (institution, zone) and country's local time, "
            "facts, cost and head count; people: also every participant; none: scores only"
        ),
    )


class RotationRequest(SearchRules):
    first_date: Date = Field(description="the first occurrence's local date in `timezone`")
    occurrences: Annotated[int, Field(ge=1, le=52)]
    interval_days: Annotated[int, Field(ge=1, le=31)] = 7
    timezone: ZoneName | None = Field(
        None, description="the series' anchor zone; default: the event's, else UTC"
    )


class DstPreviewRequest(PeopleSelection):
    local_start: LocalDateTime
    timezone: ZoneName = Field(description="the series' anchor zone")
    fold: Annotated[int, Field(ge=0, le=1)] | None = None
    duration_minutes: Annotated[int, Field(ge=1, le=MAX_SESSION_MINUTES)] = 60
    rrule: RRule

    @model_validator(mode="after")
    def _rule_within_bounds(self) -> DstPreviewRequest:
        # The bounds of a booked series (forum.core.recurrence), so that a preview shows
        # only what could be booked: 422 naming rrule otherwise.
        recurrence.check_rule(self.rrule, local_start=self.local_start)
        return self


Category = Literal[CATEGORIES]  # type: ignore[valid-type]


class SlotParticipantOut(Out):
    person_id: int
    name: str
    site: int = Field(description="the participant's site, an index into the answer's sites")
    institution_id: int | None
    country: str | None
    timezone: str
    local_start: str
    local_end: str
    weekday: str
    category: Category = Field(description="the most serious of categories (the costliest)")
    categories: list[Category] = Field(description="every fact that holds, most serious first")
    cost: int
    required: bool
    available: bool


class SiteOut(Out):
    site: int = Field(description="its index in this list, as slots refer to it")
    label: str = Field(
        description="the institution's name, with its zone and head count when its people "
        "are in several zones or keep other hours (a site per group)"
    )
    name: str
    institution_id: int | None
    person_id: int | None = Field(description="for someone of no institution")
    country: str | None
    timezone: str
    people: int


class SlotSiteOut(Out):
    site: int = Field(description="an index into the answer's sites")
    local_start: str
    local_end: str
    weekday: str
    categories: list[Category] = Field(
        description="every fact that holds for the site's people (busy if one of them is), "
        "the most serious (costliest) first"
    )
    worst_cost: int = Field(description="the highest cost among the site's people")
    busy: int = Field(description="how many of the site's people are busy")


class SlotCountryOut(Out):
    country: str
    categories: list[Category] = Field(description="every fact at one of its sites, worst first")
    worst_cost: int


class CountryOut(Out):
    country: str
    name: str
    institutions: int
    people: int


class SlotOut(Out):
    start: str
    end: str
    required_available: int
    required_total: int
    feasible: bool = Field(description="every required participant can attend")
    worst_cost: int
    total_cost: int
    summary: str | None = Field(None, description="with explain sites or people")
    worst_off: list[int] | None = Field(None, description="the sites that pay the most")
    institutions: list[SlotSiteOut] | None = Field(
        None, description="every site, in the order of the answer's sites (explain sites or people)"
    )
    countries: list[SlotCountryOut] | None = None
    participants: list[SlotParticipantOut] | None = Field(None, description="with explain people")


class SearchOut(Out):
    slots: list[SlotOut] = Field(description="best first")
    sites: list[SiteOut] | None = Field(None, description="with explain sites or people")
    countries: list[CountryOut] | None = Field(None, description="the sites' countries")
    window_start: str
    window_end: str
    timezone: str
    step_minutes: int
    duration_minutes: int
    explain: str
    costs: dict[str, int] = Field(description="the costs the search used")


class RotationSiteOut(Out):
    site: str = Field(description="institution:<id>, or person:<id> for someone without one")
    name: str
    country: str | None
    cost: int
    category: Category = Field(description="the most serious of categories")
    categories: list[Category] = Field(
        description="every fact that holds for the site's worst-off person"
    )
    local_start: str
    weekday: str


class RotationOccurrenceOut(Out):
    start: str
    end: str
    local_start: str = Field(description="in the anchor zone")
    weekday: str
    feasible: bool
    sites: list[RotationSiteOut]


class RotationTotalOut(Out):
    site: str
    name: str
    country: str | None
    total: int
    per_occurrence: list[int]
    nights: int


class FixedSiteOut(Out):
    site: str
    name: str
    total: int


class FixedTimeOut(Out):
    local_time: str
    max_burden: int
    total_burden: int
    sites: list[FixedSiteOut]


class RotationOut(Out):
    timezone: str
    duration_minutes: int
    max_burden: int = Field(description="the largest total any site carries")
    total_burden: int
    occurrences: list[RotationOccurrenceOut]
    sites: list[RotationTotalOut]
    fixed: FixedTimeOut | None = Field(description="the best single time of day, to compare")


class DstChangeOut(Out):
    start: str
    anchor_local_start: str
    local_start: str
    weekday: str
    shift_minutes: int = Field(description="later (+) or earlier (-) than at the first occurrence")


class ClockChangeOut(Out):
    zone: str
    whose: Literal["site", "series"] = Field(
        description="the site's own clocks, or those of the series' anchor zone"
    )
    at: str = Field(description="the instant of the change (UTC)")
    local_before: str = Field(description="the zone's wall clock just before: 02:00")
    local_after: str = Field(description="and just after: 03:00")
    weekday: str
    minutes: int = Field(description="+60 when clocks go forward, -60 when they go back")


class DstStretchOut(Out):
    first: DstChangeOut = Field(description="the first occurrence that moves")
    last: DstChangeOut = Field(description="the last of those moved by the same minutes")
    occurrences: int
    shift_minutes: int
    clock_changes: list[ClockChangeOut] = Field(
        description="the clock changes since the occurrence before the first one"
    )
    ended_by: list[ClockChangeOut] = Field(
        description="the clock changes after the last one, before the next occurrence"
    )


class DstSiteOut(Out):
    site: str
    name: str
    timezone: str
    first_local_start: str
    changes: list[DstChangeOut]
    stretches: list[DstStretchOut]


class DstPreviewOut(Out):
    timezone: str
    start: str
    rrule: str
    sites: list[DstSiteOut]


# --- video provider accounts -------------------------------------------------------------------

ProviderUrl = Annotated[str, Field(max_length=500, pattern=r"^https?://[^\s/?#]+\S*$"), CleanLine]
Setting = Annotated[str, Field(min_length=1, max_length=500), CleanLine]


HostList = list[Annotated[str, Field(min_length=1, max_length=254), CleanLine]]


class ProviderAccountCreate(Schema):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")]
    kind: Literal[PROVIDERS]  # type: ignore[valid-type]
    account_id: Setting | None = None
    client_id: Setting | None = None
    client_secret: Annotated[str, Field(min_length=1, max_length=10000)] | None = Field(
        None, description="stored encrypted; never shown again"
    )
    tenant_id: Setting | None = None
    token: Annotated[str, Field(min_length=1, max_length=10000)] | None = None
    webhook_secret: Setting | None = None
    hosts: HostList = Field(default_factory=list, max_length=200)
    api_base_url: ProviderUrl | None = None
    oauth_url: ProviderUrl | None = None
    jitsi_base_url: ProviderUrl | None = None
    options: dict[str, Annotated[str, Field(max_length=10000)]] | None = None


class ProviderAccountUpdate(Schema):
    hosts: HostList = Field(
        max_length=200,
        description=(
            "the new pool of host users; meetings opened on a host that leaves keep it, those "
            "still to open move to a free host when retried"
        ),
    )


class ProviderAccountOut(Out):
    id: int
    name: str
    kind: str
    account_id: str | None
    client_id: str | None
    tenant_id: str | None
    api_base_url: str | None
    oauth_url: str | None
    jitsi_base_url: str | None
    hosts: list[str]
    has_client_secret: bool
    has_token: bool
    has_webhook_secret: bool
    last_check_at: str | None
    last_check_problems: list[str]


# --- provider deliveries and attendance -----------------------------------------------------------


class InboxEntryOut(Out):
    id: int
    provider: str
    event: str
    external_id: str | None
    session_id: int | None
    status: str
    attempts: int
    error: str | None
    received_at: str
    processed_at: str | None


class StayOut(Out):
    joined: str
    left: str | None


class AttendanceOut(Out):
    person_id: int | None = Field(description="null for a guest (not invited)")
    name: str
    email: str | None
    guest: bool
    minutes: int
    stays: list[StayOut]


# --- outbound webhooks ---------------------------------------------------------------------------

WebhookSecret = Annotated[
    str,
    Field(
        pattern=r"^[\x21-\x7e]{24,200}$",
        description="24 to 200 printable ASCII characters, no spaces; generated when left out",
    ),
]


class WebhookSubscriptionCreate(Schema):
    url: Annotated[str, Field(min_length=1, max_length=2000), CleanLine] = Field(
        description="http(s) URL that receives a POST per event; no user name or password"
    )
    event_types: list[Literal[WEBHOOK_EVENT_TYPES]] = Field(  # type: ignore[valid-type]
        min_length=1, max_length=len(WEBHOOK_EVENT_TYPES)
    )
    secret: WebhookSecret | None = None


class WebhookSubscriptionOut(Out):
    id: int
    url: str
    event_types: list[str]
    active: bool
    created: str
    consecutive_failures: int
    failing_since: str | None = Field(description="first failure since the last success")
    disabled_at: str | None
    disabled_reason: str | None


class WebhookSubscriptionCreatedOut(WebhookSubscriptionOut):
    secret: str = Field(description="shown this once: keep it to check Forum-Signature")


class DeliveryAttemptOut(Out):
    number: int
    at: str
    status_code: int | None = Field(description="null when no answer came")
    duration_ms: int
    error: str | None


class WebhookDeliveryOut(Out):
    id: int
    event_id: str
    type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created: str
    delivered_at: str | None
    next_attempt_at: str | None
    payload: dict[str, Any] = Field(description="the body sent")
    attempt_log: list[DeliveryAttemptOut]
