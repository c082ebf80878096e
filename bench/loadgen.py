"""A lean HTTP/1.1 load generator for the benchmarks: closed-loop clients on keep-alive connections.

httpx spends about a millisecond of CPU on each request; on a two-core machine that shares its cores with the
server under test, the load generator would take a share of the very CPU being measured. Here each client
writes a prepared request and reads the status line, the headers and ``Content-Length`` bytes of body: tens of
microseconds a request. Each client sends one request after the other (no think time). A ``503`` with
``Retry-After`` makes the client wait that long before its next request, as a well-behaved connector does.

The cyclic garbage collector is off while the clients run (after one collection): the process that loads is
often the one that set the bench up (parsed and ingested the documents, loaded a model), and a full collection
of that heap stopped every client for about a quarter of a second, which the latencies then counted as the
server's (2026-12-04: 234–244 ms pauses in the bench's own process; the slowest 503 as the clients saw it
538–938 ms while the server had refused it within 492 ms).

    stats = asyncio.run(run_clients("127.0.0.1", 8765, requests, clients=16, seconds=15))
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field


def post(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One prepared ``POST`` request, its bytes as they go on the wire."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class LoadStats:
    """What one level of load saw: latencies of the answered requests and of the refused ones, statuses."""

    seconds: float = 0.0
    ok_ms: list[float] = field(default_factory=list)
    refused_ms: list[float] = field(default_factory=list)  # 503 with Retry-After
    refused_queue_ms: list[float] = field(default_factory=list)  # their wait as the server saw it (Server-Timing)
    refused_admission_ms: list[float] = field(default_factory=list)  # of which in the admission's queue (0: door)
    statuses: Counter[str] = field(default_factory=Counter)
    bodies: list[bytes] = field(default_factory=list)  # a sample of answered bodies (``keep_bodies``)

    @property
    def answers_per_s(self) -> float:
        return len(self.ok_ms) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.ok_ms if values is None else values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name:
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return status, headers, body


async def run_clients(host: str, port: int, requests: list[bytes], *, clients: int, seconds: float,
                      max_requests: int = 1_000_000, keep_bodies: int = 0) -> LoadStats:
    """``clients`` closed loops over ``requests`` (each client starts at its own offset) for ``seconds``."""
    stats = LoadStats()
    sent = itertools.count()
    deadline = time.perf_counter() + seconds

    async def client(offset: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                number = next(sent)
                if number >= max_requests:
                    return
                began = time.perf_counter()
                writer.write(requests[(offset + number) % len(requests)])
                try:
                    status, headers, body = await _read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError) as exc:
                    stats.statuses[type(exc).__name__] += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                elapsed = (time.perf_counter() - began) * 1000
                retry_after = headers.get(b"retry-after")
                if status == 200:
                    stats.ok_ms.append(elapsed)
                    if len(stats.bodies) < keep_bodies:
                        stats.bodies.append(body)
                elif status == 503 and retry_after is not None:
                    stats.refused_ms.append(elapsed)
                    timing = dict(part.strip().partition(b";dur=")[::2]
                                  for part in headers.get(b"server-timing", b"").split(b","))
                    if b"queue" in timing:
                        stats.refused_queue_ms.append(float(timing[b"queue"]))
                        stats.refused_admission_ms.append(float(timing.get(b"admission", 0.0)))
                stats.statuses[str(status)] += 1
                if headers.get(b"connection", b"").lower() == b"close":
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                if retry_after is not None:
                    await asyncio.sleep(min(float(retry_after), max(0.0, deadline - time.perf_counter())))
        finally:
            writer.close()

    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        await asyncio.gather(*(client(i * 37) for i in range(clients)))
        stats.seconds = time.perf_counter() - started
    finally:
        if collecting:
            gc.enable()
    return stats
