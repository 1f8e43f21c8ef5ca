"""A loopback proxy in front of the model API, so that the agent never holds the real key.

A confined agent reaches it through a unix socket bound into its sandbox (and the bridge there,
`honk.sandbox.bridge`); an unconfined one (HONK_SANDBOX=off) on loopback TCP. Claude Code gets
`ANTHROPIC_BASE_URL=<proxy>` and a per-run token as its key; the proxy lets a request
through only with a live token, swaps the token for the real credential and streams the answer back
chunk by chunk. Whatever the agent's shell commands read from its environment is worth nothing once
the run's token is revoked, and worth nothing off this host even before.

aiohttp.web rather than uvicorn: it serves in the caller's event loop without a task to poll, and
without taking over SIGINT/SIGTERM as uvicorn's `Server.serve` does in the main thread.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Self

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from pydantic import SecretStr
from yarl import URL

from honk.redaction import redact

log = logging.getLogger(__name__)

# RFC 9110 §7.6.1, plus the proxy-era names that are still sent, and Expect (answered by this hop).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)
CREDENTIALS = frozenset({"x-api-key", "authorization"})
MAX_BODY = 64 * 2**20  # the Messages API takes up to 32 MB
CONNECT_TIMEOUT_S = 30.0
READ_TIMEOUT_S = 900.0  # between two reads: a long think can precede the first byte
SHUTDOWN_TIMEOUT_S = 5.0


class KeyProxy:
    """Loopback HTTP proxy in front of the model API: the agent holds a per-run token, the proxy swaps it
    for the real key."""

    def __init__(self, upstream: str, api_key: SecretStr | None = None, auth_token: SecretStr | None = None) -> None:
        url = URL(upstream)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"The model API address must be an http(s) URL, not {upstream!r}")
        if api_key is None and auth_token is None:
            raise ValueError("KeyProxy needs an API key or an auth token to put in the agent's requests")
        self.upstream = upstream.rstrip("/")
        self._shown = str(url.with_user(None)).rstrip("/")  # never a password in a message
        if api_key is not None:
            self._credential = ("x-api-key", api_key.get_secret_value())
        else:
            assert auth_token is not None
            self._credential = ("authorization", f"Bearer {auth_token.get_secret_value()}")
        self._secrets = [s.get_secret_value() for s in (api_key, auth_token) if s is not None]
        self._tokens: set[str] = set()
        self._unreachable: dict[str, str] = {}  # run token -> why the model API could not be reached
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port: int | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self, socket: Path | None = None) -> None:
        """Listens on loopback TCP and, given `socket`, on that unix socket too (made only for us)."""
        if self._runner is not None:
            raise RuntimeError("The key proxy is already running")
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),  # the pool's wait would count as connect time
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=READ_TIMEOUT_S),
            auto_decompress=False,  # bytes pass through as sent, with their Content-Encoding
            cookie_jar=aiohttp.DummyCookieJar(),  # no state shared between runs
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
        )
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: when the agent drops a request, the upstream one is dropped too (and billed no more).
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_TIMEOUT_S
        )
        self._session = session
        try:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            if socket is not None:
                socket.parent.mkdir(parents=True, exist_ok=True)
                socket.unlink(missing_ok=True)
                await web.UnixSite(runner, str(socket)).start()
                socket.chmod(0o600)
        except BaseException:
            await runner.cleanup()
            await session.close()
            self._session = None
            raise
        self._port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
        self._runner = runner
        log.info("key proxy for %s listening on %s", self._shown, self.base_url)

    async def stop(self) -> None:
        """Refuses new requests at once, gives those under way a few seconds, then closes the port."""
        self._tokens.clear()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
        self._runner = self._session = None
        self._port = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("The key proxy has not been started")
        return f"http://127.0.0.1:{self._port}"

    # -- tokens ----------------------------------------------------------------------------
    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        self._tokens.add(token)
        return token

    def revoke(self, token: str) -> None:
        self._tokens.discard(token)
        self._unreachable.pop(token, None)

    def unreachable(self, token: str) -> str | None:
        """Why the model API could not be reached during this run (the agent only sees a 502)."""
        return self._unreachable.get(token)

    # -- the proxy -------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        token = next((t for t in _presented(request.headers) if t in self._tokens), None)
        if token is None:
            log.warning("key proxy refused %s %s: no live run token", request.method, request.path)
            return _error(
                401,
                "authentication_error",
                "Invalid run token: this proxy accepts only the token "
                "Honk issued for the current run, and only while it runs.",
            )
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, "request_too_large", f"The request is larger than {MAX_BODY // 2**20} MB.")
        body = _redacted(body)
        headers = _without(request.headers, HOP_BY_HOP | CREDENTIALS | {"host", "content-length"})
        headers[self._credential[0]] = self._credential[1]
        # rel_url's path always starts with "/", so the request cannot change the upstream host.
        url = URL(self.upstream + request.rel_url.raw_path_qs, encoded=True)
        assert self._session is not None
        try:
            upstream = await self._session.request(
                request.method, url, headers=headers, data=body or None, allow_redirects=False
            )
        except (aiohttp.ClientError, TimeoutError) as e:
            reason = self._scrub(f"{type(e).__name__}: {e}")
            log.warning("key proxy: the model API at %s cannot be reached (%s)", self._shown, reason)
            self._unreachable[token] = reason
            return _error(502, "api_error", f"The model API at {self._shown} cannot be reached ({reason}).")
        async with upstream:
            response = web.StreamResponse(
                status=upstream.status,
                reason=upstream.reason,
                headers=_without(upstream.headers, HOP_BY_HOP | {"content-length"}),
            )
            await response.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            except (aiohttp.ClientError, TimeoutError) as e:
                # The status is sent: all that is left is to cut the agent off, so that it sees a broken stream.
                log.warning(
                    "key proxy: the model API at %s broke off a response (%s)",
                    self._shown,
                    self._scrub(f"{type(e).__name__}: {e}"),
                )
                upstream.close()
                if request.transport is not None:
                    request.transport.close()
                return response
            except ConnectionError:  # the agent went away
                upstream.close()
                return response
            await response.write_eof()
        return response

    def _scrub(self, text: str) -> str:
        for secret in (*self._secrets, *self._tokens):
            text = text.replace(secret, "***")
        return text


def _presented(headers: CIMultiDictProxy[str]) -> Iterable[str]:
    for value in headers.getall("x-api-key", []):
        yield value.strip()
    for value in headers.getall("authorization", []):
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() == "bearer":
            yield token.strip()


def _without(headers: CIMultiDictProxy[str], names: frozenset[str]) -> CIMultiDict[str]:
    """The headers but `names` and those the Connection header names as this hop's own."""
    drop = names | {n.strip().lower() for v in headers.getall("connection", []) for n in v.split(",")}
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in drop)


def _redacted(body: bytes) -> bytes:
    """What the agent sends the model passes the one redaction path too (a tool's output it saw)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    clean = redact(text)
    return body if clean == text else clean.encode("utf-8")


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"type": "error", "error": {"type": kind, "message": message}}, status=status)
