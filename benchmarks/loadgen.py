"""A small HTTP/1.1 load generator: asyncio streams over kept-alive loopback connections.

Requests are rendered to bytes before the clock starts, each with the port it goes to and,
for an open-loop run, the moment it is due (seconds after the start). Each process opens
``connections`` connections to every port and sends the requests of that port in order,
one at a time per connection: a connection takes the next request due, waits for its
moment, sends it and reads the answer (status line, headers, a Content-Length body), then
takes the next. A connection the server closes is opened again, and each is renewed after
RENEW_AFTER requests, so that the connections spread over the server's workers.

Latency is ``time.perf_counter`` from the moment the request was due (or sent, for a
closed-loop run) to the end of its answer, so that a server that falls behind an offered
rate shows it in the figures rather than slowing the generator down. The requests are
shared out over ``processes`` processes (1-2), so that the generator does not take more
of the cores than it must; they start together at one wall-clock moment.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

HOST = "127.0.0.1"
# A request that has no answer after this long counts as failed (status 0).
TIMEOUT_SECONDS = 60.0
# Requests sent over one connection before it is closed and another opened.
RENEW_AFTER = 50


def render(
    method: str,
    path: str,
    *,
    port: int,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    """The bytes of one request, ready to send."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True)
class Job:
    """One request: the port it goes to, its bytes, and when it is due (None: at once)."""

    port: int
    request: bytes
    at: float | None = None


@dataclass
class Answer:
    status: int  # 0: no answer (refused, closed, timed out)
    seconds: float
    etag: str | None = None
    body: bytes | None = None  # kept only when asked for


@dataclass
class Run:
    """Every job's answer, in the order of the jobs, and when the run began and ended."""

    answers: list[Answer]
    started: float  # wall clock (time.time) of the first moment
    ended: float  # wall clock of the last answer
    processes: int
    connections: int  # per process and port
    ports: tuple[int, ...] = field(default_factory=tuple)

    @property
    def seconds(self) -> float:
        return max(self.ended - self.started, 1e-9)

    def count(self, *statuses: int) -> int:
        return sum(1 for a in self.answers if a.status in statuses)

    def rate(self, *statuses: int) -> float:
        """Answers of ``statuses`` per second of the run."""
        return self.count(*statuses) / self.seconds

    def percentile(self, share: float, *statuses: int) -> float:
        """The latency (seconds) under which ``share`` of the answers of ``statuses`` fall."""
        times = sorted(a.seconds for a in self.answers if not statuses or a.status in statuses)
        if not times:
            return 0.0
        return times[min(len(times) - 1, max(0, round(share * len(times)) - 1))]


async def _read_answer(reader: asyncio.StreamReader, keep_body: bool):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    status = int(lines[0].split(None, 2)[1])
    length = 0
    closing = False
    etag = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            closing = value.strip().lower() == b"close"
        elif name == b"etag":
            etag = value.strip().decode("latin-1")
    body = await reader.readexactly(length) if length else b""
    return status, etag, (body if keep_body else None), closing


async def _connection(port, queue, jobs, answers, started, keep_body) -> float:
    """Send the jobs of ``queue`` in turn over one kept-alive connection; the last answer's
    wall-clock moment."""
    reader = writer = None
    last = 0.0
    sent = 0
    clock_zero = time.perf_counter() - (time.time() - started)
    while True:
        try:
            index = queue.popleft()
        except IndexError:
            break
        job = jobs[index]
        if job.at is not None:
            due = clock_zero + job.at
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
        else:
            due = time.perf_counter()
        status, etag, body = 0, None, None
        for _attempt in range(3):  # a connection closed under load is opened again
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 22)
                writer.write(job.request)
                status, etag, body, closing = await asyncio.wait_for(
                    _read_answer(reader, keep_body), TIMEOUT_SECONDS
                )
                if closing:
                    writer.close()
                    reader = writer = None
                break
            except (
                TimeoutError,
                OSError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                ValueError,
            ):
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(0.02)
        done = time.perf_counter()
        answers[index] = Answer(status, done - due, etag, body)
        last = time.time()
        sent += 1
        if writer is not None and sent % RENEW_AFTER == 0:
            # A new connection now and then, as clients that come back later open one:
            # gunicorn pins a connection to the worker that accepted it, and a few
            # connections opened at once can all land on one worker and leave the other idle.
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()
    return last


