"""The parsers on deliveries in GitHub's and GitLab's shapes (tests/hooks/hook_payloads.py), and on hostile
ones: any JSON value gives a typed event or Ignored, never an exception, with every field bounded."""

from __future__ import annotations

import json
from typing import Any

from hook_payloads import BASE, SHA, github, gitlab
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from honk.hooks import github as gh
from honk.hooks import gitlab as gl
from honk.hooks.events import (
    MAX_TEXT,
    ChecksFailed,
    Comment,
    Ignored,
    PullRequestChanged,
    Pushed,
    Review,
    ReviewComment,
    mentions,
)

FUZZ = settings(
    max_examples=100, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def test_github_issue_comment_mentioning_honk():
    event = gh.parse("issue_comment", github("issue_comment"), "honk")
    assert isinstance(event, Comment)
    assert (event.repo, event.actor, event.on, event.number, event.mentioned) == (
        "acme/player",
        "ana",
        "issue",
        12,
        True,
    )
    assert event.text == "@honk please fix this" and not event.by_bot
    on_pr = github("issue_comment")
    on_pr["issue"] = {**on_pr["issue"], "pull_request": {"url": "https://api.github.com/repos/acme/player/pulls/12"}}
    assert gh.parse("issue_comment", on_pr, "honk").on == "pull_request"  # type: ignore[union-attr]
    edited = gh.parse("issue_comment", github("issue_comment", action="edited"), "honk")
    assert isinstance(edited, Ignored) and "not created" in edited.reason


def test_github_review_review_comment_and_checks():
    review = gh.parse("pull_request_review", github("pull_request_review"), "honk")
    assert isinstance(review, Review) and (review.number, review.verdict, review.head_sha) == (
        3,
        "changes_requested",
        SHA,
    )
    comment = gh.parse("pull_request_review_comment", github("pull_request_review_comment"), "honk")
    assert isinstance(comment, ReviewComment)
    assert (comment.path, comment.line, comment.comment_id, comment.mentioned) == ("src/player.py", 20, 41, False)
    suite = gh.parse("check_suite", github("check_suite"), "honk")
    assert isinstance(suite, ChecksFailed)
    assert (suite.source, suite.name, suite.numbers, suite.branch, suite.run_id) == (
        "check_suite",
        "GitHub Actions",
        [3],
        "honk/t1",
        8,
    )
    run = gh.parse("check_run", github("check_run"), "honk")
    assert isinstance(run, ChecksFailed) and (run.conclusion, run.branch, run.name) == (
        "timed_out",
        "honk/t1",
        "test (3.11)",
    )
    workflow = gh.parse("workflow_run", github("workflow_run"), "honk")
    assert isinstance(workflow, ChecksFailed) and workflow.run_id == 500
    passed = github("check_suite")
    passed["check_suite"] = {**passed["check_suite"], "conclusion": "success"}
    assert isinstance(gh.parse("check_suite", passed, "honk"), Ignored)
    assert isinstance(gh.parse("check_run", github("check_run", action="created"), "honk"), Ignored)


def test_github_pull_request_and_push():
    pr = gh.parse("pull_request", github("pull_request"), "honk")
    assert isinstance(pr, PullRequestChanged)
    assert (pr.action, pr.number, pr.head_sha, pr.base_branch, pr.by_bot) == ("synchronize", 3, SHA, "main", True)
    merged = github("pull_request", action="closed")
    merged["pull_request"] = {**merged["pull_request"], "merged": True}
    closed = gh.parse("pull_request", merged, "honk")
    assert isinstance(closed, PullRequestChanged) and closed.action == "closed" and closed.merged
    assert isinstance(gh.parse("pull_request", github("pull_request", action="labeled"), "honk"), Ignored)
    push = gh.parse("push", github("push"), "honk")
    assert isinstance(push, Pushed) and (push.branch, push.before, push.after, push.commits) == ("main", BASE, SHA, 1)
    deleted = gh.parse("push", github("push", deleted=True, after="0" * 40), "honk")
    assert isinstance(deleted, Ignored) and "deleted" in deleted.reason


def test_gitlab_note_merge_request_pipeline_push():
    note = gl.parse("Note Hook", gitlab("Note Hook"), "honk")
    assert isinstance(note, Comment)
    assert (note.repo, note.actor, note.on, note.number, note.head_sha, note.mentioned) == (
        "acme/apps/player",
        "bo",
        "pull_request",
        1,
        SHA,
        True,
    )
    on_issue = gitlab("Note Hook", issue={"iid": 5})
    on_issue["object_attributes"] = {**on_issue["object_attributes"], "noteable_type": "Issue"}
    issue_note = gl.parse("Note Hook", on_issue, "honk")
    assert isinstance(issue_note, Comment) and (issue_note.on, issue_note.number) == ("issue", 5)
    mr = gl.parse("Merge Request Hook", gitlab("Merge Request Hook"), "honk")
    assert isinstance(mr, PullRequestChanged) and (mr.action, mr.number, mr.head_branch) == (
        "synchronize",
        1,
        "honk/t1",
    )
    retitled = gitlab("Merge Request Hook")
    retitled["object_attributes"] = {**retitled["object_attributes"], "oldrev": None}
    assert isinstance(gl.parse("Merge Request Hook", retitled, "honk"), Ignored), "an edit without new commits"
    merged = gitlab("Merge Request Hook")
    merged["object_attributes"] = {**merged["object_attributes"], "action": "merge"}
    done = gl.parse("Merge Request Hook", merged, "honk")
    assert isinstance(done, PullRequestChanged) and done.action == "closed" and done.merged
    pipeline = gl.parse("Pipeline Hook", gitlab("Pipeline Hook"), "honk")
    assert isinstance(pipeline, ChecksFailed) and (pipeline.name, pipeline.numbers, pipeline.run_id) == (
        "test",
        [1],
        31,
    )
    push = gl.parse("Push Hook", gitlab("Push Hook"), "honk")
    assert isinstance(push, Pushed) and (push.actor, push.branch, push.commits) == ("bo", "main", 2)


def test_gitlab_token_bots_are_bots():
    note = gitlab("Note Hook", user={"username": "project_4_bot_3f2a", "name": "honk"})
    event = gl.parse("Note Hook", note, "honk")
    assert isinstance(event, Comment) and event.by_bot


def test_mentions_are_words_not_substrings():
    assert mentions("@honk fix it", "honk") and mentions("thanks, @Honk!", "honk") and mentions("(@honk)", "honk")
    assert mentions("hey\n@honk: do it", "honk")
    for not_a_mention in ("ana@honk.dev", "@honky", "@honk-bot", "x/@honk", "`@honk`", "```\n@honk fix\n```", "honk"):
        assert not mentions(not_a_mention, "honk"), not_a_mention


def test_text_is_bounded_and_cleaned():
    huge = github("issue_comment")
    huge["comment"] = {**huge["comment"], "body": "@honk " + "x" * (5 * MAX_TEXT) + "\x00\x1b"}
    event = gh.parse("issue_comment", huge, "honk")
    assert isinstance(event, Comment) and event.truncated and len(event.text) == MAX_TEXT and event.mentioned
    evil = github("issue_comment")
    evil["repository"] = {"full_name": "acme/player\nInjected: yes"}
    assert isinstance(gh.parse("issue_comment", evil, "honk"), Ignored)


def test_wrong_types_everywhere_are_ignored_not_raised():
    for event in gh.EVENTS:
        for broken in (None, [], "x", 1, {}, {"repository": "acme/player"}, {"repository": {"full_name": 7}}):
            assert isinstance(gh.parse(event, broken, "honk"), Ignored)
        body = github(event)
        for key in list(body):
            assert _any_outcome(gh.parse(event, {**body, key: [True]}, "honk"))
    for event in gl.EVENTS:
        body = gitlab(event)
        for key in list(body):
            assert _any_outcome(gl.parse(event, {**body, key: {"id": "x"}}, "honk"))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=15), inner, max_size=5),
    max_leaves=30,
)


