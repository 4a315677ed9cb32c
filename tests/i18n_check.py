"""Finds text a reader would see that is not marked for translation.

Templates: the text between tags and the attributes people read (title, placeholder,
aria-label, alt, button values), outside ``{% trans %}`` blocks; and string literals of
several words printed by ``{{ ... }}`` outside ``_()``.

Python: the messages of the errors people read (``ForumError`` and its kinds, provider
errors, form validation errors), ``flash()`` and the labels of form fields, when they are
literal text rather than ``_()``/``_l()`` calls.

``python -m tests.i18n_check [path ...]`` prints what it finds in those files or folders
(all of ``templates/`` and ``forum/`` by default).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from jinja2 import Environment

ROOT = Path(__file__).resolve().parent.parent

# Words that read the same in every language: product and provider names, standards.
NOT_WORDS = {
    "forum",
    "UTC",
    "IANA",
    "iCal",
    "ICS",
    "ics",
    "iCalendar",
    "RRULE",
    "EXDATE",
    "Zoom",
    "Teams",
    "Webex",
    "Google",
    "Meet",
    "Jitsi",
    "Microsoft",
    "Outlook",
    "Thunderbird",
    "Apple",
    "Calendar",
    "API",
    "JSON",
    "CSV",
    "URL",
    "HTTP",
    "HTTPS",
    "HMAC",
    "SHA",
    "ID",
    "OK",
    "GMT",
    "iMIP",
    "ETag",
    "OpenAPI",
}

_WORD = re.compile(r"[^\W\d_]{2,}")
_MARK = "\x00"

# Attributes whose values people read or hear.
_READ_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "aria-description", "label"}

_ERROR_CALLS = {
    "ForumError",
    "ValidationFailed",
    "NotFound",
    "Conflict",
    "Unauthorized",
    "Forbidden",
    "MalformedFile",
    "ImportTooLarge",
    "ImportRefused",
    "ProviderError",
    "AuthenticationFailed",
    "HostNotFound",
    "MeetingNotFound",
    "RequestRejected",
    "RateLimited",
    "QuotaExceeded",
    "ProviderUnavailable",
    "ValidationError",
    "StopValidation",
    "flash",
}
_MESSAGE_KEYWORDS = {"message", "label", "description_text", "subject", "hint"}
_FIELD_CLASS = re.compile(r"^[A-Z]\w*Field$")
_TRANSLATE_CALLS = {
    "_",
    "_l",
    "gettext",
    "lazy_gettext",
    "ngettext",
    "lazy_ngettext",
    "pgettext",
    "npgettext",
}


@dataclass(frozen=True)
class Unmarked:
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text!r}"


def _has_words(text: str) -> bool:
    return any(word not in NOT_WORDS for word in _WORD.findall(text))


# --- templates ---------------------------------------------------------------------------


# Elements whose text is not prose: scripts, styles and code (commands, headers, JSON).
_NOT_PROSE = ("script", "style", "code", "pre", "kbd", "samp")


class _TextFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _NOT_PROSE:
            self._skip += 1
        kind = dict(attrs).get("type", "")
        for name, value in attrs:
            readable = name in _READ_ATTRIBUTES or (
                name == "value" and tag in ("input", "button") and kind in ("submit", "button")
            )
            if readable and value and _has_words(value.replace(_MARK, " ")):
                self.found.append((self.getpos()[0], f"{name}={value.replace(_MARK, '…')}"))

    def handle_endtag(self, tag: str) -> None:
        if tag in _NOT_PROSE and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        text = data.replace(_MARK, " ").strip()
        if text and _has_words(text):
            self.found.append((self.getpos()[0], " ".join(text.split())))


def check_template(path: Path, env: Environment | None = None) -> list[Unmarked]:
    env = env or Environment(extensions=["jinja2.ext.i18n", "jinja2.ext.do"])  # noqa: S701
    source = path.read_text(encoding="utf-8")
    relative = str(path.relative_to(ROOT))
    found: list[Unmarked] = []
    # The template's own text, with every Jinja construct and every {% trans %} block
    # replaced by a mark that keeps the line numbers.
    pieces: list[str] = []
    in_trans = False
    block: list[str] = []  # the tokens of the current {% ... %} or {{ ... }}
    in_variable = False
    translate_depth: list[int] = []
    paren_depth = 0
    for lineno, kind, value in env.lex(source):
        if kind == "block_begin":
            block = []
        elif kind == "block_end":
            if block and block[0] == "trans":
                in_trans = True
            elif block and block[0] == "endtrans":
                in_trans = False
            block = []
        elif kind == "name" and not block:
            block.append(value)
        if kind == "variable_begin":
            in_variable, translate_depth, paren_depth = True, [], 0
        elif kind == "variable_end":
            in_variable = False
        elif in_variable and kind == "operator" and value == "(":
            paren_depth += 1
        elif in_variable and kind == "operator" and value == ")":
            paren_depth -= 1
            if translate_depth and paren_depth < translate_depth[-1]:
                translate_depth.pop()
        elif in_variable and kind == "name" and value in _TRANSLATE_CALLS:
            translate_depth.append(paren_depth + 1)
        elif (
            in_variable
            and kind == "string"
            and not translate_depth
            and " " in value.strip()
            and len(_WORD.findall(value)) >= 2
            and _has_words(value)
        ):
            found.append(Unmarked(relative, lineno, value))
        if kind == "data" and not in_trans:
            pieces.append(value)
        else:
            newlines = value.count("\n") if isinstance(value, str) else 0
            pieces.append(_MARK + "\n" * newlines)
    finder = _TextFinder()
    finder.feed("".join(pieces))
    finder.close()
    found.extend(Unmarked(relative, line, text) for line, text in finder.found)
    return found


# --- Python --------------------------------------------------------------------------------


def _literal_text(node: ast.AST) -> str | None:
    """The text of a literal string (or f-string, or sum of them) that holds words."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if _has_words(node.value) else None
    if isinstance(node, ast.JoinedStr):
        text = "".join(
            part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
        )
        return text if _has_words(text) else None
    if isinstance(node, ast.BinOp):
        left, right = _literal_text(node.left), _literal_text(node.right)
        return left or right
    if isinstance(node, ast.IfExp):
        return _literal_text(node.body) or _literal_text(node.orelse)
    return None


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def check_python(path: Path) -> list[Unmarked]:
    relative = str(path.relative_to(ROOT))
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
    found: list[Unmarked] = []

    def report(node: ast.AST) -> None:
        text = _literal_text(node)
        if text is not None:
            found.append(Unmarked(relative, node.lineno, text))

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if (name in _ERROR_CALLS or _FIELD_CLASS.match(name)) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Dict):
                for value in first.values:
                    report(value)
            elif isinstance(first, ast.DictComp):
                report(first.value)
            else:
                report(first)
        for keyword in node.keywords:
            if keyword.arg in _MESSAGE_KEYWORDS:
                report(keyword.value)
    return found


# --- both ------------------------------------------------------------------------------------

_SKIP_PYTHON = ("forum/migrations/", "forum/providers/fakes/", "forum/demo/", "forum/cli.py")


def iter_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = (ROOT / name).resolve()
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".py", ".html", ".txt")))
        else:
            files.append(path)
    return files


def check(paths: list[str] | None = None) -> list[Unmarked]:
    found: list[Unmarked] = []
    for path in iter_files(paths or ["templates", "forum"]):
        relative = str(path.relative_to(ROOT))
        if path.suffix in (".html", ".txt") and relative.startswith("templates/"):
            found.extend(check_template(path))
        elif path.suffix == ".py" and not relative.startswith(_SKIP_PYTHON):
            found.extend(check_python(path))
    return found


if __name__ == "__main__":
    problems = check(sys.argv[1:] or None)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} unmarked", file=sys.stderr)
    sys.exit(1 if problems else 0)
