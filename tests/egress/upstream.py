"""A loopback HTTPS (and plain HTTP) server that answers any request with what it received, by the
names a test CA issued it, and a resolver that sends those names to it: the egress tests' far side."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from honk.egress.ca import Authority


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        out = json.dumps(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": len(body)}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_HEAD = _answer

    def log_message(self, *args: object) -> None:
        pass


class Upstream:
    """A loopback HTTPS (and HTTP) server answering for any name the test CA issued."""

    def __init__(self, names: list[str]) -> None:
        self.ca = Authority("test")
        issued = self.ca.issue(*names)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(issued.cert_file, issued.key_file)
        self.tls = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        self.tls.socket = context.wrap_socket(self.tls.socket, server_side=True)
        self.plain = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        for server in (self.tls, self.plain):
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self) -> None:
        for server in (self.tls, self.plain):
            server.shutdown()
            server.server_close()
        self.ca.close()


class Resolver:
    def __init__(self, answers: dict[tuple[str, int], tuple[str, int]]) -> None:
        self.answers = answers

    def resolve(self, host: str, port: int) -> list[tuple[str, int]]:
        found = self.answers.get((host, port))
        if found is None:
            raise OSError(-2, "Name or service not known")
        return [found]
