"""What every `honk.protocols.Previews` must do, shown on Honk's (`PreviewHost`), sandboxed by real
bubblewrap and unsandboxed (HONK_SANDBOX=off), with a real dev server (apps/app.py) and a real store:

- start the server with PORT and HOST, wait until `ready` answers, and register where it answers; the
  web server's way in (the unix socket) carries HTTP, a streamed response and a WebSocket;
- run `install` once per workspace, and again only when its inputs change;
- say what went wrong, in words a person acts on, with the log's last lines: install failed, `start`
  exited, never answered (the wrong port), answered 5xx, crashed later;
- stop a preview (asked, idle, to make room, at the worker's end) with nothing left in the process table;
- and, sandboxed: the server reaches neither the host's loopback, nor Honk's files, nor another preview.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from preview_world import WORKER, World, app_spec, http_get, marker, pids_with, wait_gone
from websockets.asyncio.client import connect

from honk.domain import PREVIEW_PORT
from honk.network import EgressPolicy
from honk.preview import messages
from honk.preview.endpoint import connect_unix, open_preview_stream
from honk.sandbox import Sandbox


async def test_a_preview_starts_answers_through_its_socket_and_is_registered(world: World) -> None:
    host, ws, mark = world.host(), world.workspace("t-one"), marker()
    outcome = await host.start("t-one", ws, app_spec(mark))
    try:
        assert outcome.ok, outcome
        assert outcome.endpoint is not None and outcome.endpoint.address.startswith("unix:/")
        sock = Path(outcome.endpoint.address.removeprefix("unix:"))
        assert sock == (world.areas / "t-one" / "preview-t-one" / "app.sock").resolve() and sock.is_socket()
        info = await world.registry.get("t-one")
        assert info is not None and (info.state, info.worker, info.endpoint) == ("running", WORKER, outcome.endpoint)
        assert info.idle_stop_s == 15 * 60 and info.last_access is not None

        status, page = await http_get(outcome.endpoint, "t-one", "/")
        assert status == 200 and f"Hello from {mark}".encode() in page
        # Streamed: the first chunk arrives while the server is still writing the rest.
        reader, writer = await open_preview_stream(outcome.endpoint, "t-one")
        writer.write(b"GET /stream HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        first = await asyncio.wait_for(reader.readuntil(b"chunk 0\n"), 10)
        began = time.monotonic()
        rest = await asyncio.wait_for(reader.read(-1), 10)
        writer.close()
        assert b"Transfer-Encoding: chunked" in first and b"chunk 4\n" in rest and time.monotonic() - began > 0.5
        async with connect("ws://localhost/ws", sock=await connect_unix(sock)) as ws_client:
            await ws_client.send("hello")
            assert await asyncio.wait_for(ws_client.recv(), 10) == "hello"
            await ws_client.send(b"\x00\x01" * 40000)
            assert await asyncio.wait_for(ws_client.recv(), 10) == b"\x00\x01" * 40000

        # The port it was told: the sandbox's own (47200); unsandboxed, a free one of the host's.
        told = (world.logs / "t-one" / "preview.log").read_text()
        assert (f"PORT={PREVIEW_PORT} HOST=127.0.0.1" in told) == world.sandbox.enabled, told
        pids = pids_with(mark)
        again = await host.start("t-one", ws, app_spec(mark))
        assert again.ok and again.endpoint == outcome.endpoint and pids_with(mark) == pids, "running: the same one"
        assert host.running() == ["t-one"] and host.socket("t-one") == sock
    finally:
        await host.stop("t-one", "stopped by the test")
    assert wait_gone(mark) == [], "nothing of it is left running"
    info = await world.registry.get("t-one")
    assert info is not None and (info.state, info.detail, info.endpoint) == ("stopped", "stopped by the test", None)
    assert host.running() == [] and host.socket("t-one") is None and not sock.exists()
    await host.stop("t-one", "again")  # nothing runs: nothing happens
    assert (await world.registry.get("t-one")).detail == "stopped by the test"  # type: ignore[union-attr]


async def test_install_runs_once_per_workspace_and_again_when_an_input_changes(world: World) -> None:
    host, ws, mark = world.host(), world.workspace("t-inst"), marker()
    (ws.path / "requirements.txt").write_text("flask==3.0\n")
    spec = app_spec(mark, install="echo installed >> installs.txt", install_inputs=["requirements.txt", "absent.lock"])
    runs = []
    for change in (None, None, "flask==3.1\n", None):
        if change is not None:
            (ws.path / "requirements.txt").write_text(change)
        outcome = await host.start("t-inst", ws, spec)
        assert outcome.ok, outcome
        runs.append(outcome.install_ran)
        await host.stop("t-inst", "next round")
    assert runs == [True, False, True, False]
    assert (ws.path / "installs.txt").read_text() == "installed\n" * 2
    assert wait_gone(mark) == []


FAILURES = {
    "install fails": (
        {"install": "echo 'ERROR: No matching distribution for leftpad==9' >&2; exit 4"},
        (),
        "`install` failed (exit 4), so the server was not started",
        "No matching distribution for leftpad==9",
    ),
    "start exits": ({}, ("--exit",), "`start` exited (exit 3) before it answered", "cannot find config/app.toml"),
    "never listens": (
        {"ready_timeout": 2},
        ("--never-listen",),
        f"nothing answered on PORT={PREVIEW_PORT} within 2s: does `start` listen on $PORT and $HOST?",
        "warming up forever",
    ),
    "wrong port": (
        {"ready_timeout": 2},
        ("--wrong-port",),
        f"nothing answered on PORT={PREVIEW_PORT} within 2s: does `start` listen on $PORT and $HOST?",
        "listening on ",
    ),
    "ready 503": (
        {"ready_timeout": 2, "ready": "/health"},
        ("--status", "503"),
        "`ready` (/health) still answered 503",
        "GET /health",
    ),
}


@pytest.mark.parametrize("case", list(FAILURES))
async def test_what_went_wrong_is_said_with_the_logs_last_lines(world: World, case: str) -> None:
    fields, flags, said, logged = FAILURES[case]
    host, ws, mark = world.host(), world.workspace("t-bad"), marker()
    outcome = await host.start("t-bad", ws, app_spec(mark, *flags, **fields))
    assert not outcome.ok and outcome.endpoint is None
    assert said in outcome.detail, outcome.detail
    assert logged in outcome.log_tail, outcome.log_tail
    info = await world.registry.get("t-bad")
    assert info is not None and info.state == "failed" and info.endpoint is None
    assert said in info.detail and logged in info.detail
    assert host.running() == [] and wait_gone(mark) == []


async def test_a_server_that_crashes_later_is_recorded_failed_by_the_reaper(world: World) -> None:
    host, ws, mark = world.host(), world.workspace("t-crash"), marker()
    outcome = await host.start("t-crash", ws, app_spec(mark, "--crash-after", "2"))  # `ready` was the first
    assert outcome.ok and outcome.endpoint is not None
    status, _ = await http_get(outcome.endpoint, "t-crash", "/")
    assert status == 200
    assert wait_gone(mark) == [], "it exited on its own"
    deadline = time.monotonic() + 10
    while host.running() and time.monotonic() < deadline:  # the event loop notes the exit
        await asyncio.sleep(0.02)
    assert await host.reap() == ["t-crash"]
    info = await world.registry.get("t-crash")
    assert info is not None and info.state == "failed" and info.endpoint is None
    assert messages.crashed(7) in info.detail and "crashing after 2 requests" in info.detail
    assert host.running() == [] and await host.reap() == []


async def test_idle_previews_and_those_asked_to_stop_are_stopped_by_the_reaper(world: World) -> None:
    host, busy, idle = world.host(), marker(), marker()
    assert (await host.start("t-busy", world.workspace("t-busy"), app_spec(busy))).ok
    assert (await host.start("t-idle", world.workspace("t-idle"), app_spec(idle, idle_stop=0.001))).ok
    await world.registry.touch("t-idle")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and await host.reap() == []:  # idle 0.06 s after its last visit
        await asyncio.sleep(0.02)
    assert host.running() == ["t-busy"] and wait_gone(idle) == [] and pids_with(busy)
    info = await world.registry.get("t-idle")
    assert info is not None and info.state == "stopped" and "without visits (idle_stop)" in info.detail

    await world.registry.want_stop("t-busy")
    assert await host.reap() == ["t-busy"]
    assert host.running() == [] and wait_gone(busy) == []
    info = await world.registry.get("t-busy")
    assert info is not None and (info.state, info.detail, info.stop_wanted) == ("stopped", messages.STOP_WANTED, False)


async def test_over_the_cap_the_preview_idle_longest_is_stopped_first(world: World) -> None:
    host, marks = world.host(max_running=2), {k: marker() for k in ("t-a", "t-b", "t-c")}
    for key in ("t-a", "t-b"):
        assert (await host.start(key, world.workspace(key), app_spec(marks[key]))).ok
    await world.registry.touch("t-a")  # opened since: t-b is the one idle longest
    assert (await host.start("t-c", world.workspace("t-c"), app_spec(marks["t-c"]))).ok
    try:
        assert host.running() == ["t-a", "t-c"] and wait_gone(marks["t-b"]) == []
        info = await world.registry.get("t-b")
        assert info is not None and info.state == "stopped" and "at most 2 previews" in info.detail
    finally:
        await host.close()
    assert all(wait_gone(m) == [] for m in marks.values())


async def test_closing_stops_every_preview_and_records_it(world: World) -> None:
    host, marks = world.host(), {k: marker() for k in ("t-x", "t-y")}
    for key, mark in marks.items():
        assert (await host.start(key, world.workspace(key), app_spec(mark))).ok
    base = marker()  # the target branch's version, for screenshots: run, never registered
    outcome = await host.start("t-x:base", world.workspace("t-x-base"), app_spec(base), register=False)
    assert outcome.ok and outcome.endpoint is not None and outcome.endpoint.address.startswith("unix:")
    assert host.running() == ["t-x", "t-x:base", "t-y"] and (await world.registry.get("t-x")).state == "running"  # type: ignore[union-attr]
    await host.close()
    assert host.running() == [] and all(wait_gone(m) == [] for m in [*marks.values(), base])
    for key in marks:
        info = await world.registry.get(key)
        assert info is not None and (info.state, info.detail) == ("stopped", messages.WORKER_STOPPED)


async def test_a_task_cancelled_while_its_preview_starts_leaves_nothing_running(world: World) -> None:
    host, mark = world.host(), marker()
    starting = asyncio.create_task(
        host.start("t-cancel", world.workspace("t-cancel"), app_spec(mark, "--never-listen"))
    )
    deadline = time.monotonic() + 20
    while not pids_with(mark) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert pids_with(mark), "it started"
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    assert wait_gone(mark) == [] and host.running() == []
    assert (await world.registry.get("t-cancel")).state == "stopped"  # type: ignore[union-attr]


async def test_a_preview_reaches_neither_the_hosts_loopback_nor_honks_files_nor_another_preview(
    confined: World,
) -> None:
    world = confined
    hits: list[bytes] = []

    async def listener(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hits.append(await reader.read(100))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nleaked")
        writer.close()

    outside = await asyncio.start_server(listener, "127.0.0.1", 0)
    port = outside.sockets[0].getsockname()[1]
    host, one, two = world.host(), marker(), marker()
    a = await host.start("t-a", world.workspace("t-a"), app_spec(one))
    b = await host.start("t-b", world.workspace("t-b"), app_spec(two))
    try:
        assert a.ok and b.ok and a.endpoint is not None and b.endpoint is not None
        b_sock = b.endpoint.address.removeprefix("unix:")
        secret = world.data / "honk.db"
        query = "&".join(
            [
                f"connect=127.0.0.1:{port}",
                f"connect=127.0.0.1:{PREVIEW_PORT}",
                f"read={quote(str(secret))}",
                f"read={quote(str(world.data / 'workspaces' / 't-b' / 'app.py'))}",
                f"unix={quote(b_sock)}",
                "read=app.py",  # its own workspace, and its own way in: the probes do reach what they may
                "unix=/run/honk/serve/app.sock",
            ]
        )
        status, body = await http_get(a.endpoint, "t-a", f"/probe?{query}")
        assert status == 200
        found = json.loads(body)
        assert found[f"connect 127.0.0.1:{port}"].startswith("failed"), found
        assert found[f"connect 127.0.0.1:{PREVIEW_PORT}"].endswith(one), "its own loopback is its own: not t-b's"
        assert found[f"read {secret}"].startswith("failed") and secret.stat().st_size > 0
        assert found[f"read {world.data / 'workspaces' / 't-b' / 'app.py'}"].startswith("failed")
        assert found[f"unix {b_sock}"].startswith("failed"), found
        assert found["read app.py"].startswith("read ") and found["unix /run/honk/serve/app.sock"] == "reached"
        assert hits == [], "nothing reached the host's loopback listener"
    finally:
        outside.close()
        await host.close()
    assert wait_gone(one) == [] and wait_gone(two) == []
    # What the sandbox refused it is on the task's record, as for any other sandboxed program.
    refused = Sandbox.violations(world.areas / "t-a")
    assert any(v.kind == "hidden_path" and v.source == "preview" and "app.py" in v.command for v in refused), refused


async def test_what_the_egress_proxy_refuses_a_running_preview_reaches_the_tasks_record(egress_world: World) -> None:
    world, mark = egress_world, marker()
    host = world.host()
    outcome = await host.start("t-net", world.workspace("t-net"), app_spec(mark), egress=EgressPolicy("preview"))
    try:
        assert outcome.ok and outcome.endpoint is not None
        status, body = await http_get(outcome.endpoint, "t-net", "/probe?fetch=https://example.com/")
        assert status == 200 and "403" in json.loads(body)["fetch https://example.com/"]
        assert await host.reap() == [], "it still runs"
        blocked = Sandbox.blocked(world.areas / "t-net")
        assert [(b.host, b.phase) for b in blocked] == [("example.com", "preview")]
        assert "app.py --marker" in blocked[0].command
    finally:
        await host.close()
    assert wait_gone(mark) == []
