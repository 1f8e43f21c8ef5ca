"""What Honk says on the forge at each milestone (honk.forgedoor.notifier.said): pure, from a TaskView and a
Timeline built here, one state at a time."""

from __future__ import annotations

from datetime import UTC, datetime

from honk.domain import CheckLine, DeliveryOutcome, Plan, TaskState, TaskView
from honk.events import PullRequestUpdated
from honk.forgedoor.notifier import MAX_SUMMARY, said, task_link
from honk.timeline import Ready, Timeline

BASE = "https://honk.example/"  # a trailing slash, as settings may have it
TASK = "https://honk.example/tasks/t-42"
PR = PullRequestUpdated(number=7, url="https://github.com/acme/player/pull/7", draft=False, opened=True)


def view(state: TaskState, **changes: object) -> TaskView:
    now = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    fields: dict[str, object] = {
        "id": "t-42",
        "repo": "acme/player",
        "text": "fix the crash on an empty playlist",
        "state": state,
        "requested_by": "github:ana",
        "agent": "claude",
        "model": None,
        "branch": "honk/t-42",
        "created_at": now,
        "updated_at": now,
    }
    return TaskView.model_validate(fields | changes)


def ready(summary: str = "Guarded the empty playlist.", warnings: list[str] | None = None) -> Ready:
    return Ready(commit="abc1234def5678", summary=summary, warnings=warnings or [])


def test_task_link():
    assert task_link(BASE, "t-42") == TASK == task_link(BASE.rstrip("/"), "t-42")


def test_ready_with_checks_preview_install_and_the_pull_request():
    timeline = Timeline(
        state=TaskState.ready,
        ready=ready(warnings=["the lockfile changed", "a test was skipped"]),
        checks={
            "lint": CheckLine(name="lint", passed=True),
            "test": CheckLine(name="test", passed=False, detail="1 failed"),
        },
        preview_url="https://t-42.preview.honk.example",
        delivery=DeliveryOutcome(state="delivered", kind="android-apk", url="https://honk.example/install/t-42"),
        pull_request=PR,
    )
    assert said(view(TaskState.ready), timeline, "", BASE) == "\n\n".join(
        [
            "**Ready for review** — Guarded the empty playlist.",
            "Checks: ✅ lint, ❌ test",
            "⚠️ the lockfile changed; a test was skipped",
            "Preview: https://t-42.preview.honk.example",
            "Install: https://honk.example/install/t-42",
            f"Pull request: {PR.url}",
            f"Task: {TASK}",
        ]
    )


def test_ready_prefers_the_views_preview_and_says_only_what_there_is():
    timeline = Timeline(state=TaskState.ready, ready=ready(summary="  "), preview_url="https://old.preview")
    text = said(view(TaskState.ready, preview_url="https://new.preview"), timeline, "ignored detail", BASE)
    assert text == f"**Ready for review.**\n\nPreview: https://new.preview\n\nTask: {TASK}"
    bare = said(view(TaskState.ready), Timeline(state=TaskState.ready, ready=ready()), "", BASE)
    assert bare == f"**Ready for review** — Guarded the empty playlist.\n\nTask: {TASK}"
    undelivered = DeliveryOutcome(state="processing", kind="testflight")  # no link yet
    quiet = said(view(TaskState.ready), Timeline(ready=ready(), delivery=undelivered), "", BASE)
    assert "Install" not in quiet


def test_a_long_summary_is_cut():
    text = said(view(TaskState.ready), Timeline(ready=ready(summary="s" * (3 * MAX_SUMMARY))), "", BASE)
    first = text.split("\n\n")[0]
    assert first == "**Ready for review** — " + "s" * (MAX_SUMMARY - 1) + "…"


def test_ready_without_a_delivery_recorded_says_only_the_detail():
    assert said(view(TaskState.ready), Timeline(), "", BASE) == ""
    assert said(view(TaskState.ready), Timeline(), "Delivered.", BASE) == f"Delivered.\n\nTask: {TASK}"


def test_failed():
    failed = view(TaskState.failed, reason="the checks failed three times")
    assert said(failed, Timeline(), "", BASE) == (
        f"**Honk could not finish:** the checks failed three times\n\nTask: {TASK}"
    )
    unknown = said(view(TaskState.failed), Timeline(), "", BASE)
    assert unknown == f"**Honk could not finish:** no reason recorded\n\nTask: {TASK}"
    long = said(view(TaskState.failed, reason="r" * (2 * MAX_SUMMARY)), Timeline(), "", BASE)
    assert f" {'r' * MAX_SUMMARY}\n\n" in long, "the reason's beginning, within the bound"


def test_merged():
    merged = view(TaskState.merged, merged_commit="0123456789abcdef", approved_by="bo")
    assert said(merged, Timeline(pull_request=PR), "", BASE) == (
        f"**Merged** (approved by bo) as 0123456789.\n\nTask: {TASK}"
    )


def test_cancelled():
    assert said(view(TaskState.cancelled), Timeline(), "detail", BASE) == (
        f"**Stopped.** Nothing more will happen on this task.\n\nTask: {TASK}"
    )


def test_plan_ready():
    plan = Plan(summary="Add a guard in Queue.next, and a test.", steps=["guard", "test"])
    assert said(view(TaskState.plan_ready), Timeline(plan=plan), "", BASE) == (
        f"**Plan ready for approval** — Add a guard in Queue.next, and a test.\n\nApprove or revise it: {TASK}"
    )
    assert said(view(TaskState.plan_ready), Timeline(), "", BASE) == "", "no plan recorded: nothing to say"


def test_other_states_say_their_detail_or_nothing():
    for state in (TaskState.queued, TaskState.working, TaskState.verifying, TaskState.merging):
        assert said(view(state), Timeline(pull_request=PR), "", BASE) == "", state
        assert said(view(state), Timeline(), "Opened a draft pull request.", BASE) == (
            f"Opened a draft pull request.\n\nTask: {TASK}"
        ), state
