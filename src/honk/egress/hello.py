"""The name a TLS client asks for, read from its ClientHello without decrypting anything.

A tunnel is allowed by the name in its CONNECT; the ClientHello's server name (SNI) must be that same
name, or a client could CONNECT to an allowed host and talk to another one behind the same address.
A hello that hides the name (Encrypted Client Hello) is refused for the same reason. Pure and fuzzed:
it reads bytes a sandbox sent.
"""

from __future__ import annotations

from dataclasses import dataclass

HANDSHAKE, CLIENT_HELLO = 0x16, 0x01
SERVER_NAME, ENCRYPTED_CLIENT_HELLO = 0x0000, 0xFE0D
MAX_HELLO = 64 * 1024  # far more than any real hello (post-quantum key shares make them ~2 KB)


class NotTls(ValueError):
    """The bytes are not the start of a TLS handshake."""


class NeedMore(Exception):
    """Not all of the hello has arrived yet."""


@dataclass(frozen=True)
class Hello:
    server_name: str | None
    encrypted: bool  # an Encrypted Client Hello: the name that counts is hidden


def read_hello(data: bytes) -> Hello:
    """The hello at the start of `data` (one or more TLS records); NeedMore or NotTls otherwise."""
    message = bytearray()
    at = 0
    while True:
        if len(data) < at + 5:
            raise NeedMore
        if data[at] != HANDSHAKE or data[at + 1] != 0x03:
            raise NotTls("not a TLS handshake record")
        length = int.from_bytes(data[at + 3 : at + 5], "big")
        if length == 0 or length > 16384 + 2048:
            raise NotTls("a TLS record of impossible length")
        if len(data) < at + 5 + length:
            raise NeedMore
        message += data[at + 5 : at + 5 + length]
        at += 5 + length
        if len(message) >= 4:
            if message[0] != CLIENT_HELLO:
                raise NotTls("the first handshake message is not a ClientHello")
            need = 4 + int.from_bytes(message[1:4], "big")
            if need > MAX_HELLO:
                raise NotTls("a ClientHello too long to be real")
            if len(message) >= need:
                return _parse(bytes(message[4:need]))


def _parse(body: bytes) -> Hello:
    r = _Reader(body)
    r.take(2 + 32)  # version, random
    r.take(r.int(1))  # session id
    r.take(r.int(2))  # cipher suites
    r.take(r.int(1))  # compression methods
    if r.left() == 0:
        return Hello(None, False)  # no extensions at all
    extensions = _Reader(r.take(r.int(2)))
    name, encrypted = None, False
    while extensions.left():
        kind, data = extensions.int(2), extensions.take(extensions.int(2))
        if kind == ENCRYPTED_CLIENT_HELLO:
            encrypted = True
        elif kind == SERVER_NAME:
            names = _Reader(data)
            names = _Reader(names.take(names.int(2)))
            while names.left():
                name_type, value = names.int(1), names.take(names.int(2))
                if name_type == 0:
                    try:
                        name = value.decode("ascii").lower()
                    except UnicodeDecodeError:
                        raise NotTls("a server name that is not ASCII") from None
    return Hello(name, encrypted)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def left(self) -> int:
        return len(self.data) - self.at

    def take(self, n: int) -> bytes:
        if n > self.left():
            raise NotTls("a ClientHello that ends too soon")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def int(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")
