"""Request and response schemas of the polls API (SPEC section 15)."""

from __future__ import annotations

from typing import Annotated
from typing import Literal

from pydantic import Field
from pydantic import model_validator

from forum.api.schemas import MAX_SESSION_MINUTES
from forum.api.schemas import CleanText
from forum.api.schemas import Id
from forum.api.schemas import Instant
from forum.api.schemas import InviteeIn
from forum.api.schemas import LocalDateTime
from forum.api.schemas import Out
from forum.api.schemas import Schema
from forum.api.schemas import SearchRules
from forum.api.schemas import SessionOut
from forum.api.schemas import Title
from forum.api.schemas import WindowBound
from forum.api.schemas import ZoneName
from forum.core.errors import ValidationFailed
from forum.events.models import PROVIDERS
from forum.i18n import _
from forum.polls.models import ANSWERS
from forum.polls.models import MAX_OPTIONS
from forum.polls.models import POLL_SOURCES
from forum.polls.models import POLL_STATUSES
from forum.polls.services import MAX_COMMENT

Answer = Literal[ANSWERS]  # type: ignore[valid-type]


class PollOptionIn(Schema):
    """A candidate time: an instant, or a local date-time read in a zone."""

    start: Instant | None = None
    local_start: LocalDateTime | None = None
    timezone: ZoneName | None = Field(None, description="the zone local_start is read in")
    fold: Annotated[int, Field(ge=0, le=1)] | None = Field(
        None, description="for a local time that happens twice: 0 the first, 1 the second"
    )

    @model_validator(mode="after")
    def _one_way(self) -> PollOptionIn:
        if (self.start is None) == (self.local_start is None):
            raise ValidationFailed(
                {"start": _("give either start (an instant) or local_start with timezone")}
            )
        return self


class PollSearchIn(SearchRules):
    """The slot search's fields; the poll's duration is the search's."""

    duration_minutes: Annotated[int, Field(ge=1, le=MAX_SESSION_MINUTES)] | None = None  # type: ignore[assignment]
    window_start: WindowBound | None = Field(
        None, description="default: three days ahead in the event's zone"
    )
    window_end: WindowBound | None = Field(None, description="default: two weeks later")
    timezone: ZoneName | None = Field(
        None, description="zone the window's dates are read in; default: the event's"
    )
    limit: Annotated[int, Field(ge=1, le=MAX_OPTIONS)] = Field(
        5, description="how many of the engine's best slots to offer"
    )


class PollCreate(Schema):
    title: Title
    duration_minutes: Annotated[int, Field(ge=1, le=MAX_SESSION_MINUTES)] = 60
    options: Annotated[list[PollOptionIn], Field(max_length=500)] | None = Field(
        None,
        description=(
            f"candidate times (1 to {MAX_OPTIONS}, in the future, no two the same); "
            "leave out for the engine's best slots"
        ),
    )
    from_search: PollSearchIn | None = Field(
        None,
        description=(
            "offer the engine's best slots for this search (people default to the event's "
            "participants, the window to two weeks from three days ahead)"
        ),
    )
    closes_at: Instant | None = Field(
        None,
        description=(
            "answers are taken until then (default: a week, or an hour before the earliest "
            "option); not after the earliest option begins"
        ),
    )
    invitees: list[InviteeIn] | None = Field(
        None, description="who is asked; default: the event's participants", max_length=2000
    )
    source: Literal["planner", "typed"] | None = Field(
        None, description="where typed options came from, for the organiser's page"
    )


class PollFinalize(Schema):
    option_id: Id
    title: Title | None = Field(None, description="the session's title; default: the poll's")
    provider: Literal[PROVIDERS] | None = Field(  # type: ignore[valid-type]
        None, description="default: the event's provider"
    )
    allow_conflicts: bool = False


class VoteIn(Schema):
    option_id: Id
    answer: Answer


class BallotIn(Schema):
    """A participant's answers: one per option answered; answering again replaces them."""

    votes: Annotated[list[VoteIn], Field(max_length=MAX_OPTIONS)] = Field(default_factory=list)
    comment: Annotated[str, Field(max_length=MAX_COMMENT), CleanText] | None = None


class SitePlaceOut(Out):
    institution_id: int | None
    name: str
    country: str | None
    timezone: str
    local_start: str
    local_end: str
    weekday: str
    category: str
    categories: list[str]
    cost: int
    people: int


class PollOptionOut(Out):
    id: int
    start: str
    end: str
    yes: int
    if_need_be: int
    no: int
    not_answered: int
    suits_every_required: bool = Field(
        description="every required person answered yes or if need be"
    )
    votes: list[dict[str, str | int]] = Field(
        description="each answer: {person_id, answer}", default_factory=list
    )
    sites: list[SitePlaceOut] = Field(
        default_factory=list, description="the engine's view of each site at this time"
    )


class PollPersonOut(Out):
    person_id: int
    name: str
    email: str
    institution_id: int | None
    institution: str | None
    country: str | None
    timezone: str
    role: str
    required: bool
    answered_at: str | None
    comment: str
    answers: dict[str, Answer | None] = Field(description="option id: answer (null: none yet)")
    categories: dict[str, str] = Field(description="option id: the engine's category")


class PollOut(Out):
    id: int
    event_id: int
    title: str
    status: Literal[POLL_STATUSES]  # type: ignore[valid-type]
    source: Literal[POLL_SOURCES]  # type: ignore[valid-type]
    duration_minutes: int
    closes_at: str
    accepts_answers: bool
    created_at: str
    reminded_at: str | None
    session_id: int | None
    chosen_option_id: int | None
    options: list[PollOptionOut]
    people: list[PollPersonOut]
    not_answered: list[int] = Field(description="person ids of those who have not answered")
    everyone_required_answered: bool
    suiting_option_ids: list[int] = Field(
        description="options every required person answered yes or if need be to"
    )
    summary: str = Field(description="the state of the answers, in plain words")
    organiser_url: str


class BallotOptionOut(Out):
    id: int
    start: str
    end: str
    local_start: str
    local_end: str
    weekday: str
    times: list[str] = Field(description="in the person's zone, the home zone and UTC")
    answer: Answer | None


class BallotOut(Out):
    poll_id: int
    title: str
    event: str
    status: Literal[POLL_STATUSES]  # type: ignore[valid-type]
    accepts_answers: bool
    closes_at: str
    timezone: str
    comment: str
    options: list[BallotOptionOut]


class PollFinalizeOut(Out):
    poll: PollOut
    session: SessionOut


class PollRemindOut(Out):
    reminded: list[int] = Field(description="person ids of those reminded")
    poll: PollOut
