"""A GitHub webhook delivery's JSON → a typed forge event, or `Ignored` saying why. Pure, and fuzzed: any
JSON value in, never an exception out.

The events (`X-GitHub-Event`) and actions read are the ones docs/forge-hooks.md asks to subscribe to;
any other event is not parsed at all (`EVENTS`), and the web route answers 204.
"""

from __future__ import annotations

from honk.hooks.events import (
    ChecksFailed,
    ChecksPassed,
    Comment,
    ForgeEvent,
    Ignored,
    PullRequestChanged,
    Pushed,
    Review,
    ReviewComment,
    field,
    mentions,
    name_of,
    number_of,
    sha_of,
    text_of,
    title_of,
    url_of,
)

EVENTS = (
    "issue_comment",
    "pull_request_review",
    "pull_request_review_comment",
    "check_suite",
    "check_run",
    "workflow_run",
    "pull_request",
    "push",
)
FAILED = ("failure", "timed_out", "startup_failure")  # not "cancelled" (a person did that) nor "action_required"
PASSED = "success"  # not "neutral" or "skipped": nothing ran to say the change is good
# A suite or a workflow run is all of one CI's jobs on the commit; one check run passing says nothing of the
# others (its suite's verdict comes when they have all finished), so a passing check run is not read.
PASSING_SOURCES = ("check_suite", "workflow_run")
VERDICTS = ("approved", "changes_requested", "commented", "dismissed")
PR_ACTIONS = {"opened": "opened", "reopened": "opened", "synchronize": "synchronize", "closed": "closed"}
NO_COMMIT = "0" * 40


def parse(event: str, payload: object, handle: str) -> ForgeEvent | Ignored:
    """`event`: the `X-GitHub-Event` header, one of `EVENTS`; `handle`: Honk's login on the forge, whose
    mentions `mentioned` reports."""
    if not isinstance(payload, dict):
        return Ignored(reason="the payload is not a JSON object")
    repo = name_of(field(payload, "repository", "full_name"))
    if not repo:
        return Ignored(reason="the payload names no repository")
    action = payload.get("action")
    sender = field(payload, "sender")
    common = {
        "forge": "github",
        "repo": repo,
        "actor": name_of(field(sender, "login")),
        "by_bot": field(sender, "type") == "Bot",
    }
    parser = _PARSERS.get(event)
    if parser is None:
        return Ignored(reason=f"GitHub's {event[:40]!r} events are not read")
    return parser(payload, action, common, handle)


def _issue_comment(payload: dict, action: object, common: dict, handle: str) -> ForgeEvent | Ignored:
    if action != "created":
        return Ignored(reason=f"an issue comment {_said(action)}, not created")
    comment = field(payload, "comment")
    number = number_of(field(payload, "issue", "number"))
    if number is None:
        return Ignored(reason="an issue comment on no issue")
    text, cut = text_of(field(comment, "body"))
    on = "pull_request" if isinstance(field(payload, "issue", "pull_request"), dict) else "issue"
    return Comment(
        **_by(common, field(comment, "user")),
        url=url_of(field(comment, "html_url")),
        on=on,
        number=number,
        text=text,
        truncated=cut,
        mentioned=mentions(text, handle),
        comment_id=number_of(field(comment, "id")),
    )


def _review(payload: dict, action: object, common: dict, handle: str) -> ForgeEvent | Ignored:
    if action != "submitted":
        return Ignored(reason=f"a pull request review {_said(action)}, not submitted")
    review = field(payload, "review")
    number = number_of(field(payload, "pull_request", "number"))
    verdict = field(review, "state")
    verdict = verdict.lower() if isinstance(verdict, str) else verdict
    if number is None or verdict not in VERDICTS:
        return Ignored(reason="a review without a pull request number or a known state")
    text, cut = text_of(field(review, "body"))
    return Review(
        **_by(common, field(review, "user")),
        url=url_of(field(review, "html_url")),
        number=number,
        verdict=verdict,  # type: ignore[arg-type]  # one of VERDICTS, checked above
        head_sha=sha_of(field(review, "commit_id")),
        text=text,
        truncated=cut,
        mentioned=mentions(text, handle),
        review_id=number_of(field(review, "id")),
        head_branch=name_of(field(payload, "pull_request", "head", "ref")),
    )


