"""A small HTTP/1.1 load generator: asyncio, keep-alive, loopback only, bounded in time.

Run as its own process (so that it does not share a core's event loop with the server)::

    python bench/_loadgen.py SPEC.json

The spec is a JSON object::

    {"host": "127.0.0.1", "port": 8000, "duration": 5.0, "warmup": 1.0,
     "connections": 8, "max_requests": 100000,
     "requests": [[{"method": "GET", "path": "/", "headers": {...}, "body": "..."}, ...], ...]}

``requests`` holds one list per connection (or a single list that every connection shares).
A connection walks its list in order, round and round until the time is up; with
``"repeat": false`` it stops at the end of its list instead (so a list of statements chained
by ``previous`` is sent once, in its order, one at a time). Requests sent during
the warm-up are not counted. The result, printed as one JSON object on stdout, counts
responses by status and gives the requests per second over the measured window and latency
percentiles.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import sys
import time
from typing import Any


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _encode(req: dict[str, Any], host: str, port: int) -> bytes:
    body = req.get("body")
    data = b"" if body is None else (body.encode() if isinstance(body, str) else bytes(body))
    lines = [f"{req.get('method', 'GET')} {req['path']} HTTP/1.1", f"Host: {host}:{port}"]
    headers = dict(req.get("headers") or {})
    if data or req.get("method", "GET") in ("POST", "PUT", "PATCH"):
        headers.setdefault("Content-Type", "application/json")
        headers["Content-Length"] = str(len(data))
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    length, chunked = 0, False
    for line in header_lines:
        if not line:
            continue
        name, _, value = line.partition(":")
        lname = name.strip().lower()
        if lname == "content-length":
            length = int(value.strip())
        elif lname == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length) if length else b""
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return status, b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


class _Stats:
    def __init__(self) -> None:
        self.statuses: dict[str, int] = {}
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.sent = 0


async def _connection(spec: dict[str, Any], requests: list[bytes], repeat: bool,
                      stats: _Stats, measure_from: float, deadline: float,
                      budget: list[int]) -> None:
    host, port = spec["host"], spec["port"]
    if not requests:
        return
    reader, writer = await asyncio.open_connection(host, port)
    try:
        i = 0
        while repeat or i < len(requests):
            raw = requests[i % len(requests)]
            i += 1
            now = time.perf_counter()
            if now >= deadline or budget[0] <= 0:
                return
            budget[0] -= 1
            writer.write(raw)
            try:
                status, _body = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                stats.errors.append(type(exc).__name__)
                return
            done = time.perf_counter()
            if now >= measure_from and done <= deadline:
                key = str(status)
                stats.statuses[key] = stats.statuses.get(key, 0) + 1
                stats.latencies.append(done - now)
                if status >= 400 and len(stats.errors) < 5:
                    stats.errors.append(f"{status}: {_body[:200]!r}")
    finally:
        writer.close()


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    host, port = spec["host"], int(spec["port"])
    if not _is_loopback(host):
        raise SystemExit("This load generator sends traffic to loopback addresses only.")
    connections = int(spec.get("connections", 8))
    lists = spec["requests"]
    if len(lists) == 1 and connections > 1:
        lists = lists * connections
    if len(lists) < connections:
        raise SystemExit("Fewer request lists than connections.")
    encoded = [[_encode(r, host, port) for r in lst] for lst in lists[:connections]]
    warmup = float(spec.get("warmup", 1.0))
    duration = float(spec.get("duration", 5.0))
    # Cycle through each list for as long as the window lasts (bounded by max_requests),
    # unless the lists must be sent once, in order (chained statements).
    repeat = bool(spec.get("repeat", True))
    start = time.perf_counter()
    measure_from = start + warmup
    deadline = measure_from + duration
    stats = _Stats()
    budget = [int(spec.get("max_requests", 1_000_000))]
    await asyncio.gather(*(_connection(spec, lst, repeat, stats, measure_from, deadline, budget)
                           for lst in encoded))
    ended = min(time.perf_counter(), deadline)
    window = max(ended - measure_from, 1e-9)
    lat = sorted(stats.latencies)
    done = len(lat)

    def pct(p: float) -> float | None:
        return lat[min(done - 1, int(p * done))] * 1000 if done else None

    ok = sum(n for s, n in stats.statuses.items() if s.startswith("2"))
    return {"requests": done, "ok": ok, "statuses": stats.statuses, "window_s": window,
            "rps": ok / window, "p50_ms": pct(0.5), "p99_ms": pct(0.99),
            "errors": stats.errors[:5]}


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as fh:
        spec = json.load(fh)
    result = asyncio.run(run(spec))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
