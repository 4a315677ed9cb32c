"""Built calendars (personal feeds, event calendars) cached for every app process, and
dropped, person by person, after the commits that change them.

Where they are kept (FORUM_CACHE_URL, see config.py): in Redis, shared by every app
process and job worker, or in the process itself (the embedded default: `make run`, tests).

A calendar belongs to a *subject*: a person ("p<id>", their feed) or an event ("e<id>", its
calendar, one copy per language). Nothing is compared on the way out: an entry in the cache
is current until its subject changes, and every change is caught at its source:

- ORM writes: each flush collects the subjects of what it changes (a session moved: the
  people invited to it and its event), through resolvers registered per model (``watch``);
  they are dropped only after the transaction commits. Dropped earlier, a reader could
  rebuild from the data not yet committed over and cache the old calendar again.
- Bulk Core writes (timetable imports, directory imports) call ``people_changed`` after
  their commit, or ``changed_after_commit`` inside their transaction.

A reader that misses builds the calendar and stores it, which races with invalidation: it
may have read the data before a commit and store after that commit's drop. Each subject has
a generation number, raised by every drop; the reader reads it before it reads any data and
stores only if it is unchanged (in Redis, one Lua script: compare and store at once), so a
calendar built from data older than the last drop is never kept. A time to live bounds what
a change made outside the app (SQL by hand) can leave behind.
"""

from __future__ import annotations

import calendar as _calendar
import contextlib
import datetime as dt
import logging
import threading
import time
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask import current_app
from flask import has_app_context
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

KEY_PREFIX = "forum:cal:"
EXTENSION = "forum_calendar_cache"
# A subject's generation outlives every entry built under it many times over (see _drop).
GENERATION_SECONDS = 30 * 24 * 3600
_PENDING = "forum_calendar_changes"
_SEP = "\x1f"


# --- what is cached ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltCalendar:
    """A calendar file and its validators; ``version`` is the link version a personal feed
    was built for ("" for an event calendar)."""

    body: bytes
    etag: str
    last_modified: dt.datetime
    version: str = ""

    @property
    def http_date(self) -> str:
        return format_datetime(self.last_modified, usegmt=True)


@dataclass(frozen=True)
class Head:
    """What a conditional request needs: the validators, without the body."""

    etag: str
    last_modified: dt.datetime
    http_date: str
    version: str


def _head_text(built: BuiltCalendar) -> str:
    stamp = _calendar.timegm(built.last_modified.utctimetuple())
    return _SEP.join((built.etag, built.version, str(stamp), built.http_date))


def _parse_head(text: str | bytes | None) -> Head | None:
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("ascii")
    etag, version, stamp, http_date = text.split(_SEP)
    moment = dt.datetime.fromtimestamp(int(stamp), dt.UTC)
    return Head(etag=etag, last_modified=moment, http_date=http_date, version=version)


# --- stores ------------------------------------------------------------------------------------


