"""Best of N's one Slack message (honk.slack.attempts.ranking_blocks), pure: the ranking with each attempt's
why, a Pick button per ready attempt (values the front door's pick_attempt handler reads), and once picked,
who picked and no buttons but the page's."""

from __future__ import annotations

from honk.domain import AttemptScore, AttemptsView, TaskState
from honk.slack.attempts import PICK_ACTION, ranking_blocks


def _view(picked: str | None = None, by: str | None = None) -> AttemptsView:
    return AttemptsView(
        group="best-0123456789ab",
        repo="calc",
        text="fix <it> & more",
        n=3,
        requested_by="ada",
        picked=picked,
        picked_by=by,
        attempts=[
            AttemptScore(task_id="t-a", attempt=3, state=TaskState.ready, rank=1, why="ready; checks pass, +1 \u22121"),
            AttemptScore(task_id="t-b", attempt=1, state=TaskState.ready, rank=2, why="ready; checks pass, +2 \u22121"),
            AttemptScore(task_id="t-c", attempt=2, state=TaskState.failed, rank=3, why="failed; checks fail <x>"),
        ],
    )


def test_the_ranking_offers_a_pick_per_ready_attempt() -> None:
    text, body = ranking_blocks(_view(), "https://honk.example/", auto_picked=False)
    assert text.startswith("3 attempts done: pick one") and text.endswith(
        "https://honk.example/attempts/best-0123456789ab"
    )
    section = body[0]["text"]["text"]
    assert section.splitlines()[1:] == [
        "1. attempt 3 `t-a`: ready; checks pass, +1 \u22121",
        "2. attempt 1 `t-b`: ready; checks pass, +2 \u22121",
        "3. attempt 2 `t-c`: failed; checks fail &lt;x&gt;",
    ]
    buttons = body[1]["elements"]
    assert [(b["action_id"], b.get("value")) for b in buttons] == [
        (f"{PICK_ACTION}_3", "best-0123456789ab t-a"),
        (f"{PICK_ACTION}_1", "best-0123456789ab t-b"),
        ("open", None),
    ]


def test_once_picked_it_says_by_whom_and_offers_no_pick() -> None:
    text, body = ranking_blocks(_view("t-a", "honk (best of N)"), "https://honk.example", auto_picked=True)
    assert text.startswith("3 attempts done: Honk picked attempt 3 (ranked 1); the others are cancelled.")
    assert [b["action_id"] for b in body[1]["elements"]] == ["open"]
    text, _ = ranking_blocks(_view("t-b", "cy@example.com"), "https://honk.example", auto_picked=False)
    assert text.startswith("3 attempts done: attempt 1 was picked by cy@example.com.")
