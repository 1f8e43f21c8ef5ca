"""The parsers on the forges' own example deliveries (honk.testing.webhook_examples: @octokit/webhooks-examples
and GitLab's docs), each typed event's fields checked against the example's values; and on hostile ones:
any JSON value gives a typed event or Ignored, never an exception, with every field bounded.

Only what an example lacks is filled in (a mention of @honk in a comment, a failing conclusion where the
package has no failing example, a passing one where it has no passing example), on a copy: the files stay
as the forges wrote them."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from honk.hooks import github as gh
from honk.hooks import gitlab as gl
from honk.hooks.events import (
    MAX_TEXT,
    ChecksFailed,
    ChecksPassed,
    Comment,
    Ignored,
    PullRequestChanged,
    Pushed,
    Review,
    ReviewComment,
    mentions,
)
from honk.testing.webhooks import example

FUZZ = settings(
    max_examples=100, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
ASK = "@honk please fix this"

# Every vendored example, by the event header it comes with.
GITHUB_EXAMPLES = {
    "issue_comment.created": "issue_comment",
    "pull_request_review.submitted": "pull_request_review",
    "pull_request_review_comment.created": "pull_request_review_comment",
    "check_suite.completed": "check_suite",
    "check_run.completed": "check_run",
    "workflow_run.completed": "workflow_run",
    "pull_request.opened": "pull_request",
    "pull_request.synchronize": "pull_request",
    "pull_request.closed": "pull_request",
    "push": "push",
}
GITLAB_EXAMPLES = {
    "note.issue": "Note Hook",
    "note.merge_request": "Note Hook",
    "merge_request": "Merge Request Hook",
    "pipeline": "Pipeline Hook",
    "push": "Push Hook",
}


def github(name: str) -> dict[str, Any]:
    return example("github", name)


def gitlab(name: str) -> dict[str, Any]:
    return example("gitlab", name)


# -- GitHub ---------------------------------------------------------------------------------------


def test_github_issue_comment():
    body = github("issue_comment.created")
    event = gh.parse("issue_comment", body, "honk")
    assert isinstance(event, Comment)
    comment = body["comment"]
    assert (event.forge, event.repo, event.actor, event.by_bot) == (
        "github",
        body["repository"]["full_name"],
        comment["user"]["login"],
        False,
    )
    assert (event.on, event.number, event.comment_id, event.url) == (
        "issue",
        body["issue"]["number"],
        comment["id"],
        comment["html_url"],
    )
    assert event.text == comment["body"] and not event.truncated
    assert not event.mentioned, "the example does not name @honk"


def test_github_issue_comment_mentioning_honk_on_a_pull_request():
    body = github("issue_comment.created")
    body["comment"]["body"] = ASK
    event = gh.parse("issue_comment", body, "honk")
    assert isinstance(event, Comment) and event.mentioned and event.text == ASK and event.on == "issue"
    body["issue"]["pull_request"] = {
        "url": body["repository"]["pulls_url"].replace("{/number}", f"/{body['issue']['number']}")
    }
    on_pr = gh.parse("issue_comment", body, "honk")
    assert isinstance(on_pr, Comment) and on_pr.on == "pull_request" and on_pr.number == body["issue"]["number"]
    body["action"] = "edited"
    edited = gh.parse("issue_comment", body, "honk")
    assert isinstance(edited, Ignored) and "not created" in edited.reason


def test_github_review():
    body = github("pull_request_review.submitted")
    event = gh.parse("pull_request_review", body, "honk")
    assert isinstance(event, Review)
    review, pull = body["review"], body["pull_request"]
    assert (event.repo, event.actor, event.number, event.verdict) == (
        body["repository"]["full_name"],
        review["user"]["login"],
        pull["number"],
        review["state"],
    )
    assert (event.review_id, event.head_sha, event.head_branch, event.url) == (
        review["id"],
        review["commit_id"],
        pull["head"]["ref"],
        review["html_url"],
    )
    assert event.text == (review["body"] or "") and not event.mentioned
    review.update(state="CHANGES_REQUESTED", body=f"{ASK}: two things")  # the REST API's upper case too
    asked = gh.parse("pull_request_review", body, "honk")
    assert isinstance(asked, Review) and asked.verdict == "changes_requested" and asked.mentioned
    review["state"] = "pending"
    assert isinstance(gh.parse("pull_request_review", body, "honk"), Ignored)
    body["action"] = "dismissed"
    assert isinstance(gh.parse("pull_request_review", body, "honk"), Ignored)


def test_github_review_comment():
    body = github("pull_request_review_comment.created")
    event = gh.parse("pull_request_review_comment", body, "honk")
    assert isinstance(event, ReviewComment)
    comment = body["comment"]
    assert (event.repo, event.actor, event.number, event.path, event.line) == (
        body["repository"]["full_name"],
        comment["user"]["login"],
        body["pull_request"]["number"],
        comment["path"],
        comment["line"],
    )
    assert (event.comment_id, event.head_sha, event.in_reply_to, event.url, event.text) == (
        comment["id"],
        comment["commit_id"],
        comment.get("in_reply_to_id"),
        comment["html_url"],
        comment["body"],
    )
    assert not event.mentioned
    comment.update(body=ASK, line=None, in_reply_to_id=comment["id"] - 1)  # a reply on an outdated line
    reply = gh.parse("pull_request_review_comment", body, "honk")
    assert isinstance(reply, ReviewComment) and reply.mentioned
    assert (reply.line, reply.in_reply_to) == (comment["original_line"], comment["id"] - 1)


def test_github_check_run_fails():
    body = github("check_run.completed")
    run = body["check_run"]
    assert run["conclusion"] == "failure", "the package's one failing example"
    event = gh.parse("check_run", body, "honk")
    assert isinstance(event, ChecksFailed)
    assert (event.repo, event.actor, event.source, event.name, event.conclusion) == (
        body["repository"]["full_name"],
        body["sender"]["login"],
        "check_run",
        run["name"],
        "failure",
    )
    assert (event.head_sha, event.branch, event.numbers, event.run_id, event.url) == (
        run["head_sha"],
        run["check_suite"]["head_branch"],
        [p["number"] for p in run["pull_requests"]],
        run["id"],
        run["html_url"],
    )
    run["conclusion"] = "timed_out"
    timed_out = gh.parse("check_run", body, "honk")
    assert isinstance(timed_out, ChecksFailed) and timed_out.conclusion == "timed_out"
    for not_failed in ("success", "cancelled", "action_required", "neutral", None):
        run["conclusion"] = not_failed
        assert isinstance(gh.parse("check_run", body, "honk"), Ignored), not_failed
    run["conclusion"] = "failure"
    body["action"] = "created"
    assert isinstance(gh.parse("check_run", body, "honk"), Ignored)


def test_github_check_run_passing_is_not_ci_passing():
    """One job's check run passing says nothing of the commit's other jobs: only its suite's verdict is read."""
    body = github("check_run.completed")
    body["check_run"]["conclusion"] = "success"  # the package's one check_run example fails
    ignored = gh.parse("check_run", body, "honk")
    assert isinstance(ignored, Ignored) and "'success'" in ignored.reason


