"""The one reading of a task's events: folded as they arrive, the same as folding the whole history."""

from __future__ import annotations

from datetime import UTC, datetime

from honk.domain import Artifact, BlockReason, Phase, TaskState, fold_states
from honk.events import (
    AgentFinished,
    AgentStarted,
    BuildReady,
    ChangeReviewed,
    CheckFinished,
    ChecksStarted,
    CiPassed,
    ForgeChecksFailed,
    MergeHeld,
    MergeRequested,
    NetworkBlocked,
    PullRequestUpdated,
    SandboxRefused,
    StoredEvent,
    TaskAccepted,
    TaskReady,
    WorkspacePreparing,
)
from honk.timeline import Timeline

STORY = [
    TaskAccepted(repo="calc", text="make add() add", requested_by="ana", agent="scripted"),
    WorkspacePreparing(),
    AgentStarted(round=1, reason="request", invocation=0, head="h0"),
    CheckFinished(name="lint", passed=True, duration_s=0.1, distilled="ok"),
    AgentFinished(round=1, summary="tried", changed_files=["calc.py"], commit="c1", cost_usd=0.25, model="m"),
    ChecksStarted(round=1, names=["lint", "test"]),
    CheckFinished(name="lint", passed=True, duration_s=0.1, distilled="ok"),
    CheckFinished(name="test", passed=False, duration_s=1.0, distilled="test_add failed"),
    SandboxRefused(what="network", detail="refused", command="curl", source="check"),
    AgentStarted(round=2, reason="check_feedback", invocation=1, head="c1"),
    AgentStarted(round=2, reason="check_feedback", invocation=1, head="c9"),  # a retried attempt
    AgentFinished(round=2, summary="fixed", changed_files=["calc.py"], commit="c2", cost_usd=0.5),
    CheckFinished(name="test", passed=True, duration_s=1.0, distilled="ok"),
    ChangeReviewed(judge_ok=True, judge_reason="fine", guard_findings=["removed assertion in t.py"]),
    BuildReady(artifacts=[Artifact(name="app.zip", size=3)], preview_url="http://p/"),
    PullRequestUpdated(number=7, url="http://pr/7", draft=True, opened=True),
    TaskReady(commit="c2", summary="Fixed add().", diffstat="1 file", warnings=["w"], diff="-a\n+b"),
    MergeRequested(by="bo"),
    MergeHeld(reason="main moved and the checks fail", rework=True),
]


def stored(events: list) -> list[StoredEvent]:
    return [StoredEvent(id=i + 1, task_id="t", at=datetime.now(UTC), event=e) for i, e in enumerate(events)]


def test_the_timeline_reads_what_every_front_door_shows():
    t = Timeline.of(stored(STORY))
    assert t.state == TaskState.working == fold_states(STORY)  # held for rework: back to the agent
    assert [(c.name, c.passed) for c in t.checks.values()] == [("lint", True), ("test", True)]
    assert t.cost_usd == 0.75 and t.model == "m" and t.rounds == 2
    assert t.review is not None and t.review.guard_findings == ["removed assertion in t.py"]
    assert t.pull_request is not None and t.pull_request.number == 7
    assert t.ready is not None and t.ready.summary == "Fixed add()." and t.ready.event_id == 17
    assert t.preview_url == "http://p/" and [a.name for a in t.artifacts] == ["app.zip"]
    assert t.refused == 1 and "network" in (t.refusal_warning() or "")
    assert t.committed_by(1, "c2") == "c1", "the first attempt's head, not a retry's"
    assert t.committed_by(1, "c1") is None and t.committed_by(5, "c2") is None
    assert t.agent_commits == ["c1", "c2"] and t.last_event_id == len(STORY)


def test_folding_as_events_arrive_equals_folding_the_history_and_survives_storage():
    whole = Timeline.of(stored(STORY))
    live = Timeline()
    for e in stored(STORY):
        live = Timeline.model_validate(live.model_dump(mode="json")).fold(e.event, e.id)  # stored between events
    assert live == whole
    assert "-a\n+b" not in whole.model_dump_json(), "the diff stays in its event"


def test_the_latest_plan_and_its_approval_are_read_from_the_events():
    from honk.domain import Plan
    from honk.events import PlanApproved, PlanProposed, TaskAccepted

    v1, v2 = Plan(summary="one", steps=[" a ", ""]), Plan(summary="two")
    timeline = Timeline()
    for event in (
        TaskAccepted(repo="r", text="t", requested_by="ana", agent="claude", plan=True),
        PlanProposed(version=1, plan=v1),
        PlanApproved(version=1, by="late click"),
        PlanProposed(version=2, plan=v2),
        PlanApproved(version=1, by="a click on a replaced plan"),
    ):
        timeline = timeline.fold(event)
    assert timeline.plan_first and timeline.plan == v2 and timeline.plan_version == 2
    assert timeline.plan_approved_by is None, "an approval of v1 does not approve v2"
    assert timeline.fold(PlanApproved(version=2, by="bo")).plan_approved_by == "bo"
    assert v1.steps == ["a"], "a plan's items are trimmed, empty ones dropped"
    assert Plan(summary="s", steps=["x" * 5000] * 100).steps == ["x" * 2000] * 30, "and bounded"


def _blocked(
    host: str, phase: Phase = "check", reason: BlockReason = "not_allowed", port: int = 443, method: str = "CONNECT"
) -> NetworkBlocked:
    return NetworkBlocked(
        host=host, port=port, method=method, phase=phase, reason=reason, detail="refused", command="pip install x"
    )


def test_refused_requests_are_said_once_with_the_command_that_allows_the_host():
    one = Timeline().fold(_blocked("pypi.org")).fold(_blocked("pypi.org"))
    warning = one.blocked_warning("calc")
    assert warning is not None and "CONNECT pypi.org in check ×2 (`pip install x`)" in warning
    assert warning.endswith("or an admin runs `honk network allow calc pypi.org --phase check`")
    assert one.allowable() == [("pypi.org", "check")]

    several = one.fold(_blocked("files.pythonhosted.org", "setup")).fold(_blocked("10.0.0.1", reason="ip_literal"))
    several = several.fold(_blocked("pypi.org", reason="method", method="POST"))
    several = several.fold(_blocked("cdn.example.com", reason="port", port=8443))
    assert several.allowable() == [
        ("pypi.org", "check"),
        ("files.pythonhosted.org", "setup"),
        ("cdn.example.com:8443", "check"),
    ], "never an address, nor a method an allowance would not add"
    assert (several.blocked_warning("calc") or "").endswith("`honk network allow calc HOST --phase PHASE`")
    assert Timeline().blocked_warning("calc") is None


def test_fix_attempts_are_counted_until_ci_passes_after_them():
    """What the forge door asks before telling a task CI passed: fixes tried since it last passed (a skipped
    failure is no attempt), and the latest pass after them."""
    attempt = lambda n: ForgeChecksFailed(commit=f"h{n}", jobs=["test"], attempt=n, of=3)  # noqa: E731
    timeline = Timeline()
    for event in (attempt(1), ForgeChecksFailed(commit="h1", jobs=["lint"], skipped="autofix is off"), attempt(2)):
        timeline = timeline.fold(event)
    assert (timeline.ci_fixes, timeline.ci_passed) == (2, None)
    passed = CiPassed(commit="h3", after_attempts=2)
    timeline = timeline.fold(passed)
    assert (timeline.ci_fixes, timeline.ci_passed) == (0, passed)
    assert timeline.fold(attempt(3)).ci_fixes == 1
