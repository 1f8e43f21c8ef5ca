"""The fakes send webhooks the way GitHub and GitLab do: signed, with their headers, redelivered,
reordered, and because their own state changed. A tiny loopback receiver stands in for Honk."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from honk.demo.loopback import LoopbackServer
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
