"""How the web server opens a connection to a running preview, from the endpoint the store gives it.

`unix:/path`: the preview's socket, on a machine that shares the worker's files — connected directly.
`tcp:host:port`: a worker's preview gateway (split deployment) — the first line names the task and the
registration's token (`HONK-PREVIEW <task_id> <token>\r\n`), the gateway answers `OK\r\n`, and from
then on the connection is as if made to the preview's socket. Either way the caller gets a plain byte
stream to the preview's server and speaks HTTP (or a WebSocket) on it.

This module is the server's side of the wire: it depends on nothing of the worker's.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from honk.domain import PreviewEndpoint

GREETING = b"HONK-PREVIEW"
OK = b"OK\r\n"
# sun_path holds 108 bytes; a longer socket path is reached through its directory's descriptor.
_SUN_PATH = 100


class PreviewUnreachable(ConnectionError):
    """Nothing answered at the endpoint: the preview stopped, its worker is gone, or the gateway refused."""


def preamble(task_id: str, token: str) -> bytes:
    """The gateway's first line: which preview, and the token its worker registered for it."""
    return b" ".join((GREETING, task_id.encode(), token.encode())) + b"\r\n"


async def open_preview_stream(
    endpoint: PreviewEndpoint, task_id: str, timeout_s: float = 10.0
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A byte stream to the preview's server (past the gateway's greeting for a `tcp:` endpoint);
    PreviewUnreachable when none could be had within `timeout_s`."""
    return await asyncio.open_connection(sock=await open_socket(endpoint, task_id, timeout_s))


async def open_socket(endpoint: PreviewEndpoint, task_id: str, timeout_s: float = 10.0) -> socket.socket:
    """A connected, non-blocking socket to the preview's server: its unix socket, or a worker's gateway
    after it said yes to the task and its token. PreviewUnreachable when none within `timeout_s`."""
    kind, _, where = endpoint.address.partition(":")
    if kind not in ("unix", "tcp"):
        raise PreviewUnreachable(f"not a preview endpoint: {endpoint.address!r} (unix:/path or tcp:host:port)")
    try:
        async with asyncio.timeout(timeout_s):
            if kind == "unix":
                return await connect_unix(Path(where))
            return await _through_gateway(where, task_id, endpoint.token)
    except (OSError, ValueError, IndexError, TimeoutError) as e:
        raise PreviewUnreachable(f"the preview at {endpoint.address} did not answer ({e or type(e).__name__})") from e


async def open_unix(path: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the unix socket at `path`, however long the path."""
    return await asyncio.open_unix_connection(sock=await connect_unix(path))


async def connect_unix(path: Path) -> socket.socket:
    """A connected, non-blocking socket to the unix socket at `path`. A path longer than a socket address
    holds (108 bytes) is reached through its directory's descriptor, `/proc/self/fd/N/name`."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    where = os.open(path.parent, os.O_PATH) if len(os.fsencode(path)) >= _SUN_PATH else None
    try:
        target = f"/proc/self/fd/{where}/{path.name}" if where is not None else str(path)
        await asyncio.get_running_loop().sock_connect(sock, target)
    except BaseException:
        sock.close()
        raise
    finally:
        if where is not None:
            os.close(where)
    return sock


async def _through_gateway(where: str, task_id: str, token: str) -> socket.socket:
    """The gateway's greeting (the task and its token) and its `OK`; what follows is the preview's own."""
    host, _, port = where.rpartition(":")
    loop = asyncio.get_running_loop()
    family, kind, proto, _, addr = (await loop.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM))[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await loop.sock_connect(sock, addr)
        await loop.sock_sendall(sock, preamble(task_id, token))
        answer = b""
        while len(answer) < len(OK):  # exactly "OK\r\n": what follows belongs to the preview
            chunk = await loop.sock_recv(sock, len(OK) - len(answer))
            if not chunk:
                break
            answer += chunk
        if answer != OK:
            raise ConnectionRefusedError("the preview gateway did not let the connection through")
    except BaseException:
        sock.close()
        raise
    return sock
