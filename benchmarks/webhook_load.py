"""A load generator for webhook intake: signed Zoom deliveries over many connections.

Deliveries are built and signed before the clock starts; then several processes, each with
several threads, POST them over HTTP/1.1 on loopback, each thread keeping its connection
open while the server allows it. The figure is deliveries answered 2xx per second.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import random
import socket
import threading
import time
from dataclasses import dataclass


def sign_zoom(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Zoom's scheme (Zoom's webhook docs): v0=HMAC-SHA256(secret, v0:ts:body)."""
    message = b"v0:%d:%s" % (timestamp, body)
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json; charset=utf-8",
        "x-zm-request-timestamp": str(timestamp),
        "x-zm-signature": f"v0={signature}",
    }


def zoom_attendance_deliveries(
    secret: str, *, meeting_id: int, count: int, start_ms: int
) -> list[tuple[dict[str, str], bytes]]:
    """``count`` distinct participant joins and leaves of one meeting, signed now."""
    now = int(time.time())
    deliveries = []
    for n in range(count):
        joined = n % 2 == 0
        person = n // 2
        event = "meeting.participant_joined" if joined else "meeting.participant_left"
        moment = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_ms / 1000 + person + (0 if joined else 600))
        )
        participant = {
            "user_id": str(16778240 + person),
            "user_name": f"Participant {person}",
            "id": "",
            "participant_uuid": f"uuid-{person}",
            "email": f"participant{person}@uni.example",
            ("join_time" if joined else "leave_time"): moment,
        }
        payload = {
            "event": event,
            "event_ts": start_ms + n,
            "payload": {
                "account_id": "AbC",
                "object": {
                    "id": str(meeting_id),  # a string in participant events (Zoom's quirk)
                    "uuid": "aDYlohsHRtCd4ii1uC2+hA==",
                    "host_id": "30R7kT7bTIKSNUFEuH_Qlg",
                    "topic": "Load test",
                    "type": 2,
                    "start_time": "2027-03-10T13:00:00Z",
                    "timezone": "Asia/Shanghai",
                    "duration": 60,
                    "participant": participant,
                },
            },
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        deliveries.append((sign_zoom(secret, body, now), body))
    return deliveries


@dataclass
class LoadResult:
    sent: int
    ok: int
    failed: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def _render(host: str, port: int, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """The request's bytes, ready to send: the generator spends no time on HTTP itself."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _exchange(sock: socket.socket, request: bytes, buffer: bytearray) -> tuple[int, bool]:
    """Send one request on a kept-alive connection; (status, whether the server closes)."""
    sock.sendall(request)
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer.extend(chunk)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    fields = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])
    }
    length = int(fields.get(b"content-length", b"0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    buffer[:] = rest[length:]
    return status, fields.get(b"connection", b"").lower() == b"close"


def _post_all(host: str, port: int, path: str, items, results, threads: int) -> None:
    lock = threading.Lock()
    counts = {"ok": 0, "failed": 0}
    queue = [_render(host, port, path, headers, body) for headers, body in items]

    def worker() -> None:
        sock: socket.socket | None = None
        buffer = bytearray()
        while True:
            with lock:
                if not queue:
                    break
                request = queue.pop()
            status = 0
            for _ in range(3):  # a connection closed or refused under load is opened again
                try:
                    if sock is None:
                        sock = socket.create_connection((host, port), timeout=30)
                        buffer.clear()
                    status, closing = _exchange(sock, request, buffer)
                    if closing:
                        sock.close()
                        sock = None
                    break
                except (OSError, ValueError, IndexError):
                    if sock is not None:
                        sock.close()
                    sock = None
                    time.sleep(0.02)
            with lock:
                counts["ok" if 200 <= status < 300 else "failed"] += 1
        if sock is not None:
            sock.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    results.put((counts["ok"], counts["failed"]))


def run_load(
    url_host: str,
    port: int,
    path: str,
    deliveries: list[tuple[dict[str, str], bytes]],
    *,
    processes: int = 2,
    threads: int = 8,
) -> LoadResult:
    """POST every delivery once; deliveries are shared out over the processes."""
    shares = [deliveries[i::processes] for i in range(processes)]
    results: multiprocessing.Queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(
            target=_post_all, args=(url_host, port, path, share, results, threads)
        )
        for share in shares
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    totals = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    ok = sum(t[0] for t in totals)
    failed = sum(t[1] for t in totals)
    return LoadResult(sent=len(deliveries), ok=ok, failed=failed, seconds=seconds)


def with_duplicates(
    deliveries: list[tuple[dict[str, str], bytes]], share: float, seed: int = 6
) -> list[tuple[dict[str, str], bytes]]:
    """The deliveries plus ``share`` of them again (providers repeat), shuffled."""
    rng = random.Random(seed)
    repeated = rng.sample(deliveries, int(len(deliveries) * share))
    mixed = deliveries + repeated
    rng.shuffle(mixed)
    return mixed
