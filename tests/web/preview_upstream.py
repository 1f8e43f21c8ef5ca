"""A small app like a dev server, listening on a unix socket as a running preview's server does (behind the
bridge in its sandbox): what the preview origin proxies to in the tests. It records what reached it."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from aiohttp import WSMsgType, web

PAGE = """<!doctype html><html><head><meta name="viewport" content="width=device-width,initial-scale=1">
<title>the app</title></head><body><h1 id="hello">Hello from the app</h1><p id="out">running</p>
<script>
// Code the agent wrote, trying to drive Honk: its merge on this origin, and on Honk's.
window.attempts = (async () => {
  const honk = document.body.dataset.honk, task = document.body.dataset.task, out = {};
  const tries = {
    own: () => fetch(`/api/tasks/${task}/merge`, {method: "POST", headers: {"content-type": "application/json"},
      body: "{}"}).then(r => r.text()),
    honk_json: () => fetch(`${honk}/api/tasks/${task}/merge`, {method: "POST", credentials: "include",
      headers: {"content-type": "application/json"}, body: "{}"}).then(r => r.status),
    honk_simple: () => fetch(`${honk}/api/tasks/${task}/merge`, {method: "POST", credentials: "include",
      mode: "no-cors", headers: {"content-type": "text/plain"}, body: "{}"}).then(r => r.type),
  };
  for (const [name, attempt] of Object.entries(tries)) {
    try { out[name] = String(await attempt()); } catch (e) { out[name] = "error: " + e; }
  }
  document.getElementById("out").textContent = JSON.stringify(out);
  return out;
})();
</script></body></html>"""


class Upstream:
    def __init__(self, socket_path: Path, honk_url: str = "", task_id: str = "") -> None:
        self.socket_path, self.honk_url, self.task_id = socket_path, honk_url, task_id
        self.seen: list[tuple[str, str, dict[str, str]]] = []  # method, path, headers
        self.release = asyncio.Event()  # the streamed answers wait for it between their parts
        self.closed_with: asyncio.Future[int] | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> Upstream:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_get("/page", self.page)
        app.router.add_get("/stream", self.stream)
        app.router.add_get("/events", self.events)
        app.router.add_get("/set-cookie", self.set_cookie)
        app.router.add_post("/upload", self.upload)
        app.router.add_get("/ws", self.ws)
        app.router.add_route("*", "/{tail:.*}", self.anything)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.UnixSite(self._runner, str(self.socket_path)).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _record(self, request: web.Request) -> None:
        self.seen.append((request.method, request.path_qs, {k.lower(): v for k, v in request.headers.items()}))

    async def anything(self, request: web.Request) -> web.Response:
        self._record(request)
        body = await request.read()
        return web.json_response({"app": True, "method": request.method, "path": request.path_qs, "body": len(body)})

    async def page(self, request: web.Request) -> web.Response:
        self._record(request)
        body = PAGE.replace("<body>", f'<body data-honk="{self.honk_url}" data-task="{self.task_id}">')
        return web.Response(text=body, content_type="text/html")

    async def stream(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        response = web.StreamResponse()
        response.content_type = "text/plain"
        await response.prepare(request)
        await response.write(b"first\n")
        await self.release.wait()  # the test saw the first part before the second was written
        await response.write(b"second\n")
        await response.write_eof()
        return response

    async def events(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        response = web.StreamResponse(headers={"content-type": "text/event-stream", "cache-control": "no-cache"})
        await response.prepare(request)
        await response.write(b"data: one\n\n")
        await self.release.wait()
        await response.write(b"data: two\n\n")
        await response.write_eof()
        return response

    async def set_cookie(self, request: web.Request) -> web.Response:
        self._record(request)
        response = web.Response(text="cookies")
        response.headers.add("Set-Cookie", "theirs=1; Domain=localhost; Path=/; HttpOnly")
        response.headers.add("Set-Cookie", "wide=2; path=/; domain=.example.com; SameSite=Lax")
        response.headers.add("Set-Cookie", "plain=3; Path=/")
        return response

    async def upload(self, request: web.Request) -> web.Response:
        self._record(request)
        digest, size = hashlib.sha256(), 0
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            size += len(chunk)
        return web.json_response({"size": size, "sha256": digest.hexdigest()})

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        self._record(request)
        ws = web.WebSocketResponse(protocols=("chat",))
        await ws.prepare(request)
        self.closed_with = asyncio.get_running_loop().create_future()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and msg.data.startswith("close "):
                await ws.close(code=int(msg.data.split()[1]), message=b"bye")
            elif msg.type == WSMsgType.TEXT:
                await ws.send_str("echo " + msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(b"echo " + msg.data)
        if not self.closed_with.done():
            self.closed_with.set_result(ws.close_code or 0)
        return ws
