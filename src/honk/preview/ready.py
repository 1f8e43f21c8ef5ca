"""Whether a preview's server answers yet: `[preview] ready` asked through its way in (the unix socket),
as a browser would ask it, until it answers below 500, the server exits, or the time is up."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from honk.domain import PREVIEW_PORT
from honk.preview.endpoint import open_unix

PROBE_S = 5.0  # one request's limit: a dev server compiling the first page may take a while to answer


@dataclass
class Readiness:
    ready: bool
    exited: bool = False  # the server ended before it was ready
    status: int | None = None  # the last answer's status
    answered: bool = False  # anything ever came back (False: refused the whole time — the wrong port)


async def wait_ready(socket: Path, path: str, timeout_s: float, alive: Callable[[], bool]) -> Readiness:
    """Asks `path` through `socket` until a status below 500 comes back (bounded by `timeout_s`),
    stopping early when `alive()` says the server ended."""
    # Often at first (a dev server is usually up within a few hundred ms: a wake waits on this), then less.
    deadline, pause = time.monotonic() + timeout_s, 0.02
    seen = Readiness(ready=False)
    while True:
        if not alive():
            seen.exited = True
            return seen
        left = deadline - time.monotonic()
        if left <= 0:
            return seen
        status = await probe(socket, path, min(PROBE_S, left))
        if status is not None:
            seen.answered, seen.status = True, status
            if 0 < status < 500:
                seen.ready = True
                return seen
        await asyncio.sleep(
            min(pause, max(0.0, deadline - time.monotonic()))
        )  # bounded polling, not a wait for an event
        pause = min(pause * 1.5, 0.25)


async def probe(socket: Path, path: str, timeout_s: float) -> int | None:
    """The status `GET path` gets through the socket; 0 for an answer that is not HTTP, None for none
    (nothing listens yet: the bridge accepts and closes, or no socket yet)."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: localhost:{PREVIEW_PORT}\r\nUser-Agent: honk-ready\r\nConnection: close\r\n\r\n"
    )
    writer = None
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await open_unix(socket)
            writer.write(request.encode())
            line = await reader.readline()
    except (OSError, TimeoutError, ValueError):
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    if not line:
        return None
    parts = line.split()
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return 0
