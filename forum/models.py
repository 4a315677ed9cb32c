"""Every model, imported together so the metadata (and Alembic) sees all tables."""

from forum.accounts.models import ApiToken
from forum.accounts.models import Organiser
from forum.directory.models import Blackout
from forum.directory.models import BusyInterval
from forum.directory.models import Institution
from forum.directory.models import Person
from forum.events import revisions  # noqa: F401  (raises revision counters on flush)
from forum.events.models import Event
from forum.events.models import EventParticipant
from forum.events.models import EventSession
from forum.events.models import Invitation
from forum.events.models import SessionOverride
from forum.events.models import VideoMeeting
from forum.notifications.models import EmailMessage
from forum.polls.models import Poll
from forum.polls.models import PollInvitee
from forum.polls.models import PollOption
from forum.polls.models import PollVote
from forum.providers.models import HostUsage
from forum.providers.models import ProviderAccount
from forum.reminders.models import PreflightCheck
from forum.reminders.models import SessionReminder
from forum.timetables.models import Term
from forum.timetables.models import TimetableImport
from forum.webhooks.models import Attendance
from forum.webhooks.models import InboxEntry
from forum.webhooks.outbound import DeliveryAttempt
from forum.webhooks.outbound import WebhookDelivery
from forum.webhooks.outbound import WebhookSubscription

__all__ = [
    "Attendance",
    "ApiToken",
    "Blackout",
    "BusyInterval",
    "DeliveryAttempt",
    "EmailMessage",
    "Event",
    "EventParticipant",
    "EventSession",
    "HostUsage",
    "InboxEntry",
    "Institution",
    "Invitation",
    "Organiser",
    "Person",
    "Poll",
    "PollInvitee",
    "PollOption",
    "PollVote",
    "PreflightCheck",
    "ProviderAccount",
    "SessionOverride",
    "SessionReminder",
    "Term",
    "TimetableImport",
    "VideoMeeting",
    "WebhookDelivery",
    "WebhookSubscription",
]