def test_github_check_suite_passes():
    body = github("check_suite.completed")
    suite = body["check_suite"]
    assert suite["conclusion"] == "success", "the package's check_suite example passed"
    event = gh.parse("check_suite", body, "honk")
    assert isinstance(event, ChecksPassed)
    assert (event.kind, event.repo, event.actor, event.source, event.name, event.head_sha) == (
        "checks_passed",
        body["repository"]["full_name"],
        body["sender"]["login"],
        "check_suite",
        suite["app"]["name"],
        suite["head_sha"],
    )
    assert (event.branch, event.numbers) == (suite["head_branch"], [p["number"] for p in suite["pull_requests"]])
    for neither in ("neutral", "skipped", "cancelled", "stale", "action_required", None, ["success"]):
        suite["conclusion"] = neither
        assert isinstance(gh.parse("check_suite", body, "honk"), Ignored), neither
    suite["conclusion"], body["action"] = "success", "requested"
    assert isinstance(gh.parse("check_suite", body, "honk"), Ignored), "not completed yet"
    body["action"], suite["head_sha"] = "completed", "not a sha"
    assert isinstance(gh.parse("check_suite", body, "honk"), Ignored), "a verdict on no commit"


def test_github_check_suite_fails():
    body = github("check_suite.completed")
    suite = body["check_suite"]
    suite["conclusion"] = "failure"  # no check_suite example fails
    event = gh.parse("check_suite", body, "honk")
    assert isinstance(event, ChecksFailed)
    assert (event.repo, event.actor, event.source, event.name, event.head_sha) == (
        body["repository"]["full_name"],
        body["sender"]["login"],
        "check_suite",
        suite["app"]["name"],
        suite["head_sha"],
    )
    assert (event.branch, event.numbers, event.run_id) == (
        suite["head_branch"],
        [p["number"] for p in suite["pull_requests"]],
        suite["id"],
    )


