"""Best of N, the pure part (honk.attempts): how an attempt scores from its timeline, and how a group's
attempts rank. No I/O, so the ranking the page shows, the Slack message says and auto-pick acts on is one
function, tested with hypothesis (tests/workflow/test_attempts_policy.py).

The order, best first: reached ready (delivered with its checks passing: a change a person could merge);
then its checks all passing (an attempt still working whose checks pass is nearer than one whose fail);
then the judge's verdict; then fewer test-guard findings; then the smaller diff (a smaller change for the
same request is easier to review and less likely to do more than asked); then the earlier attempt, which
makes the order total and the same on every reading.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from honk.domain import AttemptScore, TaskState, TaskView
from honk.timeline import Timeline

_ADDED = re.compile(r"(\d+) insertions?\(\+\)")
_REMOVED = re.compile(r"(\d+) deletions?\(-\)")


def diff_size(diffstat: str) -> tuple[int, int]:
    """Lines added and removed, from `git diff --stat`'s last line ("2 files changed, 12 insertions(+),
    3 deletions(-)"); (0, 0) for an empty or unreadable one."""
    last = diffstat.strip().splitlines()[-1] if diffstat.strip() else ""
    added, removed = _ADDED.search(last), _REMOVED.search(last)
    return (int(added.group(1)) if added else 0, int(removed.group(1)) if removed else 0)


def score(view: TaskView, timeline: Timeline, attempt: int) -> AttemptScore:
    """What one attempt shows, unranked (`rank` places it)."""
    checks = list(timeline.checks.values())
    checks_passed = None if not checks else all(c.passed for c in checks)
    review = timeline.review
    delivered = timeline.ready
    added, removed = diff_size(delivered.diffstat) if delivered is not None else (0, 0)
    return AttemptScore(
        task_id=view.id,
        attempt=attempt,
        state=view.state,
        agent=view.agent,
        # A failed task may have delivered before a follow-up broke it: it is no candidate any more.
        reached_ready=delivered is not None and view.state != TaskState.failed and checks_passed is not False,
        checks_passed=checks_passed,
        judge_ok=review.judge_ok if review is not None else None,
        guard_findings=len(review.guard_findings) if review is not None else 0,
        lines_changed=added + removed if delivered is not None else None,
        added=added,
        removed=removed,
        preview_url=view.preview_url,
        shot=_shot(timeline),
        pull_request_url=timeline.pull_request.url if timeline.pull_request is not None else "",
        cost_usd=view.cost_usd,
    )


def _shot(timeline: Timeline) -> str | None:
    """The screenshot that shows an attempt at a glance: its first route's "after", the phone's first."""
    if not timeline.shots:
        return None
    pairs = sorted(timeline.shots[0].shots, key=lambda p: p.viewport != "phone")
    return next((p.after for p in pairs if p.after), None)


def _ready(s: AttemptScore) -> bool:
    """Reached ready, and nothing since says its checks fail (a record claiming both is not ready)."""
    return s.reached_ready and s.checks_passed is not False


def order_key(s: AttemptScore) -> tuple[bool, bool, bool, bool, bool, int, float, int, str]:
    """Smaller is better; see the module's docstring for why each comes where it does."""
    return (
        not _ready(s),
        s.checks_passed is False,
        s.checks_passed is None,
        s.judge_ok is False,
        s.judge_ok is None,
        s.guard_findings,
        math.inf if s.lines_changed is None else s.lines_changed,
        s.attempt,
        s.task_id,
    )


def why(s: AttemptScore) -> str:
    """Why the attempt is where it is, in one short line: "ready; checks pass, judge ok, +12 −3"."""
    parts = [
        {True: "checks pass", False: "checks fail", None: "no checks ran"}[s.checks_passed],
    ]
    if s.judge_ok is not None:
        parts.append("judge ok" if s.judge_ok else "judge vetoed")
    if s.guard_findings:
        parts.append(f"{s.guard_findings} test-guard finding{'s' if s.guard_findings != 1 else ''}")
    if s.lines_changed is not None:
        parts.append(f"+{s.added} \u2212{s.removed}")
    head = s.state.value if not (_ready(s) and s.state != TaskState.ready) else f"ready, then {s.state.value}"
    return f"{head}; {', '.join(parts)}"


def rank(scores: Iterable[AttemptScore]) -> list[AttemptScore]:
    """The attempts best first, each with its rank (1 = best) and why."""
    ordered = sorted(scores, key=order_key)
    return [s.model_copy(update={"rank": i, "why": why(s)}) for i, s in enumerate(ordered, start=1)]


def top_pick(ranked: list[AttemptScore]) -> AttemptScore | None:
    """What auto-pick takes once every attempt settled: the best one, if it reached ready; else none (a
    person looks at why none did)."""
    return ranked[0] if ranked and _ready(ranked[0]) and ranked[0].state == TaskState.ready else None