class LocalStore:
    """The cache in this process only: least recently used entries go past the bounds."""

    def __init__(self, ttl: int, max_entries: int = 5000, max_bytes: int = 256 << 20) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, str], tuple[float, BuiltCalendar]] = OrderedDict()
        self._generations: dict[str, int] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def _get(self, subject: str, field: str) -> BuiltCalendar | None:
        key = (subject, field)
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if found[0] < time.monotonic():
                self._pop(key)
                return None
            self._items.move_to_end(key)
            return found[1]

    def head(self, subject: str, field: str) -> Head | None:
        built = self._get(subject, field)
        return None if built is None else _parse_head(_head_text(built))

    def get(self, subject: str, field: str) -> BuiltCalendar | None:
        return self._get(subject, field)

    def generation(self, subject: str) -> int | None:
        with self._lock:
            return self._generations.get(subject, 0)

    def put(self, subject: str, field: str, built: BuiltCalendar, generation: int | None) -> bool:
        key = (subject, field)
        with self._lock:
            if self._generations.get(subject, 0) != generation:
                return False
            self._pop(key)
            self._items[key] = (time.monotonic() + self.ttl, built)
            self._bytes += len(built.body)
            while self._items and (
                len(self._items) > self.max_entries or self._bytes > self.max_bytes
            ):
                self._pop(next(iter(self._items)))
            return True

    def _pop(self, key: tuple[str, str]) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= len(old[1].body)

    def drop(self, subjects: Iterable[str]) -> None:
        wanted = set(subjects)
        with self._lock:
            for subject in wanted:
                self._generations[subject] = self._generations.get(subject, 0) + 1
            for key in [key for key in self._items if key[0] in wanted]:
                self._pop(key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


# Compare the subject's generation with the one the reader read before building, and store
# only if it is unchanged: in one script, so no drop can come between the two.
_STORE_SCRIPT = """
local current = redis.call('GET', KEYS[1]) or '0'
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return 1
"""


class RedisStore:
    """The cache in Redis, shared by every process: one hash per subject, a field per copy.

    ``<field>`` holds the validators alone (a conditional request reads only them);
    ``<field>:body`` the validators and the zlib-compressed body, so a body always comes
    with its own ETag. Bodies are compressed: forty thousand students' feeds take a tenth
    of the memory.
    """

    def __init__(self, url: str, ttl: int) -> None:
        import redis

        self.ttl = ttl
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._store = self.client.register_script(_STORE_SCRIPT)
        # Redis down: feeds are built from the database for each request, and not kept.
        self._errors = (redis.RedisError, OSError)

    @staticmethod
    def _key(subject: str) -> str:
        return KEY_PREFIX + subject

    @staticmethod
    def _generation_key(subject: str) -> str:
        return KEY_PREFIX + "g:" + subject

    def head(self, subject: str, field: str) -> Head | None:
        try:
            return _parse_head(self.client.hget(self._key(subject), field))
        except self._errors:
            log.warning("calendar cache unreachable: answered from the database")
            return None

    def get(self, subject: str, field: str) -> BuiltCalendar | None:
        try:
            value = self.client.hget(self._key(subject), field + ":body")
        except self._errors:
            log.warning("calendar cache unreachable: answered from the database")
            return None
        if value is None:
            return None
        text, _sep, packed = value.partition(b"\0")
        head = _parse_head(text)
        return BuiltCalendar(
            body=zlib.decompress(packed),
            etag=head.etag,
            last_modified=head.last_modified,
            version=head.version,
        )

    def generation(self, subject: str) -> int | None:
        try:
            return int(self.client.get(self._generation_key(subject)) or 0)
        except self._errors:
            return None  # unknown: what is built now is served, not stored

    def put(self, subject: str, field: str, built: BuiltCalendar, generation: int | None) -> bool:
        if generation is None:
            return False
        head = _head_text(built).encode("ascii")
        try:
            stored = self._store(
                keys=[self._generation_key(subject), self._key(subject)],
                args=[
                    str(generation),
                    field,
                    head,
                    field + ":body",
                    head + b"\0" + zlib.compress(built.body, 1),
                    self.ttl,
                ],
            )
        except self._errors:
            log.exception("calendar cache unreachable: a calendar built was not kept")
            return False
        return bool(stored)

    def drop(self, subjects: Iterable[str]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for subject in set(subjects):
            # Raised first: a reader storing between the two steps is refused, and one that
            # stored before is deleted.
            pipe.incr(self._generation_key(subject))
            pipe.expire(self._generation_key(subject), GENERATION_SECONDS)
            pipe.delete(self._key(subject))
        pipe.execute()

    def clear(self) -> None:
        keys = list(self.client.scan_iter(match=KEY_PREFIX + "[pe]*", count=1000))
        for start in range(0, len(keys), 1000):
            self.client.delete(*keys[start : start + 1000])


Store = LocalStore | RedisStore
_stores: weakref.WeakSet = weakref.WeakSet()


def init_app(app: Flask) -> None:
    """The app's store, from FORUM_CACHE_URL (memory:// or Redis) and its time to live."""
    url = app.config.get("FORUM_CACHE_URL") or "memory://"
    ttl = int(app.config.get("FORUM_CALENDAR_CACHE_SECONDS") or 86400)
    store: Store = LocalStore(ttl) if url.startswith("memory") else RedisStore(url, ttl)
    app.extensions[EXTENSION] = store
    _stores.add(store)
    if isinstance(store, LocalStore) and app.config.get("FORUM_ENV") == "production":
        # Several app processes each with their own cache: a change is dropped only from
        # the cache of the process that made it; the others serve the old feed until
        # FORUM_CALENDAR_CACHE_SECONDS.
        log.warning(
            "FORUM_CACHE_URL is memory:// in production: each app process caches calendars "
            "alone; set it (or CELERY_BROKER_URL) to a Redis URL shared by every process"
        )


def store() -> Store:
    return current_app.extensions[EXTENSION]


class _Counts:
    """Every store of this process, for tests and benchmarks: how many calendars were built,
    and a way to empty them all."""

    builds = 0

    def clear(self) -> None:
        for each in list(_stores):
            with contextlib.suppress(Exception):  # a Redis that is not there holds nothing
                each.clear()


cache = _Counts()


def cached(subject: str, field: str, build: Callable[[], BuiltCalendar | None]):
    """The calendar of ``subject`` from the cache, or built by ``build`` and stored.

    ``build`` must read everything it uses from the database itself (not from objects
    loaded before this call): the generation is read first.
    """
    current = store()
    found = current.get(subject, field)
    if found is not None:
        return found
    generation = current.generation(subject)
    built = build()
    if built is None:
        return None
    cache.builds += 1
    current.put(subject, field, built, generation)
    return built


# --- what changed --------------------------------------------------------------------------

Resolver = Callable[[Session, list[Any]], Iterable[str]]
_WATCHED: dict[type, list[Resolver]] = {}


def watch(model: type, resolver: Resolver) -> None:
    """Call ``resolver(session, objects)`` with the ``model`` objects a flush adds, changes or
    deletes; it returns the subjects ("p<id>", "e<id>") whose calendars they change. Called
    before the flush writes (the database still holds the rows as they were)."""
    resolvers = _WATCHED.setdefault(model, [])
    if resolver not in resolvers:
        resolvers.append(resolver)


def ref(obj: Any, column: str, relation: str) -> int | None:
    """The id ``obj`` refers to by ``column``, or by ``relation`` when that is set and the
    column not yet (a new object): never loaded from the database for it (a flush of
    thousands of invitations must not read their people one by one)."""
    value = getattr(obj, column)
    if value is not None:
        return value
    related = sa.inspect(obj).dict.get(relation)
    return getattr(related, "id", None)


def person(person_id: int) -> str:
    return f"p{int(person_id)}"


def event(event_id: int) -> str:
    return f"e{int(event_id)}"


@sa.event.listens_for(Session, "before_flush")
def _collect(session: Session, flush_context: Any, instances: Any) -> None:
    touched: dict[type, list[Any]] = {}
    for obj in session.new:
        if type(obj) in _WATCHED:
            touched.setdefault(type(obj), []).append(obj)
    for obj in session.deleted:
        if type(obj) in _WATCHED:
            touched.setdefault(type(obj), []).append(obj)
    for obj in session.dirty:
        if type(obj) in _WATCHED and session.is_modified(obj, include_collections=False):
            touched.setdefault(type(obj), []).append(obj)
    if not touched:
        return
    subjects: set[str] = session.info.setdefault(_PENDING, set())
    with session.no_autoflush:
        for model, objects in touched.items():
            for resolver in _WATCHED[model]:
                subjects.update(resolver(session, objects))


def changed_after_commit(
    session: Session, *, people: Iterable[int] = (), events: Iterable[int] = ()
) -> None:
    """Drop these people's feeds and events' calendars once ``session`` commits (for writes
    the flush does not see: Core statements)."""
    subjects: set[str] = session.info.setdefault(_PENDING, set())
    subjects.update(person(p) for p in people)
    subjects.update(event(e) for e in events)


@sa.event.listens_for(Session, "after_commit")
def _drop_committed(session: Session) -> None:
    subjects = session.info.pop(_PENDING, None)
    if subjects:
        _drop(subjects)


@sa.event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: Any) -> None:
    # A savepoint's rollback keeps what was collected: dropping more than needed is harmless.
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)