def _review_comment(payload: dict, action: object, common: dict, handle: str) -> ForgeEvent | Ignored:
    if action != "created":
        return Ignored(reason=f"a review comment {_said(action)}, not created")
    comment = field(payload, "comment")
    number = number_of(field(payload, "pull_request", "number"))
    if number is None:
        return Ignored(reason="a review comment on no pull request")
    text, cut = text_of(field(comment, "body"))
    path, _ = text_of(field(comment, "path"), 1_000)
    return ReviewComment(
        **_by(common, field(comment, "user")),
        url=url_of(field(comment, "html_url")),
        number=number,
        path=path.replace("\n", " "),
        line=number_of(field(comment, "line")) or number_of(field(comment, "original_line")),
        head_sha=sha_of(field(comment, "commit_id")),
        text=text,
        truncated=cut,
        mentioned=mentions(text, handle),
        comment_id=number_of(field(comment, "id")),
        in_reply_to=number_of(field(comment, "in_reply_to_id")),
    )


def _checks(source: str, payload: dict, action: object, common: dict) -> ForgeEvent | Ignored:
    """`source`: the event, which is also the key its run is under."""
    run = payload.get(source)
    if not isinstance(run, dict):
        return Ignored(reason=f"a {source} event without its {source}")
    if action != "completed":
        return Ignored(reason=f"a {source} {_said(action)}, not completed")
    conclusion = field(run, "conclusion")
    passed = conclusion == PASSED and source in PASSING_SOURCES
    if conclusion not in FAILED and not passed:
        return Ignored(reason=f"a {source} that neither failed nor passed CI ({_said(conclusion)})")
    head = sha_of(field(run, "head_sha"))
    if not head:
        return Ignored(reason=f"a {source} on no commit")
    name = field(run, "name") if source != "check_suite" else field(run, "app", "name")
    if source == "workflow_run" and not title_of(name):  # a run may have no name of its own: its workflow's
        name = field(payload, "workflow", "name") or field(run, "display_title")
    branch = field(run, "head_branch") if source != "check_run" else field(run, "check_suite", "head_branch")
    prs = field(run, "pull_requests")
    numbers = [n for p in prs[:20] if (n := number_of(field(p, "number")))] if isinstance(prs, list) else []
    facts = {
        **common,
        "url": url_of(field(run, "html_url")),
        "source": source,
        "name": title_of(name, 200),
        "head_sha": head,
        "branch": name_of(branch),
        "numbers": numbers,
    }
    if passed:
        return ChecksPassed(**facts)
    return ChecksFailed(**facts, conclusion=str(conclusion), run_id=number_of(field(run, "id")))


def _pull_request(payload: dict, action: object, common: dict, handle: str) -> ForgeEvent | Ignored:
    what = PR_ACTIONS.get(action) if isinstance(action, str) else None
    if what is None:
        return Ignored(reason=f"a pull request {_said(action)}")
    pr = field(payload, "pull_request")
    number = number_of(field(pr, "number")) or number_of(payload.get("number"))
    if number is None:
        return Ignored(reason="a pull request without a number")
    return PullRequestChanged(
        **common,
        url=url_of(field(pr, "html_url")),
        action=what,  # type: ignore[arg-type]  # PR_ACTIONS's values are PullRequestActions
        number=number,
        head_sha=sha_of(field(pr, "head", "sha")),
        head_branch=name_of(field(pr, "head", "ref")),
        base_branch=name_of(field(pr, "base", "ref")),
        merged=field(pr, "merged") is True,
        title=title_of(field(pr, "title")),
    )


def _push(payload: dict, action: object, common: dict, handle: str) -> ForgeEvent | Ignored:
    ref = name_of(payload.get("ref"), 220)
    after = sha_of(payload.get("after"))
    if not ref:
        return Ignored(reason="a push to no ref")
    if payload.get("deleted") is True or after in ("", NO_COMMIT):
        return Ignored(reason="a branch or tag deleted")
    commits = payload.get("commits")
    return Pushed(
        **common,
        url=url_of(payload.get("compare")),
        ref=ref,
        before=sha_of(payload.get("before")),
        after=after,
        commits=len(commits) if isinstance(commits, list) else 0,
    )


def _by(common: dict, user: object) -> dict:
    """The event's fields with the author of the comment or review as its actor (GitHub's sender is who
    caused the delivery, the same person for these events, but the author is what the text is by)."""
    login = name_of(field(user, "login"))
    if not login:
        return common
    return {**common, "actor": login, "by_bot": common["by_bot"] or field(user, "type") == "Bot"}


def _said(value: object) -> str:
    return repr(value)[:40] if value is not None else "with no action"


_PARSERS = {
    "issue_comment": _issue_comment,
    "pull_request_review": _review,
    "pull_request_review_comment": _review_comment,
    "check_suite": lambda payload, action, common, _: _checks("check_suite", payload, action, common),
    "check_run": lambda payload, action, common, _: _checks("check_run", payload, action, common),
    "workflow_run": lambda payload, action, common, _: _checks("workflow_run", payload, action, common),
    "pull_request": _pull_request,
    "push": _push,
}
