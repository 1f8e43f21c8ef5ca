"""Honk's egress proxy: the one way out of every sandbox, enforcing that sandbox's `EgressPolicy`.

Each sandbox gets its own `Gateway`: a unix socket bound into its network namespace (the bridge
there, `honk.sandbox.bridge`, gives programs a loopback port to use as HTTP(S)_PROXY). Who is asking
is which socket they came through — nothing a process inside can forge. Per connection:

- `CONNECT host:port` is decided by name: refused (a 403 that says why), **tunnelled** (the DNS answer
  checked, the ClientHello's server name checked against the name allowed, then bytes spliced in the
  kernel), or **terminated** with a certificate from the worker's own authority, so that each request
  inside is read: its method against the host's limit, its Host against the name allowed, and the
  repo's secret headers added on the way out (the sandbox never holds them);
- a plain-HTTP request (`GET http://host/…`) is read and decided the same way, without TLS.

Names only, never addresses: an IP literal is refused, and a name whose DNS answer is loopback,
private, link-local or otherwise not public is refused too (DNS rebinding). What is refused is kept
on the gateway (`blocked`) for the launcher to report with the command that was running.

Threads, not the worker's event loop: a connection is a thread that blocks in the kernel (a tunnel in
`splice`, a terminated one in TLS), so a 50 MB download costs the worker's loop nothing; HTTP/1.1 is
framed by h11 (the parser under httpx and uvicorn), TLS by Python's ssl, certificates by cryptography.
"""

from __future__ import annotations

import logging
import os
import selectors
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import h11

from honk.domain import BlockReason
from honk.egress.ca import Authority, write_java_trust_store
from honk.egress.hello import MAX_HELLO, NeedMore, NotTls, read_hello
from honk.network import EgressPolicy, Injection, Refused, Terminate, address_problem, normal_host

log = logging.getLogger(__name__)

HEAD_TIMEOUT_S = 30.0  # for the request head and the ClientHello
IDLE_TIMEOUT_S = 600.0  # a connection with nothing to read for this long is closed
CONNECT_TIMEOUT_S = 15.0
MAX_HEAD = 64 * 1024
CHUNK = 256 * 1024
# RFC 9110 §7.6.1, and the proxy-era names still sent.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
    }
)


class Resolver(Protocol):
    """Host names to addresses. The system's by default; the test harness passes its own (a
    constructor argument, never a setting) to reach its loopback fakes by their real names."""

    def resolve(self, host: str, port: int) -> list[tuple[str, int]]: ...


class SystemResolver:
    def resolve(self, host: str, port: int) -> list[tuple[str, int]]:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        return [(str(info[4][0]), int(info[4][1])) for info in infos]


@dataclass(frozen=True)
class Blocked:
    """A refused request: what was asked, why it was refused, how many times in a row."""

    host: str
    port: int
    method: str
    reason: BlockReason
    detail: str
    times: int = 1


@dataclass
class Gateway:
    """One sandbox's way out: its socket, its policy, and what it was refused."""

    policy: EgressPolicy
    listener: socket.socket
    socket_dir: Path | None = None  # unix: the directory bound into the sandbox, holding proxy.sock
    address: tuple[str, int] | None = None  # tcp (unsandboxed): where programs find the proxy
    command: str = ""  # what is running in the sandbox now, for the record of a refusal
    _blocked: list[tuple[str, Blocked]] = field(default_factory=list)
    _live: set[socket.socket] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False
    _retire: Callable[[Gateway], None] | None = None  # the proxy stops accepting for it, then closes it

    def blocked(self) -> list[tuple[str, Blocked]]:
        """What was refused since the last call, each with the command that was running; repeats of one
        request (a client retrying) counted, not listed."""
        with self._lock:
            taken, self._blocked = self._blocked, []
        merged: dict[tuple[str, str, int, str, str], tuple[str, Blocked]] = {}
        for command, b in taken:
            key = (command, b.host, b.port, b.method, b.reason)
            if key in merged:
                seen = merged[key][1]
                merged[key] = (command, Blocked(b.host, b.port, b.method, b.reason, b.detail, seen.times + 1))
            else:
                merged[key] = (command, b)
        return list(merged.values())

    def _refused(self, blocked: Blocked) -> None:
        with self._lock:
            self._blocked.append((self.command, blocked))

    def _track(self, sock: socket.socket, live: bool) -> bool:
        with self._lock:
            if live and self._closed:
                return False
            (self._live.add if live else self._live.discard)(sock)
            return True

    def close(self) -> None:
        """No new connections; the open ones are cut (the sandbox's programs have ended)."""
        with self._lock:
            self._closed = True
            live = list(self._live)
        for sock in live:
            _quiet(sock.shutdown, socket.SHUT_RDWR)
        if self._retire is not None:
            self._retire(self)  # the listener is closed by the accept loop, once it no longer selects it
        else:
            _quiet(self.listener.close)
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)