def _drop(subjects: Iterable[str], *, quiet: bool = True) -> None:
    if not quiet and not has_app_context():
        raise RuntimeError("feeds are dropped inside the app's context (with app.app_context())")
    if not has_app_context() or EXTENSION not in current_app.extensions:
        return  # a session of a script without the app: there is no cache to drop from
    try:
        store().drop(subjects)
    except Exception:
        # The change is committed and stands: the calendars catch up at their time to live.
        log.exception("calendar cache unreachable: feeds not dropped after a change")


def people_changed(person_ids: Iterable[int]) -> None:
    """Drop the cached feeds of ``person_ids`` now: their next read builds them again.

    For bulk writes the ORM does not see; call it after their commit (a reader rebuilding
    before the commit would cache the old data again).
    """
    _drop((person(p) for p in person_ids), quiet=False)


def events_changed(event_ids: Iterable[int]) -> None:
    """Drop the cached calendars of ``event_ids`` now (after the commit that changed them)."""
    _drop((event(e) for e in event_ids), quiet=False)


# --- the events' own resolvers ---------------------------------------------------------------


def _connect_events() -> None:
    from forum.accounts.models import Organiser
    from forum.directory.models import Person
    from forum.events.models import Event
    from forum.events.models import EventSession
    from forum.events.models import Invitation
    from forum.events.models import SessionOverride
    from forum.events.models import VideoMeeting

    def invitees(session: Session, *, sessions: set[int] = frozenset(), events=frozenset()):
        found: set[str] = set()
        if sessions:
            rows = session.scalars(
                sa.select(Invitation.person_id).where(Invitation.session_id.in_(sessions))
            )
            found.update(person(p) for p in rows)
        if events:
            rows = session.scalars(
                sa.select(Invitation.person_id)
                .join(EventSession, Invitation.session_id == EventSession.id)
                .where(EventSession.event_id.in_(events))
            )
            found.update(person(p) for p in rows)
        return found

    def people(session: Session, objects: list[Person]) -> set[str]:
        return {person(p.id) for p in objects if p.id is not None}

    def invitations(session: Session, objects: list[Invitation]) -> set[str]:
        found: set[str] = set()
        for invitation in objects:
            ids = {ref(invitation, "person_id", "person")}
            ids |= set(sa.inspect(invitation).attrs.person_id.history.deleted or ())
            found.update(person(i) for i in ids if i is not None)
        return found

    def sessions_changed(session: Session, objects: list[EventSession]) -> set[str]:
        ids = {s.id for s in objects if s.id is not None and s not in session.new}
        events = {ref(s, "event_id", "event") for s in objects} - {None}
        return invitees(session, sessions=ids) | {event(e) for e in events}

    def of_sessions(session: Session, objects: list[Any]) -> set[str]:
        ids = {ref(o, "session_id", "session") for o in objects} - {None}
        event_ids = set(
            session.scalars(sa.select(EventSession.event_id).where(EventSession.id.in_(ids)))
        )
        return invitees(session, sessions=ids) | {event(e) for e in event_ids}

    def events_changed_(session: Session, objects: list[Event]) -> set[str]:
        ids = {e.id for e in objects if e.id is not None}
        return invitees(session, events=ids) | {event(e) for e in ids}

    def organisers(session: Session, objects: list[Organiser]) -> set[str]:
        ids = {o.id for o in objects if o.id is not None}
        if not ids:
            return set()
        owned = session.scalars(sa.select(Event.id).where(Event.owner_id.in_(ids)))
        return {event(e) for e in owned}

    watch(Person, people)
    watch(Invitation, invitations)
    watch(EventSession, sessions_changed)
    watch(SessionOverride, of_sessions)
    watch(VideoMeeting, of_sessions)
    watch(Event, events_changed_)
    watch(Organiser, organisers)


_connect_events()
