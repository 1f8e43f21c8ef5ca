"""Loopback package registries, for the egress proxy's tests: PyPI, npm, Maven and private ones.

`FakeRegistries` serves several host names over HTTPS (a certificate per name from a test
`Authority`, chosen by SNI) and plain HTTP, from one event loop in a background thread. Each name
has its own pair of loopback ports; `mapping()` says which, as `{"pypi.org:443": ("127.0.0.1", p)}`,
for the resolver a test hands the proxy. Any port serves any of the names by its Host header (and
answers 421 to a name it does not serve, or one that disagrees with the connection's SNI); a request
addressed to the port itself (Host `127.0.0.1:p`, as from pip or npm pointed straight at it) gets
that port's name, and the links it is given point at the other names' ports, so the registries
also work without a proxy. Each certificate names 127.0.0.1 too, for that.

What the names serve:

- `pypi.org`: a PEP 503 / PEP 691 simple index (`/simple/`, `/simple/<project>/`, HTML or JSON by
  the Accept header) whose files are on `files.pythonhosted.org` (`/packages/…`, each with its
  PEP 658 `.metadata`), as on PyPI;
- `registry.npmjs.org`: npm package documents (`/<name>`, `/@scope%2fname`) with `dist.tarball`
  on the same host (`/<name>/-/<name>-<version>.tgz`);
- `pypi.private.example` and `npm.private.example`: the same, answering 401 to any request without
  `Authorization: Bearer <token>` (the files too, which the private PyPI serves itself);
- `repo.maven.apache.org`: plain files (`add_file`), a pom and its `.sha1` to begin with;
- on every name: `/echo` and `/echo/…` (any method: the method, headers and body it received, as JSON) and
  `/big/<n>` (n bytes of a repeating pattern, streamed, never held whole), neither behind a token.

Every request is recorded (`requests`, `received(...)`) when it arrives, before it is answered, with
its Host, SNI, method, path, headers and status: a test can check that a header the proxy injects
arrived, or that a request the proxy refused never did. TLS handshakes are recorded too
(`handshakes`), for connections that never sent a request.

The packages are real, built here: `build_wheel` writes a pure-Python wheel (METADATA, WHEEL and a
RECORD with sha256 hashes) that pip installs, `build_npm_package` a gzipped tarball npm installs
(its `dist.shasum` and `integrity` in the document are the tarball's). `FETCH_JAVA` is a one-file
Java client (`java Fetch.java URL [METHOD]`) that goes through the JVM's standard proxy settings;
`honk.egress.ca.write_java_trust_store` makes the trust store it needs for a test CA.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import gzip
import hashlib
import io
import ipaddress
import json
import re
import socket
import ssl
import tarfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from aiohttp import web

from honk.egress.ca import Authority

PYPI = "pypi.org"
PYPI_FILES = "files.pythonhosted.org"
NPM = "registry.npmjs.org"
PRIVATE_PYPI = "pypi.private.example"
PRIVATE_NPM = "npm.private.example"
MAVEN = "repo.maven.apache.org"
HOSTS = (PYPI, PYPI_FILES, NPM, PRIVATE_PYPI, PRIVATE_NPM, MAVEN)
PRIVATE_HOSTS = (PRIVATE_PYPI, PRIVATE_NPM)
TOKEN = "honk-test-registry-token"  # the private registries' token unless a test gives its own

# The packages every FakeRegistries starts with (`published=True`): a public one with a dependency
# on each public registry, and a private one on each private registry.
PYPI_PACKAGE, PYPI_DEPENDENCY, PRIVATE_PYPI_PACKAGE = "honk-fixture-pkg", "honk-fixture-dep", "honk-private-pkg"
NPM_PACKAGE, NPM_DEPENDENCY, PRIVATE_NPM_PACKAGE = "honk-fixture-pkg", "honk-fixture-dep", "@honk/private-pkg"
MAVEN_POM = "/maven2/dev/honk/honk-fixture/1.0.0/honk-fixture-1.0.0.pom"

FETCH_JAVA = Path(__file__).parent / "jvm" / "Fetch.java"
BIG_CHUNK = bytes(range(256)) * 256  # /big/<n> sends this 64 KiB pattern again and again, cut at n
ECHO_BODY_LIMIT = 64 * 1024  # /echo returns at most this much of the body it received (it counts all of it)
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can have: wheels built here are reproducible
_NPM_MTIME = 499162500  # 1985-10-26T08:15:00Z, the date npm itself gives every file in a tarball


def normalize(project: str) -> str:
    """A Python project's name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", project).lower()


