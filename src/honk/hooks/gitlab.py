"""A GitLab webhook delivery's JSON → a typed forge event, or `Ignored` saying why. Pure, and fuzzed: any
JSON value in, never an exception out.

The events (`X-Gitlab-Event`) read are the ones docs/forge-hooks.md asks to subscribe to; any other
(confidential notes among them: Honk does not carry confidential text into a task) is not parsed at all.
GitLab has no review event: a review's comments arrive as notes on the merge request.
"""

from __future__ import annotations

import re

from honk.hooks.events import (
    ChecksFailed,
    ChecksPassed,
    Comment,
    ForgeEvent,
    Ignored,
    PullRequestChanged,
    Pushed,
    field,
    mentions,
    name_of,
    number_of,
    sha_of,
    text_of,
    title_of,
    url_of,
)

EVENTS = ("Note Hook", "Merge Request Hook", "Pipeline Hook", "Push Hook")
NOTEABLE = {"Issue": "issue", "MergeRequest": "pull_request", "Commit": "commit", "Snippet": "snippet"}
FAILED = ("failed",)
PASSED = "success"  # a pipeline is all of the commit's jobs: its success is CI passing
NO_COMMIT = "0" * 40
# GitLab's project and group access tokens act as bot users with generated usernames.
BOT_USER = re.compile(r"^(project|group)_\d+_bot(_[0-9a-f]+)?\d*$")


def parse(event: str, payload: object, handle: str) -> ForgeEvent | Ignored:
    """`event`: the `X-Gitlab-Event` header, one of `EVENTS`; `handle`: Honk's username on the forge."""
    if not isinstance(payload, dict):
        return Ignored(reason="the payload is not a JSON object")
    repo = name_of(field(payload, "project", "path_with_namespace"))
    if not repo:
        return Ignored(reason="the payload names no project")
    # Push Hook says who in flat fields; the others in `user`.
    actor = name_of(field(payload, "user", "username")) or name_of(payload.get("user_username"))
    common = {"forge": "gitlab", "repo": repo, "actor": actor, "by_bot": bool(BOT_USER.match(actor))}
    if event == "Note Hook":
        return _note(payload, common, handle)
    if event == "Merge Request Hook":
        return _merge_request(payload, common)
    if event == "Pipeline Hook":
        return _pipeline(payload, common)
    if event == "Push Hook":
        return _push(payload, common)
    return Ignored(reason=f"GitLab's {event[:40]!r} events are not read")


def _note(payload: dict, common: dict, handle: str) -> ForgeEvent | Ignored:
    note = field(payload, "object_attributes")
    noteable = field(note, "noteable_type")
    on = NOTEABLE.get(noteable) if isinstance(noteable, str) else None  # (a list is not hashable)
    if on is None:
        return Ignored(reason="a note on something other than an issue, merge request, commit or snippet")
    if field(note, "action") not in (None, "create"):  # GitLab ≥ 16 says; an edit is not a new request
        return Ignored(reason="a note updated, not created")
    number = {
        "issue": number_of(field(payload, "issue", "iid")),
        "pull_request": number_of(field(payload, "merge_request", "iid")),
    }.get(on)
    if on in ("issue", "pull_request") and number is None:
        return Ignored(reason=f"a note on an {on.replace('_', ' ')} without its number")
    text, cut = text_of(field(note, "note"))
    head = sha_of(field(payload, "merge_request", "last_commit", "id")) if on == "pull_request" else ""
    if on == "commit":
        head = sha_of(field(payload, "commit", "id"))
    return Comment(
        **common,
        url=url_of(field(note, "url")),
        on=on,  # type: ignore[arg-type]  # NOTEABLE's values are CommentTargets
        number=number,
        head_sha=head,
        text=text,
        truncated=cut,
        mentioned=mentions(text, handle),
        comment_id=number_of(field(note, "id")),
    )


def _merge_request(payload: dict, common: dict) -> ForgeEvent | Ignored:
    mr = field(payload, "object_attributes")
    action, merged = field(mr, "action"), False
    if action in ("open", "reopen"):
        what = "opened"
    elif action == "update" and sha_of(field(mr, "oldrev")):  # new commits (a title edit has no oldrev)
        what = "synchronize"
    elif action in ("close", "merge"):
        what, merged = "closed", action == "merge"
    else:
        return Ignored(reason=f"a merge request {repr(action)[:40]}, not opened, pushed to or closed")
    number = number_of(field(mr, "iid"))
    if number is None:
        return Ignored(reason="a merge request without its number")
    return PullRequestChanged(
        **common,
        url=url_of(field(mr, "url")),
        action=what,  # type: ignore[arg-type]  # one of PullRequestAction's
        number=number,
        head_sha=sha_of(field(mr, "last_commit", "id")),
        head_branch=name_of(field(mr, "source_branch")),
        base_branch=name_of(field(mr, "target_branch")),
        merged=merged,
        title=title_of(field(mr, "title")),
    )


def _pipeline(payload: dict, common: dict) -> ForgeEvent | Ignored:
    pipeline = field(payload, "object_attributes")
    status = field(pipeline, "status")
    if status not in FAILED and status != PASSED:
        return Ignored(reason=f"a pipeline that neither failed nor passed ({repr(status)[:40]})")
    head = sha_of(field(pipeline, "sha"))
    if not head:
        return Ignored(reason="a pipeline on no commit")
    mr = number_of(field(payload, "merge_request", "iid"))
    branch = "" if field(pipeline, "tag") is True else name_of(field(pipeline, "ref"))
    if status == PASSED:
        return ChecksPassed(
            **common,
            url=url_of(field(pipeline, "url")),
            source="pipeline",
            name=title_of(field(pipeline, "name"), 200),
            head_sha=head,
            branch=branch,
            numbers=[mr] if mr else [],
        )
    builds = payload.get("builds")
    failed = [b for b in builds[:200] if field(b, "status") == "failed"] if isinstance(builds, list) else []
    name = field(failed[0], "name") if failed else field(pipeline, "name")
    return ChecksFailed(
        **common,
        url=url_of(field(pipeline, "url")),
        source="pipeline",
        name=title_of(name, 200),
        conclusion="failed",
        head_sha=head,
        branch=branch,
        numbers=[mr] if mr else [],
        run_id=number_of(field(pipeline, "id")),
    )


def _push(payload: dict, common: dict) -> ForgeEvent | Ignored:
    ref = name_of(payload.get("ref"), 220)
    after = sha_of(payload.get("after"))
    if not ref:
        return Ignored(reason="a push to no ref")
    if after in ("", NO_COMMIT):
        return Ignored(reason="a branch deleted")
    count = number_of(payload.get("total_commits_count"))
    return Pushed(
        **common,
        url=url_of(field(payload, "project", "web_url")),
        ref=ref,
        before=sha_of(payload.get("before")),
        after=after,
        commits=count or 0,
    )
