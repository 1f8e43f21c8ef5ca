"""Inside a confined process's own network namespace: its only ways out, Honk's proxies.

`python -I -S bridge.py PORT SOCKET [PORT SOCKET ...] -- COMMAND...` listens on the namespace's own
loopback (127.0.0.1:PORT) and passes every connection through to SOCKET — one of Honk's proxies (the
egress proxy; for an agent, the model key proxy too; for a preview's browser, the preview), a unix
socket bound in from outside — and runs COMMAND as its child, exiting as it exits. A pair written the
other way round, `SOCKET PORT` (the socket first, an absolute path), is the way *in* to a preview's
server: the bridge listens on SOCKET, in a directory bound in from outside, and passes each connection
to 127.0.0.1:PORT, where the server listens; nothing else can reach it. Programs speak TCP to a proxy (HTTPS_PROXY,
`ANTHROPIC_BASE_URL`) and reach it that way; nothing else leaves the namespace. Bytes are moved by the
kernel (splice through a pipe), not copied through Python.

It stands between an agent run and its start, so it imports nothing that is not built in: the C
modules behind `socket`, `threading` and `signal` (their Python wrappers, or asyncio, would add
10-70 ms to every run; see bench/agent.py).
"""

from __future__ import annotations

import _signal  # pyright: ignore[reportMissingImports] - the C module behind signal (no enum import)
import _socket
import _thread
import os
import sys


def _pipe(src: _socket.socket, dst: _socket.socket, done: _thread.LockType, ack: bool = False) -> None:
    """`ack`: src is the program's TCP connection: what it sent is ACKed at once, so a client that
    writes a record's header apart from its body (curl's TLS hello) is not held back by Nagle."""
    r, w = os.pipe()
    try:
        while n := os.splice(src.fileno(), w, 262144):
            if ack:
                src.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_QUICKACK, 1)
            while n:
                n -= os.splice(r, dst.fileno(), n)
    except OSError:
        pass
    os.close(r)
    os.close(w)
    try:
        dst.shutdown(_socket.SHUT_WR)  # the other side reads the end, then answers or closes
    except OSError:
        pass
    done.release()


def _relay(fd: int, path: str) -> None:
    client = _socket.socket(fileno=fd)
    # Small writes go at once: a proxy's answer to CONNECT, a TLS handshake's records (Nagle's wait for
    # an ACK the client delays would add 40 ms to each).
    client.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    upstream = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        upstream.connect(path)
    except OSError:
        client.close()  # the agent sees a refused request, as if the API were down
        upstream.close()
        return
    _both_ways(client, upstream, True)


def _relay_in(fd: int, port: int) -> None:
    """A connection from outside (to a preview's socket), passed to the server inside."""
    outside = _socket.socket(fileno=fd)
    server = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    server.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    try:
        server.connect(("127.0.0.1", port))
    except OSError:
        outside.close()  # nothing listens on PORT (yet): the caller sees the connection closed
        server.close()
        return
    _both_ways(server, outside, True)


def _both_ways(tcp: _socket.socket, unix: _socket.socket, ack: bool) -> None:
    back = _thread.allocate_lock()
    back.acquire()
    _thread.start_new_thread(_pipe, (unix, tcp, back))
    mine = _thread.allocate_lock()
    mine.acquire()
    _pipe(tcp, unix, mine, ack)
    back.acquire()  # the other direction is done too
    tcp.close()
    unix.close()


def _serve(listener: _socket.socket, to: str) -> None:
    inbound = listener.family == _socket.AF_UNIX
    while True:
        fd, _ = listener._accept()  # pyright: ignore[reportAttributeAccessIssue] - _socket returns the fd
        if inbound:
            _thread.start_new_thread(_relay_in, (fd, int(to)))
        else:
            _thread.start_new_thread(_relay, (fd, to))


def main(argv: list[str]) -> int:
    end = argv.index("--")
    pairs, command = argv[1:end], argv[end + 1 :]
    listeners = []
    for i in range(0, len(pairs), 2):
        if pairs[i].startswith("/"):  # the way in: a unix socket the server's callers connect to
            listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            try:
                os.unlink(pairs[i])  # a socket left by an earlier run of the same preview
            except OSError:
                pass
            listener.bind(pairs[i])
        else:
            listener = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
            listener.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", int(pairs[i])))
        listener.listen(128)  # listening before the command starts, so its first request finds us
        listeners.append((listener, pairs[i + 1]))
    pid = os.fork()  # before any thread exists; the listener does not survive the exec (PEP 446)
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    for sig in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP):
        _signal.signal(sig, lambda signum, _frame: os.kill(pid, signum))
    for listener, path in listeners:
        _thread.start_new_thread(_serve, (listener, path))
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