def test_github_workflow_run_passes():
    body = github("workflow_run.completed")
    run = body["workflow_run"]
    event = gh.parse("workflow_run", body, "honk")
    assert isinstance(event, ChecksPassed), "the package's workflow_run example succeeded"
    assert (event.source, event.name, event.head_sha, event.branch, event.numbers, event.url) == (
        "workflow_run",
        run["name"] or body["workflow"]["name"],
        run["head_sha"],
        run["head_branch"],
        [],
        run["html_url"],
    )


def test_github_workflow_run_fails():
    body = github("workflow_run.completed")
    run = body["workflow_run"]
    run["conclusion"] = "failure"  # no workflow_run example fails
    event = gh.parse("workflow_run", body, "honk")
    assert isinstance(event, ChecksFailed)
    assert (event.repo, event.actor, event.source, event.name, event.head_sha) == (
        body["repository"]["full_name"],
        body["sender"]["login"],
        "workflow_run",
        run["name"] or body["workflow"]["name"],  # a run without a name of its own: its workflow's
        run["head_sha"],
    )
    assert (event.branch, event.numbers, event.run_id, event.url) == (
        run["head_branch"],
        [],
        run["id"],
        run["html_url"],
    )


def test_github_pull_request_opened_synchronized_closed():
    for name, action in (
        ("pull_request.opened", "opened"),
        ("pull_request.synchronize", "synchronize"),
        ("pull_request.closed", "closed"),
    ):
        body = github(name)
        event = gh.parse("pull_request", body, "honk")
        assert isinstance(event, PullRequestChanged), name
        pull = body["pull_request"]
        assert (event.repo, event.actor, event.by_bot, event.action, event.number) == (
            body["repository"]["full_name"],
            body["sender"]["login"],
            False,
            action,
            body["number"],
        ), name
        assert (event.head_sha, event.head_branch, event.base_branch, event.title, event.url, event.merged) == (
            pull["head"]["sha"],
            pull["head"]["ref"],
            pull["base"]["ref"],
            pull["title"],
            pull["html_url"],
            pull["merged"] is True,
        ), name
    merged = github("pull_request.closed")
    merged["pull_request"]["merged"] = True
    merged["sender"].update(login="honk[bot]", type="Bot")
    closed = gh.parse("pull_request", merged, "honk")
    assert isinstance(closed, PullRequestChanged) and closed.action == "closed" and closed.merged and closed.by_bot
    reopened = github("pull_request.opened")
    reopened["action"] = "reopened"
    assert gh.parse("pull_request", reopened, "honk").action == "opened"  # type: ignore[union-attr]
    reopened["action"] = "labeled"
    assert isinstance(gh.parse("pull_request", reopened, "honk"), Ignored)