def big_sha256(n: int) -> str:
    """The sha256 of what `/big/<n>` sends, to check a download against."""
    digest = hashlib.sha256()
    for start in range(0, n, len(BIG_CHUNK)):
        digest.update(BIG_CHUNK[: min(len(BIG_CHUNK), n - start)])
    return digest.hexdigest()


# -- packages ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Wheel:
    project: str
    version: str
    filename: str
    data: bytes
    metadata: bytes  # the wheel's METADATA, served beside it as PEP 658 asks

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def build_wheel(
    project: str,
    version: str = "1.0.0",
    *,
    files: dict[str, str] | None = None,
    requires: Iterable[str] = (),
    summary: str = "A package built by Honk's tests",
) -> Wheel:
    """A real pure-Python wheel: `files` (path in site-packages -> text; by default one module,
    `<project_as_identifier>/__init__.py`, with NAME, VERSION and `hello()`), its METADATA, WHEEL,
    and a RECORD with each file's sha256, zipped as `<name>-<version>-py3-none-any.whl`."""
    module = normalize(project).replace("-", "_")
    if files is None:
        files = {
            f"{module}/__init__.py": (
                f'"""{summary}."""\n\nNAME = {project!r}\nVERSION = {version!r}\n\n\n'
                f"def hello() -> str:\n    return {f'hello from {project} {version}'!r}\n"
            )
        }
    dist_info = f"{module}-{version}.dist-info"
    metadata = "".join(
        [
            "Metadata-Version: 2.1\n",
            f"Name: {project}\n",
            f"Version: {version}\n",
            f"Summary: {summary}\n",
            *(f"Requires-Dist: {r}\n" for r in requires),
        ]
    ).encode()
    wheel_file = b"Wheel-Version: 1.0\nGenerator: honk.testing.registries\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    contents = [(path, text.encode()) for path, text in files.items()]
    contents += [(f"{dist_info}/METADATA", metadata), (f"{dist_info}/WHEEL", wheel_file)]
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in contents:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([path, f"sha256={digest}", len(data)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    contents.append((f"{dist_info}/RECORD", record.getvalue().encode()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in contents:
            info = zipfile.ZipInfo(path, _EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return Wheel(project, version, f"{module}-{version}-py3-none-any.whl", out.getvalue(), metadata)


@dataclass(frozen=True)
class NpmPackage:
    name: str  # as npm spells it, "@scope/name" for a scoped package
    version: str
    data: bytes  # the .tgz
    package_json: dict[str, Any]

    @property
    def filename(self) -> str:
        """The tarball's name as the registry serves it: `<name without scope>-<version>.tgz`."""
        return f"{self.name.rpartition('/')[2]}-{self.version}.tgz"

    @property
    def shasum(self) -> str:
        return hashlib.sha1(self.data).hexdigest()

    @property
    def integrity(self) -> str:
        return "sha512-" + base64.b64encode(hashlib.sha512(self.data).digest()).decode()


def build_npm_package(
    name: str,
    version: str = "1.0.0",
    *,
    files: dict[str, str] | None = None,
    dependencies: dict[str, str] | None = None,
    description: str = "A package built by Honk's tests",
) -> NpmPackage:
    """A real npm package: `package/package.json` and `files` (path -> text; by default
    `index.js`, exporting name, version and `hello()`) in a gzipped tarball, as `npm pack` makes it."""
    if files is None:
        files = {
            "index.js": (
                f"module.exports = {{ name: {json.dumps(name)}, version: {json.dumps(version)}, "
                f"hello: () => {json.dumps(f'hello from {name} {version}')} }};\n"
            )
        }
    package_json: dict[str, Any] = {
        "name": name,
        "version": version,
        "description": description,
        "main": "index.js",
        "license": "MIT",
        "dependencies": dict(dependencies or {}),
    }
    entries = [("package.json", json.dumps(package_json, indent=2).encode() + b"\n")]
    entries += [(path, text.encode()) for path, text in files.items()]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in entries:
            info = tarfile.TarInfo(f"package/{path}")
            info.size, info.mode, info.mtime = len(data), 0o644, _NPM_MTIME
            tar.addfile(info, io.BytesIO(data))
    return NpmPackage(name, version, gzip.compress(raw.getvalue(), mtime=0), package_json)


# -- what arrived ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Received:
    """One request as it arrived. `listener` is the name whose port it came in on; `host` the name it
    was served as (its Host header's, or the listener's when that header held an address)."""

    listener: str
    scheme: str
    host: str
    host_header: str
    sni: str | None
    method: str
    path: str  # with the query string
    headers: tuple[tuple[str, str], ...]
    status: int
    at: float = field(default_factory=time.monotonic)

    def header(self, name: str) -> str | None:
        """The first value of a header (any case), or None."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class Handshake:
    """A TLS ClientHello some listener received, and the SNI it named (None: it named none)."""

    listener: str
    sni: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class _File:
    data: bytes
    content_type: str


@dataclass
class _Listener:
    name: str
    scheme: str
    sock: socket.socket

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]


# -- the server --------------------------------------------------------------------------------
class FakeRegistries:
    """The registries on loopback. `authority` is the test CA (one is made, and closed on `stop`, if
    not given); `token` the private registries' bearer token; `hosts`, more names to serve (with
    `/echo`, `/big` and whatever `add_file` puts there); `published=False` starts them empty."""

    def __init__(
        self,
        authority: Authority | None = None,
        *,
        token: str = TOKEN,
        hosts: Iterable[str] = (),
        published: bool = True,
    ) -> None:
        self._own_authority = authority is None
        self.authority = authority or Authority("Honk fake registries")
        self.token = token
        self.names: tuple[str, ...] = tuple(dict.fromkeys([*HOSTS, *(h.lower() for h in hosts)]))
        self.private: frozenset[str] = frozenset(PRIVATE_HOSTS)
        self._lock = threading.Lock()
        self._requests: list[Received] = []
        self._handshakes: list[Handshake] = []
        self._files: dict[str, dict[str, _File]] = {name: {} for name in self.names}
        self._indexes: dict[str, dict[str, list[Wheel]]] = {}  # index host -> project -> wheels
        self._files_host: dict[str, str] = {}  # index host -> the host its files are on
        self._npm: dict[str, dict[str, dict[str, NpmPackage]]] = {}  # host -> name -> version -> package
        self._contexts = {name: self._context(name) for name in self.names}
        self._listeners: dict[int, _Listener] = {}
        self._ports: dict[tuple[str, str], int] = {}
        for name in self.names:
            for scheme in ("https", "http"):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind(("127.0.0.1", 0))
                sock.listen(128)
                listener = _Listener(name, scheme, sock)
                self._listeners[listener.port] = listener
                self._ports[(name, scheme)] = listener.port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._serve, name="fake-registries", daemon=True)
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        if published:
            self._publish_defaults()

    # -- addresses -----------------------------------------------------------------------------
    def port(self, name: str, scheme: str = "https") -> int:
        return self._ports[(name.lower(), scheme)]

    def url(self, name: str, scheme: str = "https") -> str:
        """The name's loopback origin, e.g. `https://127.0.0.1:40123`, to reach it without a proxy."""
        return f"{scheme}://127.0.0.1:{self.port(name, scheme)}"

    def mapping(self) -> dict[str, tuple[str, int]]:
        """`"<name>:443"` and `"<name>:80"` -> the loopback (ip, port) serving it, for each name."""
        out: dict[str, tuple[str, int]] = {}
        for name in self.names:
            out[f"{name}:443"] = ("127.0.0.1", self.port(name, "https"))
            out[f"{name}:80"] = ("127.0.0.1", self.port(name, "http"))
        return out

    @property
    def ca_pem(self) -> bytes:
        """The test CA's certificate, for a client's trust store."""
        return self.authority.pem

    # -- contents ------------------------------------------------------------------------------
    def add_file(self, host: str, path: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Serves `data` at `path` on `host` (GET and HEAD); returns the path."""
        with self._lock:
            self._served(host)[path] = _File(data, content_type)
        return path

    def publish_wheel(self, wheel: Wheel, host: str = PYPI, files_host: str | None = None) -> None:
        """Lists the wheel in `host`'s simple index; its file (and `.metadata`) is served from
        `files_host`: files.pythonhosted.org for pypi.org, else the index host itself."""
        host = host.lower()
        files_host = (files_host or (PYPI_FILES if host == PYPI else host)).lower()
        path = self._wheel_path(wheel)
        with self._lock:
            self._served(host)
            self._files_host[host] = files_host
            self._indexes.setdefault(host, {}).setdefault(normalize(wheel.project), []).append(wheel)
            self._served(files_host)[path] = _File(wheel.data, "application/octet-stream")
            self._served(files_host)[path + ".metadata"] = _File(wheel.metadata, "application/octet-stream")

    def publish_npm(self, package: NpmPackage, host: str = NPM) -> None:
        """Serves the package's document at `/<name>` on `host`, and its tarball beside it."""
        host = host.lower()
        with self._lock:
            self._served(host)
            self._npm.setdefault(host, {}).setdefault(package.name, {})[package.version] = package
            self._files[host][self._tarball_path(package)] = _File(package.data, "application/octet-stream")

    def _publish_defaults(self) -> None:
        self.publish_wheel(build_wheel(PYPI_DEPENDENCY))
        self.publish_wheel(build_wheel(PYPI_PACKAGE, requires=[f"{PYPI_DEPENDENCY}>=1.0"]))
        self.publish_wheel(build_wheel(PRIVATE_PYPI_PACKAGE), host=PRIVATE_PYPI)
        self.publish_npm(build_npm_package(NPM_DEPENDENCY))
        self.publish_npm(build_npm_package(NPM_PACKAGE, dependencies={NPM_DEPENDENCY: "^1.0.0"}))
        self.publish_npm(build_npm_package(PRIVATE_NPM_PACKAGE), host=PRIVATE_NPM)
        pom = (
            b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
            b"  <modelVersion>4.0.0</modelVersion>\n"
            b"  <groupId>dev.honk</groupId>\n  <artifactId>honk-fixture</artifactId>\n  <version>1.0.0</version>\n"
            b"</project>\n"
        )
        self.add_file(MAVEN, MAVEN_POM, pom, "application/xml")
        self.add_file(MAVEN, MAVEN_POM + ".sha1", hashlib.sha1(pom).hexdigest().encode(), "text/plain")

    def _served(self, host: str) -> dict[str, _File]:
        if (files := self._files.get(host.lower())) is None:
            raise ValueError(f"{host} is not served here (name it in FakeRegistries(hosts=...))")
        return files

    @staticmethod
    def _wheel_path(wheel: Wheel) -> str:
        h = wheel.sha256
        return f"/packages/{h[:2]}/{h[2:4]}/{h[4:]}/{wheel.filename}"

    @staticmethod
    def _tarball_path(package: NpmPackage) -> str:
        return f"/{package.name}/-/{package.filename}"

    # -- what arrived --------------------------------------------------------------------------
    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    @property
    def handshakes(self) -> list[Handshake]:
        with self._lock:
            return list(self._handshakes)

    def received(
        self, host: str | None = None, *, method: str | None = None, path: str | None = None
    ) -> list[Received]:
        """The requests served as `host`, with `method`, whose path (without the query) is `path` or,
        when `path` ends with `/`, starts with it."""

        def matches(r: Received) -> bool:
            bare = r.path.partition("?")[0]
            return (
                (host is None or r.host == host.lower())
                and (method is None or r.method == method.upper())
                and (path is None or (bare.startswith(path) if path.endswith("/") else bare == path))
            )

        return [r for r in self.requests if matches(r)]

    def clear(self) -> None:
        """Forgets the requests and handshakes; the contents stay."""
        with self._lock:
            self._requests.clear()
            self._handshakes.clear()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        self._thread.start()
        if not self._ready.wait(timeout=10) or self._failed is not None:
            raise RuntimeError(f"the fake registries did not start: {self._failed!r}")
        return self

    def stop(self) -> None:
        loop, runner = self._loop, self._runner
        if loop is not None and runner is not None and self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                self._thread.join(timeout=10)
        for listener in self._listeners.values():
            listener.sock.close()
        if self._own_authority:
            self.authority.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._setup())
        except BaseException as e:  # reported by start()
            self._failed = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _setup(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        for listener in self._listeners.values():
            context = self._contexts[listener.name] if listener.scheme == "https" else None
            await web.SockSite(runner, listener.sock, ssl_context=context).start()

    # -- TLS -----------------------------------------------------------------------------------
    def _context(self, name: str) -> ssl.SSLContext:
        issued = self.authority.issue(name, "127.0.0.1")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(issued.cert_file, issued.key_file)
        context.set_alpn_protocols(["http/1.1"])
        context.sni_callback = self._sni
        return context

    def _sni(self, conn: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, context: ssl.SSLContext) -> None:
        """Gives the certificate of the name the client asked for; keeps the port's own for a name
        not served (the client will refuse it, as it would a real server's default certificate)."""
        listener = next((n for n, c in self._contexts.items() if c is context), "?")
        name = server_name.lower() if server_name else None
        with self._lock:
            self._handshakes.append(Handshake(listener, name))
        conn.honk_sni = name  # type: ignore[union-attr]  # read back per request in _handle
        if name in self._contexts and name != listener:
            conn.context = self._contexts[name]

    # -- requests ------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        port = transport.get_extra_info("sockname")[1] if transport is not None else 0
        listener = self._listeners[port]
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        sni: str | None = getattr(ssl_object, "honk_sni", None)
        host_header = request.headers.get("Host", "")
        name = _host_of(host_header)
        direct = _is_address(name)
        host = listener.name if direct else name
        body = bytearray()
        length = 0
        async for chunk in request.content.iter_any():
            length += len(chunk)
            if len(body) < ECHO_BODY_LIMIT:
                body += chunk[: ECHO_BODY_LIMIT - len(body)]

        def answer(response: web.StreamResponse) -> web.StreamResponse:
            received = Received(
                listener.name,
                listener.scheme,
                host,
                host_header,
                sni,
                request.method,
                request.path_qs,
                tuple(request.headers.items()),
                response.status,
            )
            with self._lock:
                self._requests.append(received)
            response.headers["Server"] = "honk-fake-registries"
            return response

        if host not in self._files:
            return answer(web.Response(status=421, text=f"{host_header!r} is not served here\n"))
        if sni is not None and sni != host:
            return answer(web.Response(status=421, text=f"SNI {sni!r} and Host {host_header!r} disagree\n"))
        path = request.path
        if path == "/echo" or path.startswith("/echo/"):
            echoed = {
                "method": request.method,
                "scheme": listener.scheme,
                "host": host,
                "sni": sni,
                "path": request.path_qs,
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "header_list": [[k, v] for k, v in request.headers.items()],
                "body_length": length,
                "body": body.decode("utf-8", "replace"),
            }
            return answer(web.json_response(echoed))
        if (big := re.fullmatch(r"/big/(\d+)", path)) is not None:
            return await self._big(request, int(big.group(1)), answer)
        if host in self.private and request.headers.get("Authorization") != f"Bearer {self.token}":
            response = web.json_response({"error": "authentication required"}, status=401)
            response.headers["WWW-Authenticate"] = f'Bearer realm="{host}"'
            return answer(response)
        with self._lock:
            found = self._files[host].get(path)
        if found is not None:
            if request.method not in ("GET", "HEAD"):
                return answer(web.Response(status=405, headers={"Allow": "GET, HEAD"}))
            return answer(web.Response(body=found.data, content_type=found.content_type))
        if host in self._indexes and (path == "/simple" or path.startswith("/simple/")):
            return answer(self._simple(request, host, direct, listener.scheme))
        if host in self._npm and request.method in ("GET", "HEAD"):
            return answer(self._npm_document(request, host, direct, listener.scheme))
        return answer(web.json_response({"error": "Not found"}, status=404))

    async def _big(
        self, request: web.Request, n: int, answer: Callable[[web.StreamResponse], web.StreamResponse]
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = n
        answer(response)
        await response.prepare(request)
        if request.method != "HEAD":
            view = memoryview(BIG_CHUNK)
            for start in range(0, n, len(BIG_CHUNK)):
                await response.write(view[: min(len(BIG_CHUNK), n - start)])
        await response.write_eof()
        return response

    def _origin(self, name: str, direct: bool, scheme: str) -> str:
        """Where a link to `name` points: its real name, or its port when the request came to a port."""
        return self.url(name, scheme) if direct else f"{scheme}://{name}"

    def _simple(self, request: web.Request, host: str, direct: bool, scheme: str) -> web.Response:
        path = request.path
        if not path.endswith("/"):  # as PyPI does: /simple/<project> moves to /simple/<project>/
            return web.Response(status=301, headers={"Location": path + "/"})
        project = path.removeprefix("/simple/").strip("/")
        kind = _negotiate(
            request.headers.get("Accept", ""),
            # PyPI's order when the client ranks them equally (or sends no Accept): HTML first.
            ["text/html", "application/vnd.pypi.simple.v1+html", "application/vnd.pypi.simple.v1+json"],
        )
        if kind is None:
            return web.Response(status=406, text="Not Acceptable\n")
        with self._lock:
            projects = {p: list(wheels) for p, wheels in self._indexes[host].items()}
            files_origin = self._origin(self._files_host[host], direct, scheme)
        if not project:
            if kind.endswith("json"):
                return _json(kind, {"meta": {"api-version": "1.1"}, "projects": [{"name": p} for p in projects]})
            links = "".join(f'<a href="/simple/{p}/">{p}</a>\n' for p in projects)
            return _html(kind, "Simple index", links)
        wheels = projects.get(normalize(project))
        if wheels is None:
            return web.Response(status=404, text="Not Found\n")
        if kind.endswith("json"):
            files = [
                {
                    "filename": w.filename,
                    "url": files_origin + self._wheel_path(w),
                    "hashes": {"sha256": w.sha256},
                    "core-metadata": {"sha256": hashlib.sha256(w.metadata).hexdigest()},
                    "data-dist-info-metadata": {"sha256": hashlib.sha256(w.metadata).hexdigest()},
                    "size": len(w.data),
                }
                for w in wheels
            ]
            return _json(
                kind,
                {
                    "meta": {"api-version": "1.1"},
                    "name": normalize(project),
                    "versions": list(dict.fromkeys(w.version for w in wheels)),
                    "files": files,
                },
            )
        links = "".join(
            f'<a href="{files_origin}{self._wheel_path(w)}#sha256={w.sha256}" '
            f'data-dist-info-metadata="sha256={hashlib.sha256(w.metadata).hexdigest()}" '
            f'data-core-metadata="sha256={hashlib.sha256(w.metadata).hexdigest()}">{w.filename}</a><br/>\n'
            for w in wheels
        )
        return _html(kind, f"Links for {normalize(project)}", links)

    def _npm_document(self, request: web.Request, host: str, direct: bool, scheme: str) -> web.Response:
        name = request.path.lstrip("/")  # aiohttp has decoded @scope%2fname to @scope/name
        with self._lock:
            versions = dict(self._npm[host].get(name, {}))
        if not versions:
            return web.json_response({"error": "Not found"}, status=404)
        origin = self._origin(host, direct, scheme)
        latest = list(versions)[-1]
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        document = {
            "_id": name,
            "name": name,
            "dist-tags": {"latest": latest},
            "versions": {
                v: {
                    **p.package_json,
                    "_id": f"{name}@{v}",
                    "dist": {
                        "tarball": origin + self._tarball_path(p),
                        "shasum": p.shasum,
                        "integrity": p.integrity,
                    },
                }
                for v, p in versions.items()
            },
            "time": {"created": now, "modified": now, **dict.fromkeys(versions, now)},
        }
        return web.json_response(document)


def _host_of(header: str) -> str:
    """The host in a Host header, without its port or an IPv6 literal's brackets, in lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if header.count(":") == 1 else header


def _is_address(host: str) -> bool:
    if host in ("", "localhost"):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _negotiate(accept: str, offered: list[str]) -> str | None:
    """The offered media type the Accept header ranks highest (the first offered, with no header)."""
    if not accept.strip():
        return offered[0]
    best: tuple[float, int, str] | None = None
    for part in accept.split(","):
        kind, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        for rank, candidate in enumerate(offered):
            if q > 0 and kind in (candidate, "*/*", candidate.split("/")[0] + "/*"):
                key = (q, -rank, candidate)
                if best is None or key > best:
                    best = key
    return best[2] if best is not None else None


def _json(kind: str, document: dict[str, Any]) -> web.Response:
    return web.Response(body=json.dumps(document).encode(), content_type=kind)


def _html(kind: str, title: str, links: str) -> web.Response:
    page = (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta name="pypi:repository-version" content="1.1">\n'
        f"<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n{links}</body>\n</html>\n"
    )
    return web.Response(text=page, content_type=kind)


# -- the JVM client ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Fetched:
    """What `Fetch.java` printed: the status, and the length and sha256 of the body."""

    status: int
    length: int
    sha256: str


def parse_fetched(stdout: str) -> Fetched:
    """Reads `Fetch.java`'s line: `status=200 bytes=1234 sha256=<hex>`."""
    fields = dict(part.split("=", 1) for part in stdout.split())
    return Fetched(int(fields["status"]), int(fields["bytes"]), fields["sha256"])
