"""A loopback Slack Socket Mode server, for driving the real Socket Mode clients in tests.

    slack = FakeSlack().start()
    socket = FakeSocketMode(slack).start()   # apps.connections.open now answers socket.ws_url
    handler = AsyncSocketModeHandler(app, "xapp-test", web_client=AsyncWebClient(base_url=slack.api_url))
    await handler.connect_async()
    envelope_id = socket.push_event(mention_event("<@UHONK> fix it"))
    ack = await socket.wait_ack_async(envelope_id)

It speaks Slack's side of the protocol: every new websocket gets a `hello`; `push` sends an envelope
(`events_api`, `interactive` or `slash_commands`) to the newest open connection, and the client's
answer `{"envelope_id": ..., "payload": ...}` is recorded in `acks`; `disconnect` sends the
`disconnect` message Slack sends before it drops a connection, upon which the sdk reconnects through
apps.connections.open. Websocket pings are answered by aiohttp; other frames are kept in `frames`.

The server runs on its own thread and event loop, so a test's event loop can run the client; from a
coroutine on that loop use the `*_async` waits, which yield to it (the blocking ones would starve it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from honk.testing.fake_slack import FakeSlack

log = logging.getLogger(__name__)

PAYLOAD_TYPES = frozenset({"events_api", "interactive", "slash_commands"})
# Interactivity payloads whose ack may carry a response (response_action, options).
_RESPONDING_INTERACTIONS = frozenset({"view_submission", "block_suggestion"})


class FakeSocketMode:
    """Slack's Socket Mode websocket endpoint, on 127.0.0.1, wired into a `FakeSlack`."""

    def __init__(
        self, slack: FakeSlack, app_id: str = "AHONK", host: str = "127.0.0.1", port: int | None = None
    ) -> None:
        self.slack, self.app_id, self.host = slack, app_id, host
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port or 0))
        self.port: int = self._sock.getsockname()[1]
        self.envelopes: dict[str, dict[str, Any]] = {}  # envelope id -> the envelope pushed
        self.acks: dict[str, dict[str, Any]] = {}  # envelope id -> the client's answer
        self.frames: list[Any] = []  # every text frame the clients sent, JSON-decoded when it was JSON
        self.connections = 0  # websockets accepted since start
        self._sockets: list[web.WebSocketResponse] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fake-socket-mode", daemon=True)

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/link/?ticket=fake-ticket&app_id={self.app_id}"

    @property
    def connected(self) -> int:
        """How many client websockets are open now."""
        with self._lock:
            return sum(1 for ws in self._sockets if not ws.closed)

    def start(self) -> FakeSocketMode:
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError("fake Socket Mode server did not start") from self._error
        self.advertise()
        return self

    def advertise(self) -> None:
        """Makes FakeSlack's apps.connections.open answer `ws_url` (start does; again after `slack.reset()`)."""
        self.slack.override("apps.connections.open", {"ok": True, "url": self.ws_url})

    def stop(self) -> None:
        loop = self._loop
        if loop is None or not self._thread.is_alive():
            self._sock.close()
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as e:  # noqa: BLE001 - reported by start()
            self._error = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._link)
        app.router.add_get("/link", self._link)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    async def _shutdown(self) -> None:
        with self._lock:
            sockets = [ws for ws in self._sockets if not ws.closed]
        for ws in sockets:
            try:
                await asyncio.wait_for(ws.close(code=1001, message=b"server stopping"), timeout=2)
            except (TimeoutError, ConnectionError, RuntimeError):
                pass
        if self._runner is not None:
            await self._runner.cleanup()

    # -- the websocket -------------------------------------------------------------------
    async def _link(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, timeout=2.0)
        await ws.prepare(request)
        with self._lock:
            self._sockets.append(ws)
            self.connections += 1
            number = self.connections
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": self.connected,
                "debug_info": {
                    "host": f"applink-fake-{number}",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
        )
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._received(msg.data)
                elif msg.type == WSMsgType.ERROR:
                    log.warning("Socket Mode connection %d failed: %s", number, ws.exception())
                else:
                    log.info("ignoring a %s frame on Socket Mode connection %d", msg.type.name, number)
        finally:
            with self._lock:
                if ws in self._sockets:
                    self._sockets.remove(ws)
        return ws

    def _received(self, data: str) -> None:
        try:
            frame: Any = json.loads(data)
        except ValueError:
            frame = data
        with self._lock:
            self.frames.append(frame)
            if isinstance(frame, dict) and isinstance(frame.get("envelope_id"), str):
                if frame["envelope_id"] not in self.envelopes:
                    log.warning("ack for an envelope never pushed: %s", frame["envelope_id"])
                self.acks[frame["envelope_id"]] = frame
                return
        log.info("ignoring a Socket Mode frame that is no ack: %r", data[:200])

    def _send(self, message: dict[str, Any], timeout: float) -> None:
        loop = self._loop
        if loop is None:
            raise RuntimeError("fake Socket Mode server is not running")
        with self._lock:
            open_sockets = [ws for ws in self._sockets if not ws.closed]
        if not open_sockets:
            raise RuntimeError("no Socket Mode client is connected")
        # Slack delivers each envelope over one of the app's connections; the newest is the one alive.
        asyncio.run_coroutine_threadsafe(open_sockets[-1].send_json(message), loop).result(timeout=timeout)

    # -- what Slack sends ----------------------------------------------------------------
    def push(
        self,
        payload_type: str,
        payload: dict[str, Any],
        accepts_response_payload: bool = False,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = 5.0,
    ) -> str:
        """Sends an envelope of `payload_type` to the newest connection; returns its envelope id."""
        if payload_type not in PAYLOAD_TYPES:
            raise ValueError(f"payload_type must be one of {sorted(PAYLOAD_TYPES)}, not {payload_type!r}")
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": payload_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if payload_type == "events_api":
            envelope.update({"retry_attempt": retry_attempt, "retry_reason": retry_reason})
        with self._lock:
            self.envelopes[envelope_id] = envelope
        self._send(envelope, timeout)
        return envelope_id

    def push_event(self, envelope: dict[str, Any], retry_attempt: int = 0, retry_reason: str = "") -> str:
        """Sends an Events API `event_callback` (from `mention_event`, `message_event`...)."""
        return self.push("events_api", envelope, retry_attempt=retry_attempt, retry_reason=retry_reason)

    def push_interaction(self, payload: dict[str, Any], accepts_response_payload: bool | None = None) -> str:
        """Sends an interactivity payload (`block_action`, `view_submission`...); a view_submission's
        ack may carry a response_action, so Slack lets it respond unless told otherwise."""
        if accepts_response_payload is None:
            accepts_response_payload = payload.get("type") in _RESPONDING_INTERACTIONS
        return self.push("interactive", payload, accepts_response_payload=accepts_response_payload)

    def push_command(
        self, command: str, text: str = "", user: str = "U1", channel: str = "C1", team_id: str = "T1", **fields: Any
    ) -> str:
        """Sends a slash command the way Socket Mode does: the form fields as a JSON payload."""
        payload = {
            "token": "fake-verification-token",
            "team_id": team_id,
            "team_domain": "honk-test",
            "channel_id": channel,
            "channel_name": channel.lower(),
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": self.slack.response_url("command"),
            "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}",
            **fields,
        }
        return self.push("slash_commands", payload, accepts_response_payload=True)

    def disconnect(self, reason: str = "refresh_requested", timeout: float = 5.0) -> None:
        """Sends the `disconnect` message Slack sends before it closes a connection; the sdk then opens
        a new one through apps.connections.open (see `connections`)."""
        self._send({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}, timeout)

    # -- waiting -------------------------------------------------------------------------
    def wait_connected(self, timeout: float = 10.0, count: int = 1) -> int:
        """Blocks until `count` connections are open; returns how many are."""
        deadline = time.monotonic() + timeout
        while (n := self.connected) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{n} of {count} Socket Mode connections open within {timeout}s")
            time.sleep(0.01)
        return n

    async def wait_connected_async(self, timeout: float = 10.0, count: int = 1) -> int:
        deadline = time.monotonic() + timeout
        while (n := self.connected) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{n} of {count} Socket Mode connections open within {timeout}s")
            await asyncio.sleep(0.01)
        return n

    def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """Blocks until the client acks `envelope_id`; returns the ack. From a coroutine on the loop the
        client runs on, use `wait_ack_async`."""
        deadline = time.monotonic() + timeout
        while (ack := self.acks.get(envelope_id)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(self._no_ack(envelope_id, timeout))
            time.sleep(0.01)
        return ack

    async def wait_ack_async(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (ack := self.acks.get(envelope_id)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(self._no_ack(envelope_id, timeout))
            await asyncio.sleep(0.01)
        return ack

    def _no_ack(self, envelope_id: str, timeout: float) -> str:
        connected = self.connected
        with self._lock:
            kind = self.envelopes.get(envelope_id, {}).get("type", "unknown")
            return (
                f"no ack for {kind} envelope {envelope_id} within {timeout}s; "
                f"{connected} connected, acked: {list(self.acks)}"
            )