class EgressProxy:
    """The worker's egress proxy. `start` makes its authority and the trust files sandboxes read."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        resolver: Resolver | None = None,
        upstream_trust: bytes | None = None,
        reachable: Iterable[tuple[str, int]] = (),
    ) -> None:
        """`upstream_trust`: more authorities trusted as the system's are, by the proxy and by sandboxes
        (a test's CA, for its fakes). `reachable`: addresses let through although not public — the test harness's loopback
        fakes; never a setting."""
        self.root = root or Path(tempfile.mkdtemp(prefix="honk-egress-"))
        self.resolver: Resolver = resolver or SystemResolver()
        self.reachable = frozenset(reachable)
        self._upstream = ssl.create_default_context()
        self._upstream.set_alpn_protocols(["http/1.1"])
        self._extra_trust = upstream_trust or b""
        if upstream_trust:
            self._upstream.load_verify_locations(cadata=upstream_trust.decode())
        self.authority: Authority | None = None
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._pending: list[tuple[str, Gateway | None]] = []  # for the accept loop: add, remove, stop
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._count = 0
        self.java_store: Path | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> EgressProxy:
        self.root.mkdir(parents=True, exist_ok=True)
        self.authority = Authority()
        trust = self.trust_dir
        trust.mkdir(exist_ok=True)
        (trust / "honk-ca.pem").write_bytes(self.authority.pem)
        (trust / "ca.pem").write_bytes(b"\n".join((_system_bundle(), self._extra_trust, self.authority.pem)))
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._accept_loop, name="honk-egress", daemon=True)
        self._thread.start()
        self._make_java_store()
        return self

    @property
    def trust_dir(self) -> Path:
        """Public files only (the authorities to trust), bound read-only into every sandbox."""
        return self.root / "trust"

    def stop(self) -> None:
        self._tell("stop", None)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.authority is not None:
            self.authority.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def open(self, policy: EgressPolicy, *, tcp: bool = False) -> Gateway:
        """A way out for one sandbox: a unix socket in a directory of its own (to bind in), or, for an
        unsandboxed run, a loopback port."""
        with self._lock:
            self._count += 1
            n = self._count
        if tcp:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind(("127.0.0.1", 0))
            gateway = Gateway(policy, listener, address=listener.getsockname()[:2])
        else:
            where = self.root / f"g{n}"
            where.mkdir(mode=0o700)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(where / "proxy.sock"))
            gateway = Gateway(policy, listener, socket_dir=where)
        listener.listen(128)
        listener.setblocking(False)
        gateway._retire = lambda g: self._tell("remove", g)
        self._tell("add", gateway)
        return gateway

    def _tell(self, what: str, gateway: Gateway | None) -> None:
        with self._lock:
            self._pending.append((what, gateway))
        _quiet(self._wake_w.send, b"x")

    # -- accepting -----------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        """The only thread that touches the selector: gateways come and go through `_tell`."""
        while True:
            for key, _ in self._selector.select():
                if key.data is not None:
                    self._accept(key.fileobj, key.data)  # type: ignore[arg-type]
                    continue
                _quiet(self._wake_r.recv, 4096)
                with self._lock:
                    pending, self._pending = self._pending, []
                for what, gateway in pending:
                    if gateway is None:
                        for other in list(self._selector.get_map().values()):
                            if other.data is not None:
                                _quiet(other.fileobj.close)  # type: ignore[union-attr]
                        self._selector.close()
                        return
                    if what == "add" and not gateway._closed:
                        self._selector.register(gateway.listener, selectors.EVENT_READ, gateway)
                    elif what == "remove":
                        _quiet(self._selector.unregister, gateway.listener)
                        _quiet(gateway.listener.close)

    def _accept(self, listener: socket.socket, gateway: Gateway) -> None:
        try:
            conn, _ = listener.accept()
        except OSError:  # nothing after all, or the client left already
            return
        conn.setblocking(True)
        if conn.family != socket.AF_UNIX:  # an unsandboxed client on loopback TCP: no Nagle waits either
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=self._serve, args=(conn, gateway), daemon=True).start()

    def _serve(self, conn: socket.socket, gateway: Gateway) -> None:
        if not gateway._track(conn, True):
            conn.close()
            return
        try:
            _timeout(conn, HEAD_TIMEOUT_S)
            Session(self, gateway, conn).run()
        except Exception as exc:  # a broken connection ends that connection, never the proxy
            log.debug("egress connection ended: %r", exc)
        finally:
            gateway._track(conn, False)
            _quiet(conn.close)

    # -- what sessions use ----------------------------------------------------------------------
    def resolve(self, host: str, port: int) -> tuple[str, int] | Refused:
        """The first answer for `host`; Refused when there is none or one is not a public address."""
        try:
            answers = self.resolver.resolve(host, port)
        except OSError as exc:
            return Refused("unresolved", f"{host} did not resolve ({exc.strerror or exc})")
        if not answers:
            return Refused("unresolved", f"{host} did not resolve")
        for address in answers:
            if address in self.reachable:
                continue
            if (problem := address_problem(address[0])) is not None:
                return Refused("private_address", f"{host} resolved to {problem}")
        return answers[0]

    def server_context(self, host: str, asked: list[str | None]) -> ssl.SSLContext:
        """A server context for `host` whose handshake fails unless the client asks for `host` by name
        (what it asked is appended to `asked`). One per connection: the check is the connection's."""
        assert self.authority is not None
        issued = self.authority.issue(host)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(issued.cert_file, issued.key_file)
        context.set_alpn_protocols(["http/1.1"])  # requests are read one by one: no HTTP/2

        def check(_sock: object, name: str | None, _context: object) -> int | None:
            asked.append(name.lower() if name else None)
            return None if name and name.lower() == host else ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME

        context.sni_callback = check
        return context

    def upstream(self, host: str, address: tuple[str, int], tls: bool) -> socket.socket:
        sock = socket.create_connection(address, timeout=CONNECT_TIMEOUT_S)
        sock.settimeout(None)
        _timeout(sock, IDLE_TIMEOUT_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            return self._upstream.wrap_socket(sock, server_hostname=host)
        return sock

    def _make_java_store(self) -> None:
        """The sandbox bundle's authorities as a trust store for JVMs."""
        self.java_store = write_java_trust_store(
            (self.trust_dir / "ca.pem").read_bytes(), self.trust_dir / "java-trust.p12"
        )


class Session:
    """One client connection."""

    def __init__(self, proxy: EgressProxy, gateway: Gateway, conn: socket.socket) -> None:
        self.proxy, self.gateway, self.conn = proxy, gateway, conn
        self.policy = gateway.policy

    def run(self) -> None:
        h = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        event = _next(h, self.conn)
        if not isinstance(event, h11.Request):
            return
        if event.method == b"CONNECT":
            self._connect(h, event)
        else:
            self._plain(h, event)

    # -- CONNECT -------------------------------------------------------------------------------
    def _connect(self, h: h11.Connection, request: h11.Request) -> None:
        target = request.target.decode("latin-1")
        host, _, port_text = target.rpartition(":")
        host = host.strip("[]")
        port = int(port_text) if port_text.isdigit() else 0
        name = normal_host(host) or host
        decision = self.policy.at_connect(name, port)
        if isinstance(decision, Refused):
            return self._refuse(h, name, port, "CONNECT", decision)
        address = self.proxy.resolve(name, port)
        if isinstance(address, Refused):
            return self._refuse(h, name, port, "CONNECT", address)
        _send(h, self.conn, h11.Response(status_code=200, headers=[], reason=b"Connection established"))
        early = h.trailing_data[0]  # a client may send its hello without waiting for our answer
        if isinstance(decision, Terminate):
            if early:  # bytes ssl cannot be handed: no client does this in practice
                detail = "TLS data sent before the tunnel was open"
                return self.gateway._refused(Blocked(name, port, "CONNECT", "not_tls", detail))
            return self._terminate(name, port, decision, address)
        hello, read = self._hello(early)
        if isinstance(hello, Refused):
            return self.gateway._refused(Blocked(name, port, "CONNECT", hello.reason, hello.detail))
        if hello != name:
            detail = f"the TLS server name {hello!r} is not {name}, the host allowed"
            return self.gateway._refused(Blocked(name, port, "CONNECT", "sni_mismatch", detail))
        upstream = self.proxy.upstream(name, address, tls=False)
        try:
            upstream.sendall(read)
            _splice_both(self.conn, upstream)
        finally:
            upstream.close()

    def _terminate(self, name: str, port: int, decision: Terminate, address: tuple[str, int]) -> None:
        """TLS ended here with a certificate for `name`; the hello must ask for that name (checked during
        the handshake, which fails otherwise)."""
        asked: list[str | None] = []
        context = self.proxy.server_context(name, asked)
        self.conn.settimeout(None)
        _timeout(self.conn, IDLE_TIMEOUT_S)
        try:
            tls = context.wrap_socket(self.conn, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            if asked and asked[-1] != name:
                detail = f"the TLS server name {asked[-1]!r} is not {name}, the host allowed"
                return self.gateway._refused(Blocked(name, port, "CONNECT", "sni_mismatch", detail))
            return self.gateway._refused(Blocked(name, port, "CONNECT", "not_tls", f"no TLS handshake ({exc})"))
        try:
            self._terminated(tls, name, port, decision, address)
        finally:
            _quiet(tls.close)

    def _hello(self, early: bytes) -> tuple[str | Refused, bytes]:
        """The server name in the client's hello, and the bytes read to find it (to pass on first)."""
        deadline = time.monotonic() + HEAD_TIMEOUT_S
        data = early
        while True:
            try:
                hello = read_hello(data)
            except NeedMore:
                if time.monotonic() > deadline or len(data) >= MAX_HELLO:
                    return Refused("not_tls", "the TLS hello did not arrive whole"), data
                _ack_now(self.conn)
                try:
                    chunk = self.conn.recv(_missing(data))
                except OSError:
                    chunk = b""
                if not chunk:
                    return Refused("not_tls", "no TLS hello arrived"), data
                data += chunk
                continue
            except NotTls as exc:
                return Refused("not_tls", f"not TLS inside the tunnel ({exc})"), data
            if hello.encrypted:
                return Refused("sni_mismatch", "an Encrypted Client Hello hides the name it asks for"), data
            if hello.server_name is None:
                return Refused("sni_mismatch", "the TLS hello names no server"), data
            return hello.server_name, data

    def _terminated(
        self, tls: ssl.SSLSocket, host: str, port: int, decision: Terminate, address: tuple[str, int]
    ) -> None:
        client = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        upstream: _Upstream | None = None
        try:
            while True:
                event = _next(client, tls)
                if not isinstance(event, h11.Request):
                    return
                asked = _host_header(event)
                if asked not in (host, f"{host}:{port}") or (asked == host and port != 443):
                    refused = Refused("sni_mismatch", f"the Host header {asked!r} is not {host}, the host allowed")
                    return self._refuse(client, host, port, event.method.decode("latin-1"), refused, tls)
                method, path = event.method.decode("latin-1"), event.target.decode("latin-1")
                verdict = self.policy.at_request(host, port, method, path)
                if isinstance(verdict, Refused):
                    self._refuse(client, host, port, method, verdict, tls, keep=True)
                    if not _drain(client, tls):
                        return
                    client.start_next_cycle()
                    continue
                if upstream is None:
                    upstream = _Upstream(self.proxy.upstream(host, address, tls=True))
                inject = verdict.inject if isinstance(verdict, Terminate) else ()
                if not _exchange(client, tls, event, upstream, inject, path):
                    return
                if client.our_state is h11.MUST_CLOSE or upstream.h.our_state is h11.MUST_CLOSE:
                    return
                client.start_next_cycle()
                upstream.h.start_next_cycle()
        finally:
            if upstream is not None:
                _quiet(upstream.sock.close)

    # -- plain HTTP ------------------------------------------------------------------------------
    def _plain(self, h: h11.Connection, event: h11.Request) -> None:
        upstreams: dict[tuple[str, int], _Upstream] = {}
        try:
            while True:
                method, target = event.method.decode("latin-1"), event.target.decode("latin-1")
                if not target.startswith("http://"):
                    why = Refused("not_allowed", f"{method} {target[:100]} is not a proxy request (http://host/…)")
                    return self._refuse(h, "", 0, method, why)
                authority, _, rest = target[len("http://") :].partition("/")
                host, _, port_text = authority.rpartition(":") if ":" in authority else (authority, "", "80")
                port = int(port_text) if port_text.isdigit() else 0
                name = normal_host(host.strip("[]")) or host
                path = "/" + rest
                verdict = self.policy.at_request(name, port, method, path)
                if not isinstance(verdict, Refused) and _host_header(event) not in (name, authority.lower()):
                    verdict = Refused("sni_mismatch", f"the Host header is not {name}, the host asked for")
                address = verdict if isinstance(verdict, Refused) else self.proxy.resolve(name, port)
                if isinstance(address, Refused):
                    self._refuse(h, name, port, method, address, keep=True)
                else:
                    up = upstreams.get((name, port))
                    if up is None:
                        up = upstreams[(name, port)] = _Upstream(self.proxy.upstream(name, address, tls=False))
                    # A secret is never sent in the clear: headers are added over TLS only.
                    if not _exchange(h, self.conn, event, up, (), path):
                        return
                    if up.h.our_state is h11.MUST_CLOSE:
                        _quiet(up.sock.close)
                        del upstreams[(name, port)]
                    else:
                        up.h.start_next_cycle()
                if h.our_state is h11.MUST_CLOSE or (isinstance(address, Refused) and not _drain(h, self.conn)):
                    return
                h.start_next_cycle()
                nxt = _next(h, self.conn)
                if not isinstance(nxt, h11.Request):
                    return
                event = nxt
        finally:
            for up in upstreams.values():
                _quiet(up.sock.close)

    # -- refusing --------------------------------------------------------------------------------
    def _refuse(
        self,
        h: h11.Connection,
        host: str,
        port: int,
        method: str,
        refused: Refused,
        sock: socket.socket | None = None,
        keep: bool = False,
    ) -> None:
        self.gateway._refused(Blocked(host, port, method, refused.reason, refused.detail))
        body = (
            f"Honk's egress proxy refused {method} {host}:{port} in {self.policy.phase}: {refused.detail}.\n"
            "Nothing retries it. To allow it, list the host under [network] in the repo's .honk.toml, "
            "or ask an admin to allow it for the repo.\n"
        ).encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"x-honk-refused", refused.reason.encode()),
        ]
        if not keep:
            headers.append((b"connection", b"close"))
        target = sock or self.conn
        try:
            _send(h, target, h11.Response(status_code=403, headers=headers, reason=b"Forbidden by Honk"))
            _send(h, target, h11.Data(data=body))
            _send(h, target, h11.EndOfMessage())
        except (h11.LocalProtocolError, OSError):
            pass


class _Upstream:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.h = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)


