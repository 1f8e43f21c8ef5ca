"""The preview origin's cost: small requests and a WebSocket echo through Honk's server to a preview's
server on its unix socket, vs straight to that socket, same run, loopback.

The preview's server is a small aiohttp app in a process of its own (as a dev server is); Honk's is `honk
server` as it runs (uvicorn, the preview origin in front of Honk's app), with a task whose preview is
registered running at that socket, as a worker registers one. Both sides use one kept-alive connection,
as a browser does; runs alternate in batches so that noise lands on both sides alike.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from websockets.sync.client import connect, unix_connect

from bench.common import Row, Section, median, percentile, scratch
from honk.accounts import secret_key
from honk.domain import PreviewEndpoint, RepoRef, TaskRequest
from honk.ports import free_port
from honk.preview_links import STAY, PreviewLinks
from honk.settings import Settings
from honk.store import PreviewRegistry, Store
from honk.testing.processes import TemporalDevServer, wait_for_http
from honk.workflow.policy import task_id_for

TARGET_P50_MS, TARGET_P99_MS = 1.0, 5.0
BATCH = 100

# The preview's server: "/" a small answer, "/ws" an echo.
APP = """
import sys
from aiohttp import web
async def hello(request):
    return web.Response(text="hello from the preview")
async def ws(request):
    sock = web.WebSocketResponse()
    await sock.prepare(request)
    async for msg in sock:
        await sock.send_str(msg.data)
    return sock
