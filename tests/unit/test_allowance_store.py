"""Hosts admins allowed a repo, in the store on SQLite and PostgreSQL: phases add up per host, who and
when are kept, malformed hosts and unknown phases change nothing, a repo's allowances go with it, and
the next sandbox's egress policy (EgressPolicies.policy) includes what was allowed, within the ceiling."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from honk.domain import RepoConfig, RepoRef
from honk.egress.policies import EgressPolicies
from honk.errors import UserFacingError
from honk.network import Allowance, Ceiling, Refused, Terminate, allowance_host, allowance_phases
from honk.store import NetworkAllowances, Store


@pytest.fixture
async def store(store_url: str):
    s = Store(store_url)
    await s.create_schema()
    for name in ("calc", "web"):
        await s.add_repo(RepoRef(name=name, url=f"/srv/{name}"))
    yield s
    await s.close()


async def test_allow_adds_phases_to_a_host_and_keeps_who_and_when(store: Store):
    allowances = NetworkAllowances(store)
    first, added = await allowances.allow("calc", "PyPI.org", ["check"], "ada@example.com")
    assert (first.host, first.phases, first.created_by, first.updated_by, added) == (
        "pypi.org",
        ["check"],
        "ada@example.com",
        "ada@example.com",
        ("check",),
    )
    assert first.created_at.tzinfo is not None
    again, added = await allowances.allow("calc", "pypi.org", ["setup", "check"], "bo@example.com")
    assert again.phases == ["setup", "check"], "in the order a task runs them"
    assert (again.created_by, again.updated_by, added) == ("ada@example.com", "bo@example.com", ("setup",))
    assert again.created_at == first.created_at and again.updated_at >= first.updated_at
    same, added = await allowances.allow("calc", "pypi.org", ["check"], "cy@example.com")
    assert added == () and same.updated_by == "bo@example.com", "nothing new: nothing changed"
    await allowances.allow("calc", "npm", ["agent"], "ada@example.com")  # a preset
    await allowances.allow("web", "*.example.com:8443", ["build"], "ada@example.com")

    assert [(a.host, a.phases) for a in await allowances.listed("calc")] == [
        ("npm", ["agent"]),
        ("pypi.org", ["setup", "check"]),
    ]
    assert await allowances.allowances("calc") == [
        Allowance("npm", ("agent",), "ada@example.com"),
        Allowance("pypi.org", ("setup", "check"), "bo@example.com"),
    ]
    assert await allowances.remove("calc", "PYPI.ORG") is True
    assert await allowances.remove("calc", "pypi.org") is False
    assert [a.host for a in await allowances.listed("calc")] == ["npm"]
    assert [a.host for a in await allowances.listed("web")] == ["*.example.com:8443"]


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "0x7f.1",
        "[::1]",
        "::1",
        "10.0.0.1:443",
        "*.com",
        "*",
        "../x",
        "pypy",
        "exa mple.com",
        "example.com:0",
        "example.com:99999",
        "a" * 300 + ".com",
        "",
    ],
)
def test_addresses_and_malformed_hosts_are_refused(host: str):
    with pytest.raises(UserFacingError):
        allowance_host(host)


def test_presets_and_host_names_may_be_allowed():
    for host in ("pypi", "PyPI.org", "*.example.com", "registry.example.com:8443", " files.pythonhosted.org "):
        assert allowance_host(host) == host.strip().lower()


def test_phases_are_known_ones_and_at_least_one():
    assert allowance_phases(["check", "setup", "check"]) == ("setup", "check")
    assert allowance_phases(["agent"]) == ("agent",), "an admin may allow the agent a host to read"
    with pytest.raises(UserFacingError, match="'merge' is not a phase: the phases are setup, agent, check"):
        allowance_phases(["check", "merge"])
    with pytest.raises(UserFacingError, match="Name the phase"):
        allowance_phases([])


async def test_refused_input_and_unknown_repos_store_nothing(store: Store):
    allowances = NetworkAllowances(store)
    for host, phases in (("127.0.0.1", ["check"]), ("pypi.org", ["nope"]), ("*.com", ["check"])):
        with pytest.raises(UserFacingError):
            await allowances.allow("calc", host, phases, "ada@example.com")
    with pytest.raises(IntegrityError):  # the store refuses a repo it does not have (TaskService asks first)
        await allowances.allow("nope", "pypi.org", ["check"], "ada@example.com")
    assert await allowances.listed("calc") == [] and await allowances.listed("nope") == []


async def test_a_removed_repo_takes_its_allowances_with_it(store: Store):
    allowances = NetworkAllowances(store)
    await allowances.allow("calc", "pypi.org", ["check"], "ada@example.com")
    async with store.engine.begin() as conn:
        await conn.execute(text("DELETE FROM repos WHERE name = 'calc'"))
    assert await allowances.listed("calc") == []


async def test_the_next_sandboxs_policy_includes_what_an_admin_allowed_within_the_ceiling(store: Store):
    """After an admin allows pypi.org for check, the next check's policy tunnels it; other phases, and
    hosts beyond the ceiling, stay refused."""
    allowances = NetworkAllowances(store)
    policies = EgressPolicies(Ceiling(["pypi", "npm"]), allowances=allowances)
    repo, config = RepoRef(name="calc", url="/srv/calc"), RepoConfig()
    before = await policies.policy(repo, config, "check")
    assert isinstance(before.at_connect("pypi.org", 443), Refused)

    await allowances.allow("calc", "pypi.org", ["check"], "ada@example.com")
    await allowances.allow("calc", "evil.example.com", ["check"], "ada@example.com")  # made before a ceiling shrank
    check = await policies.policy(repo, config, "check")
    assert isinstance(check.at_connect("pypi.org", 443), Terminate), (
        "allowed; a check only reads, so each request is read"
    )
    assert isinstance(check.at_request("pypi.org", 443, "POST", "/legacy/"), Refused), "reads only"
    assert [r.source for r in check.rules] == ["allowed by ada@example.com"]
    assert isinstance(check.at_connect("evil.example.com", 443), Refused), "beyond the ceiling: left out"
    assert isinstance((await policies.policy(repo, config, "agent")).at_connect("pypi.org", 443), Refused)
    assert isinstance(
        (await policies.policy(RepoRef(name="web", url="/srv/web"), config, "check")).at_connect("pypi.org", 443),
        Refused,
    ), "another repo's policy is its own"