def test_github_push():
    body = github("push")
    event = gh.parse("push", body, "honk")
    assert isinstance(event, Pushed)
    assert (event.repo, event.actor, event.ref, event.branch) == (
        body["repository"]["full_name"],
        body["sender"]["login"],
        body["ref"],
        body["ref"].removeprefix("refs/heads/"),
    )
    assert (event.before, event.after, event.commits, event.url) == (
        body["before"],
        body["after"],
        len(body["commits"]),
        body["compare"],
    )
    body.update(deleted=True, after="0" * 40)
    deleted = gh.parse("push", body, "honk")
    assert isinstance(deleted, Ignored) and "deleted" in deleted.reason


# -- GitLab ---------------------------------------------------------------------------------------


def test_gitlab_note_on_an_issue():
    body = gitlab("note.issue")
    event = gl.parse("Note Hook", body, "honk")
    assert isinstance(event, Comment)
    note = body["object_attributes"]
    assert (event.forge, event.repo, event.actor, event.by_bot) == (
        "gitlab",
        body["project"]["path_with_namespace"],
        body["user"]["username"],
        False,
    )
    assert (event.on, event.number, event.comment_id, event.url, event.text, event.head_sha) == (
        "issue",
        body["issue"]["iid"],
        note["id"],
        note["url"],
        note["note"],
        "",
    )
    assert not event.mentioned
    note["note"] = ASK
    asked = gl.parse("Note Hook", body, "honk")
    assert isinstance(asked, Comment) and asked.mentioned
    note["action"] = "update"
    assert isinstance(gl.parse("Note Hook", body, "honk"), Ignored), "an edited note is not a new request"


def test_gitlab_note_on_a_merge_request():
    body = gitlab("note.merge_request")
    note, mr = body["object_attributes"], body["merge_request"]
    note["note"] = f"{ASK}, the test is flaky"
    event = gl.parse("Note Hook", body, "honk")
    assert isinstance(event, Comment)
    assert (event.repo, event.actor, event.on, event.number, event.head_sha) == (
        body["project"]["path_with_namespace"],
        body["user"]["username"],
        "pull_request",
        mr["iid"],
        mr["last_commit"]["id"],
    )
    assert (event.comment_id, event.url, event.mentioned) == (note["id"], note["url"], True)


def test_gitlab_merge_request_opened_pushed_to_closed():
    body = gitlab("merge_request")
    mr = body["object_attributes"]
    event = gl.parse("Merge Request Hook", body, "honk")
    assert isinstance(event, PullRequestChanged)
    assert (event.repo, event.actor, event.action, event.number, event.merged) == (
        body["project"]["path_with_namespace"],
        body["user"]["username"],
        "opened",
        mr["iid"],
        False,
    )
    assert (event.head_sha, event.head_branch, event.base_branch, event.title, event.url) == (
        mr["last_commit"]["id"],
        mr["source_branch"],
        mr["target_branch"],
        mr["title"],
        mr["url"],
    )
    mr["action"] = "update"
    assert isinstance(gl.parse("Merge Request Hook", body, "honk"), Ignored), "an edit without new commits"
    mr["oldrev"] = "b" * 40  # GitLab sends `oldrev` when new commits came
    pushed = gl.parse("Merge Request Hook", body, "honk")
    assert isinstance(pushed, PullRequestChanged) and pushed.action == "synchronize"
    for action, merged in (("merge", True), ("close", False)):
        mr["action"] = action
        done = gl.parse("Merge Request Hook", body, "honk")
        assert isinstance(done, PullRequestChanged) and (done.action, done.merged) == ("closed", merged)
    mr["action"] = "approved"
    assert isinstance(gl.parse("Merge Request Hook", body, "honk"), Ignored)