def _exchange(
    client: h11.Connection,
    csock: socket.socket,
    request: h11.Request,
    up: _Upstream,
    inject: tuple[Injection, ...],
    path: str,
) -> bool:
    """Forwards one request and its answer, streaming both bodies; False when either side broke."""
    added = {i.header.lower().encode() for i in inject}
    headers = [(k, v) for k, v in request.headers if k not in HOP_BY_HOP and k not in added]
    headers += [(i.header.encode(), i.value.encode()) for i in inject]
    try:
        if client.client_is_waiting_for_100_continue:
            _send(client, csock, h11.InformationalResponse(status_code=100, headers=[]))
        _send(up.h, up.sock, h11.Request(method=request.method, target=path.encode("latin-1"), headers=headers))
        while True:
            event = _next(client, csock)
            if isinstance(event, h11.Data):
                _send(up.h, up.sock, event)
            elif isinstance(event, h11.EndOfMessage):
                _send(up.h, up.sock, h11.EndOfMessage())
                break
            else:
                return False
        while True:
            event = _next(up.h, up.sock)
            if isinstance(event, h11.InformationalResponse):
                continue  # a 100 Continue: ours was sent already
            if isinstance(event, h11.Response):
                kept = [(k, v) for k, v in event.headers if k not in HOP_BY_HOP]
                _send(client, csock, h11.Response(status_code=event.status_code, headers=kept, reason=event.reason))
            elif isinstance(event, h11.Data):
                _send(client, csock, event)
            elif isinstance(event, h11.EndOfMessage):
                _send(client, csock, h11.EndOfMessage())
                return True
            else:
                return False
    except (h11.ProtocolError, OSError, ssl.SSLError):
        return False


