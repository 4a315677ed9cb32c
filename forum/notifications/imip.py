"""iMIP messages (RFC 6047): an iTIP calendar object in an email that calendars recognise."""

from __future__ import annotations

import base64
import re
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.message import MIMEPart
from email.policy import SMTP
from email.utils import formatdate
from email.utils import make_msgid

from forum.i18n import _l

METHODS = ("REQUEST", "CANCEL", "PUBLISH", "REPLY")
ATTACHMENT_NAME = "invite.ics"

# RFC 5545 §3.1: a content line is unfolded by removing a line break followed by one space
# or tab. Bare LF is accepted too, so a calendar written with the wrong line ends still
# shows its METHOD.
_FOLD = re.compile(rb"\r?\n[ \t]")
_METHOD_LINE = re.compile(rb"^METHOD(?:;[^:\r\n]*)?:(.*?)\r?$", re.IGNORECASE | re.MULTILINE)

# Text parts in 7-bit transfer encodings (quoted-printable or base64, whichever is shorter):
# smtplib does not ask for 8BITMIME (RFC 6152), and a relay without it may mangle 8-bit text.
_SEVEN_BIT = SMTP.clone(cte_type="7bit")


def compose(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    calendar: bytes | None,
    method: str | None,
    reply_to: str | None = None,
    language: str | None = None,
) -> EmailMessage:
    """One iMIP email: text, HTML and the calendar as alternatives, the calendar attached.

    With ``calendar`` and ``method`` None, a plain email of text and HTML alternatives (a
    reminder, a poll's messages).

    ``sender``, ``to`` and ``reply_to`` are single addresses such as ``Name <user@host>``;
    ``method`` must be the iTIP method written in ``calendar``; ``language`` the BCP 47 tag
    of the text (Content-Language, RFC 3282): the recipient's. Raises ValueError for a
    header value with a line break, an address that is not one address, or a method that
    is unknown or differs from the calendar's.
    """
    if calendar is not None:
        _check_calendar(calendar, method)
    elif method is not None:
        raise ValueError(_l("method %(method)s given without a calendar", method=method))
    for name, value in (("subject", subject), ("to", to), ("sender", sender)):
        _one_line(name, value)
    from_address = _address("sender", sender)
    to_address = _address("to", to)

    message = EmailMessage(policy=SMTP)
    message["From"] = from_address
    message["To"] = to_address
    if reply_to is not None:
        _one_line("reply_to", reply_to)
        message["Reply-To"] = _address("reply_to", reply_to)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=from_address.domain)
    message["MIME-Version"] = "1.0"

    alternative = MIMEPart(policy=SMTP)
    alternative.make_alternative()
    alternative.attach(_text_part(text, "plain"))
    alternative.attach(_text_part(html, "html"))
    if calendar is None:
        message.set_payload(alternative.get_payload())
        message.set_type(alternative.get_content_type())
        message.set_param("boundary", alternative.get_boundary())
        _set_language(message, language)
        return message
    alternative.attach(_calendar_part(calendar, method))
    message.make_mixed()
    message.attach(alternative)
    message.attach(_attachment(calendar))
    _set_language(message, language)
    return message


def _set_language(message: EmailMessage, language: str | None) -> None:
    # Set once the parts are in place: making a message multipart moves its Content-*
    # headers into the first part.
    if language:
        message["Content-Language"] = language


def _check_calendar(calendar: bytes, method: str | None) -> None:
    if method not in METHODS:
        raise ValueError(
            _l(
                "method must be one of %(methods)s, got %(method)s",
                methods=", ".join(METHODS),
                method=repr(method),
            )
        )
    try:
        calendar.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(_l("the calendar is not UTF-8, as its Content-Type says")) from None
    found = calendar_method(calendar)
    if found != method:
        raise ValueError(
            _l(
                "method is %(method)s but the calendar says METHOD:%(found)s",
                method=method,
                found=found,
            )
        )


def calendar_method(calendar: bytes) -> str:
    """The value of the METHOD line of an iCalendar object, in capitals."""
    unfolded = _FOLD.sub(b"", calendar)
    values = _METHOD_LINE.findall(unfolded)
    if len(values) != 1:
        raise ValueError(
            _l("the calendar must have one METHOD line, it has %(count)d", count=len(values))
        )
    try:
        value = values[0].decode("ascii").strip()
    except UnicodeDecodeError:
        raise ValueError(_l("the calendar's METHOD is not ASCII")) from None
    # RFC 5545 §2: names and enumerated values are case-insensitive.
    return value.upper()


def _one_line(name: str, value: str) -> None:
    # A line break in a header value would let the caller's text add headers
    # (a Bcc, a second body): refuse it before the email package sees it.
    if "\r" in value or "\n" in value:
        raise ValueError(
            _l("%(name)s must not contain a line break: %(value)s", name=name, value=repr(value))
        )


def _address(name: str, value: str) -> Address:
    try:
        header = HeaderRegistry()("To", value)
    except (HeaderParseError, IndexError, ValueError):
        # The email package's parser raises IndexError on some malformed input ("a@").
        raise ValueError(_one_address(name, value)) from None
    addresses = header.addresses
    if header.defects or len(addresses) != 1 or not addresses[0].domain:
        raise ValueError(_one_address(name, value))
    if not addresses[0].addr_spec.isascii():
        # A non-ASCII mailbox needs SMTPUTF8 (RFC 6531), which not every server offers.
        raise ValueError(
            _l("%(name)s must be an ASCII address, got %(value)s", name=name, value=repr(value))
        )
    return addresses[0]


def _one_address(name: str, value: str) -> object:
    # Read when shown (the organiser's language), not when raised (the recipient's).
    return _l("%(name)s must be one email address, got %(value)s", name=name, value=repr(value))


def _text_part(content: str, subtype: str) -> MIMEPart:
    part = MIMEPart(policy=_SEVEN_BIT)
    part.set_content(content, subtype=subtype, charset="utf-8")
    return part


def _calendar_part(calendar: bytes, method: str) -> MIMEPart:
    part = MIMEPart(policy=SMTP)
    # RFC 6047 §2.4: the method parameter must be present and equal the calendar's METHOD,
    # or Outlook shows no meeting. The header is set verbatim because the email package
    # quotes every parameter value, and invitations that calendars accept write it bare.
    part.set_raw("Content-Type", f'text/calendar; charset="UTF-8"; method={method}')
    # Base64 keeps the CRLF line ends and folded lines exactly as built; quoted-printable
    # may re-wrap them (RFC 6047; clients' reports).
    part.set_raw("Content-Transfer-Encoding", "base64")
    part.set_payload(base64.encodebytes(calendar).decode("ascii"))
    return part


def _attachment(calendar: bytes) -> MIMEPart:
    part = MIMEPart(policy=SMTP)
    part.set_content(
        calendar,
        maintype="application",
        subtype="ics",
        cte="base64",
        disposition="attachment",
        filename=ATTACHMENT_NAME,
        params={"name": ATTACHMENT_NAME},
    )
    return part
