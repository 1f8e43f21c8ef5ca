"""An admin allows a repo a host its sandboxes were refused, with the real CLI and API against a real
server: the refusal is an event with its phase, method and command, said once with the command that
allows it; the allowance is stored with who and when, audited, and counts from the next sandbox of its
phases on (nothing is re-run); people the policy does not name, addresses, malformed names, hosts
beyond the operator's ceiling, unknown phases, unknown repos and oversized bodies change nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from honk.testing.processes import HonkStack, TemporalDevServer
from repos import DIRECT_FIX, calc_files


def audit(stack: HonkStack, *extra: str) -> list[dict]:
    out = stack.honk(*extra, "audit", "--json", check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


POLICY = """
[users."ada@example.com"]
[users."bo@example.com"]
[users."ana@example.com"]

[repos."*"]
admins = ["ada@example.com"]
"""


@pytest.fixture
def guarded(tmp_path: Path, temporal: TemporalDevServer) -> Iterator[HonkStack]:
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    stack = HonkStack(tmp_path / "honk", temporal.address, anonymous="false", policy_file=str(policy))
    yield stack
    stack.stop()


def add_user(stack: HonkStack, email: str, role: str) -> tuple[str, str]:
    out = stack.honk("user", "add", email, "--role", role, check=True).stdout
    link, token = re.search(r"(http\S+/login/\S+)", out), re.search(r"(honk_\S+)", out)
    assert link and token, out
    return link.group(1), token.group(1)


def test_only_the_repos_admins_allow_hosts_and_every_refusal_changes_nothing_and_is_audited(guarded, make_remote):
    stack = guarded
    ada_link, ada = add_user(stack, "ada@example.com", "admin")
    _, bo = add_user(stack, "bo@example.com", "admin")  # an admin account the policy does not name
    _, ana = add_user(stack, "ana@example.com", "merger")
    stack.http.headers["Authorization"] = f"Bearer {ada}"
    stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX)).url)
    allow = "/api/repos/calc/network/allow"

    # People the policy does not name: refused, saying who may; nothing stored.
    as_ana = stack.honk("--token", ana, "network", "allow", "calc", "pypi.org", "--phase", "check")
    assert as_ana.returncode == 1
    assert "ana@example.com is a merger; allowing a host needs an admin" in as_ana.stderr
    as_bo = stack.honk("--token", bo, "network", "allow", "calc", "pypi.org", "--phase", "check")
    assert as_bo.returncode == 1 and (
        'Refused by policy rule repos."*".admins: bo@example.com may not allow hosts for calc; '
        "ask one of: ada@example.com." in as_bo.stderr
    )
    bo_api = {"Authorization": f"Bearer {bo}"}
    assert stack.http.get("/api/repos/calc/network", headers=bo_api).status_code == 403
    bo_rm = stack.http.request("DELETE", f"{allow}/pypi.org", json={}, headers=bo_api)
    assert bo_rm.status_code == 403
    assert stack.http.get("/api/repos/calc/network", headers={"Authorization": ""}).status_code == 401

    # Bad input, from an admin: each refused with why.
    refusals = {
        "127.0.0.1": "must name a host, not an IP address",
        "127.1": "must name a host, not an IP address",
        "[::1]": "must name a host, not an IP address",
        "*.com": "must be a host name (exact, or *.example.com), or a preset",
        "../x": "must be a host name",
        "pypy": "is not a preset",
        "a" * 300: "too long",
    }
    for host, why in refusals.items():
        r = stack.http.post(allow, json={"host": host, "phases": ["check"]})
        assert r.status_code in (400, 422) and why in r.json()["detail"], (host, r.text)
    beyond = stack.http.post(allow, json={"host": "evil.example.com", "phases": ["check"]})
    assert beyond.status_code == 403 and "HONK_EGRESS_CEILING" in beyond.json()["detail"]
    preset_beyond = stack.honk("--token", ada, "network", "allow", "calc", "*.pythonhosted.org", "--phase", "setup")
    assert preset_beyond.returncode == 1 and "HONK_EGRESS_CEILING" in preset_beyond.stderr
    unknown_phase = stack.http.post(allow, json={"host": "pypi.org", "phases": ["check", "merge"]})
    assert unknown_phase.status_code == 400 and "'merge' is not a phase" in unknown_phase.json()["detail"]
    no_phase = stack.http.post(allow, json={"host": "pypi.org", "phases": []})
    assert no_phase.status_code == 400 and "Name the phase" in no_phase.json()["detail"]
    cli_phase = stack.honk("--token", ada, "network", "allow", "calc", "pypi.org", "--phase", "merge")
    assert cli_phase.returncode == 2 and "'merge' is not one of" in cli_phase.stderr
    cli_none = stack.honk("--token", ada, "network", "allow", "calc", "pypi.org")
    assert cli_none.returncode == 2 and "Missing option '--phase'" in cli_none.stderr
    assert (
        stack.http.post("/api/repos/nope/network/allow", json={"host": "pypi.org", "phases": ["check"]}).status_code
        == 404
    )
    assert stack.http.get("/api/repos/nope/network").status_code == 404
    huge = stack.http.post(
        allow,
        content=b'{"host": "pypi.org", "phases": ["' + b"check" * 2000 + b'"]}',
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    form = stack.http.post(allow, content=b"host=pypi.org&phases=check")
    assert form.status_code == 415
    extra = stack.http.post(allow, json={"host": "pypi.org", "phases": ["check"], "by": "someone"})
    assert extra.status_code == 422
    assert stack.http.get("/api/repos/calc/network").json()["allowed"] == [], "nothing was stored"

    # A browser session writes only with its CSRF token.
    browser = httpx.Client(base_url=stack.url)
    browser.get(ada_link.replace(stack.url, ""), follow_redirects=False)
    forged = browser.post(allow, json={"host": "pypi.org", "phases": ["check"]})
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    csrf = browser.get("/api/me").json()["csrf"]
    done = browser.post(allow, json={"host": "pypi.org", "phases": ["check"]}, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200 and done.json()["added"] == ["check"]
    assert done.json()["allowance"]["created_by"] == "ada@example.com"
    more = stack.honk("--token", ada, "network", "allow", "calc", "PyPI.org", "--phase", "setup", "--phase", "check")
    assert more.returncode == 0 and more.stdout.startswith("allowed pypi.org for setup in calc (now: setup, check)")
    again = stack.honk("--token", ada, "network", "allow", "calc", "pypi.org", "--phase", "check")
    assert again.stdout.strip() == "pypi.org was already allowed for check in calc (by ada@example.com)"

    listed = stack.http.get("/api/repos/calc/network").json()
    assert [(a["host"], a["phases"], a["created_by"], a["updated_by"]) for a in listed["allowed"]] == [
        ("pypi.org", ["setup", "check"], "ada@example.com", "ada@example.com")
    ]
    assert stack.http.request("DELETE", f"{allow}/pypi.org", json={}, headers=bo_api).status_code == 403
    assert stack.honk("--token", ada, "network", "rm", "calc", "pypi.org", check=True).stdout.strip() == (
        "removed pypi.org from calc"
    )
    gone = stack.honk("--token", ada, "network", "rm", "calc", "pypi.org")
    assert gone.returncode == 1 and "No admin allowed pypi.org for calc" in gone.stderr
    assert stack.http.get("/api/repos/calc/network").json()["allowed"] == []

    entries = {
        (e["actor"], e["action"], e["outcome"], e["rule"], e["front_door"]) for e in audit(stack, "--token", ada)
    }
    assert entries >= {
        ("ana@example.com", "network_allow", "refused", "accounts.role", "cli"),
        ("bo@example.com", "network_allow", "refused", 'repos."*".admins', "cli"),
        ("bo@example.com", "network_list", "refused", 'repos."*".admins', "api"),
        ("bo@example.com", "network_remove", "refused", 'repos."*".admins', "api"),
        ("ada@example.com", "network_allow", "refused", None, "api"),
        ("ada@example.com", "network_allow", "ok", None, "web"),
        ("ada@example.com", "network_allow", "ok", None, "cli"),
        ("ada@example.com", "network_remove", "ok", None, "cli"),
        ("ada@example.com", "network_remove", "refused", None, "cli"),
    }, entries
    details = [
        e["detail"] for e in audit(stack, "--token", ada) if e["action"] == "network_allow" and e["outcome"] == "ok"
    ]
    assert details == [
        "allowed pypi.org for check",
        "allowed pypi.org for setup",
        "pypi.org was already allowed for check",
    ]
