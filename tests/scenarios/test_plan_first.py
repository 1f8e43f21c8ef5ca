"""Plan first: the agent reads the repo (mounted read-only), proposes a plan, and changes nothing until
the requester (or someone who may merge) approves it; a click on a replaced plan is refused; asked
changes bring a new plan; the approved one is carried out, then checked and delivered as ever."""

from __future__ import annotations

import httpx
import pytest

from honk.domain import TaskState
from honk.events import AgentRanCommand, AgentStarted, PlanApproved, PlanProposed, PlanRevisionAsked, PlanStarted
from honk.testing.gitrepo import run_git
from honk.testing.processes import HonkStack
from repos import DIRECT_FIX, calc_files, plan_step, scenario

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

[repos."*"]
requesters = ["group:devs"]
mergers = ["group:leads"]
"""


@pytest.fixture
def stack(tmp_path, temporal):
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    s = HonkStack(tmp_path / "honk", temporal.address, policy_file=str(policy))
    yield s
    s.stop()


def as_(stack: HonkStack, who: str, path: str, body: dict | None = None) -> httpx.Response:
    return stack.http.post(path, json=body or {}, headers={"X-Honk-User": who})


def proposed(stack: HonkStack, task_id: str) -> list[PlanProposed]:
    return [e.event for e in stack.events(task_id) if isinstance(e.event, PlanProposed)]


def test_a_plan_approved_by_someone_who_may_not_merge_is_refused_then_the_requester_approves(stack, make_remote):
    # While planning, the agent tries to write into the workspace: the read-only mount refuses it.
    steps = scenario(plan_step("Make add() add", tries="echo hacked > calc.py"), DIRECT_FIX)
    stack.add_repo("calc", make_remote(calc_files(steps)).url)
    r = as_(stack, "ada@example.com", "/api/tasks", {"repo": "calc", "text": "make add() add", "plan": True})
    assert r.status_code == 201, r.text
    task = r.json()["id"]
    assert stack.wait_for(task, TaskState.plan_ready, TaskState.failed).state == TaskState.plan_ready

    [plan] = proposed(stack, task)
    assert (plan.version, plan.plan.summary, plan.plan.files) == (1, "Make add() add", ["calc.py"])
    [tried] = [e.event for e in stack.events(task) if isinstance(e.event, AgentRanCommand)]
    assert tried.exit_code != 0 and "Read-only file system" in tried.output
    mirror = stack.root / "data" / "mirrors" / "calc.git"
    assert "return a - b" in run_git("--git-dir", str(mirror), "show", f"honk/{task}:calc.py"), "nothing changed"
    page = stack.http.get(f"/tasks/{task}").text
    assert "Plan v1" in page and "Change the minus in add() to a plus" in page and 'id="approve-plan"' in page

    # Cy may ask for changes of their own tasks, not approve Ada's plan: neither requester nor merger.
    refusal = as_(stack, "cy@example.com", f"/api/tasks/{task}/plan/approve", {"version": 1})
    assert refusal.status_code == 403, refusal.text
    assert refusal.json()["detail"].startswith('Refused by policy rule repos."*".mergers:'), refusal.text
    assert "may not approve ada@example.com's plan" in refusal.json()["detail"]
    assert stack.task(task).state == TaskState.plan_ready

    approved = as_(stack, "ada@example.com", f"/api/tasks/{task}/plan/approve", {"version": 1})
    assert approved.status_code == 202, approved.text
    done = stack.wait_for(task, TaskState.ready, TaskState.failed)
    assert done.state == TaskState.ready, done.reason
    events = [e.event for e in stack.events(task)]
    assert [e.by for e in events if isinstance(e, PlanApproved)] == ["ada@example.com"]
    starts = [(e.reason, e.invocation) for e in events if isinstance(e, AgentStarted)]
    assert starts == [("plan_approved", 1)], "the plan run is not an edit round; the approved plan is run 2"
    audit = stack.http.get("/api/audit", params={"task_id": task}).json()
    assert {(a["actor"], a["action"], a["outcome"]) for a in audit} >= {
        ("cy@example.com", "approve", "refused"),
        ("ada@example.com", "approve", "ok"),
    }


def test_a_stale_approve_is_refused_and_the_revised_plan_approved_by_a_merger_leads_to_a_ready_task(stack, make_remote):
    steps = scenario(plan_step("Make add() add"), plan_step("Make add() add, and say so in the README"), DIRECT_FIX)
    stack.add_repo("calc", make_remote(calc_files(steps)).url)
    ask = stack.honk("--user", "ada@example.com", "ask", "calc", "make add() add", "--plan", "--wait")
    assert ask.returncode == 0, ask.stderr
    task = ask.stdout.splitlines()[0]
    assert "Plan v1:" in ask.stdout and f"honk approve {task} --version 1" in ask.stdout

    revise = stack.honk(
        "--user", "ada@example.com", "revise", task, "mention it in the README", "--version", "1", "--wait"
    )
    assert revise.returncode == 0, revise.stderr
    assert "Plan v2:" in revise.stdout and "say so in the README" in revise.stdout

    stale = as_(stack, "bob@example.com", f"/api/tasks/{task}/plan/approve", {"version": 1})
    assert stale.status_code == 409, stale.text
    assert "replaced by plan v2" in stale.json()["detail"]
    assert stack.task(task).state == TaskState.plan_ready

    approve = stack.honk("--user", "bob@example.com", "approve", task, "--version", "2", "--wait")
    assert approve.returncode == 0, approve.stderr
    assert stack.task(task).state == TaskState.ready
    events = [e.event for e in stack.events(task)]
    assert [(e.version, e.reason) for e in events if isinstance(e, PlanStarted)] == [
        (1, "request"),
        (2, "plan_revision"),
    ]
    assert [(e.version, e.by, e.text) for e in events if isinstance(e, PlanRevisionAsked)] == [
        (1, "ada@example.com", "mention it in the README")
    ]
    assert [(e.version, e.by) for e in events if isinstance(e, PlanApproved)] == [(2, "bob@example.com")]
    again = as_(stack, "ada@example.com", f"/api/tasks/{task}/plan/approve", {"version": 2})
    assert again.status_code == 409 and "no longer waiting" in again.json()["detail"], again.text


def test_planning_changes_nothing_and_an_agent_that_cannot_plan_says_so(stack, make_remote):
    # A scripted edit while planning fails: the workspace is read-only to the agent's own writes too.
    writes = plan_step("Make add() add").replace(
        'message = "Planned."', 'message = "Planned."\n[[step.edit]]\npath = "calc.py"\ncontent = "hacked"\n', 1
    )
    stack.add_repo("calc", make_remote(calc_files(scenario(writes, DIRECT_FIX))).url)
    r = as_(stack, "ada@example.com", "/api/tasks", {"repo": "calc", "text": "make add() add", "plan": True})
    done = stack.wait_for(r.json()["id"], TaskState.plan_ready, TaskState.failed)
    assert done.state == TaskState.failed
    assert "Cannot change calc.py: the workspace is read-only while the agent plans" in (done.reason or "")

    # The command agent cannot plan: refused at once when asked for, and by the repo's default.
    r = as_(stack, "ada@example.com", "/api/tasks", {"repo": "calc", "text": "x", "plan": True, "agent": "command"})
    assert r.status_code == 400 and "The command agent cannot plan first" in r.json()["detail"], r.text
    command = calc_files("", '[agent]\nname = "command"\ncommand = "true {prompt}"\nplan = true\n')
    command[".honk.toml"] = command[".honk.toml"].replace('[agent]\nname = "scripted"\n', "")
    stack.add_repo("cmd", make_remote(command).url)
    r = as_(stack, "ada@example.com", "/api/tasks", {"repo": "cmd", "text": "make add() add"})
    done = stack.wait_for(r.json()["id"], TaskState.plan_ready, TaskState.failed)
    assert done.state == TaskState.failed
    assert "(`[agent] plan = true`) asks for a plan first, but the command agent cannot plan" in (done.reason or "")
