"""The ClientHello reader reads bytes a sandbox sent: any bytes give a name, "need more" or "not TLS",
never another error; real hellos (Python's ssl, any name, split anywhere) give their name."""

from __future__ import annotations

import ssl

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from honk.egress.hello import NeedMore, NotTls, read_hello

FAST = settings(
    max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)


# One client context for every example: making one reads the system's authorities (~100 ms).
_CLIENT = ssl.create_default_context()
_CLIENT.check_hostname, _CLIENT.verify_mode = False, ssl.CERT_NONE  # a hello is all that is wanted of it


def real_hello(name: str | None) -> bytes:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = _CLIENT.wrap_bio(incoming, outgoing, server_hostname=name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


labels = st.from_regex(r"[a-z]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)  # a name, never an address
names = st.lists(labels, min_size=2, max_size=5).map(".".join)


@FAST
@given(names, st.integers(min_value=0, max_value=600))
def test_a_real_hello_gives_its_name_once_it_has_all_arrived(name: str, cut: int) -> None:
    hello = real_hello(name)
    assert read_hello(hello).server_name == name
    if cut < len(hello):
        try:
            read_hello(hello[:cut])
            raise AssertionError("a part of a hello was read as a whole one")
        except NeedMore:
            pass


def test_a_hello_without_a_name_says_so() -> None:
    assert read_hello(real_hello(None)).server_name is None


@FAST
@given(st.binary(max_size=2000))
def test_any_bytes_are_a_name_need_more_or_not_tls(data: bytes) -> None:
    try:
        read_hello(data)
    except (NeedMore, NotTls):
        pass


@FAST
@given(st.binary(min_size=1, max_size=300), st.integers(min_value=0, max_value=2000))
def test_a_hello_with_bytes_changed_never_breaks_the_reader(noise: bytes, at: int) -> None:
    hello = bytearray(real_hello("pypi.org"))
    at %= len(hello)
    hello[at : at + len(noise)] = noise
    try:
        read_hello(bytes(hello))
    except (NeedMore, NotTls):
        pass


def test_plain_http_in_a_tunnel_is_not_tls() -> None:
    try:
        read_hello(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        raise AssertionError("HTTP read as TLS")
    except NotTls:
        pass
