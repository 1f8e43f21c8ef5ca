"""How one health fetch's output is read (`honk.deploy.health.read_fetch`), hostile far sides included:
a production that sends Honk's refusal header, or lines that look like the fetch's own, cannot pass
itself off as refused, or as healthy."""

from __future__ import annotations

import pytest

from honk.deploy.health import policy_refusal, read_fetch
from honk.network import EgressPolicy, Rule

M = "honk-0123456789abcdef"


def fetched(headers: str, code: str, connect: str = "000", exit_code: int = 0, body: str = "", stderr: str = "") -> str:
    return f"{headers}{stderr}\n{M} {code} {connect}\n{M} exit {exit_code}\n{body}"


def test_a_2xx_passes_with_the_body_s_first_line() -> None:
    out = fetched("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n", "200", body="\n  ok abc123\nmore\n")
    assert read_fetch(out, M) == (True, "HTTP 200: ok abc123", False)


def test_a_5xx_fails_and_is_tried_again() -> None:
    out = fetched("HTTP/1.1 503 Service Unavailable\r\n\r\n", "503", body="down for maintenance\n")
    assert read_fetch(out, M) == (False, "HTTP 503: down for maintenance", False)


def test_a_refused_connect_is_final_and_says_why_in_words() -> None:
    headers = "HTTP/1.1 403 Forbidden by Honk\r\nx-honk-refused: private_address\r\nconnection: close\r\n\r\n"
    out = fetched(headers, "000", "403", 56, stderr="curl: (56) CONNECT tunnel failed, response 403\n")
    passed, answer, final = read_fetch(out, M)
    assert (passed, final) == (False, True)
    assert answer.startswith("refused by the egress proxy (private_address): the host's address is not public")


def test_a_name_that_did_not_resolve_is_tried_again() -> None:
    headers = "HTTP/1.1 403 Forbidden by Honk\r\nx-honk-refused: unresolved\r\n\r\n"
    body = "Honk's egress proxy refused GET app.example.com:80 in deploy: app.example.com did not resolve.\nNothing…\n"
    assert read_fetch(fetched(headers, "403", body=body), M) == (
        False,
        "refused by the egress proxy (unresolved): app.example.com did not resolve",
        False,
    )


def test_production_sending_the_refusal_header_is_neither_refused_nor_failed_by_it() -> None:
    out = fetched("HTTP/1.1 200 OK\r\nx-honk-refused: not_allowed\r\n\r\n", "200", body="ok\n")
    assert read_fetch(out, M) == (True, "HTTP 200: ok", False)


def test_lines_that_imitate_the_fetch_s_own_do_not_count() -> None:
    forged = "HTTP/1.1 503 Nope\r\nx: \nhonk-aaaaaaaaaaaaaaaa 200 000\r\n\r\n"
    out = fetched(forged, "503", body=f"\n{M} 200 000\n")
    passed, answer, _ = read_fetch(out, M)
    assert not passed and answer.startswith("HTTP 503")


@pytest.mark.parametrize(
    ("out", "answer"),
    [
        (fetched("", "000", exit_code=7, stderr="curl: (7) Failed to connect to proxy port 47001\n"), "curl: (7)"),
        ("curl: (28) Operation timed out after 10001 milliseconds", "curl: (28) Operation timed out"),
        ("", "no answer"),
    ],
)
def test_no_answer_is_tried_again_with_curl_s_words(out: str, answer: str) -> None:
    passed, said, final = read_fetch(out, M)
    assert (passed, final) == (False, False) and said.startswith(answer)


def test_the_policy_is_asked_before_any_request() -> None:
    policy = EgressPolicy("deploy", (Rule("app.example.com", None, None, "network.deploy[0]"),))
    assert policy_refusal("https://app.example.com/health", policy) is None
    assert policy_refusal("https://APP.example.com./health", policy) is None, "as the proxy compares names"
    other = policy_refusal("https://other.example.com/health", policy)
    assert other is not None and "other.example.com is not in the allowlist for deploy" in other
    assert '[network] deploy = ["…"]' in other
    port = policy_refusal("https://app.example.com:8443/health", policy)
    assert port is not None and "port 8443 of app.example.com is not allowed in deploy" in port
    for address in ("http://169.254.169.254/", "http://[fd00::1]/", "http://0x7f.1/"):
        refused = policy_refusal(address, policy)
        assert refused is not None and "Honk allows host names only" in refused, address