def _drain(h: h11.Connection, sock: socket.socket) -> bool:
    """Reads the rest of a refused request (its body), so the connection can carry the next one."""
    try:
        while True:
            event = _next(h, sock)
            if isinstance(event, h11.EndOfMessage):
                return True
            if not isinstance(event, h11.Data):
                return False
    except (h11.ProtocolError, OSError, ssl.SSLError):
        return False


def _next(h: h11.Connection, sock: socket.socket) -> object:
    while True:
        event = h.next_event()
        if event is h11.NEED_DATA:
            try:
                data = sock.recv(CHUNK)
            except (OSError, ssl.SSLError):
                data = b""
            h.receive_data(data)
            continue
        return event


def _send(h: h11.Connection, sock: socket.socket, event: object) -> None:
    data = h.send(event)  # type: ignore[arg-type]
    if data:
        sock.sendall(data)


def _host_header(request: h11.Request) -> str | None:
    hosts = [v for k, v in request.headers if k == b"host"]
    return hosts[0].decode("latin-1").strip().lower().rstrip(".") if len(hosts) == 1 else None


def _missing(data: bytes) -> int:
    """How many more bytes the record in progress needs (at least one)."""
    at = 0
    while len(data) >= at + 5:
        length = int.from_bytes(data[at + 3 : at + 5], "big")
        if len(data) < at + 5 + length:
            return at + 5 + length - len(data)
        at += 5 + length
    return max(at + 5 - len(data), 1)