async def _run_share(jobs, connections, started, keep_body):
    from collections import deque

    answers: list[Answer | None] = [None] * len(jobs)
    queues: dict[int, deque] = {}
    for index, job in enumerate(jobs):
        queues.setdefault(job.port, deque()).append(index)
    # Wait for the common start: both processes begin at one moment.
    await asyncio.sleep(max(0.0, started - time.time()))
    tasks = [
        _connection(port, queue, jobs, answers, started, keep_body)
        for port, queue in queues.items()
        for _ in range(connections)
    ]
    ends = await asyncio.gather(*tasks)
    return answers, max(ends, default=started)


def _process(jobs, connections, started, keep_body, pipe) -> None:
    answers, ended = asyncio.run(_run_share(jobs, connections, started, keep_body))
    pipe.send(([(a.status, a.seconds, a.etag, a.body) for a in answers], ended))
    pipe.close()


def run_here(jobs: Sequence[Job], *, connections: int = 2, keep_body: bool = False) -> Run:
    """Send the jobs from this process, at once (a few polls: no process to start)."""
    started = time.time()
    answers, ended = asyncio.run(_run_share(list(jobs), connections, started, keep_body))
    return Run(
        answers=answers,
        started=started,
        ended=ended,
        processes=1,
        connections=connections,
        ports=tuple(sorted({job.port for job in jobs})),
    )


def _receive(pipe, worker):
    """What a generator process sends back; an error if it died without sending it."""
    while not pipe.poll(1.0):
        if not worker.is_alive():
            raise RuntimeError(f"a load generator process exited ({worker.exitcode})")
    return pipe.recv()


def run(
    jobs: Sequence[Job],
    *,
    processes: int = 2,
    connections: int = 8,
    keep_body: bool = False,
    start_at: float | None = None,
) -> Run:
    """Send every job once, shared out over ``processes``, each with ``connections`` per port.

    Job ``i`` goes to process ``i % processes``: a paced run stays paced in each process.
    The run starts at the wall-clock moment ``start_at`` (default: in 1.5 s, the time the
    processes need to start), the moment the jobs' ``at`` count from.
    """
    processes = max(1, min(processes, len(jobs) or 1))
    context = multiprocessing.get_context("spawn")
    started = start_at if start_at is not None else time.time() + 1.5
    shares = [list(jobs[i::processes]) for i in range(processes)]
    pipes = []
    workers = []
    for share in shares:
        receiving, sending = context.Pipe(duplex=False)
        worker = context.Process(
            target=_process, args=(share, connections, started, keep_body, sending)
        )
        worker.start()
        sending.close()
        pipes.append(receiving)
        workers.append(worker)
    try:
        received = [_receive(pipe, worker) for pipe, worker in zip(pipes, workers, strict=True)]
    except BaseException:
        for worker in workers:  # Ctrl-C or a failure: no reason to let them finish
            worker.kill()
        raise
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    answers: list[Answer] = [None] * len(jobs)  # type: ignore[list-item]
    for offset, (share_answers, _ended) in enumerate(received):
        for n, (status, seconds, etag, body) in enumerate(share_answers):
            answers[offset + n * processes] = Answer(status, seconds, etag, body)
    return Run(
        answers=answers,
        started=started,
        ended=max(ended for _, ended in received),
        processes=processes,
        connections=connections,
        ports=tuple(sorted({job.port for job in jobs})),
    )
