"""The split deployment's way from the web server to a worker's previews: one TCP port per worker
(HONK_PREVIEW_LISTEN, reached at HONK_PREVIEW_ADDRESS).

The server writes `HONK-PREVIEW <task_id> <token>\\r\\n`; when that task's preview runs here and the token
is the one this worker registered for it (compared in constant time), the gateway connects to the
preview's unix socket, answers `OK\\r\\n`, and passes bytes both ways. Anything else — an unknown task, a
wrong token, a token of another task, a line too long, malformed, or not finished in time — is closed
with nothing passed on and nothing answered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from honk.preview.endpoint import GREETING, OK, open_unix
from honk.sandbox.streams import both_ways

MAX_LINE = 200  # the greeting, a task id and a 43-character token fit in well under this
FIRST_LINE_S = 5.0  # a client that sends no full first line by then is dropped (a slow-loris)


class PreviewGateway:
    """`admit(task_id, token)`: the preview's socket when the pair is good, else None (`PreviewHost.admit`).
    `listen`: `host:port` (port 0: any free one; `address` says which)."""

    def __init__(
        self, admit: Callable[[str, str], Path | None], listen: str, *, first_line_s: float = FIRST_LINE_S
    ) -> None:
        self._admit, self._listen, self._first_line_s = admit, listen, first_line_s
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.StreamWriter] = set()

    async def start(self) -> PreviewGateway:
        host, _, port = self._listen.rpartition(":")
        self._server = await asyncio.start_server(self._serve, host.strip("[]") or None, int(port))
        return self

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "start it first"
        return self._server.sockets[0].getsockname()[:2]

    async def close(self) -> None:
        """No new connections; the open ones are cut."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._live):
            writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._live.add(writer)
        try:
            await self._pass(reader, writer)
        finally:
            self._live.discard(writer)
            writer.close()

    async def _pass(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(self._first_line_s):
                line, early = await _first_line(reader)
        except (TimeoutError, OSError):
            return
        try:
            words = line.decode("ascii").split(" ") if line is not None else []
        except UnicodeDecodeError:
            return
        if len(words) != 3 or words[0] != GREETING.decode() or not all(w.isprintable() and w for w in words):
            return
        socket = self._admit(words[1], words[2])
        if socket is None:
            return
        try:
            up_reader, up_writer = await open_unix(socket)
        except OSError:
            return  # it stopped a moment ago: as if it were unknown
        self._live.add(up_writer)
        try:
            writer.write(OK)
            up_writer.write(early)  # what the server sent after its first line, without waiting for OK
            await both_ways((reader, writer), (up_reader, up_writer))
        finally:
            self._live.discard(up_writer)
            up_writer.close()


async def _first_line(reader: asyncio.StreamReader) -> tuple[bytes | None, bytes]:
    """The first line (without its CRLF) and what came after it in the same reads; None for a line
    longer than MAX_LINE or a connection closed before its end. Never reads more than MAX_LINE + 2."""
    buf = b""
    while b"\r\n" not in buf:
        if len(buf) >= MAX_LINE + 2:
            return None, b""
        chunk = await reader.read(MAX_LINE + 2 - len(buf))
        if not chunk:
            return None, b""
        buf += chunk
    line, _, rest = buf.partition(b"\r\n")
    return line, rest