app = web.Application()
app.router.add_get("/", hello)
app.router.add_get("/ws", ws)
web.run_app(app, path=sys.argv[1], print=lambda *_: print("ready", flush=True), access_log=None)
"""


async def _register(settings: Settings, socket_path: Path) -> tuple[str, str]:
    """A task whose preview runs at `socket_path`, and the cookie a browser has after opening its link."""
    store = Store(settings.db_url)
    await store.create_schema()
    try:
        task_id = task_id_for(uuid.uuid4().hex)
        req = TaskRequest(
            task_id=task_id, request_id=task_id, repo=RepoRef(name="b", url="/x"), text="bench", requested_by="b"
        )
        await store.create_task(req, f"honk/{task_id}")
        await PreviewRegistry(store).register(
            task_id, "bench", "running", PreviewEndpoint(address=f"unix:{socket_path}")
        )
    finally:
        await store.close()
    token = PreviewLinks(secret_key(settings.secret_key_file)).token(task_id, 0, 3600, kind=STAY)
    return task_id, f"honk_preview={token}"


def _timed(call, n: int) -> list[float]:  # noqa: ANN001 - a callable
    out = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        out.append((time.perf_counter() - t) * 1000)
    return out


def run(quick: bool = False, log=print) -> Section:  # noqa: ANN001 - a print-like callable
    requests, echoes = (300, 200) if quick else (1000, 500)
    sec = Section("preview", "The preview origin's cost: small requests and a WebSocket echo, proxied vs direct")
    started = time.perf_counter()
    with scratch("preview") as root:
        temporal = TemporalDevServer(root / "temporal")
        sock_path = root / "app.sock"
        app = subprocess.Popen([sys.executable, "-c", APP, str(sock_path)], stdout=subprocess.PIPE, text=True)
        server: subprocess.Popen[bytes] | None = None
        try:
            assert app.stdout is not None and app.stdout.readline().strip() == "ready"
            port = free_port()
            env = {
                **os.environ,
                "HONK_DATA_DIR": str(root / "data"),
                "HONK_TEMPORAL_ADDRESS": temporal.address,
                "HONK_PORT": str(port),
                "HONK_HOST": "127.0.0.1",
                "HONK_ANONYMOUS": "true",
            }
            settings = Settings().changed(data_dir=root / "data", port=port, host="127.0.0.1")
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            secret_key(settings.secret_key_file)  # made before the server reads it
            with open(root / "server.log", "ab") as server_log:
                server = subprocess.Popen(
                    [sys.executable, "-m", "honk", "server"], env=env, stdout=server_log, stderr=subprocess.STDOUT
                )
            wait_for_http(f"http://127.0.0.1:{port}/healthz", server, "honk server", root / "server.log")
            task_id, cookie = asyncio.run(_register(settings, sock_path))
            host = f"{task_id}.localhost:{port}"

            proxied = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"host": host, "cookie": cookie})
            direct = httpx.Client(base_url="http://localhost", transport=httpx.HTTPTransport(uds=str(sock_path)))
            for c in (proxied, direct):  # warm-up: the connections, the server's caches
                for _ in range(50):
                    assert c.get("/").text == "hello from the preview"
            times: dict[str, list[float]] = {"proxied": [], "direct": []}
            for _ in range(requests // BATCH):
                times["proxied"] += _timed(lambda: proxied.get("/"), BATCH)
                times["direct"] += _timed(lambda: direct.get("/"), BATCH)

            tcp = socket.create_connection(("127.0.0.1", port))
            ws_proxied = connect(f"ws://{host}/ws", sock=tcp, additional_headers={"cookie": cookie})
            ws_direct = unix_connect(str(sock_path), "ws://localhost/ws")
            for ws in (ws_proxied, ws_direct):
                ws.send("warm")
                ws.recv()

            def echo(ws) -> None:  # noqa: ANN001
                ws.send("ping")
                assert ws.recv() == "ping"

            ws_times: dict[str, list[float]] = {"proxied": [], "direct": []}
            for _ in range(max(1, echoes // BATCH)):
                ws_times["proxied"] += _timed(lambda: echo(ws_proxied), BATCH)
                ws_times["direct"] += _timed(lambda: echo(ws_direct), BATCH)
            for closing in (ws_proxied, ws_direct, proxied, direct):
                closing.close()
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            app.terminate()
            app.wait(timeout=30)
            temporal.stop()

    p50 = {s: median(v) for s, v in times.items()}
    p99 = {s: percentile(v, 99) for s, v in times.items()}
    w50 = {s: median(v) for s, v in ws_times.items()}
    w99 = {s: percentile(v, 99) for s, v in ws_times.items()}
    added50, added99 = p50["proxied"] - p50["direct"], p99["proxied"] - p99["direct"]
    log(f"  small request p50: proxied {p50['proxied']:.2f} ms, direct {p50['direct']:.2f} ms")
    log(f"  WebSocket echo p50: proxied {w50['proxied']:.2f} ms, direct {w50['direct']:.2f} ms")
    sec.setup = [
        "Preview's server: aiohttp in its own process on a unix socket (`/`: 22 bytes; `/ws`: an echo).",
        "Honk: `honk server` (uvicorn with httptools, the preview origin in front of Honk's app), the task's "
        "preview registered running at that socket, the request carrying a valid preview cookie; the cookie "
        "checked, the preview's state read (cached 2 s), its access recorded (at most every 5 s), the "
        "request passed over a kept-alive connection from the server's pool.",
        "Baseline: the same client (httpx, one kept-alive connection) straight to the unix socket; the "
        "WebSocket the same (websockets' sync client).",
        f"{requests} requests and {echoes} echo round trips per side, alternating in batches of {BATCH}.",
    ]
    sec.rows = [
        Row(
            "Small request: added p50",
            f"{p50['proxied']:.2f} ms",
            f"{p50['direct']:.2f} ms",
            f"+{added50:.2f} ms",
            f"≤ +{TARGET_P50_MS:.0f} ms",
            added50 <= TARGET_P50_MS,
        ),
        Row(
            "Small request: added p99",
            f"{p99['proxied']:.2f} ms",
            f"{p99['direct']:.2f} ms",
            f"+{added99:.2f} ms",
            f"≤ +{TARGET_P99_MS:.0f} ms",
            added99 <= TARGET_P99_MS,
        ),
        Row(
            "WebSocket echo round trip: added p50 (p99)",
            f"{w50['proxied']:.2f} ms ({w99['proxied']:.2f})",
            f"{w50['direct']:.2f} ms ({w99['direct']:.2f})",
            f"+{w50['proxied'] - w50['direct']:.2f} ms (+{w99['proxied'] - w99['direct']:.2f})",
        ),
    ]
    sec.notes = [
        "The added time is a second loopback hop and all of it in Python: uvicorn parsing the browser's "
        "request, the preview origin (host, cookie, cached state), httpcore/h11 writing the request and "
        "parsing the answer, uvicorn writing it (measured inside one process: 0.6-0.7 ms of it is the origin and "
        "the proxy). On this shared 2-core VM, runs on 2026-12-03 ranged: quiet, added p50 +1.2 to +1.5 ms and p99 "
        "+1.7 to +2.8 ms; with the load average at 3-4, +2 ms and +6 to +7 ms (the direct baseline moves as much); "
        "+8 ms p50 while tests ran beside it. uvloop as uvicorn's loop took ~0.3 ms off p50 in one pair of runs, "
        "inside that noise, so it was not added.",
    ]
    sec.seconds = time.perf_counter() - started
    return sec
