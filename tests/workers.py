"""Tests on several pytest-xdist workers at once: ports, groups, order and the machine lock.

``make test`` runs the suite in ``PYTEST_WORKERS`` processes. Each worker has its own
database (conftest.py), its own Redis database (celery_worker.py) and its own block of
ports (``free_port``); servers in the test process itself bind port 0 and get a port
from the system. Tests of one ``xdist_group`` run on one worker (the browser tests), the
``slow`` ones are handed out first, and a test that measures speed runs its measurement
``with alone():``, so that the other workers' tests do not share the cores with it.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import itertools
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from typing import Any

import pytest

# "gw0", "gw1", ... in an xdist worker; empty in a run without xdist.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def worker_index() -> int:
    """This worker's number (0 for gw0 and for a run without xdist)."""
    return int(WORKER.removeprefix("gw")) if WORKER else 0


# --- ports ---------------------------------------------------------------------------------

# Below Linux's ephemeral range (32768-60999), from which the system picks the ports of
# bind(0) and of outgoing connections: no other process is handed a port from here.
PORTS_START = 20_000
PORTS_PER_WORKER = 500
_PORT_BLOCKS = (32_768 - PORTS_START) // PORTS_PER_WORKER
_port_turn = itertools.count()


def free_port() -> int:
    """A loopback port nothing listens on, from this worker's own block of ports.

    For a server in another process, which is told its port before it binds: a port from
    the system (bind to 0, then close) could be handed to another worker's server or
    client in the meantime. The ports of the block are taken in turn, so one that a server
    just released (and may hold in TIME_WAIT) comes back last.
    """
    first = PORTS_START + (worker_index() % _PORT_BLOCKS) * PORTS_PER_WORKER
    for _ in range(PORTS_PER_WORKER):
        port = first + next(_port_turn) % PORTS_PER_WORKER
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # another program's, or not released yet
        return port
    raise RuntimeError(f"no free port in {first}-{first + PORTS_PER_WORKER - 1}")


# --- the machine lock ----------------------------------------------------------------------


