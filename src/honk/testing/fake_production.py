"""A loopback stand-in for a team's production: where a repo's deploy script pushes the merged app, and
what its health check asks.

`FakeProduction` serves one host name (and the loopback address) over HTTPS, with a certificate from a
test `Authority`, and over plain HTTP; `mapping()` gives the `"<name>:443"` / `"<name>:80"` answers for
the resolver a test hands Honk's egress proxy, so sandboxed programs reach it by name. It serves:

- `POST /deploy?commit=<sha>` (with `Authorization: Bearer <token>`): the request body is the new
  release of the app, which starts at once; 401 without the token, 400 without a commit;
- `GET /health`: 200 `ok <commit>` while the running release is healthy, 503 with why when it is not (a
  release whose app holds the word `crash` crashes on start) or when nothing was deployed yet;
- `GET /`: the running app, as its users see it.

Every request is recorded when it arrives (`requests`), and every accepted release (`releases`).
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qs, urlsplit

from honk.egress.ca import Authority

TOKEN = "honk-test-production-token"
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Release:
    commit: str
    app: str

    @property
    def healthy(self) -> bool:
        return "crash" not in self.app


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    host: str
    scheme: str
    authorization: str | None


class FakeProduction:
    def __init__(self, name: str = "prod.example.com", authority: Authority | None = None, token: str = TOKEN) -> None:
        self.name, self.token = name, token
        self._own_authority = authority is None
        self.authority = authority or Authority("Honk fake production")
        self._lock = threading.Lock()
        self._releases: list[Release] = []
        self._requests: list[Seen] = []
        issued = self.authority.issue(name, "127.0.0.1")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(issued.cert_file, issued.key_file)
        self._https = self._server("https")
        self._https.socket = context.wrap_socket(self._https.socket, server_side=True)
        self._http = self._server("http")
        self._threads = [
            threading.Thread(target=s.serve_forever, name=f"fake-production-{n}", daemon=True)
            for n, s in (("https", self._https), ("http", self._http))
        ]

    # -- addresses -----------------------------------------------------------------------------
    def port(self, scheme: str = "https") -> int:
        return (self._https if scheme == "https" else self._http).server_address[1]

    def mapping(self) -> dict[str, tuple[str, int]]:
        return {
            f"{self.name}:443": ("127.0.0.1", self.port("https")),
            f"{self.name}:80": ("127.0.0.1", self.port("http")),
        }

    @property
    def ca_pem(self) -> bytes:
        return self.authority.pem

    # -- what happened -------------------------------------------------------------------------
    @property
    def releases(self) -> list[Release]:
        with self._lock:
            return list(self._releases)

    @property
    def running(self) -> Release | None:
        with self._lock:
            return self._releases[-1] if self._releases else None

    @property
    def requests(self) -> list[Seen]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._releases.clear()
            self._requests.clear()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        for server in (self._https, self._http):
            server.shutdown()
            server.server_close()
        if self._own_authority:
            self.authority.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving -------------------------------------------------------------------------------
    def _server(self, scheme: str) -> ThreadingHTTPServer:
        production = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
                pass

            def do_GET(self) -> None:
                production._seen(self, scheme)
                path = urlsplit(self.path).path
                running = production.running
                if path == "/health":
                    if running is None:
                        return self._answer(503, "nothing deployed yet")
                    if not running.healthy:
                        return self._answer(503, f"release {running.commit[:12]} is down: the app crashed on start")
                    return self._answer(200, f"ok {running.commit}")
                if path == "/":
                    return self._answer(200, running.app if running else "nothing deployed yet")
                return self._answer(404, "not found")

            def do_POST(self) -> None:
                production._seen(self, scheme)
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                if length > MAX_BODY:
                    return self._answer(413, "too large")
                body = self.rfile.read(length).decode("utf-8", "replace")
                if parts.path != "/deploy":
                    return self._answer(404, "not found")
                if self.headers.get("authorization") != f"Bearer {production.token}":
                    return self._answer(401, "a deploy needs the production token")
                commit = (parse_qs(parts.query).get("commit") or [""])[0]
                if not commit:
                    return self._answer(400, "which commit? (?commit=<sha>)")
                with production._lock:
                    production._releases.append(Release(commit, body))
                return self._answer(201, f"deployed {commit}")

            def _answer(self, status: int, text: str) -> None:
                data = (text + "\n").encode()
                self.send_response(status)
                self.send_header("content-type", "text/plain; charset=utf-8")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def _seen(self, handler: BaseHTTPRequestHandler, scheme: str) -> None:
        seen = Seen(
            method=handler.command,
            path=handler.path,
            host=handler.headers.get("host", ""),
            scheme=scheme,
            authorization=handler.headers.get("authorization"),
        )
        with self._lock:
            self._requests.append(seen)
