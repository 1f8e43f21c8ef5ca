"""Inside a confined process's own network namespace: its only ways out, Honk's proxies.

`python -I -S bridge.py PORT SOCKET [PORT SOCKET ...] -- COMMAND...` listens on the namespace's own
loopback (127.0.0.1:PORT) and passes every connection through to SOCKET — one of Honk's proxies (the
egress proxy; for an agent, the model key proxy too), a unix socket bound in from outside — and runs
COMMAND as its child, exiting as it exits. Programs speak TCP to a proxy (HTTPS_PROXY,
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
    back = _thread.allocate_lock()
    back.acquire()
    _thread.start_new_thread(_pipe, (upstream, client, back))
    mine = _thread.allocate_lock()
    mine.acquire()
    _pipe(client, upstream, mine, True)
    back.acquire()  # the other direction is done too
    client.close()
    upstream.close()


def _serve(listener: _socket.socket, path: str) -> None:
    while True:
        fd, _ = listener._accept()  # pyright: ignore[reportAttributeAccessIssue] - _socket returns the fd
        _thread.start_new_thread(_relay, (fd, path))


def main(argv: list[str]) -> int:
    end = argv.index("--")
    pairs, command = argv[1:end], argv[end + 1 :]
    listeners = []
    for i in range(0, len(pairs), 2):
        listener = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        listener.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", int(pairs[i])))
        listener.listen(64)  # listening before the command starts, so its first request finds us
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