def test_gitlab_pipeline_passes():
    body = gitlab("pipeline")
    pipeline = body["object_attributes"]
    assert pipeline["status"] == "success", "the documented example's pipeline passed"
    event = gl.parse("Pipeline Hook", body, "honk")
    assert isinstance(event, ChecksPassed)
    assert (event.kind, event.repo, event.actor, event.source, event.name) == (
        "checks_passed",
        body["project"]["path_with_namespace"],
        body["user"]["username"],
        "pipeline",
        pipeline["name"],
    )
    assert (event.head_sha, event.branch, event.numbers, event.url) == (
        pipeline["sha"],
        pipeline["ref"],
        [body["merge_request"]["iid"]],
        pipeline["url"],
    )
    for neither in ("running", "pending", "canceled", "skipped", "manual", None):
        pipeline["status"] = neither
        assert isinstance(gl.parse("Pipeline Hook", body, "honk"), Ignored), neither


def test_gitlab_pipeline_fails():
    body = gitlab("pipeline")
    pipeline = body["object_attributes"]
    pipeline["status"] = "failed"  # its builds already include a failed one
    event = gl.parse("Pipeline Hook", body, "honk")
    assert isinstance(event, ChecksFailed)
    failed = [b["name"] for b in body["builds"] if b["status"] == "failed"]
    assert (event.repo, event.actor, event.source, event.name, event.conclusion) == (
        body["project"]["path_with_namespace"],
        body["user"]["username"],
        "pipeline",
        failed[0],
        "failed",
    )
    assert (event.head_sha, event.branch, event.numbers, event.run_id, event.url) == (
        pipeline["sha"],
        pipeline["ref"],
        [body["merge_request"]["iid"]],
        pipeline["id"],
        pipeline["url"],
    )
    pipeline["tag"] = True
    body["merge_request"] = None
    on_tag = gl.parse("Pipeline Hook", body, "honk")
    assert isinstance(on_tag, ChecksFailed) and (on_tag.branch, on_tag.numbers) == ("", [])


def test_gitlab_push():
    body = gitlab("push")
    event = gl.parse("Push Hook", body, "honk")
    assert isinstance(event, Pushed)
    assert (event.repo, event.actor, event.ref, event.branch) == (
        body["project"]["path_with_namespace"],
        body["user_username"],
        body["ref"],
        body["ref"].removeprefix("refs/heads/"),
    )
    assert (event.before, event.after, event.commits, event.url) == (
        body["before"],
        body["after"],
        body["total_commits_count"],
        body["project"]["web_url"],
    )
    body["after"] = "0" * 40
    assert isinstance(gl.parse("Push Hook", body, "honk"), Ignored), "a branch deleted"


def test_gitlab_token_bots_are_bots():
    body = gitlab("note.merge_request")
    body["user"]["username"] = "project_4_bot_3f2a"
    event = gl.parse("Note Hook", body, "honk")
    assert isinstance(event, Comment) and event.by_bot


# -- what any delivery is held to -------------------------------------------------------------------


def test_mentions_are_words_not_substrings():
    assert mentions("@honk fix it", "honk") and mentions("thanks, @Honk!", "honk") and mentions("(@honk)", "honk")
    assert mentions("hey\n@honk: do it", "honk")
    for not_a_mention in ("ana@honk.dev", "@honky", "@honk-bot", "x/@honk", "`@honk`", "```\n@honk fix\n```", "honk"):
        assert not mentions(not_a_mention, "honk"), not_a_mention


def test_text_is_bounded_and_cleaned():
    huge = github("issue_comment.created")
    huge["comment"]["body"] = "@honk " + "x" * (5 * MAX_TEXT) + "\x00\x1b"
    event = gh.parse("issue_comment", huge, "honk")
    assert isinstance(event, Comment) and event.truncated and len(event.text) == MAX_TEXT and event.mentioned
    evil = github("issue_comment.created")
    evil["repository"]["full_name"] = "acme/player\nInjected: yes"
    assert isinstance(gh.parse("issue_comment", evil, "honk"), Ignored)


