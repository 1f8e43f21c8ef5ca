"""An admin allows a repo a host its sandboxes were refused, with the real CLI and API against a real
server: the refusal is an event with its phase, method and command, said once with the command that
allows it; the allowance is stored with who and when, audited, and counts from the next sandbox of its
phases on (nothing is re-run); people the policy does not name, addresses, malformed names, hosts
beyond the operator's ceiling, unknown phases, unknown repos and oversized bodies change nothing."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from honk.domain import TaskState
from honk.testing.processes import HonkStack, TemporalDevServer, wait_until
from honk.testing.registries import PYPI, PYPI_PACKAGE, FakeRegistries
from repos import DIRECT_FIX, FOLLOW_UP_STEP, calc_files, index_reading_calc

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")


def audit(stack: HonkStack, *extra: str) -> list[dict]:
    out = stack.honk(*extra, "audit", "--json", check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def egress_stack(tmp_path: Path, temporal: TemporalDevServer) -> Iterator[tuple[HonkStack, FakeRegistries]]:
    """Workers whose egress proxy reaches the fake registries by their real names: nothing leaves the machine."""
    with FakeRegistries() as registries:
        spec = tmp_path / "egress.json"
        spec.write_text(json.dumps({"mapping": registries.mapping(), "ca_pem": registries.ca_pem.decode()}))
        stack = HonkStack(tmp_path / "honk", temporal.address, egress=spec, max_rounds="2")
        try:
            yield stack, registries
        finally:
            stack.stop()


@needs_bwrap
def test_an_admin_allows_a_refused_host_and_the_follow_up_reaches_it_with_nothing_re_run(egress_stack, make_remote):
    stack, registries = egress_stack
    stack.add_repo("calc", make_remote(index_reading_calc(DIRECT_FIX + FOLLOW_UP_STEP)).url)
    task = stack.ask("calc", "fix add")
    assert stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=180).state == TaskState.ready

    # Refused, recorded with what asked, said once with the command that allows it; the index saw nothing.
    [blocked] = [e.event for e in stack.events(task.id) if e.event.kind == "network_blocked"]
    assert (blocked.phase, blocked.host, blocked.method, blocked.reason) == ("check", PYPI, "CONNECT", "not_allowed")
    assert "urllib" in blocked.command
    [ready] = [e.event for e in stack.events(task.id) if e.event.kind == "task_ready"]
    [said] = [w for w in ready.warnings if w.startswith("the egress proxy refused")]
    assert "CONNECT pypi.org in check" in said and said.endswith("`honk network allow calc pypi.org --phase check`")
    assert registries.received(PYPI) == []
    page = stack.http.get(f"/tasks/{task.id}").text
    assert 'id="blocked"' in page and "CONNECT pypi.org" in page and 'data-api="/api/repos/calc/network/allow"' in page

    # The command the warning names, by an admin.
    kinds_before = stack.kinds(task.id)
    allowed = stack.honk("network", "allow", "calc", "pypi.org", "--phase", "check")
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.splitlines() == [
        "allowed pypi.org for check in calc (now: check)",
        "Nothing was re-run: ask again or follow up to use it.",
    ]
    listed = stack.http.get("/api/repos/calc/network").json()
    assert [(a["host"], a["phases"], a["created_by"]) for a in listed["allowed"]] == [("pypi.org", ["check"], "local")]
    assert "pypi" in listed["ceiling"]
    shown = stack.honk("network", "list", "calc", check=True).stdout
    assert re.search(r"^pypi\.org\s+check\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+local$", shown, re.M), shown
    assert "ceiling (HONK_EGRESS_CEILING): pypi, npm" in shown
    assert stack.kinds(task.id) == kinds_before and stack.task(task.id).state == TaskState.ready, "nothing re-ran"

    # The follow-up's checks start new sandboxes: their policy has the host, and the index is read.
    assert stack.honk("followup", task.id, "add a docstring").returncode == 0
    wait_until(lambda: stack.kinds(task.id).count("task_ready") == 2, 180, "the follow-up delivered")
    assert registries.received(PYPI, method="GET", path=f"/simple/{PYPI_PACKAGE}/"), "the check read the index"
    assert [e.event.phase for e in stack.events(task.id) if e.event.kind == "network_blocked"] == ["check"], (
        "refused once, before the allowance, never after"
    )

    entries = [(e["action"], e["outcome"], e["repo"], e["detail"]) for e in audit(stack)]
    assert ("network_allow", "ok", "calc", "allowed pypi.org for check") in entries


POLICY = """
[users."ada@example.com"]
[users."bo@example.com"]
[users."ana@example.com"]

[repos."*"]
admins = ["ada@example.com"]
"""


@pytest.fixture
def guarded(tmp_path: Path, temporal: TemporalDevServer) -> Iterator[HonkStack]:
    stack = HonkStack(tmp_path / "honk", temporal.address, anonymous="false", policy=POLICY)
    yield stack
    stack.stop()


def test_only_the_repos_admins_allow_hosts_and_every_refusal_changes_nothing_and_is_audited(guarded, make_remote):
    stack = guarded
    ada_link, ada = stack.add_user("ada@example.com", "admin")
    _, bo = stack.add_user("bo@example.com", "admin")  # an admin account the policy does not name
    _, ana = stack.add_user("ana@example.com", "merger")
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
