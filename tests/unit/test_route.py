"""A task's route, step by step, folded from its events as part of its Timeline."""

from __future__ import annotations

from datetime import UTC, datetime

from honk.domain import Artifact, Plan
from honk.events import (
    AgentFinished,
    AgentStarted,
    BuildReady,
    BuildStarted,
    ChangeReviewed,
    CheckFinished,
    ChecksFailed,
    ChecksStarted,
    Merged,
    MergeHeld,
    MergeRequested,
    PlanApproved,
    PlanProposed,
    PlanStarted,
    PullRequestUpdated,
    StoredEvent,
    TaskAccepted,
    TaskCancelled,
    TaskFailed,
    TaskReady,
    WorkspacePreparing,
    WorkspaceReady,
)
from honk.route import CUT, MAX_DETAILS, MAX_STEPS, ROUTE_EVENTS, Route
from honk.timeline import Timeline

ACCEPTED = TaskAccepted(repo="calc", text="make add() add", requested_by="ana", agent="scripted")


def route_of(*events) -> Route:
    stored = [StoredEvent(id=i + 1, task_id="t", at=datetime.now(UTC), event=e) for i, e in enumerate(events)]
    return Timeline.of(stored).route


def seen(route: Route) -> list[tuple[str, str, str]]:
    return [(s.id, s.status, s.title) for s in route.steps]


def test_a_task_from_the_workspace_through_two_rounds_to_ready():
    route = route_of(
        ACCEPTED,
        WorkspacePreparing(),
        WorkspaceReady(branch="honk/t-1", base_commit="abcdef1234567", seconds=0.42),
        AgentStarted(round=1, reason="request", invocation=0, head="h0"),
        CheckFinished(name="test", passed=False, duration_s=0.1, distilled="the agent's own run"),
        AgentFinished(round=1, summary="Changed the minus.\nMore words.", changed_files=["calc.py"], commit="c1"),
        ChecksStarted(round=1, names=["lint", "test"]),
        CheckFinished(name="lint", passed=True, duration_s=0.2, distilled="ok"),
        CheckFinished(name="test", passed=False, duration_s=1.5, distilled="test_add failed: 2 + 3 != -1\nmore"),
        ChecksFailed(round=1, feedback="test_add failed", giving_up=False),
        AgentStarted(round=2, reason="check_feedback", invocation=1, head="c1"),
        AgentFinished(round=2, summary="Fixed.", changed_files=["calc.py", "t.py"], commit="c2"),
        ChecksStarted(round=2, names=["lint", "test"]),
        CheckFinished(name="lint", passed=True, duration_s=0.2, distilled="ok"),
        CheckFinished(name="test", passed=True, duration_s=1.0, distilled="ok"),
        ChangeReviewed(judge_ok=True, judge_reason="fine", guard_findings=[]),
        BuildStarted(),
        BuildReady(artifacts=[Artifact(name="app.zip", size=3)], preview_url="http://p/"),
        PullRequestUpdated(number=7, url="http://pr/7", draft=True, opened=True),
        TaskReady(commit="c2c2c2c2c2c2", summary="Fixed add().", diffstat="1 file"),
    )
    assert seen(route) == [
        ("workspace", "complete", "Workspace ready"),
        ("agent-1", "complete", "Agent, round 1"),
        ("check-1-lint", "complete", "Check lint passed in 0.2s"),
        ("check-1-test", "error", "Check test failed"),
        ("agent-2", "complete", "Agent, round 2 — fixing what the checks found"),
        ("check-2-lint", "complete", "Check lint (round 2) passed in 0.2s"),
        ("check-2-test", "complete", "Check test (round 2) passed in 1.0s"),
        ("review-2", "complete", "Review: in scope"),
        ("build-2", "complete", "Built the new version"),
        ("pr-7", "complete", "Opened draft pull request #7"),
        ("ready-1", "complete", "Ready for review"),
    ]
    assert [s.n for s in route.steps] == list(range(11)) and route.count == 11
    details = {s.id: s.details for s in route.steps}
    assert details["workspace"] == "branch honk/t-1 from abcdef1234 in 0.4s"
    assert details["agent-1"] == "❌ test\nChanged the minus.\n1 file changed", (
        "the agent's own check run, said on its card"
    )
    assert details["check-1-test"] == "test_add failed: 2 + 3 != -1"
    assert details["build-2"] == "app.zip; a preview to open"
    assert details["ready-1"] == "c2c2c2c2c2: Fixed add()."


