"""Each task's running preview at its own origin, `<task>.localhost:<port>`, through the real server (as
`honk server` builds it, on a real uvicorn) to a real small app on a unix socket: who gets in, what the
app sees, streamed answers and uploads, WebSockets, a preview that is stopped, unreachable or failed,
a worker's gateway, and hostile hosts, links and paths."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from honk.domain import PreviewEndpoint
from honk.service import TaskService
from honk.store import AuditQuery

pytestmark = pytest.mark.timeout(120)


def client(honk) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=honk.url, timeout=30, follow_redirects=False)


async def test_a_signed_link_lets_a_browser_in_and_the_app_sees_none_of_honks_cookies(honk, upstream):
    task = await honk.task("link")
    await honk.run_preview(task, upstream.socket_path)
    link = await honk.service.preview_link(task)
    assert link.startswith(f"http://{honk.host(task)}/__honk/enter?t=")
    async with client(honk) as c:
        entered = await c.get(link.split(str(honk.port), 1)[1], headers={"host": honk.host(task)})
        assert entered.status_code == 303 and entered.headers["location"] == "/"
        cookie = entered.headers["set-cookie"]
        assert cookie.startswith("honk_preview=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "domain" not in cookie.lower() and "Secure" not in cookie  # host-only; http here
        value = cookie.split(";")[0]
        page = await c.get(
            "/some/page?x=1",
            headers={
                "host": honk.host(task),
                "cookie": f"mine=1; {value}; honk_session=x|1|y",
                "x-forwarded-for": "6.6.6.6",
            },
        )
    assert page.status_code == 200 and page.json() == {
        "app": True,
        "method": "GET",
        "path": "/some/page?x=1",
        "body": 0,
    }
    _, path, headers = upstream.seen[-1]
    assert headers["host"] == "localhost:47200"  # as dev servers expect
    assert headers["x-forwarded-host"] == honk.host(task) and headers["x-forwarded-proto"] == "http"
    # The client as the server knows it (uvicorn trusts a loopback proxy's claim), never a chain to spoof.
    assert "," not in headers["x-forwarded-for"] and "x-real-ip" not in headers
    assert "honk_preview" not in headers["cookie"] and "mine=1" in headers["cookie"]


async def test_without_a_valid_cookie_nothing_reaches_the_app(honk, upstream):
    task, other = await honk.task("guarded"), await honk.task("other")
    await honk.run_preview(task, upstream.socket_path)
    good = await honk.cookie(task)
    expired = honk.service.links.token(task, 0, -1, kind="stay")
    as_link = honk.service.links.token(task, 0, 600)  # a link's token is not a cookie
    tampered = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
    cases = {
        "": 401,
        await honk.cookie(other): 403,
        f"honk_preview={expired}": 403,
        f"honk_preview={as_link}": 403,
        tampered: 403,
        "honk_preview=" + "x" * 5000: 403,
        "honk_preview=eyJ0IjoidC14In0.forged": 403,
    }
    async with client(honk) as c:
        for cookie, status in cases.items():
            r = await c.get(
                "/", headers={"host": honk.host(task), "cookie": cookie} if cookie else {"host": honk.host(task)}
            )
            assert r.status_code == status, (cookie[:40], r.status_code, r.text)
            assert "text/html" in r.headers["content-type"] and "Open it again from" in r.text
            assert f"{honk.url}/tasks/{task}/preview" in r.text
        await honk.service.revoke_preview_links(_actor(), task)
        revoked = await c.get("/", headers={"host": honk.host(task), "cookie": good})
        assert revoked.status_code == 403 and "revoked" in revoked.text
        fresh = await c.get("/", headers={"host": honk.host(task), "cookie": await honk.cookie(task)})
        assert fresh.status_code == 200
    assert len(upstream.seen) == 1


async def test_a_revoked_expired_or_foreign_link_is_refused_at_the_door(honk, upstream):
    task, other = await honk.task("door"), await honk.task("door2")
    await honk.run_preview(task, upstream.socket_path)
    old = (await honk.service.preview_link(task)).split("t=", 1)[1]
    await honk.service.revoke_preview_links(_actor(), task)
    links = honk.service.links
    cases = {
        old: "revoked",
        links.token(task, 1, -5): "expired",
        (await honk.service.preview_link(other)).split("t=", 1)[1]: "another task",
        links.token(task, 1, 600, kind="stay"): "not valid",  # a cookie's value is not a link
        "": "not opened",
        "a" * 3000: "not valid",
    }
    async with client(honk) as c:
        for token, why in cases.items():
            r = await c.get("/__honk/enter", params={"t": token}, headers={"host": honk.host(task)})
            assert r.status_code == 403 and "set-cookie" not in r.headers, (why, r.status_code)
            assert why.split()[-1] in r.text or why == "not opened", (why, r.text)
    assert upstream.seen == []


@pytest.mark.parametrize(
    ("wanted", "location"),
    [
        ("/deep/page?x=1&y=2", "/deep/page?x=1&y=2"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/a\r\nSet-Cookie: honk_session=x", "/"),
        ("/caf\u00e9 bar", "/caf%C3%A9%20bar"),
    ],
)
async def test_an_enter_link_goes_only_to_a_path_of_its_own_origin(honk, wanted, location):
    task = await honk.task("next")
    token = (await honk.service.preview_link(task)).split("t=", 1)[1]
    async with client(honk) as c:
        r = await c.get("/__honk/enter", params={"t": token, "next": wanted}, headers={"host": honk.host(task)})
    assert r.status_code == 303 and r.headers["location"] == location
    assert len(r.headers.get_list("set-cookie")) == 1


async def test_honks_routes_are_not_on_a_preview_origin(honk, upstream):
    task = await honk.task("paths")
    await honk.run_preview(task, upstream.socket_path)
    cookie = await honk.cookie(task)
    paths = ["/api/tasks", f"/api/tasks/{task}", "/login/x", "/slack/events", "/artifacts/x/y", "/previews/x/", "/"]
    paths += [
        "/healthz",
        "/metrics",
        "/docs",
        "/openapi.json",
        f"/tasks/{task}",
        f"/tasks/{task}/preview",
        "/static/app.js",
    ]
    async with client(honk) as c:
        for path in paths:
            refused = await c.get(path, headers={"host": honk.host(task)})
            assert refused.status_code == 401 and "Open it again from" in refused.text, path
            proxied = await c.get(path, headers={"host": honk.host(task), "cookie": cookie})
            assert proxied.json()["app"] is True and proxied.json()["path"] == path, path
        merge = await c.post(
            f"/api/tasks/{task}/merge", json={}, headers={"host": honk.host(task), "cookie": cookie, "origin": "null"}
        )
        assert merge.json() == {"app": True, "method": "POST", "path": f"/api/tasks/{task}/merge", "body": 2}
        reserved = await c.get("/__honk/anything", headers={"host": honk.host(task), "cookie": cookie})
        assert reserved.status_code == 404
    assert await honk.service.audit(AuditQuery(task_id=task)) == []  # nothing reached Honk's service


@pytest.mark.parametrize(
    "host",
    [
        "t-aaaaaaaaaaaa.localhost",  # the form of a task id, no such task
        "nosuch.localhost",
        "x.{task}.localhost",
        "{task}x.localhost",
        "a" * 4000 + ".localhost",
        "{task}.localhost:1:2",
        "-.localhost",
    ],
)
async def test_a_preview_host_that_names_no_preview_gets_the_preview_origins_404(honk, upstream, host):
    task = await honk.task("hosts")
    await honk.run_preview(task, upstream.socket_path)
    cookie = await honk.cookie(task)
    async with client(honk) as c:
        r = await c.get("/api/tasks", headers={"host": host.format(task=task), "cookie": cookie})
    assert r.status_code == 404 and "No preview here" in r.text and "application/json" not in r.headers["content-type"]
    assert upstream.seen == []


async def test_hosts_in_any_case_and_with_a_trailing_dot_are_the_same_preview(honk, upstream):
    task = await honk.task("case")
    await honk.run_preview(task, upstream.socket_path)
    cookie = await honk.cookie(task)
    async with client(honk) as c:
        for host in (honk.host(task).upper(), f"{task}.localhost.:{honk.port}", f"{task}.localhost"):
            assert (await c.get("/x", headers={"host": host, "cookie": cookie})).json()["app"], host
        honks = await c.get("/api/tasks", headers={"host": f"127.0.0.1:{honk.port}"})
        assert honks.status_code == 200 and isinstance(honks.json(), list)  # Honk's own host is Honk's


async def test_cookies_the_app_sets_stay_on_its_origin(honk, upstream):
    task = await honk.task("cookies")
    await honk.run_preview(task, upstream.socket_path)
    async with client(honk) as c:
        r = await c.get("/set-cookie", headers={"host": honk.host(task), "cookie": await honk.cookie(task)})
    cookies = r.headers.get_list("set-cookie")
    assert cookies == ["theirs=1; Path=/; HttpOnly", "wide=2; path=/; SameSite=Lax", "plain=3; Path=/"]


async def test_streamed_answers_and_uploads_pass_as_they_come(honk, upstream):
    task = await honk.task("stream")
    await honk.run_preview(task, upstream.socket_path)
    headers = {"host": honk.host(task), "cookie": await honk.cookie(task)}
    async with client(honk) as c:
        for path, first, second in (("/stream", "first\n", "second\n"), ("/events", "data: one", "data: two")):
            upstream.release.clear()
            async with c.stream("GET", path, headers=headers) as r:
                parts = r.aiter_text()
                got = await anext(parts)
                assert got.startswith(first)  # before the app wrote the rest: nothing was buffered
                upstream.release.set()
                rest = "".join([got] + [p async for p in parts])
            assert second in rest, rest
        assert r.headers["content-type"] == "text/event-stream"

        blob = bytes(range(256)) * 20_000  # 5 MB in pieces, chunked: no Content-Length

        async def pieces():
            for i in range(0, len(blob), 65_536):
                yield blob[i : i + 65_536]

        up = await c.post("/upload", content=pieces(), headers=headers)
    assert up.json() == {"size": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    assert upstream.seen[-1][2].get("transfer-encoding") == "chunked"


async def test_websockets_pass_messages_subprotocols_and_close_codes_both_ways(honk, upstream):
    task = await honk.task("ws")
    await honk.run_preview(task, upstream.socket_path)
    cookie = await honk.cookie(task)
    uri = f"ws://{honk.host(task)}/ws"
    kwargs = {"host": "127.0.0.1", "port": honk.port, "open_timeout": 10}
    async with connect(
        uri, additional_headers={"cookie": cookie}, subprotocols=[Subprotocol("other"), Subprotocol("chat")], **kwargs
    ) as ws:
        assert ws.subprotocol == "chat"
        await ws.send("hello")
        assert await ws.recv() == "echo hello"
        await ws.send(b"\x00\x01binary")
        assert await ws.recv() == b"echo \x00\x01binary"
        await ws.send("close 4001")
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "bye")
    assert upstream.seen[-1][2]["host"] == "localhost:47200" and "honk_preview" not in upstream.seen[-1][2].get(
        "cookie", ""
    )

    async with connect(uri, additional_headers={"cookie": cookie}, **kwargs) as ws:
        await ws.send("x")
        assert await ws.recv() == "echo x"
        await ws.close(4002, "done here")
    assert upstream.closed_with is not None
    async with asyncio.timeout(10):
        assert await upstream.closed_with == 4002

    for headers in ({}, {"cookie": await honk.cookie(await honk.task("another"))}):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(uri, additional_headers=headers, **kwargs):
                pass
        assert refused.value.response.status_code == 403


async def test_a_stopped_or_unreachable_preview_is_woken_once_with_a_page_that_reloads(honk, tmp_path):
    headers = lambda task, cookie: {"host": honk.host(task), "cookie": cookie}  # noqa: E731
    never = await honk.task("never-started")
    gone = await honk.task("gone")
    await honk.service.previews.register(gone, "w1", "running", PreviewEndpoint(address=f"unix:{tmp_path / 'no.sock'}"))
    stopped = await honk.task("stopped")
    await honk.service.previews.register(stopped, "w1", "stopped")
    async with client(honk) as c:
        for task in (never, gone, stopped):
            cookie = await honk.cookie(task)
            for _ in range(3):
                r = await c.get("/", headers=headers(task, cookie))
                assert r.status_code == 503 and r.headers["retry-after"] == "2", r.text
                assert '<meta http-equiv="refresh" content="2">' in r.text and "Starting the preview" in r.text
            # Three requests, one wake: the task's workflow got one signal from this server.
            assert await honk.signals(task) == ["wake_preview"]
            # Another server (its own throttle) asking at once asks once more; the workflow starts one at a time.
            again = TaskService(
                honk.settings, honk.service.store, honk.service.client, honk.service.gate, ceiling=honk.service.ceiling
            )
            await again.wake_preview(task)
            assert await honk.signals(task) == ["wake_preview", "wake_preview"]


async def test_a_failed_preview_says_why_and_what_to_fix(honk):
    task = await honk.task("failed")
    log = "npm ERR! missing script: dev\n<script>alert(1)</script>"
    await honk.service.previews.register(task, "w1", "failed", detail=log)
    async with client(honk) as c:
        r = await c.get("/", headers={"host": honk.host(task), "cookie": await honk.cookie(task)})
    assert r.status_code == 502 and "Preview failed" in r.text and "npm ERR! missing script: dev" in r.text
    assert "<script>alert" not in r.text and "[preview]" in r.text and "$PORT" in r.text


async def test_opening_the_preview_is_recorded_for_its_idle_stop(honk, upstream):
    task = await honk.task("touch")
    await honk.run_preview(task, upstream.socket_path)
    registered = (await honk.service.previews.get(task)).last_access
    async with client(honk) as c:
        assert (
            await c.get("/", headers={"host": honk.host(task), "cookie": await honk.cookie(task)})
        ).status_code == 200
    async with asyncio.timeout(10):
        while (await honk.service.previews.get(task)).last_access == registered:
            await asyncio.sleep(0.05)


async def test_a_preview_on_another_worker_is_reached_through_its_gateway(honk, upstream):
    task = await honk.task("gateway")
    gateway = await Gateway(task, "s3cret-token-" + "x" * 24, upstream.socket_path).start()
    try:
        await honk.service.previews.register(
            task, "w2", "running", PreviewEndpoint(address=f"tcp:127.0.0.1:{gateway.port}", token=gateway.token)
        )
        cookie = await honk.cookie(task)
        async with client(honk) as c:
            r = await c.get("/through", headers={"host": honk.host(task), "cookie": cookie})
            assert r.json()["path"] == "/through"
            async with connect(
                f"ws://{honk.host(task)}/ws", host="127.0.0.1", port=honk.port, additional_headers={"cookie": cookie}
            ) as ws:
                await ws.send("via gateway")
                assert await ws.recv() == "echo via gateway"
            assert gateway.said == [f"HONK-PREVIEW {task} {gateway.token}"] * 2
            # A wrong token: the gateway answers nothing, and the preview is woken instead.
            await honk.service.previews.register(
                task, "w2", "running", PreviewEndpoint(address=f"tcp:127.0.0.1:{gateway.port}", token="wrong")
            )
            honk.service._previews_read.clear()
            r = await c.get("/through", headers={"host": honk.host(task), "cookie": cookie})
            assert r.status_code == 503 and "Starting the preview" in r.text
            assert await honk.signals(task) == ["wake_preview"]
    finally:
        await gateway.stop()


class Gateway:
    """A worker's preview gateway as the design describes its wire protocol: a fake at the network
    boundary (the real one is the worker's), passing bytes to the preview's unix socket after `OK`."""

    def __init__(self, task_id: str, token: str, socket_path: Path) -> None:
        self.task_id, self.token, self.socket_path = task_id, token, socket_path
        self.said: list[str] = []

    async def start(self) -> Gateway:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = (await reader.readline()).decode().rstrip("\r\n")
        self.said.append(line)
        if line != f"HONK-PREVIEW {self.task_id} {self.token}":
            writer.close()
            return
        writer.write(b"OK\r\n")
        up_reader, up_writer = await asyncio.open_unix_connection(str(self.socket_path))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65_536):
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)


def _actor():
    from honk.access import Who
    from honk.gate import Actor

    return Actor(who=Who(identity="ana@example.com", email="ana@example.com"), front_door="web")
