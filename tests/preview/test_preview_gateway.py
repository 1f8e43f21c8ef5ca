"""The split deployment's preview gateway: a real worker-side PreviewHost registering `tcp:` endpoints
with tokens in a real store, the gateway on loopback, and the web server's client (`open_preview_stream`).
The right token gets the preview (HTTP and a WebSocket); a wrong, forged, or another task's token, a
first line too long, garbage, or one that never ends is closed with nothing passed to the preview."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from preview_world import World, app_spec, http_get, marker, wait_gone
from websockets.asyncio.client import connect

from honk.domain import PreviewEndpoint
from honk.preview.endpoint import PreviewUnreachable, open_preview_stream, preamble
from honk.preview.gateway import MAX_LINE, PreviewGateway
from honk.preview.host import PreviewHost


@dataclass
class Split:
    world: World
    host: PreviewHost
    gateway: PreviewGateway
    endpoints: dict[str, PreviewEndpoint]
    marks: dict[str, str]

    def log(self, key: str) -> str:
        return (self.world.logs / key / "preview.log").read_text()


@pytest.fixture
async def split(confined: World) -> AsyncIterator[Split]:
    holder: list[PreviewHost] = []
    gateway = await PreviewGateway(
        lambda task, token: holder[0].admit(task, token), "127.0.0.1:0", first_line_s=1.0
    ).start()
    address = "{}:{}".format(*gateway.address)
    host = confined.host(address=address)
    holder.append(host)
    marks, endpoints = {k: marker() for k in ("t-a", "t-b")}, {}
    for key, mark in marks.items():
        outcome = await host.start(key, confined.workspace(key), app_spec(mark))
        assert outcome.ok and outcome.endpoint is not None, outcome
        endpoints[key] = outcome.endpoint
    yield Split(confined, host, gateway, endpoints, marks)
    await host.close()
    await gateway.close()
    assert all(wait_gone(m) == [] for m in marks.values())


async def _refused(split: Split, sent: bytes, wait_s: float = 10.0) -> bytes:
    """What the gateway answers to `sent` (then the client's end of writing); b"" when it just closed."""
    reader, writer = await asyncio.open_connection(*split.gateway.address)
    writer.write(sent)
    try:
        return await asyncio.wait_for(reader.read(-1), wait_s)
    except ConnectionResetError:
        return b""  # closed with some of what was sent unread: the kernel resets instead of ending
    finally:
        writer.close()


async def test_the_registered_endpoint_and_its_token_reach_the_preview_over_the_gateway(split: Split) -> None:
    a = split.endpoints["t-a"]
    assert a.address == "tcp:{}:{}".format(*split.gateway.address) and len(a.token) >= 32
    assert a.token != split.endpoints["t-b"].token
    info = await split.world.registry.get("t-a")
    assert info is not None and info.state == "running" and info.endpoint == a
    status, body = await http_get(a, "t-a", "/whoami")
    assert (status, body.decode()) == (200, split.marks["t-a"])
    status, body = await http_get(split.endpoints["t-b"], "t-b", "/whoami")
    assert (status, body.decode()) == (200, split.marks["t-b"])
    # A WebSocket through it: the greeting first, then the connection is the preview's.
    loop, sock = asyncio.get_running_loop(), socket.socket()
    sock.setblocking(False)  # the gateway answers on this same event loop
    await loop.sock_connect(sock, split.gateway.address)
    await loop.sock_sendall(sock, preamble("t-a", a.token))
    assert await asyncio.wait_for(loop.sock_recv(sock, 4), 10) == b"OK\r\n"
    async with connect("ws://localhost/ws", sock=sock) as ws:
        await ws.send("through the gateway")
        assert await asyncio.wait_for(ws.recv(), 10) == "through the gateway"


@pytest.mark.parametrize(
    "case",
    ["wrong token", "another task's token", "unknown task", "forged lookalike", "no token", "lower-case greeting"],
)
async def test_a_bad_greeting_is_closed_and_nothing_reaches_the_preview(split: Split, case: str) -> None:
    a, b = split.endpoints["t-a"], split.endpoints["t-b"]
    line = {
        "wrong token": preamble("t-a", "x" * len(a.token)),
        "another task's token": preamble("t-a", b.token),  # replayed from t-b's registration
        "unknown task": preamble("t-zzz", a.token),
        "forged lookalike": preamble("t-a", a.token[:-1] + ("A" if a.token[-1] != "A" else "B")),
        "no token": b"HONK-PREVIEW t-a\r\n",
        "lower-case greeting": b"honk-preview t-a " + a.token.encode() + b"\r\n",
    }[case]
    leak = f"/whoami?leak-{case.replace(' ', '-')}"
    assert await _refused(split, line + f"GET {leak} HTTP/1.1\r\nHost: x\r\n\r\n".encode()) == b""
    assert leak not in split.log("t-a") and leak not in split.log("t-b")
    with pytest.raises(PreviewUnreachable):
        await open_preview_stream(PreviewEndpoint(address=a.address, token=b.token), "t-a")


@pytest.mark.parametrize("case", ["oversized", "garbage", "plain http", "binary", "no newline, then closed"])
async def test_malformed_first_lines_are_closed_unread(split: Split, case: str) -> None:
    a = split.endpoints["t-a"]
    sent = {
        "oversized": b"HONK-PREVIEW t-a " + a.token.encode() + b" " + b"x" * (MAX_LINE * 50) + b"\r\n",
        "garbage": b"\r\n\r\n\r\n",
        "plain http": b"GET /whoami?leak HTTP/1.1\r\nHost: x\r\n\r\n",
        "binary": b"HONK-PREVIEW t-a \xff\xfe\x00" + a.token.encode() + b"\r\n",
        "no newline, then closed": b"HONK-PREVIEW t-a " + a.token.encode(),
    }[case]
    assert await _refused(split, sent) == b""
    assert "leak" not in split.log("t-a")


async def test_a_client_that_never_finishes_its_first_line_is_dropped(split: Split) -> None:
    """A slow-loris: a byte now and then, never the line's end; dropped after the gateway's limit (1 s here)."""
    reader, writer = await asyncio.open_connection(*split.gateway.address)
    began = time.monotonic()
    writer.write(b"HONK-PREVIEW t-a ")
    closed = asyncio.ensure_future(reader.read(-1))
    try:
        while not closed.done() and time.monotonic() - began < 10:
            writer.write(b"x")
            await asyncio.wait([closed], timeout=0.2)  # a slow client's pace, bounded by the deadline above
        assert closed.done() and closed.result() == b""
        assert 0.9 < time.monotonic() - began < 5
    finally:
        writer.close()


async def test_a_stopped_preview_is_no_longer_let_through(split: Split) -> None:
    a = split.endpoints["t-a"]
    await split.host.stop("t-a", "stopped by the test")
    assert await _refused(split, preamble("t-a", a.token) + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == b""
    with pytest.raises(PreviewUnreachable):
        await open_preview_stream(a, "t-a")
    status, _ = await http_get(split.endpoints["t-b"], "t-b", "/")
    assert status == 200, "the other preview is untouched"


async def test_the_client_refuses_what_is_not_an_endpoint() -> None:
    for address in ("http://x", "tcp:nohost", "tcp:127.0.0.1:notaport", "unix:/nonexistent/dir/app.sock"):
        with pytest.raises(PreviewUnreachable):
            await open_preview_stream(PreviewEndpoint(address=address), "t-a", timeout_s=2)
