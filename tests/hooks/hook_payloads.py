"""Small hand-written deliveries in the shapes GitHub and GitLab send (trimmed to the fields Honk reads and a
few it does not). To be replaced by the vendored real examples (honk.testing.webhook_examples, issue 19
part B) once they exist."""

from __future__ import annotations

from typing import Any

SHA = "a" * 40
BASE = "b" * 40
REPO = {"id": 1, "full_name": "acme/player", "name": "player", "private": True}
ANA = {"login": "ana", "id": 7, "type": "User"}
HONK_BOT = {"login": "honk[bot]", "id": 9, "type": "Bot"}


def github(event: str, **over: Any) -> dict[str, Any]:
    body = dict(_GITHUB[event])
    body.update(over)
    return body


_GITHUB: dict[str, dict[str, Any]] = {
    "issue_comment": {
        "action": "created",
        "issue": {"number": 12, "title": "Crash on empty playlist", "body": "It crashes", "user": ANA},
        "comment": {
            "id": 99,
            "body": "@honk please fix this",
            "user": ANA,
            "html_url": "https://github.com/acme/player/issues/12#issuecomment-99",
        },
        "repository": REPO,
        "sender": ANA,
    },
    "pull_request_review": {
        "action": "submitted",
        "review": {
            "id": 5,
            "body": "Two things to change",
            "state": "changes_requested",
            "commit_id": SHA,
            "user": ANA,
            "html_url": "https://github.com/acme/player/pull/3#pullrequestreview-5",
        },
        "pull_request": {"number": 3, "head": {"sha": SHA, "ref": "honk/t1"}, "base": {"ref": "main"}},
        "repository": REPO,
        "sender": ANA,
    },
    "pull_request_review_comment": {
        "action": "created",
        "comment": {
            "id": 41,
            "path": "src/player.py",
            "line": 20,
            "original_line": 18,
            "commit_id": SHA,
            "body": "Use a constant here",
            "user": ANA,
            "html_url": "https://github.com/acme/player/pull/3#discussion_r41",
        },
        "pull_request": {"number": 3, "head": {"sha": SHA}},
        "repository": REPO,
        "sender": ANA,
    },
    "check_suite": {
        "action": "completed",
        "check_suite": {
            "id": 8,
            "head_branch": "honk/t1",
            "head_sha": SHA,
            "status": "completed",
            "conclusion": "failure",
            "app": {"name": "GitHub Actions"},
            "pull_requests": [{"number": 3, "head": {"sha": SHA}}],
        },
        "repository": REPO,
        "sender": ANA,
    },
    "check_run": {
        "action": "completed",
        "check_run": {
            "id": 77,
            "name": "test (3.11)",
            "head_sha": SHA,
            "conclusion": "timed_out",
            "html_url": "https://github.com/acme/player/runs/77",
            "check_suite": {"id": 8, "head_branch": "honk/t1"},
            "pull_requests": [{"number": 3}],
        },
        "repository": REPO,
        "sender": ANA,
    },
    "workflow_run": {
        "action": "completed",
        "workflow_run": {
            "id": 500,
            "name": "CI",
            "head_branch": "honk/t1",
            "head_sha": SHA,
            "conclusion": "failure",
            "html_url": "https://github.com/acme/player/actions/runs/500",
            "pull_requests": [],
        },
        "workflow": {"id": 1, "name": "CI"},
        "repository": REPO,
        "sender": ANA,
    },
    "pull_request": {
        "action": "synchronize",
        "number": 3,
        "pull_request": {
            "number": 3,
            "title": "Fix the crash",
            "merged": False,
            "head": {"sha": SHA, "ref": "honk/t1"},
            "base": {"ref": "main"},
            "html_url": "https://github.com/acme/player/pull/3",
        },
        "repository": REPO,
        "sender": HONK_BOT,
    },
    "push": {
        "ref": "refs/heads/main",
        "before": BASE,
        "after": SHA,
        "deleted": False,
        "compare": "https://github.com/acme/player/compare/bbbbbbbbbbbb...aaaaaaaaaaaa",
        "commits": [{"id": SHA}],
        "pusher": {"name": "ana"},
        "repository": REPO,
        "sender": ANA,
    },
}

PROJECT = {"id": 4, "path_with_namespace": "acme/apps/player", "web_url": "https://gitlab.example.com/acme/apps/player"}
BO = {"id": 2, "username": "bo", "name": "Bo"}


def gitlab(event: str, **over: Any) -> dict[str, Any]:
    body = dict(_GITLAB[event])
    body.update(over)
    return body


_GITLAB: dict[str, dict[str, Any]] = {
    "Note Hook": {
        "object_kind": "note",
        "event_type": "note",
        "user": BO,
        "project": PROJECT,
        "object_attributes": {
            "id": 1244,
            "note": "@honk the test is flaky, make it wait for the server",
            "noteable_type": "MergeRequest",
            "url": "https://gitlab.example.com/acme/apps/player/-/merge_requests/1#note_1244",
        },
        "merge_request": {"iid": 1, "last_commit": {"id": SHA}, "source_branch": "honk/t1", "target_branch": "main"},
    },
    "Merge Request Hook": {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": BO,
        "project": PROJECT,
        "object_attributes": {
            "iid": 1,
            "title": "Fix the crash",
            "action": "update",
            "oldrev": BASE,
            "last_commit": {"id": SHA},
            "source_branch": "honk/t1",
            "target_branch": "main",
            "url": "https://gitlab.example.com/acme/apps/player/-/merge_requests/1",
        },
    },
    "Pipeline Hook": {
        "object_kind": "pipeline",
        "user": BO,
        "project": PROJECT,
        "object_attributes": {"id": 31, "ref": "honk/t1", "tag": False, "sha": SHA, "status": "failed"},
        "merge_request": {"iid": 1},
        "builds": [{"id": 380, "name": "lint", "status": "success"}, {"id": 381, "name": "test", "status": "failed"}],
    },
    "Push Hook": {
        "object_kind": "push",
        "event_name": "push",
        "before": BASE,
        "after": SHA,
        "ref": "refs/heads/main",
        "user_username": "bo",
        "project": PROJECT,
        "total_commits_count": 2,
    },
}
