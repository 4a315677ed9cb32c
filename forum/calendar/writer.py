"""Serialise icalendar components to bytes, the same bytes as ``to_ical()``, faster.

icalendar's ``Component.to_ical()`` spends most of its time in generic machinery (content
line objects, per-character folding). Feeds of hundreds of sessions are built on request,
so this writer walks the same components and uses icalendar's own value and parameter
encoders, but joins and folds the lines itself. Tests check that both give the same bytes.
"""

from __future__ import annotations

import re

from icalendar.cal.component import Component
from icalendar.prop import vText

# RFC 5545 section 3.1: lines longer than 75 octets are folded. icalendar folds before a
# character that would bring the line to 75 octets, and never right after a backslash or
# caret, so that an escape (\n, \, ^') stays on one line (icalendar issue #1501).
_LIMIT = 75


def _fold(line: bytes) -> bytes:
    """Fold a content line as icalendar does, working on its UTF-8 bytes."""
    size = len(line)
    if size < _LIMIT:
        return line
    parts: list[bytes] = []
    start = 0
    # Each piece holds at most 74 octets: with the leading space of the next line, 75.
    while size - start > _LIMIT - 1:
        end = start + _LIMIT - 1
        while line[end] & 0xC0 == 0x80:  # never inside a multi-octet character
            end -= 1
        if line[end - 1] in b"\\^" and end - 1 > start:
            end -= 1
        parts.append(line[start:end])
        start = end
    parts.append(line[start:])
    return b"\r\n ".join(parts)


def _lines(component: Component, out: list[bytes]) -> None:
    out.append(f"BEGIN:{component.name}".encode())
    for name in component.sorted_keys():
        values = component[name]
        for value in values if isinstance(values, list) else (values,):
            encoded = value.to_ical() if hasattr(value, "to_ical") else vText(value).to_ical()
            if isinstance(encoded, bytes):
                encoded = encoded.decode("utf-8")
            params = getattr(value, "params", None)
            # Some parameters are left out when encoded (TZID=UTC), so check the result.
            encoded_params = params.to_ical().decode("utf-8") if params else ""
            head = f"{name};{encoded_params}" if encoded_params else name
            out.append(_fold(f"{head}:{encoded}".encode()))
    for sub in component.subcomponents:
        _lines(sub, out)
    out.append(f"END:{component.name}".encode())


def to_bytes(component: Component) -> bytes:
    """The component as iCalendar bytes: UTF-8, CRLF line ends, folded at 75 octets."""
    out: list[bytes] = []
    _lines(component, out)
    out.append(b"")
    return b"\r\n".join(out)


# What no calendar file may carry (RFC 5545 section 3.1: content lines end with CRLF, and
# TEXT holds no control characters but HTAB): C0 controls and DEL, a CR or LF that is not
# a line end, and in UTF-8 the C1 controls, U+2028, U+2029, the byte order mark and the
# noncharacters of the first plane. Checked in steps: one pattern over the whole file is
# several times slower.
_C0 = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MULTI_OCTET = re.compile(
    rb"\xc2[\x80-\x9f]|\xe2\x80[\xa8\xa9]|\xef(?:\xbb\xbf|\xb7[\x90-\xaf]|\xbf[\xbe\xbf])"
)
_ANY = re.compile(_C0.pattern + rb"|\r(?!\n)|(?<!\r)\n|" + _MULTI_OCTET.pattern)
_BREAKS = (b"\r", b"\n", b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")


def _replacement(match: re.Match[bytes]) -> bytes:
    # A line break inside a value becomes a space, so words stay apart; the rest goes.
    return b" " if match.group() in _BREAKS else b""


def without_controls(data: bytes) -> bytes:
    """``data`` unchanged if it carries no control character, else with them taken out.

    The text the calendars are built from is clean already (forum.core.text); this is the
    last guard, for rows written before that rule. Taking characters out never makes a
    folded line longer than 75 octets.
    """
    line_ends = data.count(b"\r\n")
    if (
        _C0.search(data) is None
        and data.count(b"\r") == line_ends
        and data.count(b"\n") == line_ends
        and _MULTI_OCTET.search(data) is None
    ):
        return data
    return _ANY.sub(_replacement, data)
