"""What the delivery workflow says it would do (the next part does it): bots never, mentions start tasks."""

from __future__ import annotations

from hook_payloads import github, gitlab

from honk.hooks import github as gh
from honk.hooks import gitlab as gl
from honk.hooks.events import Comment, Ignored
from honk.hooks.handling import would_do


def _said(event: str, body: dict, forge: str = "github") -> str:
    parsed = gh.parse(event, body, "honk") if forge == "github" else gl.parse(event, body, "honk")
    assert not isinstance(parsed, Ignored)
    return would_do(parsed)


def test_each_event_says_what_would_come_of_it():
    assert _said("issue_comment", github("issue_comment")).startswith("would start a task")
    quiet = github("issue_comment")
    quiet["comment"] = {**quiet["comment"], "body": "looks fine"}
    assert _said("issue_comment", quiet).startswith("nothing now: Honk is not mentioned")
    assert "follow-up of @ana's review" in _said("pull_request_review", github("pull_request_review"))
    assert "line comment on acme/player#3" in _said(
        "pull_request_review_comment", github("pull_request_review_comment")
    )
    assert "fix for check_suite" in _said("check_suite", github("check_suite"))
    assert _said("pull_request", github("pull_request")).startswith("nothing: honk[bot] is a bot")
    assert "onto main" in _said("push", github("push"))
    assert "fix for pipeline 'test'" in _said("Pipeline Hook", gitlab("Pipeline Hook"), "gitlab")


def test_a_bots_mention_instructs_nobody():
    bot = Comment(
        forge="github", repo="a/b", actor="ci[bot]", by_bot=True, on="issue", number=1, text="@honk go", mentioned=True
    )
    assert would_do(bot).startswith("nothing: ci[bot] is a bot")