def test_wrong_types_everywhere_are_ignored_not_raised():
    for event in gh.EVENTS:
        for broken in (None, [], "x", 1, {}, {"repository": "acme/player"}, {"repository": {"full_name": 7}}):
            assert isinstance(gh.parse(event, broken, "honk"), Ignored)
    for name, event in GITHUB_EXAMPLES.items():
        body = github(name)
        for key in list(body):
            assert _any_outcome(gh.parse(event, {**body, key: [True]}, "honk"))
    for name, event in GITLAB_EXAMPLES.items():
        body = gitlab(name)
        for key in list(body):
            assert _any_outcome(gl.parse(event, {**body, key: {"id": "x"}}, "honk"))


def test_every_example_parses_to_what_its_event_says():
    """Each vendored example, as vendored, gives its event's record: a passing suite, run or pipeline a
    `ChecksPassed`, the failing check run a `ChecksFailed`."""
    passing = {"check_suite.completed", "workflow_run.completed", "pipeline"}
    for name, event in GITHUB_EXAMPLES.items():
        result = gh.parse(event, github(name), "honk")
        assert not isinstance(result, Ignored), (name, result)
        assert isinstance(result, ChecksPassed) == (name in passing), (name, result)
    for name, event in GITLAB_EXAMPLES.items():
        result = gl.parse(event, gitlab(name), "honk")
        assert not isinstance(result, Ignored), (name, result)
        assert isinstance(result, ChecksPassed) == (name in passing), (name, result)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=15), inner, max_size=5),
    max_leaves=30,
)


@FUZZ
@given(st.sampled_from(sorted(GITHUB_EXAMPLES)), st.data())
def test_github_parser_never_raises(name: str, data: st.DataObject):
    event = GITHUB_EXAMPLES[name]
    mutated = _mutate(github(name), data)
    assert _any_outcome(gh.parse(event, mutated, "honk"))
    assert _any_outcome(gh.parse(event, data.draw(JSON), "honk"))


@FUZZ
@given(st.sampled_from(sorted(GITLAB_EXAMPLES)), st.data())
def test_gitlab_parser_never_raises(name: str, data: st.DataObject):
    event = GITLAB_EXAMPLES[name]
    mutated = _mutate(gitlab(name), data)
    assert _any_outcome(gl.parse(event, mutated, "honk"))
    assert _any_outcome(gl.parse(event, data.draw(JSON), "honk"))


def _mutate(body: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """The delivery with some of its values, at any depth (inside lists too), replaced by arbitrary JSON."""
    copy = json.loads(json.dumps(body))
    paths = list(_paths(copy))
    for path in data.draw(st.lists(st.sampled_from(paths), max_size=4)):
        parent: Any = copy
        for key in path[:-1]:
            parent = _child(parent, key)
        last = path[-1]
        if isinstance(parent, dict) and isinstance(last, str):  # an earlier replacement may have taken it away
            parent[last] = data.draw(JSON)
        elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
            parent[last : last + 1] = [data.draw(JSON)]
    return copy


def _child(obj: Any, key: str | int) -> Any:
    """`obj[key]`, or None when `obj` is no longer a dict (for a str key) or a list long enough (an int)."""
    if isinstance(obj, dict) and isinstance(key, str):
        return obj.get(key)
    if isinstance(obj, list) and isinstance(key, int) and key < len(obj):
        return obj[key]
    return None


def _paths(obj: Any, prefix: tuple = ()) -> Any:
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


def _any_outcome(result: object) -> bool:
    """A record, round-tripped through JSON (as it goes into workflow history), every string bounded."""
    assert isinstance(
        result, Ignored | Comment | Review | ReviewComment | ChecksFailed | ChecksPassed | PullRequestChanged | Pushed
    )
    again = type(result).model_validate_json(result.model_dump_json())
    assert again == result
    for value in result.model_dump().values():
        if isinstance(value, str):
            assert len(value) <= MAX_TEXT
    return True
