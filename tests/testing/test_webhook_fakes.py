"""The fakes send webhooks the way GitHub and GitLab do: signed, with their headers, redelivered,
reordered, and because their own state changed. A tiny loopback receiver stands in for Honk."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from honk.demo.loopback import LoopbackServer
from honk.testing.fake_github import FakeGitHub
from honk.testing.fake_gitlab import FakeGitLab
from honk.testing.gitrepo import RemoteRepo, run_git, write_files
from honk.testing.webhooks import (
    Delivery,
    WebhookSender,
    example,
    github_delivery,
    github_payload,
    gitlab_delivery,
    gitlab_payload,
)

SECRET = "s3cret-for-tests"


class Received:
    def __init__(self, headers: dict[str, str], body: bytes) -> None:
        self.headers, self.body = headers, body

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver(LoopbackServer):
    """Records every POST to /hooks/...; answers 202, or `status` when a test sets it."""

    def __init__(self) -> None:
        self.got: list[Received] = []
        self.status = 202
        self._cond = threading.Condition()
        super().__init__(Starlette(routes=[Route("/hooks/{forge}", self._hook, methods=["POST"])]))

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        with self._cond:
            self.got.append(Received({k.lower(): v for k, v in request.headers.items()}, body))
            self._cond.notify_all()
        return Response(status_code=self.status)

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self.got) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"received {len(self.got)} deliveries, wanted {count}")
                self._cond.wait(left)
            return list(self.got)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def sender() -> Iterator[WebhookSender]:
    s = WebhookSender()
    yield s
    s.close()


def independent_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- the vendored examples --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("forge", "name"),
    [
        ("github", n)
        for n in (
            "issue_comment.created",
            "pull_request_review.submitted",
            "pull_request_review_comment.created",
            "check_suite.completed",
            "check_run.completed",
            "workflow_run.completed",
            "pull_request.opened",
            "pull_request.synchronize",
            "pull_request.closed",
            "push",
        )
    ]
    + [("gitlab", n) for n in ("note.issue", "note.merge_request", "merge_request", "pipeline", "push")],
)
def test_every_named_example_is_vendored_and_parses(forge: str, name: str) -> None:
    payload = example(forge, name)
    assert isinstance(payload, dict) and payload
    if forge == "github":
        assert payload["repository"]["full_name"] and payload["sender"]["login"]
    else:
        assert payload["object_kind"] in {"note", "merge_request", "pipeline", "push"}


# -- the sender ---------------------------------------------------------------------------------------


def test_a_github_delivery_carries_githubs_headers_and_a_signature_an_independent_hmac_verifies(
    receiver: Receiver, sender: WebhookSender
) -> None:
    payload = github_payload(
        "issue_comment.created", repo="acme/shop", base_url="http://gh", sender="alice", number=7, text="@honk fix it"
    )
    sender.submit(github_delivery(f"{receiver.url}/hooks/github", SECRET, "issue_comment", payload))
    (got,) = receiver.wait_for(1)
    h = got.headers
    assert h["x-github-event"] == "issue_comment"
    assert h["user-agent"].startswith("GitHub-Hookshot/")
    assert h["content-type"] == "application/json"
    assert len(h["x-github-delivery"]) == 36 and h["x-github-delivery"].count("-") == 4  # a GUID
    assert h["x-hub-signature-256"] == "sha256=" + independent_hmac(SECRET, got.body)
    assert h["x-hub-signature-256"] != "sha256=" + independent_hmac("another secret", got.body)
    body = got.payload
    assert body["repository"]["full_name"] == "acme/shop"
    assert body["issue"]["number"] == 7 and body["comment"]["body"] == "@honk fix it"
    assert body["comment"]["user"]["login"] == "alice" and body["sender"]["login"] == "alice"


def test_a_hook_without_a_secret_sends_no_signature(receiver: Receiver, sender: WebhookSender) -> None:
    sender.submit(github_delivery(f"{receiver.url}/hooks/github", None, "push", example("github", "push")))
    (got,) = receiver.wait_for(1)
    assert "x-hub-signature-256" not in got.headers


def test_a_gitlab_delivery_carries_gitlabs_headers(receiver: Receiver, sender: WebhookSender) -> None:
    payload = gitlab_payload(
        "note.merge_request",
        project="acme/shop",
        project_id=3,
        base_url="http://gl",
        username="bob",
        iid=2,
        text="@honk please",
        sha="a" * 40,
        source_branch="honk/t1",
    )
    sender.submit(gitlab_delivery(f"{receiver.url}/hooks/gitlab", "tok", "Note Hook", payload, "http://gl"))
    (got,) = receiver.wait_for(1)
    h = got.headers
    assert h["x-gitlab-event"] == "Note Hook" and h["x-gitlab-token"] == "tok"
    assert h["x-gitlab-instance"] == "http://gl" and h["user-agent"].startswith("GitLab/")
    assert len(h["x-gitlab-event-uuid"]) == 36 and h["idempotency-key"] == h["x-gitlab-event-uuid"]
    body = got.payload
    assert body["object_attributes"]["note"] == "@honk please"
    assert body["merge_request"]["iid"] == 2 and body["project"]["path_with_namespace"] == "acme/shop"
    assert body["user"]["username"] == "bob"


def test_a_redelivery_is_the_same_bytes_id_and_signature(receiver: Receiver, sender: WebhookSender) -> None:
    delivery = github_delivery(f"{receiver.url}/hooks/github", SECRET, "push", example("github", "push"))
    sender.submit(delivery)
    sender.redeliver(delivery.delivery_id)
    first, again = receiver.wait_for(2)
    assert first.body == again.body
    for header in ("x-github-delivery", "x-hub-signature-256"):
        assert first.headers[header] == again.headers[header]


def test_held_deliveries_go_out_in_another_order(receiver: Receiver, sender: WebhookSender) -> None:
    url = f"{receiver.url}/hooks/github"
    made: list[Delivery] = []
    with sender.holding():  # newest first by default
        for n in range(3):
            made.append(github_delivery(url, SECRET, "issue_comment", {"n": n}))
            sender.submit(made[-1])
        assert receiver.got == []  # nothing leaves while held
    got = receiver.wait_for(3)
    assert [g.payload["n"] for g in got] == [2, 1, 0]
    assert [g.headers["x-github-delivery"] for g in got] == [d.delivery_id for d in reversed(made)]


def test_a_refused_or_unreachable_delivery_is_recorded_not_raised(receiver: Receiver, sender: WebhookSender) -> None:
    receiver.status = 401
    sender.submit(github_delivery(f"{receiver.url}/hooks/github", "wrong", "push", {}))
    sender.submit(github_delivery("http://127.0.0.1:9/hooks/github", SECRET, "push", {}))  # discard port
    sender.drain()
    refused, unreachable = sender.attempts
    assert refused.status == 401
    assert unreachable.status == 0 and unreachable.error


# -- the fake GitHub sends what its state changes cause ------------------------------------------------

TOKEN = "ghp_honk"


@pytest.fixture
def github(tmp_path: Path, receiver: Receiver) -> Iterator[tuple[FakeGitHub, RemoteRepo]]:
    remote = RemoteRepo(tmp_path / "remote", {"calc.py": "def add(a, b):\n    return a - b\n"})
    run_git("push", "--quiet", "origin", "HEAD:refs/heads/honk/t1", cwd=remote.clone)
    with FakeGitHub(tokens=(TOKEN,)) as fake:
        fake.add_repo("acme/shop", remote)
        fake.logins[TOKEN] = "honk[bot]"
        fake.add_hook("acme/shop", f"{receiver.url}/hooks/github", SECRET)
        yield fake, remote


def api(fake: FakeGitHub, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    headers = {"Authorization": f"token {TOKEN}", "Accept": "application/vnd.github+json"}
    return httpx.request(method, f"{fake.url}/repos/acme/shop{path}", json=body, headers=headers, timeout=10)


def events(got: list[Received]) -> list[str]:
    return [f"{g.headers['x-github-event']}.{g.payload.get('action', '')}".rstrip(".") for g in got]


def test_a_comment_posted_through_the_api_is_an_issue_comment_delivery(github, receiver: Receiver) -> None:
    fake, remote = github
    assert api(fake, "POST", "/pulls", {"title": "Fix add", "head": "honk/t1", "base": "main"}).status_code == 201
    number = fake.open_issue("acme/shop", "add() is wrong", by="carol")
    posted = api(fake, "POST", f"/issues/{number}/comments", {"body": "On it: https://honk.example/tasks/t1"})
    assert posted.status_code == 201
    fake.comment("acme/shop", 1, "@honk also handle floats", by="alice")  # a person, on the PR
    opened, on_issue, on_pull = receiver.wait_for(3)
    assert events([opened, on_issue, on_pull]) == [
        "pull_request.opened",
        "issue_comment.created",
        "issue_comment.created",
    ]
    for got in (opened, on_issue, on_pull):
        assert got.headers["x-hub-signature-256"] == "sha256=" + independent_hmac(SECRET, got.body)
    assert opened.payload["pull_request"]["head"]["sha"] == remote.head("honk/t1")
    assert on_issue.payload["issue"]["number"] == number and "pull_request" not in on_issue.payload["issue"]
    assert on_issue.payload["comment"]["user"]["login"] == "honk[bot]"  # the token's login
    assert on_pull.payload["issue"]["pull_request"]["html_url"].endswith("/acme/shop/pull/1")
    assert on_pull.payload["comment"]["body"] == "@honk also handle floats"
    assert on_pull.payload["sender"]["login"] == "alice"
    assert on_pull.payload["repository"]["full_name"] == "acme/shop"
    assert api(fake, "GET", f"/issues/{number}/comments").json()[0]["body"].startswith("On it")


def test_a_review_with_line_comments_is_one_delivery_per_comment_then_the_review(github, receiver: Receiver) -> None:
    fake, remote = github
    api(fake, "POST", "/pulls", {"title": "Fix add", "head": "honk/t1", "base": "main"})
    fake.review("acme/shop", 1, "Two things", "changes_requested", (("calc.py", 2, "use +"), ("calc.py", 1, "doc")))
    got = receiver.wait_for(4)[1:]
    assert events(got) == [
        "pull_request_review_comment.created",
        "pull_request_review_comment.created",
        "pull_request_review.submitted",
    ]
    assert [(g.payload["comment"]["path"], g.payload["comment"]["line"]) for g in got[:2]] == [
        ("calc.py", 2),
        ("calc.py", 1),
    ]
    review = got[2].payload["review"]
    assert review["state"] == "changes_requested" and review["commit_id"] == remote.head("honk/t1")


def test_completed_check_runs_send_check_run_and_then_a_failed_check_suite(github, receiver: Receiver) -> None:
    fake, remote = github
    api(fake, "POST", "/pulls", {"title": "Fix add", "head": "honk/t1", "base": "main"})
    sha = remote.head("honk/t1")
    unit = api(fake, "POST", "/check-runs", {"name": "unit", "head_sha": sha, "status": "in_progress"}).json()
    api(fake, "POST", "/check-runs", {"name": "lint", "head_sha": sha, "conclusion": "success"})
    api(fake, "PATCH", f"/check-runs/{unit['id']}", {"conclusion": "failure"})
    got = receiver.wait_for(4)[1:]
    assert events(got) == ["check_run.completed", "check_run.completed", "check_suite.completed"]
    assert [g.payload["check_run"]["name"] for g in got[:2]] == ["lint", "unit"]
    suite = got[2].payload["check_suite"]
    assert suite["conclusion"] == "failure" and suite["head_sha"] == sha
    assert suite["pull_requests"][0]["number"] == 1


def test_a_push_through_the_fakes_git_remote_is_a_push_and_a_synchronize(
    github, receiver: Receiver, tmp_path: Path
) -> None:
    fake, remote = github
    api(fake, "POST", "/pulls", {"title": "Fix add", "head": "honk/t1", "base": "main"})
    before = remote.head("honk/t1")
    work = tmp_path / "work"
    url = f"http://x-access-token:{TOKEN}@127.0.0.1:{fake.port}/acme/shop.git"
    run_git("clone", "--quiet", "--branch", "honk/t1", url, str(work))
    write_files(work, {"calc.py": "def add(a, b):\n    return a + b\n"})
    run_git("commit", "--quiet", "-am", "Fix add()", cwd=work)
    run_git("push", "--quiet", "origin", "HEAD:honk/t1", cwd=work)
    push, sync = receiver.wait_for(3)[1:]
    after = remote.head("honk/t1")
    assert events([push, sync]) == ["push", "pull_request.synchronize"]
    assert (push.payload["ref"], push.payload["before"], push.payload["after"]) == ("refs/heads/honk/t1", before, after)
    assert [c["message"] for c in push.payload["commits"]] == ["Fix add()"]
    assert push.payload["pusher"]["name"] == "honk[bot]"
    assert (sync.payload["before"], sync.payload["after"]) == (before, after)
    # A push straight to the bare repo (main moves) is told once noticed.
    remote.push_change({"README.md": "moved\n"})
    assert fake.notice_pushes("acme/shop") == ["main"]
    assert receiver.wait_for(4)[3].payload["after"] == remote.head("main")


def test_a_fakes_delivery_can_be_redelivered_and_held_ones_arrive_out_of_order(github, receiver: Receiver) -> None:
    fake, _ = github
    number = fake.open_issue("acme/shop", "bug")
    with fake.webhooks.holding():
        fake.comment("acme/shop", number, "first")
        fake.comment("acme/shop", number, "second")
    first_sent, second_sent = receiver.wait_for(2)
    assert [first_sent.payload["comment"]["body"], second_sent.payload["comment"]["body"]] == ["second", "first"]
    fake.webhooks.redeliver(second_sent.headers["x-github-delivery"])
    again = receiver.wait_for(3)[2]
    assert (
        again.body == second_sent.body
        and again.headers["x-github-delivery"] == second_sent.headers["x-github-delivery"]
    )


def test_a_repo_without_a_hook_sends_nothing(tmp_path: Path, receiver: Receiver) -> None:
    remote = RemoteRepo(tmp_path / "remote", {"a.txt": "a\n"})
    with FakeGitHub(tokens=(TOKEN,)) as fake:
        fake.add_repo("acme/quiet", remote)
        quiet = fake.open_issue("acme/quiet", "x")
        fake.comment("acme/quiet", quiet, "hello")
        assert fake._sender is None  # noqa: SLF001 - no hook, so no sender was ever started
        # Another repo's hook sends that repo's events, never the quiet one's.
        fake.add_repo("acme/hooked", RemoteRepo(tmp_path / "hooked", {"b.txt": "b\n"}))
        fake.add_hook("acme/hooked", f"{receiver.url}/hooks/github", SECRET)
        fake.comment("acme/quiet", quiet, "still quiet")
        fake.comment("acme/hooked", fake.open_issue("acme/hooked", "y"), "heard")
        receiver.wait_for(1)
        fake.webhooks.drain()
    (got,) = receiver.got
    assert got.payload["repository"]["full_name"] == "acme/hooked" and got.payload["comment"]["body"] == "heard"


# -- the fake GitLab too ------------------------------------------------------------------------------------


def test_the_fake_gitlab_sends_note_merge_request_pipeline_and_push_hooks(tmp_path: Path, receiver: Receiver) -> None:
    remote = RemoteRepo(tmp_path / "remote", {"calc.py": "def add(a, b):\n    return a - b\n"})
    run_git("push", "--quiet", "origin", "HEAD:refs/heads/honk/t1", cwd=remote.clone)
    with FakeGitLab(tokens=("glpat-honk",)) as fake:
        project = fake.add_project("acme/shop", remote)
        fake.add_hook("acme/shop", f"{receiver.url}/hooks/gitlab", "hook-token")
        base = f"{fake.url}/api/v4/projects/{project.id}"
        headers = {"PRIVATE-TOKEN": "glpat-honk"}
        mr = {"source_branch": "honk/t1", "target_branch": "main", "title": "Fix add"}
        assert httpx.post(f"{base}/merge_requests", json=mr, headers=headers).status_code == 201
        note = httpx.post(f"{base}/merge_requests/1/notes", json={"body": "Task: t1"}, headers=headers)
        assert note.status_code == 201
        issue = fake.open_issue("acme/shop", "add() is wrong")
        fake.note("acme/shop", "issue", issue, "@honk fix this", by="alice")
        fake.set_pipeline("acme/shop", "failed")
        before = remote.head("honk/t1")
        work = tmp_path / "work"
        url = f"http://oauth2:glpat-honk@127.0.0.1:{fake.port}/acme/shop.git"
        run_git("clone", "--quiet", "--branch", "honk/t1", url, str(work))
        write_files(work, {"calc.py": "def add(a, b):\n    return a + b\n"})
        run_git("commit", "--quiet", "-am", "Fix add()", cwd=work)
        run_git("push", "--quiet", "origin", "HEAD:honk/t1", cwd=work)
        got = receiver.wait_for(6)
    kinds = [g.headers["x-gitlab-event"] for g in got]
    assert kinds == ["Merge Request Hook", "Note Hook", "Note Hook", "Pipeline Hook", "Push Hook", "Merge Request Hook"]
    assert all(g.headers["x-gitlab-token"] == "hook-token" for g in got)
    assert len({g.headers["x-gitlab-event-uuid"] for g in got}) == 6
    opened, on_mr, on_issue, pipeline, push, update = (g.payload for g in got)
    assert opened["object_attributes"]["action"] == "open" and opened["object_attributes"]["iid"] == 1
    assert on_mr["merge_request"]["iid"] == 1 and on_mr["user"]["username"] == "honk-bot"
    assert on_issue["issue"]["iid"] == issue and on_issue["object_attributes"]["note"] == "@honk fix this"
    assert on_issue["user"]["username"] == "alice"
    assert pipeline["object_attributes"]["status"] == "failed" and pipeline["object_attributes"]["sha"] == before
    assert pipeline["merge_request"]["iid"] == 1
    assert (push["before"], push["after"]) == (before, remote.head("honk/t1"))
    assert update["object_attributes"]["action"] == "update" and update["object_attributes"]["oldrev"] == before
    assert all(g["project"]["path_with_namespace"] == "acme/shop" for g in (opened, on_mr, pipeline, push))
