"""The egress proxy on its own, with real clients (curl, openssl) and the fake registries answering by
their real names through the test's resolver (tests/egress/conftest.py): what it tunnels, terminates,
injects and refuses, and what it records."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from honk.egress.proxy import EgressProxy, Gateway
from honk.network import Ceiling, EgressPolicy, phase_policy
from honk.testing.registries import FakeRegistries
from honk.verify.config import parse_repo_config

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


CONFIG = parse_repo_config(
    """
[network]
setup = ["pypi", "other.example.com", "rebind.example.com"]
check = ["pypi"]

[[secrets]]
name = "NPM_TOKEN"
phases = ["setup", "check"]
hosts = ["npm.example.com"]
header = "Authorization"
template = "Bearer {secret}"
"""
)
TOKEN = "npm-secret-value-123456"


def _policy(phase: str) -> EgressPolicy:
    return phase_policy(CONFIG, phase, Ceiling(["*"]), secrets={"NPM_TOKEN": TOKEN})  # type: ignore[arg-type]


def curl(gateway: Gateway, proxy: EgressProxy, *args: str) -> subprocess.CompletedProcess[str]:
    assert gateway.address is not None
    host, port = gateway.address
    return subprocess.run(
        ["curl", "-sS", "--max-time", "20", "--proxy", f"http://{host}:{port}", "--cacert",
         str(proxy.trust_dir / "ca.pem"), "-w", "\n%{http_code}", *args],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_setup_tunnels_an_allowed_host_untouched_and_refuses_one_not_listed(proxy: EgressProxy) -> None:
    gateway = proxy.open(_policy("setup"), tcp=True)
    try:
        ok = curl(gateway, proxy, "-X", "POST", "-d", "x=1", "https://pypi.org/echo/simple/")
        body, code = ok.stdout.rsplit("\n", 1)
        assert code == "200", ok.stderr
        assert json.loads(body)["method"] == "POST"  # setup may use any method on its hosts
        refused = curl(gateway, proxy, "https://evil.example.net/")
        assert refused.returncode != 0 and "403" in refused.stderr
        [(command, blocked)] = gateway.blocked()
        assert (blocked.host, blocked.method, blocked.reason) == ("evil.example.net", "CONNECT", "not_allowed")
    finally:
        gateway.close()


def test_checks_may_only_read_and_a_post_is_refused_inside_the_terminated_tunnel(proxy: EgressProxy) -> None:
    gateway = proxy.open(_policy("check"), tcp=True)
    gateway.command = "pytest -q"
    try:
        got = curl(gateway, proxy, "https://pypi.org/echo/simple/requests/")
        body, code = got.stdout.rsplit("\n", 1)
        assert code == "200", got.stderr
        assert json.loads(body)["path"] == "/echo/simple/requests/"
        posted = curl(gateway, proxy, "-X", "POST", "-d", "x=1", "https://pypi.org/echo/simple/")
        body, code = posted.stdout.rsplit("\n", 1)
        assert code == "403" and "POST is not allowed to pypi.org in check" in body
        git_fetch = curl(gateway, proxy, "-X", "POST", "-d", "0000", "https://pypi.org/echo/x/y.git/git-upload-pack")
        assert git_fetch.stdout.rsplit("\n", 1)[1] == "200"  # git's fetch is a read
        [(command, blocked)] = gateway.blocked()
        assert command == "pytest -q" and (blocked.method, blocked.reason) == ("POST", "method")
    finally:
        gateway.close()


def test_a_secret_header_is_added_on_the_way_out_and_replaces_one_the_sandbox_sent(proxy: EgressProxy) -> None:
    gateway = proxy.open(_policy("check"), tcp=True)
    try:
        got = curl(gateway, proxy, "-H", "Authorization: Bearer forged", "https://npm.example.com/echo/pkg")
        body, code = got.stdout.rsplit("\n", 1)
        assert code == "200", got.stderr
        assert json.loads(body)["headers"]["authorization"] == f"Bearer {TOKEN}"
        elsewhere = curl(gateway, proxy, "https://pypi.org/echo/simple/")
        assert TOKEN not in elsewhere.stdout  # only the secret's own hosts get it
    finally:
        gateway.close()


def test_ip_literals_rebinding_answers_and_unknown_names_are_refused_before_any_connection(proxy: EgressProxy) -> None:
    gateway = proxy.open(_policy("setup"), tcp=True)
    try:
        for url in ("https://127.0.0.1/", "https://[::1]/", "https://2130706433/", "https://rebind.example.com/"):
            got = curl(gateway, proxy, url)
            assert got.returncode != 0 and "403" in got.stderr, (url, got.stderr)
        reasons = {b.host: b.reason for _, b in gateway.blocked()}
        assert reasons["127.0.0.1"] == reasons["::1"] == "ip_literal"  # curl writes 2130706433 as 127.0.0.1
        assert reasons["rebind.example.com"] == "private_address"
    finally:
        gateway.close()


def test_a_tunnel_whose_tls_names_another_host_is_cut(proxy: EgressProxy) -> None:
    gateway = proxy.open(_policy("setup"), tcp=True)
    assert gateway.address is not None
    try:
        # CONNECT to an allowed name, then a hello for another one (what domain fronting does).
        got = subprocess.run(
            ["openssl", "s_client", "-proxy", f"{gateway.address[0]}:{gateway.address[1]}", "-connect", "pypi.org:443",
             "-servername", "evil.example.net", "-brief"],
            input="", capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert "CONNECTION ESTABLISHED" not in got.stdout + got.stderr
        [(_, blocked)] = gateway.blocked()
        assert blocked.reason == "sni_mismatch" and "evil.example.net" in blocked.detail
    finally:
        gateway.close()


def test_plain_http_is_decided_per_request_and_never_carries_a_secret(proxy: EgressProxy) -> None:
    gateway = proxy.open(_policy("check"), tcp=True)
    try:
        got = curl(gateway, proxy, "http://pypi.org/echo/simple/")
        assert got.stdout.rsplit("\n", 1)[1] == "200", got.stderr
        plain_npm = curl(gateway, proxy, "http://npm.example.com/echo/pkg")
        assert TOKEN not in plain_npm.stdout
        refused = curl(gateway, proxy, "-X", "DELETE", "http://pypi.org/echo/simple/")
        assert refused.stdout.rsplit("\n", 1)[1] == "403"
    finally:
        gateway.close()


def _raw(gateway: Gateway, data: bytes) -> bytes:
    import socket

    assert gateway.address is not None
    with socket.create_connection(gateway.address, timeout=10) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_smuggling_through_an_allowed_name_is_refused(proxy: EgressProxy, registries: FakeRegistries) -> None:
    """Plain HTTP inside a CONNECT to an allowed host; another Host header inside a terminated tunnel; a
    proxy request for an address: each refused and recorded, nothing reaches the far side."""
    import socket
    import ssl

    registries.clear()
    gateway = proxy.open(_policy("setup"), tcp=True)
    try:
        answer = _raw(
            gateway, b"CONNECT pypi.org:443 HTTP/1.1\r\nHost: pypi.org\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 200") and b"method" not in answer  # the tunnel was cut, not used
        answer = _raw(gateway, b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 403")
        reasons = sorted(b.reason for _, b in gateway.blocked())
        assert reasons == ["ip_literal", "not_tls"]
    finally:
        gateway.close()
    check = proxy.open(_policy("check"), tcp=True)
    assert check.address is not None
    try:
        with socket.create_connection(check.address, timeout=10) as s:
            s.sendall(b"CONNECT pypi.org:443 HTTP/1.1\r\nHost: pypi.org\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
            context = ssl.create_default_context(cafile=str(proxy.trust_dir / "ca.pem"))
            with context.wrap_socket(s, server_hostname="pypi.org") as tls:
                tls.sendall(b"GET /simple/ HTTP/1.1\r\nHost: other.example.com\r\n\r\n")
                answer = b""
                while chunk := tls.recv(65536):
                    answer += chunk
        assert answer.startswith(b"HTTP/1.1 403") and b"Host header" in answer
        [(_, blocked)] = check.blocked()
        assert blocked.reason == "sni_mismatch"
        assert registries.received("pypi.org") == [] and registries.received("other.example.com") == []
    finally:
        check.close()
