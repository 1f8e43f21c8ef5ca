"""Best of N's ranking (honk.workflow.attempts_policy), pure: a total order whatever the attempts look like,
the same ranking however they are listed, a failing-checks attempt never above a passing one, ties broken by
the attempt number; and each attempt's score read from a real timeline (events folded as the store does)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from honk.accounts import ANONYMOUS
from honk.domain import AttemptScore, AttemptsView, RouteShots, ShotPair, TaskState, TaskView
from honk.events import (
    ChangeReviewed,
    CheckFinished,
    ScreenshotsTaken,
    TaskAccepted,
    TaskCancelled,
    TaskFailed,
    TaskReady,
)
from honk.timeline import Timeline
from honk.web.attempts import attempts_page
from honk.workflow.attempts_policy import diff_size, order_key, rank, score, top_pick

STATES = [s for s in TaskState]


@st.composite
def scores(draw: st.DrawFn, attempt: int) -> AttemptScore:
    lines = draw(st.none() | st.integers(0, 5_000))
    return AttemptScore(
        task_id=f"t-{attempt:04d}",
        attempt=attempt,
        state=draw(st.sampled_from(STATES)),
        reached_ready=draw(st.booleans()),
        checks_passed=draw(st.none() | st.booleans()),
        judge_ok=draw(st.none() | st.booleans()),
        guard_findings=draw(st.integers(0, 5)),
        lines_changed=lines,
        added=lines or 0,
    )


@st.composite
def groups(draw: st.DrawFn) -> list[AttemptScore]:
    n = draw(st.integers(1, 8))
    return [draw(scores(i)) for i in range(1, n + 1)]


@given(groups(), st.randoms())
def test_the_ranking_is_a_total_order_whatever_the_listing(group: list[AttemptScore], rnd) -> None:  # noqa: ANN001
    ranked = rank(group)
    shuffled = list(group)
    rnd.shuffle(shuffled)
    assert [s.task_id for s in rank(shuffled)] == [s.task_id for s in ranked]  # the listing does not matter
    assert sorted(s.task_id for s in ranked) == sorted(s.task_id for s in group)  # each attempt once
    assert [s.rank for s in ranked] == list(range(1, len(group) + 1))
    keys = [order_key(s) for s in ranked]
    assert all(a < b for a, b in zip(keys, keys[1:], strict=False))  # strictly: no two attempts tie
    assert all(s.why for s in ranked)


@given(groups())
def test_a_failing_checks_attempt_never_outranks_a_passing_one(group: list[AttemptScore]) -> None:
    ranked = rank(group)
    for i, better in enumerate(ranked):
        for worse in ranked[i + 1 :]:
            assert not (better.checks_passed is False and worse.checks_passed is True), (better, worse)


@given(scores(1), st.integers(2, 50))
def test_identical_attempts_are_ranked_by_their_number(one: AttemptScore, other: int) -> None:
    twin = one.model_copy(update={"attempt": other, "task_id": "t-0000"})  # a task id that sorts first
    assert [s.attempt for s in rank([twin, one])] == [1, other]


@given(groups())
def test_auto_pick_takes_only_a_ready_best(group: list[AttemptScore]) -> None:
    ranked = rank(group)
    picked = top_pick(ranked)
    if picked is not None:
        assert picked is ranked[0] and picked.state == TaskState.ready and picked.checks_passed is not False
    elif ranked[0].state == TaskState.ready and ranked[0].reached_ready:
        assert ranked[0].checks_passed is False


def _view(task_id: str, state: TaskState) -> TaskView:
    now = datetime.now(UTC)
    return TaskView(
        id=task_id,
        repo="calc",
        text="fix it",
        state=state,
        requested_by="ada",
        agent="scripted",
        model=None,
        branch=f"honk/{task_id}",
        created_at=now,
        updated_at=now,
    )


def _check(passed: bool) -> CheckFinished:
    return CheckFinished(name="tests", passed=passed, duration_s=1.0, distilled="ok" if passed else "1 failed")


def test_scores_from_timelines_rank_a_failed_attempt_last_and_say_why() -> None:
    accepted = TaskAccepted(repo="calc", text="fix it", requested_by="ada", agent="scripted")
    stat = " 1 file changed, 12 insertions(+), 3 deletions(-)\n"
    small = " 1 file changed, 2 insertions(+)\n"
    review = ChangeReviewed(judge_ok=True, judge_reason="in scope", guard_findings=[])
    big = (
        Timeline.of([])
        .fold(accepted)
        .fold(_check(True))
        .fold(review)
        .fold(TaskReady(commit="a" * 40, summary="done", diffstat=stat))
    )
    tiny = (
        Timeline()
        .fold(accepted)
        .fold(_check(True))
        .fold(review)
        .fold(TaskReady(commit="b" * 40, summary="done", diffstat=small))
    )
    failing = Timeline().fold(accepted).fold(_check(False)).fold(TaskFailed(reason="checks failed 3 times"))
    ranked = rank(
        [
            score(_view("t-1", big.state), big, 1),
            score(_view("t-2", failing.state), failing, 2),
            score(_view("t-3", tiny.state), tiny, 3),
        ]
    )
    assert [(s.attempt, s.rank) for s in ranked] == [(3, 1), (1, 2), (2, 3)]
    assert ranked[0].why == "ready; checks pass, judge ok, +2 \u22120"
    assert ranked[1].why == "ready; checks pass, judge ok, +12 \u22123"
    assert ranked[2].why == "failed; checks fail"
    assert top_pick(ranked) is ranked[0]
    # The others cancelled once one was picked: still ranked by what they showed, and said so.
    cancelled = big.fold(TaskCancelled(by="best of N: attempt 3 was picked"))
    again = rank([score(_view("t-1", cancelled.state), cancelled, 1), ranked[2]])
    assert again[0].why.startswith("ready, then cancelled;") and top_pick(again) is None


def test_diff_size_reads_git_stat_lines() -> None:
    assert diff_size(" a | 3 ++-\n 1 file changed, 2 insertions(+), 1 deletion(-)\n") == (2, 1)
    assert diff_size(" 1 file changed, 1 deletion(-)") == (0, 1)
    assert diff_size("") == (0, 0)
    assert diff_size("garbage") == (0, 0)


def test_each_attempt_shows_its_previews_phone_screenshot_on_the_ranking_page() -> None:
    accepted = TaskAccepted(repo="calc", text="fix it", requested_by="ada", agent="scripted")
    shots = ScreenshotsTaken(
        routes=[
            RouteShots(
                route="/",
                shots=[
                    ShotPair(viewport="desktop", before="b-d.png", after="a-d.png", diff="d-d.png", changed=0.1),
                    ShotPair(viewport="phone", before="b-p.png", after='a-p".png', diff="d-p.png", changed=0.2),
                ],
            )
        ]
    )
    ready = TaskReady(commit="a" * 40, summary="done", diffstat=" 1 file changed, 1 insertion(+)\n")
    shown = Timeline().fold(accepted).fold(_check(True)).fold(shots).fold(ready)
    bare = Timeline().fold(accepted).fold(_check(True)).fold(ready)
    ranked = rank([score(_view("t-1", shown.state), shown, 1), score(_view("t-2", bare.state), bare, 2)])
    assert [s.shot for s in sorted(ranked, key=lambda s: s.attempt)] == ['a-p".png', None]  # the phone's first

    view = AttemptsView(group="best-0123456789ab", repo="calc", text="fix it", n=2, requested_by="ada", attempts=ranked)
    page = attempts_page(ANONYMOUS, view)
    row = page.split('id="attempt-1"', 1)[1].split("</tr>", 1)[0]
    assert '<img class="thumb" src="/shots/t-1/a-p&quot;.png"' in row  # escaped: a file name is not markup
    assert "<img" not in page.split('id="attempt-2"', 1)[1].split("</tr>", 1)[0]
