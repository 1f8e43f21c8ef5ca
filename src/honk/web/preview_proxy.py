"""The preview origin's way to a task's running preview: HTTP/1.1 over kept-alive connections (one pool per
endpoint; bodies streamed both ways, so uploads, server-sent events and long downloads pass as they come)
and WebSockets (hot reload), over connections `open_endpoint` makes.

What passes is cleaned on the way: hop-by-hop headers go, the Host becomes the one the preview's server
listens as (dev servers such as Vite refuse Hosts they do not know), Honk's preview cookie never reaches
the app, and a cookie the app sets can never name a Domain (it would reach Honk's origin or another
task's preview).
"""

from __future__ import annotations

import asyncio
import logging
import select
import socket
from collections.abc import AsyncIterator, Iterable
from contextlib import suppress
from typing import Any

import httpcore
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from honk.domain import PREVIEW_PORT, PreviewEndpoint
from honk.preview.endpoint import PreviewUnreachable, open_socket
from honk.preview_links import COOKIE

log = logging.getLogger("honk.preview")

UPSTREAM_HOST = f"localhost:{PREVIEW_PORT}"
UPSTREAM_ORIGIN = f"http://{UPSTREAM_HOST}"
CONNECT_TIMEOUT_S = 5.0
MAX_WS_MESSAGE = 16 * 2**20  # as uvicorn's own limit on what a browser sends
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Set here, never taken from the browser (the app may trust them).
FORWARDED = frozenset({"forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip"})
# The WebSocket client writes its own handshake.
WS_HANDSHAKE = frozenset({"host", "origin", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"})
# Close codes a close frame may carry (RFC 6455 7.4): others stand for what happened, never sent.
SENDABLE_CLOSE = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015), *range(3000, 5000)})

Headers = list[tuple[bytes, bytes]]
Scope = dict[str, Any]


async def open_endpoint(endpoint: PreviewEndpoint, task_id: str, timeout_s: float = CONNECT_TIMEOUT_S) -> socket.socket:
    """A connected, non-blocking socket to the task's preview server (honk.preview.endpoint)."""
    return await open_socket(endpoint, task_id, timeout_s)


