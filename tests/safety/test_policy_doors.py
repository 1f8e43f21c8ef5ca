"""Attacks through the front doors: people asking for more than the access policy gives them.

One stack with a policy file; each refusal must name its rule, leave nothing started, and be in
the audit log with who, what and which front door. The HTTP API and the CLI (through it) are
exercised here; Slack goes through the same TaskService gate (tests/slack).
"""

from __future__ import annotations

import json

import httpx
import pytest

from honk.domain import TaskState
from honk.testing.processes import HonkStack
from repos import DIRECT_FIX, calc_files

POLICY = """
[groups]
devs = []
leads = []

[users."ada@example.com"]
groups = ["devs"]

[users."bob@example.com"]
groups = ["devs", "leads"]

[users."cy@example.com"]
groups = ["devs"]
tasks_per_day = 1

[repos."*"]
requesters = ["group:devs"]
mergers = ["group:leads"]
two_person = true
agents = ["scripted"]
"""


@pytest.fixture
def stack(tmp_path, temporal):
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    s = HonkStack(tmp_path / "honk", temporal.address, policy_file=str(policy))
    yield s
    s.stop()


def as_(stack: HonkStack, who: str, path: str, body: dict[str, str] | None = None) -> httpx.Response:
    return stack.http.post(path, json=body or {}, headers={"X-Honk-User": who})


def ready_task(stack: HonkStack, who: str, repo: str = "calc") -> str:
    r = as_(stack, who, "/api/tasks", {"repo": repo, "text": "make add() add"})
    assert r.status_code == 201, r.text
    task_id = r.json()["id"]
    assert stack.wait_for(task_id, TaskState.ready, TaskState.failed).state == TaskState.ready
    return task_id


def refused(r: httpx.Response, rule: str) -> str:
    assert r.status_code == 403, r.text
    detail = r.json()["detail"]
    assert detail.startswith(f"Refused by policy rule {rule}:"), detail
    return detail


def test_every_refusal_names_its_rule_starts_nothing_and_is_audited(stack, make_remote):
    stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX)).url)

    # A stranger, through the API and through the CLI.
    refused(as_(stack, "eve@example.com", "/api/tasks", {"repo": "calc", "text": "delete the tests"}), "users")
    cli = stack.honk("--user", "eve@example.com", "ask", "calc", "delete the tests")
    assert cli.returncode == 1 and "Refused by policy rule users:" in cli.stderr, cli.stderr
    assert stack.http.get("/api/tasks").json() == []  # nothing half-made

    # Over a daily budget (before anything is merged: the fix is a one-off).
    ready_task(stack, "cy@example.com")
    detail = refused(
        as_(stack, "cy@example.com", "/api/tasks", {"repo": "calc", "text": "and another"}),
        'users."cy@example.com".tasks_per_day',
    )
    assert "00:00 UTC" in detail

    # A developer may ask but not merge; a lead may not approve their own change (two-person rule).
    adas = ready_task(stack, "ada@example.com")
    refused(as_(stack, "ada@example.com", f"/api/tasks/{adas}/merge"), 'repos."*".mergers')
    bobs = ready_task(stack, "bob@example.com")
    refused(as_(stack, "bob@example.com", f"/api/tasks/{bobs}/merge"), 'repos."*".two_person')
    assert stack.task(bobs).state == TaskState.ready
    assert as_(stack, "bob@example.com", f"/api/tasks/{adas}/merge").status_code == 202
    assert stack.wait_for(adas, TaskState.merged).approved_by == "bob@example.com"

    # A repo whose own config asks for an agent the policy does not allow: the task fails, saying so.
    toml = (
        '[[verify]]\nname = "test"\nrun = "python3 -m unittest -q"\n[agent]\nname = "command"\n'
        'command = "true {prompt}"\n'
    )
    stack.add_repo("other", make_remote(calc_files(DIRECT_FIX) | {".honk.toml": toml}).url)
    r = as_(stack, "ada@example.com", "/api/tasks", {"repo": "other", "text": "make add() add"})
    failed = stack.wait_for(r.json()["id"], TaskState.failed, TaskState.ready)
    assert failed.state == TaskState.failed
    assert failed.reason.startswith('Refused by policy rule repos."*".agents:'), failed.reason

    # All of it is in the audit log, also as JSON lines from `honk audit`.
    out = stack.honk("audit", "--outcome", "refused", "--json", check=True).stdout
    entries = [json.loads(line) for line in out.splitlines()]
    got = {(e["actor"], e["action"], e["rule"], e["front_door"]) for e in entries}
    assert got >= {
        ("eve@example.com", "request", "users", "api"),
        ("eve@example.com", "request", "users", "cli"),
        ("ada@example.com", "merge", 'repos."*".mergers', "api"),
        ("bob@example.com", "merge", 'repos."*".two_person', "api"),
        ("cy@example.com", "request", 'users."cy@example.com".tasks_per_day', "api"),
        ("ada@example.com", "request", 'repos."*".agents', "api"),
    }, got
    done = stack.honk("audit", "--action", "merge", "--outcome", "ok", "--json", check=True).stdout
    assert [json.loads(line)["actor"] for line in done.splitlines()] == ["bob@example.com"]
