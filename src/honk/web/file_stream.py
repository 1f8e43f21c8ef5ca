"""A large file sent from disk as it is read, never whole: an artifact of hundreds of MB to a phone.

Starlette's FileResponse reads each chunk on a worker thread and waits for it before sending: at its
64 KB a chunk that runs at a fifth of a plain static server's speed (measured: bench/deliver.py), and
larger chunks queue up in the transport's buffer instead. Reading ahead on a thread while sending did
better, but the thread hop per chunk still cost a quarter. Here a chunk the page cache holds (a file
just built, or just sent to another phone) is read in the event loop with `RWF_NOWAIT`, which never
waits for the disk; only what is not cached is read on a thread. One chunk is in memory at a time
besides the transport's buffer, which uvicorn's flow control bounds, and a client that goes away stops
the reading. One byte range (`Range: bytes=a-b`, `a-`, `-n`) is served, so an interrupted
download resumes; several ranges get the whole file, as HTTP allows."""

from __future__ import annotations

import asyncio
import os
import re
from contextlib import suppress
from pathlib import Path
from urllib.parse import quote

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

CHUNK = 256 * 1024  # about what a loopback socket takes in one send: larger ones are copied into buffers
# Linux: read without waiting, only what the page cache holds (None elsewhere: every read on a thread).
NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class FileStream(Response):
    def __init__(self, path: Path, media_type: str, filename: str, headers: dict[str, str], etag: str = "") -> None:
        self.path, self.media_type, self.filename, self.extra, self.etag = path, media_type, filename, headers, etag
        self.status_code = 200
        self.background = None
        self.raw_headers = []  # what starlette's own responses keep; this one sends its headers itself

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        size = os.fstat(fd).st_size
        start, end, status = _span(_header(scope, b"range"), size)
        headers = [
            (b"content-type", self.media_type.encode()),
            (b"content-length", str(max(0, end - start)).encode()),
            (b"accept-ranges", b"bytes"),
            (b"content-disposition", _disposition(self.filename).encode()),
            *((k.lower().encode(), v.encode()) for k, v in self.extra.items()),
        ]
        if self.etag:
            headers.append((b"etag", f'"{self.etag}"'.encode()))
        if status == 206:
            headers.append((b"content-range", f"bytes {start}-{end - 1}/{size}".encode()))
        elif status == 416:
            headers.append((b"content-range", f"bytes */{size}".encode()))
        try:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            if scope["method"] == "HEAD" or status == 416:
                await send({"type": "http.response.body", "body": b""})
                return
            body = asyncio.ensure_future(_send_body(fd, start, end, send))
            gone = asyncio.ensure_future(_disconnected(receive))
            try:
                await asyncio.wait({body, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (body, gone):
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task
            if body.done() and not body.cancelled() and (error := body.exception()) is not None:
                raise error
        finally:
            os.close(fd)


async def _send_body(fd: int, start: int, end: int, send: Send) -> None:
    loop = asyncio.get_running_loop()
    at, nowait = start, NOWAIT
    reading: asyncio.Future[bytes] | None = None
    try:
        while at < end:
            want = min(CHUNK, end - at)
            data: bytes | bytearray | None = None
            if nowait is not None:
                buf = bytearray(want)  # a fresh one each time: the transport may keep it until it is sent
                try:
                    n = os.preadv(fd, [buf], at, nowait)
                    data = buf if n == want else buf[:n]
                except BlockingIOError:  # not in the page cache: read on a thread below
                    pass
                except OSError:  # a file system that does not take the flag
                    nowait = None
            if data is None:
                reading = loop.run_in_executor(None, os.pread, fd, want, at)
                data = await asyncio.shield(reading)
                reading = None
            if not data:  # the file was cut short while being sent: end here, the length tells the client
                break
            at += len(data)
            await send({"type": "http.response.body", "body": data, "more_body": at < end})
        if at == start:
            await send({"type": "http.response.body", "body": b""})
    finally:
        if reading is not None:  # stopped while a thread reads: the caller closes the file after it
            await asyncio.wait({reading})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


def _span(range_header: str, size: int) -> tuple[int, int, int]:
    """(start, end exclusive, status) for a `Range` header of one range; anything else: the whole file."""
    m = _RANGE.match(range_header.strip())
    if not m or not (m.group(1) or m.group(2)):
        return 0, size, 200
    first, last = m.group(1), m.group(2)
    if not first:  # the last n bytes
        return max(0, size - int(last)), size, 206 if size else 416
    start = int(first)
    end = min(size, int(last) + 1) if last else size
    if start >= size or end <= start:
        return 0, 0, 416
    return start, end, 206


def _disposition(filename: str) -> str:
    quoted = quote(filename)
    if quoted == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*=utf-8''{quoted}"