class _SocketStream(httpcore.AsyncNetworkStream):
    """httpcore's view of a socket `open_endpoint` made."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock, self._loop = sock, asyncio.get_running_loop()

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._loop.sock_recv(self._sock, max_bytes)
        except TimeoutError as e:
            raise httpcore.ReadTimeout(str(e)) from e
        except OSError as e:
            raise httpcore.ReadError(str(e)) from e

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self._loop.sock_sendall(self._sock, buffer)
        except TimeoutError as e:
            raise httpcore.WriteTimeout(str(e)) from e
        except OSError as e:
            raise httpcore.WriteError(str(e)) from e

    async def aclose(self) -> None:
        self._sock.close()

    def get_extra_info(self, info: str) -> Any:
        if info == "socket":
            return self._sock
        if info == "is_readable":  # an idle kept-alive connection that is readable was closed by the server
            if self._sock.fileno() < 0:
                return True
            poll = select.poll()
            poll.register(self._sock.fileno(), select.POLLIN)
            return bool(poll.poll(0))
        return None


class _EndpointBackend(httpcore.AsyncNetworkBackend):
    """Every connection the pool asks for goes to one preview, whatever host it names."""

    def __init__(self, endpoint: PreviewEndpoint, task_id: str) -> None:
        self.endpoint, self.task_id = endpoint, task_id

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, *_: Any, **__: Any
    ) -> _SocketStream:
        try:
            return _SocketStream(await open_endpoint(self.endpoint, self.task_id, timeout or CONNECT_TIMEOUT_S))
        except PreviewUnreachable as e:
            raise httpcore.ConnectError(str(e)) from e

    async def connect_unix_socket(self, path: str, timeout: float | None = None, *_: Any, **__: Any) -> _SocketStream:
        return await self.connect_tcp(path, 0, timeout)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class PreviewProxy:
    """Passes requests to previews: one pool of kept-alive connections per task's current endpoint."""

    def __init__(self) -> None:
        self._pools: dict[str, tuple[PreviewEndpoint, httpcore.AsyncConnectionPool]] = {}

    def _pool(self, endpoint: PreviewEndpoint, task_id: str) -> httpcore.AsyncConnectionPool:
        known = self._pools.get(task_id)
        if known is not None and known[0] == endpoint:
            return known[1]
        if known is not None:  # the preview moved (woken on another worker): the old connections lead nowhere
            _later(known[1].aclose())
        pool = httpcore.AsyncConnectionPool(
            max_connections=64,
            max_keepalive_connections=16,
            keepalive_expiry=30.0,
            network_backend=_EndpointBackend(endpoint, task_id),
        )
        self._pools[task_id] = (endpoint, pool)
        return pool

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for _, pool in pools.values():
            await pool.aclose()

    async def http(self, endpoint: PreviewEndpoint, task_id: str, scope: Scope, receive: Any, send: Any) -> None:
        """Passes one HTTP request and its answer; PreviewUnreachable (before anything was answered) when no
        connection to the preview could be made."""
        body_read = asyncio.Event()

        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone
                if chunk := message.get("body", b""):
                    yield chunk
                if not message.get("more_body", False):
                    body_read.set()
                    return

        request = httpcore.Request(
            scope["method"],
            httpcore.URL(scheme=b"http", host=b"localhost", port=PREVIEW_PORT, target=_target(scope)),
            headers=request_headers(scope),
            content=body(),
            extensions={"timeout": {"connect": CONNECT_TIMEOUT_S, "read": None, "write": 60.0, "pool": 30.0}},
        )
        try:
            response = await self._pool(endpoint, task_id).handle_async_request(request)
        except httpcore.ConnectError as e:
            raise PreviewUnreachable(str(e)) from e
        except (httpcore.ProtocolError, httpcore.NetworkError, httpcore.TimeoutException) as e:
            log.info("preview %s: no answer (%s)", task_id, e)
            await _answer(send, 502, b"The preview's server closed the connection without answering.")
            return
        except _ClientGone:
            return
        streaming = asyncio.ensure_future(_relay(response, send))
        gone = asyncio.ensure_future(_disconnected(receive, body_read))
        try:
            # A closed tab must end an endless answer (server-sent events) upstream too.
            await asyncio.wait({streaming, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (streaming, gone):
                task.cancel()
            with suppress(asyncio.CancelledError, httpcore.NetworkError, httpcore.ProtocolError, OSError):
                await streaming
            await response.aclose()

    async def websocket(self, endpoint: PreviewEndpoint, task_id: str, scope: Scope, receive: Any, send: Any) -> None:
        """Joins the browser's WebSocket to one opened to the preview: subprotocol, text and binary messages,
        and close codes pass both ways. PreviewUnreachable when no connection could be made."""
        sock = await open_endpoint(endpoint, task_id)
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in request_headers(scope)
            if k.decode() not in WS_HANDSHAKE
        ]
        headers = [(k, v) for k, v in headers if not k.startswith("sec-websocket-protocol")]
        if origin := _header(scope, b"origin"):
            headers.append(("origin", _upstream_origin(scope, origin.decode("latin-1"))))
        wanted = [Subprotocol(p) for p in scope.get("subprotocols", [])]
        try:
            upstream = await connect(
                f"ws://{UPSTREAM_HOST}{_target(scope).decode('latin-1')}",
                sock=sock,
                subprotocols=wanted or None,
                additional_headers=headers,
                user_agent_header=None,
                compression=None,
                max_size=MAX_WS_MESSAGE,
                open_timeout=CONNECT_TIMEOUT_S,
            )
        except (InvalidHandshake, OSError, TimeoutError) as e:
            sock.close()
            log.info("preview %s: WebSocket refused upstream (%s)", task_id, e)
            await send({"type": "websocket.close", "code": 1011})
            return
        async with upstream:
            await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
            inbound = asyncio.ensure_future(_browser_to_preview(receive, upstream))
            outbound = asyncio.ensure_future(_preview_to_browser(upstream, send))
            try:
                await asyncio.wait({inbound, outbound}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (inbound, outbound):
                    task.cancel()
                    with suppress(asyncio.CancelledError, ConnectionClosed, OSError):
                        await task


class _ClientGone(Exception):
    pass


async def _relay(response: httpcore.Response, send: Any) -> None:
    await send({"type": "http.response.start", "status": response.status, "headers": response_headers(response)})
    async for chunk in response.aiter_stream():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Any, body_read: asyncio.Event) -> None:
    await body_read.wait()  # until then, the body reader owns `receive`
    while (await receive())["type"] != "http.disconnect":
        pass


async def _browser_to_preview(receive: Any, upstream: ClientConnection) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.receive":
            text = message.get("text")
            await upstream.send(text if text is not None else message.get("bytes") or b"")
        elif message["type"] == "websocket.disconnect":
            code = message.get("code", 1000)
            await upstream.close(code if code in SENDABLE_CLOSE else 1000, message.get("reason") or "")
            return


async def _preview_to_browser(upstream: ClientConnection, send: Any) -> None:
    with suppress(ConnectionClosed):
        async for data in upstream:
            if isinstance(data, str):
                await send({"type": "websocket.send", "text": data})
            else:
                await send({"type": "websocket.send", "bytes": data})
    code = upstream.close_code
    if code == 1005:  # closed without a code
        code = 1000
    await send(
        {
            "type": "websocket.close",
            "code": code if code in SENDABLE_CLOSE else 1011,
            "reason": upstream.close_reason or "",
        }
    )


def request_headers(scope: Scope) -> Headers:
    """The browser's headers as the preview's server gets them (see the module's docstring)."""
    raw: Headers = scope["headers"]
    dropped = set(HOP_BY_HOP) | FORWARDED | {"host", "cookie", "origin"}
    for name, value in raw:
        if name == b"connection":
            dropped |= {t.strip().lower() for t in value.decode("latin-1").split(",")}
    out: Headers = [(k, v) for k, v in raw if k.decode("latin-1") not in dropped]
    out.append((b"host", UPSTREAM_HOST.encode()))
    if cookies := without_preview_cookie(v for k, v in raw if k == b"cookie"):
        out.append((b"cookie", cookies))
    origin = _header(scope, b"origin")
    if origin is not None and scope["type"] == "http":
        out.append((b"origin", _upstream_origin(scope, origin.decode("latin-1")).encode("latin-1")))
    if any(k == b"transfer-encoding" for k, _ in raw):  # a streamed upload: streamed on, chunked
        out.append((b"transfer-encoding", b"chunked"))
    client = scope.get("client")
    if client:
        out.append((b"x-forwarded-for", str(client[0]).encode()))
    out.append((b"x-forwarded-proto", b"https" if scope.get("scheme") in ("https", "wss") else b"http"))
    if (host := _header(scope, b"host")) is not None:
        out.append((b"x-forwarded-host", host))
    return out


def without_preview_cookie(headers: Iterable[bytes]) -> bytes:
    """The Cookie header without Honk's preview cookie (which lets the browser in, and is none of the app's)."""
    kept = [
        part.strip()
        for header in headers
        for part in header.split(b";")
        if part.strip() and part.split(b"=", 1)[0].strip() != COOKIE.encode()
    ]
    return b"; ".join(kept)


def response_headers(response: httpcore.Response) -> Headers:
    """The preview's answer headers as the browser gets them: no hop-by-hop ones, no cookie for a Domain."""
    dropped = set(HOP_BY_HOP)
    for name, value in response.headers:
        if name.lower() == b"connection":
            dropped |= {t.strip().lower() for t in value.decode("latin-1").split(",")}
    out: Headers = []
    for name, value in response.headers:
        lowered = name.lower()
        if lowered.decode("latin-1") in dropped:
            continue
        out.append((lowered, host_only_cookie(value) if lowered == b"set-cookie" else value))
    return out


def host_only_cookie(value: bytes) -> bytes:
    """A Set-Cookie without its Domain attribute: the cookie stays on this preview's origin."""
    name_value, *attributes = value.split(b";")
    kept = [a for a in attributes if a.split(b"=", 1)[0].strip().lower() != b"domain"]
    return b";".join([name_value, *kept])


def _target(scope: Scope) -> bytes:
    path = scope.get("raw_path") or scope["path"].encode("utf-8")
    query = scope.get("query_string", b"")
    return path + (b"?" + query if query else b"")


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((v for k, v in scope["headers"] if k == name), None)


def _upstream_origin(scope: Scope, origin: str) -> str:
    """The browser's Origin, except the preview's own origin, which is the server's own to it (a dev server
    checks that a WebSocket or a write comes from its own pages)."""
    host = (_header(scope, b"host") or b"").decode("latin-1")
    own = {f"http://{host}", f"https://{host}"}
    return UPSTREAM_ORIGIN if origin in own else origin


async def _answer(send: Any, status: int, text: bytes) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain; charset=utf-8")]}
    )
    await send({"type": "http.response.body", "body": text})


_pending: set[asyncio.Future[Any]] = set()


def _later(work: Any) -> None:
    """Runs `work` without waiting for it (kept referenced until done)."""
    task = asyncio.ensure_future(work)
    _pending.add(task)
    task.add_done_callback(_pending.discard)
