"""What a change of a session sets in motion: the one door booking's side effects leave by.

The services of this package book, reschedule and cancel sessions, and then say what
happened through one of the signals below; they do not know who listens. The listeners
(``forum.followups``, connected when the app is created) record in the same transaction
what must follow - the emails to the invitees, the outbound webhook events, the job that
opens, updates or closes the video meeting - and everything that reaches the outside (the
mail server, the provider, a subscriber's URL) is sent by jobs once the transaction commits.
A rollback takes the change and everything it set in motion with it.

Every signal is sent with the session (or, for an answer, the invitation) as its sender.
"""

from __future__ import annotations

from typing import Any

from blinker import NamedSignal
from blinker import Namespace

_signals = Namespace()

# A session's time is set or changed, or its meeting is retried, and the meeting needs a host
# that is free then (keyword ``meeting``; ``may_move=False`` when the host may not change,
# ``reason`` for the record of a change). Listeners may refuse with a Conflict: the change
# is then refused.
host_needed = _signals.signal("host-needed")
# A session was booked (keyword ``notify``: email the invitations).
booked = _signals.signal("booked")
# A session's title, times or recurrence changed (SEQUENCE raised).
rescheduled = _signals.signal("rescheduled")
# A session was cancelled.
cancelled = _signals.signal("cancelled")
# One date of a series was moved, or cancelled (keyword ``recurrence_id``).
occurrence_moved = _signals.signal("occurrence-moved")
occurrence_cancelled = _signals.signal("occurrence-cancelled")
# The organiser asked for the invitations again (keyword ``invitations``; ``hold`` while the
# meeting is being opened, so that the emails wait for its link).
invitations_resent = _signals.signal("invitations-resent")
# The organiser asked to try the meeting again.
meeting_retried = _signals.signal("meeting-retried")
# An invitee answered (sender: the Invitation).
answered = _signals.signal("answered")


def announce(signal: NamedSignal, sender: Any, **details: Any) -> None:
    """Send ``signal``; refuse when nothing listens, since the change would then be silent."""
    if not signal.receivers:
        raise RuntimeError(
            f"nothing follows {signal.name!r}: forum.followups.connect() was not called "
            "(create_app calls it)"
        )
    signal.send(sender, **details)