@FUZZ
@given(st.sampled_from(gh.EVENTS), st.data())
def test_github_parser_never_raises(event: str, data: st.DataObject):
    body = github(event)
    mutated = _mutate(body, data)
    assert _any_outcome(gh.parse(event, mutated, "honk"))
    assert _any_outcome(gh.parse(event, data.draw(JSON), "honk"))


@FUZZ
@given(st.sampled_from(gl.EVENTS), st.data())
def test_gitlab_parser_never_raises(event: str, data: st.DataObject):
    mutated = _mutate(gitlab(event), data)
    assert _any_outcome(gl.parse(event, mutated, "honk"))
    assert _any_outcome(gl.parse(event, data.draw(JSON), "honk"))


def _mutate(body: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """The delivery with some of its values, at any depth, replaced by arbitrary JSON."""
    copy = json.loads(json.dumps(body))
    paths = list(_paths(copy))
    for path in data.draw(st.lists(st.sampled_from(paths), max_size=4)):
        target: Any = copy
        for key in path[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if isinstance(target, dict):  # an earlier replacement may have taken the path away
            target[path[-1]] = data.draw(JSON)
    return copy


def _paths(obj: Any, prefix: tuple = ()) -> Any:
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))


def _any_outcome(result: object) -> bool:
    """A record, round-tripped through JSON (as it goes into workflow history), every string bounded."""
    assert isinstance(result, Ignored | Comment | Review | ReviewComment | ChecksFailed | PullRequestChanged | Pushed)
    again = type(result).model_validate_json(result.model_dump_json())
    assert again == result
    for value in result.model_dump().values():
        if isinstance(value, str):
            assert len(value) <= MAX_TEXT
    return True
