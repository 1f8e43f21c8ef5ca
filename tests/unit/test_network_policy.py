"""The egress policy as pure decisions: which names, ports and methods each phase may use, what the
ceiling refuses, which headers go where, and which answers are addresses Honk never connects to."""

from __future__ import annotations

import pytest

from honk.network import (
    Allowance,
    Ceiling,
    Refused,
    Terminate,
    Tunnel,
    address_problem,
    is_ip_literal,
    phase_policy,
    variables,
)
from honk.verify.config import parse_repo_config

REPO = parse_repo_config(
    """
setup_network = ["files.example.org"]
[network]
setup = ["pypi", "*.corp.example.com"]
check = ["pypi", "maven.corp.example.com:8443"]
[[network.allow]]
hosts = ["uploads.example.com"]
phases = ["deliver"]
methods = ["PUT"]
[[secrets]]
name = "NPM_TOKEN"
phases = ["setup", "check"]
hosts = ["npm.corp.example.com"]
header = "Authorization"
template = "Bearer {secret}"
[[secrets]]
name = "DEPLOY_KEY"
phases = ["setup", "deploy"]
env = "DEPLOY_KEY"
"""
)
EVERYWHERE = Ceiling(["*"])
SECRETS = {"NPM_TOKEN": "tok-123456789", "DEPLOY_KEY": "key-abcdefgh"}


def test_setup_tunnels_its_hosts_with_any_method_and_presets_bring_their_cdns() -> None:
    setup = phase_policy(REPO, "setup", EVERYWHERE, secrets=SECRETS)
    assert setup.at_connect("files.pythonhosted.org", 443) == Tunnel()
    assert setup.at_connect("files.example.org", 443) == Tunnel()  # the older setup_network key
    assert setup.at_connect("a.b.corp.example.com", 443) == Tunnel()
    assert isinstance(setup.at_connect("corp.example.com", 443), Refused)  # *.x is not x itself
    assert isinstance(setup.at_connect("pypi.org", 22), Refused)  # only 80 and 443 unless a port is named


def test_checks_only_read_and_the_secret_header_goes_to_its_host_only() -> None:
    check = phase_policy(REPO, "check", EVERYWHERE, secrets=SECRETS)
    decision = check.at_connect("pypi.org", 443)
    assert isinstance(decision, Terminate) and decision.inject == ()
    assert not isinstance(check.at_request("pypi.org", 443, "GET", "/simple/"), Refused)
    refused = check.at_request("pypi.org", 443, "POST", "/legacy/")
    assert isinstance(refused, Refused) and refused.reason == "method"
    assert not isinstance(check.at_request("pypi.org", 443, "POST", "/x.git/git-upload-pack"), Refused)
    npm = check.at_connect("npm.corp.example.com", 443)
    assert isinstance(npm, Terminate) and [(i.header, i.value) for i in npm.inject] == [
        ("Authorization", "Bearer tok-123456789")
    ]
    assert isinstance(check.at_connect("maven.corp.example.com", 8443), Terminate)
    assert isinstance(check.at_connect("maven.corp.example.com", 443), Refused)


def test_the_agent_gets_nothing_unless_listed_and_never_a_secret() -> None:
    agent = phase_policy(REPO, "agent", EVERYWHERE, secrets=SECRETS)
    assert agent.rules == () and agent.inject == ()
    assert variables(REPO, "agent", SECRETS) == {} and variables(REPO, "check", SECRETS) == {}
    assert variables(REPO, "setup", SECRETS) == {"DEPLOY_KEY": "key-abcdefgh"}


def test_an_allow_entry_adds_its_methods_to_reads_for_its_phases_only() -> None:
    deliver = phase_policy(REPO, "deliver", EVERYWHERE)
    assert not isinstance(deliver.at_request("uploads.example.com", 443, "PUT", "/a"), Refused)
    assert not isinstance(deliver.at_request("uploads.example.com", 443, "GET", "/a"), Refused)
    assert isinstance(deliver.at_request("uploads.example.com", 443, "DELETE", "/a"), Refused)
    assert isinstance(phase_policy(REPO, "build", EVERYWHERE).at_connect("uploads.example.com", 443), Refused)


def test_an_admins_allowance_counts_for_its_phases_within_the_ceiling() -> None:
    allowed = [Allowance("cdn.example.net", ("check",), "ada@example.com")]
    check = phase_policy(REPO, "check", EVERYWHERE, allowed)
    assert isinstance(check.at_connect("cdn.example.net", 443), Terminate)
    narrow = phase_policy(REPO, "check", Ceiling(["pypi"]), allowed)
    assert isinstance(narrow.at_connect("cdn.example.net", 443), Refused)


def test_the_ceiling_names_each_entry_beyond_it_and_leaves_it_out() -> None:
    ceiling = Ceiling(["pypi", "*.corp.example.com"])
    beyond = [(b.loc, b.host) for b in ceiling.beyond(REPO)]
    assert (("network", "check", 1), "maven.corp.example.com:8443") in beyond  # ports must be named too
    assert (("setup_network", 0), "files.example.org") in beyond
    assert (("network", "allow", 0, "hosts", 0), "uploads.example.com") in beyond
    assert (("network", "setup", 0), "pypi.org") not in beyond
    assert isinstance(phase_policy(REPO, "setup", ceiling).at_connect("files.example.org", 443), Refused)
    assert Ceiling(["*.example.com"]).allows("*.a.example.com") and not Ceiling(["a.example.com"]).allows(
        "*.example.com"
    )


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "::ffff:10.0.0.1", "2130706433", "0x7f.1", "10.1", "169.254.169.254"]
)
def test_addresses_written_as_hosts_are_ip_literals(host: str) -> None:
    assert is_ip_literal(host)
    decision = phase_policy(REPO, "setup", EVERYWHERE).at_connect(host.strip("[]"), 443)
    assert isinstance(decision, Refused) and decision.reason == "ip_literal"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.2", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
        "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "64:ff9b::a00:1", "::",
    ],
)  # fmt: skip
def test_dns_answers_inside_are_never_connected_to(address: str) -> None:
    assert address_problem(address) is not None


@pytest.mark.parametrize("address", ["151.101.0.223", "2a04:4e42::223", "8.8.8.8"])
def test_public_answers_are(address: str) -> None:
    assert address_problem(address) is None


def test_names_that_are_not_host_names_are_refused() -> None:
    setup = phase_policy(REPO, "setup", EVERYWHERE)
    for host in ("pypi.org\r\nx", "pypı.org", "py pi.org", ""):
        assert isinstance(setup.at_connect(host, 443), Refused)
