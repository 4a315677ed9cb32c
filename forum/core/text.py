"""Clean text: what names, titles and descriptions may hold, and how they are stored.

Text typed into forum ends up in iCalendar properties, email headers, CSV files and
logs, where an invisible character can end a line early, break a header or make a
calendar client refuse the file. One rule for every input (API, pages, imports, commands):

- single-line text (names, titles, short names, reasons) refuses every control
  character (C0 including tab, DEL, C1 including NEL), the line and paragraph
  separators U+2028 and U+2029, lone surrogates, the byte order mark U+FEFF and
  noncharacters;
- multi-line text (descriptions) accepts line breaks (LF, CRLF, CR, NEL, U+2028,
  U+2029), stored as LF, and tabs; it refuses the other characters above.

Accepted text is stored in Unicode normal form C (so that "é" typed on one keyboard and
"e" + combining accent pasted from another are the same name) and without surrounding
white space. Format characters that scripts need stay: bidirectional marks, embeddings
and isolates (Arabic and Hebrew names), zero-width joiners (Persian, Indic scripts,
emoji).

For output, ``scrub_line`` and ``scrub_text`` turn text stored before these rules into
text that obeys them, never failing.
"""

from __future__ import annotations

import re
import unicodedata

from forum.i18n import _
from forum.i18n import _l

# The characters Python's str.splitlines() and the email package treat as line ends,
# that are not otherwise control characters, and NEL, which is both.
LINE_BREAKS = "\n\r\x85\u2028\u2029"
BYTE_ORDER_MARK = "\ufeff"

_NAMES = {
    "\t": _l("a tab"),
    "\n": _l("a line feed"),
    "\r": _l("a carriage return"),
    "\x0b": _l("a vertical tab"),
    "\x0c": _l("a form feed"),
    "\x1b": _l("an escape"),
    "\x7f": _l("a delete"),
    "\x85": _l("a next line"),
    "\u2028": _l("a line separator"),
    "\u2029": _l("a paragraph separator"),
    BYTE_ORDER_MARK: _l("a byte order mark"),
}

# Everything refused in any text: C0 controls but tab and line feed/carriage return
# (those depend on the kind of text), DEL, C1 controls but NEL, lone surrogates,
# U+FEFF and the noncharacters (U+FDD0-U+FDEF and the last two code points of each plane).
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
_ALWAYS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x84\x86-\x9f\ud800-\udfff\ufeff" + _NONCHARACTERS
_UNSAFE_LINE = re.compile(f"[{_ALWAYS}\t{LINE_BREAKS}]")
_UNSAFE_TEXT = re.compile(f"[{_ALWAYS}]")
_SCRUBBED_IN_TEXT = re.compile(f"[{_ALWAYS}\r\x85\u2028\u2029]")
_ANY_BREAK = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")


class UncleanText(ValueError):
    """Text with a character it may not hold; the message says which and where."""


def _problem(char: str, position: int, *, multi_line: bool) -> str:
    code = f"U+{ord(char):04X}"
    name = _NAMES.get(char)
    if name is not None:
        named = {"code": code, "name": str(name), "position": position}
        if char in LINE_BREAKS and not multi_line:
            return _(
                "must be a single line (found %(code)s, %(name)s, at position %(position)d)",
                **named,
            )
        if char == BYTE_ORDER_MARK:
            return _(
                "must not contain invisible characters "
                "(found %(code)s, %(name)s, at position %(position)d)",
                **named,
            )
        return _(
            "must not contain control characters "
            "(found %(code)s, %(name)s, at position %(position)d)",
            **named,
        )
    # The characters without a name here: lone surrogates, other control characters and
    # noncharacters (every line break, and the byte order mark, has one).
    if "\ud800" <= char <= "\udfff":
        return _(
            "must not contain a lone surrogate, which is not a character "
            "(found %(code)s at position %(position)d)",
            code=code,
            position=position,
        )
    if unicodedata.category(char) == "Cc":
        return _(
            "must not contain control characters (found %(code)s at position %(position)d)",
            code=code,
            position=position,
        )
    return _(
        "must not contain noncharacters (found %(code)s at position %(position)d)",
        code=code,
        position=position,
    )


def first_unclean(value: str, *, multi_line: bool = False) -> tuple[str, int] | None:
    """The first character ``value`` may not hold and its position (from 1), or None."""
    match = (_UNSAFE_TEXT if multi_line else _UNSAFE_LINE).search(value)
    return None if match is None else (match.group(), match.start() + 1)


def problem(value: str, *, multi_line: bool = False) -> str | None:
    """Why ``value`` is not clean text, for a person ("must not contain ..."), or None.

    Positions count characters from 1, in the text as given.
    """
    found = first_unclean(value, multi_line=multi_line)
    return None if found is None else _problem(*found, multi_line=multi_line)


def clean_line(value: str) -> str:
    """Single-line text as stored: normal form C, stripped; UncleanText if it may not be."""
    found = problem(value)
    if found is not None:
        raise UncleanText(found)
    return unicodedata.normalize("NFC", value).strip()


def clean_text(value: str) -> str:
    """Multi-line text as stored: line breaks as LF, normal form C, stripped."""
    found = problem(value, multi_line=True)
    if found is not None:
        raise UncleanText(found)
    return unicodedata.normalize("NFC", _ANY_BREAK.sub("\n", value)).strip()


def _replacement(match: re.Match[str]) -> str:
    char = match.group()
    if char in LINE_BREAKS or char in "\t\x0b\x0c\x1c\x1d\x1e\x1f":
        return " "  # separated words stay separated
    if "\ud800" <= char <= "\udfff":
        return "\ufffd"
    return ""


def scrub_line(value: str) -> str:
    """``value`` on one line without unclean characters, for output; never raises.

    Line breaks and tabs become spaces, lone surrogates U+FFFD, the rest is dropped.
    """
    if _UNSAFE_LINE.search(value) is None:
        return value
    return _UNSAFE_LINE.sub(_replacement, value.replace("\r\n", "\n"))


def scrub_text(value: str) -> str:
    """Multi-line ``value`` with LF line breaks and no unclean characters, for output."""
    if _SCRUBBED_IN_TEXT.search(value) is None:
        return value
    return _UNSAFE_TEXT.sub(_replacement, _ANY_BREAK.sub("\n", value))