def test_checks_run_one_after_another_and_a_failed_build_ends_with_its_round():
    route = route_of(
        AgentStarted(round=1, reason="request", invocation=0),
        ChecksStarted(round=1, names=["lint", "test"]),
    )
    assert [s.status for s in route.steps] == ["in_progress", "in_progress", "pending"]
    route = route.fold(CheckFinished(name="lint", passed=True, duration_s=0.1, distilled=""))
    assert [s.status for s in route.steps[1:]] == ["complete", "in_progress"]
    route = route.fold(CheckFinished(name="test", passed=True, duration_s=0.1, distilled=""))
    route = route.fold(BuildStarted()).fold(ChecksFailed(round=1, feedback="the build broke", giving_up=False))
    assert route.get("build-1").status == "error", "the build that failed ended with its round"
    assert not [s for s in route.steps if s.open]


def test_a_plan_its_approval_and_a_failure_close_what_was_open():
    plan = Plan(summary="Change the minus to a plus.", steps=["edit calc.py"])
    route = route_of(
        ACCEPTED,
        PlanStarted(version=1),
        PlanProposed(version=1, plan=plan),
        PlanApproved(version=1, by="ana@example.com"),
        AgentStarted(round=1, reason="plan_approved", invocation=1),
        TaskFailed(reason="The agent was stopped: the task's cost budget is used up.\nMore."),
    )
    assert seen(route) == [
        ("plan-1", "complete", "Plan v1 approved by ana@example.com"),
        ("agent-1", "error", "Agent, round 1 — carrying out the approved plan"),
        ("failed", "error", "Failed"),
    ]
    assert route.get("plan-1").details == "Change the minus to a plus."
    assert route.get("failed").details == "The agent was stopped: the task's cost budget is used up."


def test_merges_held_then_done_and_a_cancellation():
    route = route_of(
        TaskReady(commit="c1", summary="s", diffstat=""),
        MergeRequested(by="bo"),
        MergeHeld(reason="main moved and the checks fail", rework=True),
        MergeRequested(by="bo"),
        Merged(commit="m1m1m1m1m1m1", target="main", approved_by="bo"),
        Merged(commit="m2", target="main", approved_by="merged on github"),  # merged on the forge
    )
    assert seen(route)[1:] == [
        ("merge-1", "error", "Merge held"),
        ("merge-2", "complete", "Merged into main as m1m1m1m1m1"),
        ("merge-3", "complete", "Merged into main as m2"),
    ]
    cancelled = route_of(AgentStarted(round=1, reason="request"), TaskCancelled(by="ana"))
    assert seen(cancelled) == [("agent-1", "error", "Agent, round 1"), ("cancelled", "error", "Cancelled by ana")]


def test_details_and_steps_stay_bounded_and_other_events_change_nothing():
    route = route_of(AgentStarted(round=1, reason="request"))
    for i in range(200):
        route = route.fold(CheckFinished(name=f"c{i}", passed=True, duration_s=0, distilled=""))
    details = route.get("agent-1").details
    assert len(details) <= MAX_DETAILS + len(CUT) and details.endswith(CUT) and details.count("…") == 1
    route = route.fold(AgentStarted(round=2, reason="follow_up"))
    for r in range(3, 200):
        route = route.fold(AgentStarted(round=r, reason="follow_up")).fold(
            AgentFinished(round=r, summary="", changed_files=[], commit=None)
        )
    assert len(route.steps) == MAX_STEPS and route.steps[-1].id == "agent-199"
    assert [s.id for s in route.steps[:2]] == ["agent-1", "agent-2"], "the oldest finished steps go; open ones stay"
    assert route.fold(ACCEPTED) is route
    assert TaskReady in ROUTE_EVENTS and TaskAccepted not in ROUTE_EVENTS
