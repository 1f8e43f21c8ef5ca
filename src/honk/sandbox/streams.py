"""Bytes passed both ways between two connections, in the worker: a preview's gateway, and the relay an
unsandboxed preview's socket gets."""

from __future__ import annotations

import asyncio
import contextlib


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """`reader`'s bytes to `writer` until the end, which is passed on as a half-close: the other side
    reads the end, then answers or closes."""
    with contextlib.suppress(OSError):
        while data := await reader.read(262144):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


async def both_ways(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter], b: tuple[asyncio.StreamReader, asyncio.StreamWriter]
) -> None:
    await asyncio.gather(pipe(a[0], b[1]), pipe(b[0], a[1]))