class MachineLock:
    """Lets a measurement have the machine to itself while the other workers wait.

    Every test holds the lock shared while it runs (``shared``, from conftest.py);
    ``alone()`` takes it exclusively, so it waits for the tests that other workers are
    running to end, and they wait before their next one until it is released. A second
    file is a turnstile that keeps a waiting ``alone()`` from being starved by tests that
    keep starting: each test passes through it before it takes the shared lock, and
    ``alone()`` holds it while it waits and runs. Without xdist (or before ``open``) there
    are no other workers and the lock does nothing.
    """

    def __init__(self) -> None:
        self._main: IO[bytes] | None = None
        self._turnstile: IO[bytes] | None = None

    def open(self, folder: str | os.PathLike[str]) -> None:
        """Use the lock files in ``folder``, the same folder for every worker of a run."""
        self._main = open(Path(folder) / "machine.lock", "ab")  # noqa: SIM115 (kept open)
        self._turnstile = open(Path(folder) / "turnstile.lock", "ab")  # noqa: SIM115

    def close(self) -> None:
        for file in (self._main, self._turnstile):
            if file is not None:
                file.close()
        self._main = self._turnstile = None

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Held by every test while it runs."""
        if self._main is None or self._turnstile is None:
            yield
            return
        fcntl.flock(self._turnstile, fcntl.LOCK_EX)
        fcntl.flock(self._turnstile, fcntl.LOCK_UN)
        fcntl.flock(self._main, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(self._main, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        """No other worker runs a test inside this block (the test's own process may)."""
        if self._main is None or self._turnstile is None:
            yield
            return
        # The test's own shared hold is dropped before the turnstile is taken: two workers
        # that each held theirs while waiting for the other's to go would wait forever.
        fcntl.flock(self._main, fcntl.LOCK_UN)
        fcntl.flock(self._turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._main, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._main, fcntl.LOCK_SH)  # the rest of the test, as before
        finally:
            fcntl.flock(self._turnstile, fcntl.LOCK_UN)


machine_lock = MachineLock()


def alone() -> contextlib.AbstractContextManager[None]:
    """A block during which no other worker runs a test: for a measurement of speed."""
    return machine_lock.alone()


# --- groups ------------------------------------------------------------------------------

# pytest-xdist 3.8 tells its controller a test's xdist_group by appending "@<group>" to the
# node id in the worker, which pytest 9.2's node ids no longer allow: --dist loadgroup then
# quietly spreads a group over every worker. Here each worker writes the groups it collected
# into the run's folder (before it reports its collection), and the scheduler reads them.


def _write_groups(folder: str, items: list[pytest.Item]) -> None:
    groups = {}
    for item in items:
        names = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        if names:
            groups[item.nodeid] = "_".join(sorted(names))
    path = Path(folder) / f"groups-{WORKER}.json"
    path.with_suffix(".tmp").write_text(json.dumps(groups))
    path.with_suffix(".tmp").replace(path)


def _group_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadGroupScheduling

    class GroupScheduling(LoadGroupScheduling):
        """--dist loadgroup, with the groups the workers wrote into the run's folder."""

        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                self.groups = {}
                for path in sorted(Path(_run_folder(config)).glob("groups-*.json")):
                    self.groups.update(json.loads(path.read_text()))
            return self.groups.get(nodeid) or super()._split_scope(nodeid)

    return GroupScheduling(config, log)


# --- hooks ---------------------------------------------------------------------------------

_RUN_FOLDER = "forum_run_folder"
_run_folder_key = pytest.StashKey[str]()


def _run_folder(config: pytest.Config) -> str:
    """The controller's folder for what its workers share (lock files, groups), made once."""
    if _run_folder_key not in config.stash:
        config.stash[_run_folder_key] = tempfile.mkdtemp(prefix="forum-tests-")
    return config.stash[_run_folder_key]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") == "loadgroup":
        return _group_scheduler(config, log)
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput[_RUN_FOLDER] = _run_folder(node.config)


def pytest_configure(config: pytest.Config) -> None:
    folder = getattr(config, "workerinput", {}).get(_RUN_FOLDER)
    if folder is not None:
        machine_lock.open(folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    machine_lock.close()
    if _run_folder_key in config.stash:
        shutil.rmtree(config.stash[_run_folder_key], ignore_errors=True)


# After the other plugins' hooks have marked the tests (tests/browser.py marks a group).
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In xdist workers: the ``slow`` tests first, and the groups written for the scheduler.

    Workers are handed tests in collection order (the same in every worker), so a long
    test starts while the others still have plenty to do, rather than at the end while
    they wait.
    """
    folder = getattr(config, "workerinput", {}).get(_RUN_FOLDER)
    if folder is None:
        return
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    _write_groups(folder, items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    with machine_lock.shared():
        return (yield)


# --- Redis databases -------------------------------------------------------------------------

_claimed: list[IO[bytes]] = []


def claim_redis_database() -> int:
    """A Redis database (1 to 15) that no other test process on this machine is using.

    Besides the queues, Celery and the app keep keys that every client of a database shares
    (kombu's unacked messages and bindings, the webhook intake's drain-pending flag): a flag
    left by another worker, or by another run of the tests, would keep this one's intake from
    queueing its drain. Each process claims a database with a lock file, held until it exits;
    0 is left to `make run`. Past 15 processes, databases are shared.
    """
    first = worker_index() % 15
    for offset in range(15):
        number = 1 + (first + offset) % 15
        path = Path(tempfile.gettempdir()) / f"forum-tests-redis-{number}.lock"
        lock = open(path, "ab")  # noqa: SIM115 (kept open: the claim lasts while it is)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        _claimed.append(lock)
        atexit.register(lock.close)  # closed, not left to the collector's warning
        return number
    return 1 + first