def _splice_both(a: socket.socket, b: socket.socket) -> None:
    """Both directions at once, in the kernel (splice through a pipe), until both have ended."""
    for sock in (a, b):
        sock.settimeout(None)
        _timeout(sock, IDLE_TIMEOUT_S)
    other = threading.Thread(target=_pump, args=(b, a), daemon=True)
    other.start()
    _pump(a, b)
    other.join()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    r, w = os.pipe()
    try:
        while True:
            n = os.splice(src.fileno(), w, CHUNK)
            if n == 0:
                break
            while n:
                n -= os.splice(r, dst.fileno(), n)
    except OSError:
        pass
    finally:
        os.close(r)
        os.close(w)
        _quiet(dst.shutdown, socket.SHUT_WR)


def _ack_now(sock: socket.socket) -> None:
    """ACK what arrived without the usual delay: a client that wrote its hello's record header apart from
    the rest (curl does) holds the rest back (Nagle) until that header is ACKed — 40 ms a connection."""
    if sock.family != socket.AF_UNIX:
        _quiet(sock.setsockopt, socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


def _timeout(sock: socket.socket, seconds: float) -> None:
    """A receive timeout in the kernel, which also bounds splice and TLS reads on a blocking socket."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", int(seconds), 0))


def _system_bundle() -> bytes:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_bytes()
    return b""


def _quiet(call: object, *args: object) -> None:
    try:
        call(*args)  # type: ignore[operator]
    except (OSError, ValueError, KeyError):
        pass
