"""Webhook deliveries as GitHub and GitLab send them: signed, with their headers, redelivered, reordered.

The loopback fakes (`FakeGitHub`, `FakeGitLab`) hand every event their state changes cause to a
`WebhookSender`, which POSTs it from a background thread after the API call that caused it has been
answered, as the forges do. A delivery is a `Delivery`: its exact bytes and headers, kept so that a test
can send it again (GitHub's "Redeliver" keeps the delivery GUID, the body and so the signature) or hold
a batch and let it go in another order (forges promise neither once-only nor in-order delivery).

Payloads are the vendored examples in `webhook_examples/` (see its README), filled with the fake's own
repo, numbers, shas and logins by `github_payload` / `gitlab_payload`: the parser meets the forges'
shapes, with values that agree with what the fake's API answers.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import queue
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

import httpx
from pydantic import BaseModel, Field

GITHUB_USER_AGENT = "GitHub-Hookshot/044aadd"  # the form GitHub sends: a short build id after the slash
GITLAB_USER_AGENT = "GitLab/17.11.0"
GITHUB_TIMEOUT_S = 10.0  # GitHub gives up on a delivery after 10 s; GitLab waits longer, 10 s is plenty here
ZERO_SHA = "0" * 40


# -- the examples ---------------------------------------------------------------------------------


def example(forge: str, name: str) -> dict[str, Any]:
    """A fresh copy of a vendored payload: `example("github", "issue_comment.created")`."""
    text = resources.files("honk.testing").joinpath("webhook_examples", forge, f"{name}.json").read_text()
    return json.loads(text)


def github_signature(secret: str, body: bytes) -> str:
    """`X-Hub-Signature-256`: HMAC-SHA256 of the raw body under the hook's secret, hex, `sha256=` first."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- deliveries -----------------------------------------------------------------------------------


class Delivery(BaseModel):
    """One webhook delivery, exactly as it goes on the wire; sending it again sends the same bytes."""

    forge: str  # "github" | "gitlab"
    event: str  # X-GitHub-Event ("issue_comment") or X-Gitlab-Event ("Note Hook")
    delivery_id: str  # X-GitHub-Delivery / X-Gitlab-Event-UUID
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


class Attempt(BaseModel):
    """One POST of a delivery and what came back (status 0: no answer, `error` says why)."""

    delivery: Delivery
    status: int = 0
    error: str = ""
    at: float = Field(default_factory=time.time)


def github_delivery(url: str, secret: str | None, event: str, payload: dict[str, Any], hook_id: int = 1) -> Delivery:
    """What GitHub POSTs for `event`: compact JSON, a fresh GUID, the HMAC when the hook has a secret."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    delivery_id = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": GITHUB_USER_AGENT,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id,
        "X-GitHub-Hook-ID": str(hook_id),
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        "X-GitHub-Hook-Installation-Target-ID": str((payload.get("repository") or {}).get("id", 0)),
    }
    if secret is not None:  # GitHub signs only when the hook has a secret; Honk must refuse the unsigned
        headers["X-Hub-Signature-256"] = github_signature(secret, body)
        # The legacy SHA-1 header GitHub still sends alongside; Honk must not rely on it.
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return Delivery(forge="github", event=event, delivery_id=delivery_id, url=url, headers=headers, body=body)


def gitlab_delivery(url: str, token: str | None, event: str, payload: dict[str, Any], instance: str) -> Delivery:
    """What GitLab POSTs for `event`: the secret token as sent (GitLab does not sign), the event's UUID.

    `X-Gitlab-Event-UUID` and `Idempotency-Key` stay the same when GitLab retries the delivery."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    event_uuid = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": GITLAB_USER_AGENT,
        "X-Gitlab-Event": event,
        "X-Gitlab-Event-UUID": event_uuid,
        "Idempotency-Key": event_uuid,
        "X-Gitlab-Webhook-UUID": str(uuid.uuid5(uuid.NAMESPACE_URL, url)),  # the hook's: one per URL here
        "X-Gitlab-Instance": instance,
    }
    if token is not None:
        headers["X-Gitlab-Token"] = token
    return Delivery(forge="gitlab", event=event, delivery_id=event_uuid, url=url, headers=headers, body=body)


class WebhookSender:
    """POSTs deliveries from one background thread, in the order given, after their cause is answered.

    `hold()` keeps what is submitted until `release(order)`; `redeliver(id)` sends a delivery again;
    `drain(timeout)` waits (bounded) until nothing is queued or in flight. Every POST is an `Attempt`.
    """

    def __init__(self, timeout_s: float = GITHUB_TIMEOUT_S) -> None:
        self.attempts: list[Attempt] = []
        self.sent: dict[str, Delivery] = {}  # by delivery id: what can be redelivered
        self._held: list[Delivery] | None = None
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._lock = threading.Condition()
        self._pending = 0
        self._client = httpx.Client(timeout=timeout_s)
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
        self._thread.start()

    # -- submitting -----------------------------------------------------------------------------
    def submit(self, delivery: Delivery) -> None:
        with self._lock:
            self.sent[delivery.delivery_id] = delivery
            if self._held is not None:
                self._held.append(delivery)
                return
            self._pending += 1
        self._queue.put(delivery)

    def redeliver(self, delivery_id: str) -> Delivery:
        """Sends a delivery again, byte for byte: same id, body and signature (GitHub's Redeliver)."""
        delivery = self.sent[delivery_id]
        self.submit(delivery)
        return delivery

    @contextmanager
    def holding(self, order: Callable[[list[Delivery]], list[Delivery]] = lambda ds: ds[::-1]) -> Iterator[None]:
        """Holds what is submitted inside the block, then sends it in `order` (newest first by default)."""
        self.hold()
        try:
            yield
        finally:
            self.release(order)

    def hold(self) -> None:
        with self._lock:
            if self._held is None:
                self._held = []

    def release(self, order: Callable[[list[Delivery]], list[Delivery]] = lambda ds: ds) -> list[Delivery]:
        with self._lock:
            held, self._held = self._held or [], None
            released = order(list(held))
            self._pending += len(released)
        for delivery in released:
            self._queue.put(delivery)
        return released

    # -- waiting and reading ----------------------------------------------------------------------
    def drain(self, timeout_s: float = 10.0) -> None:
        """Waits until every submitted delivery was POSTed (held ones aside); TimeoutError past the bound."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._pending} webhook deliveries still unsent after {timeout_s} s")
                self._lock.wait(left)

    def deliveries(self, event: str | None = None) -> list[Delivery]:
        """Every delivery POSTed so far (redeliveries again), oldest first; only `event`'s when given."""
        with self._lock:
            return [a.delivery for a in self.attempts if event in (None, a.delivery.event)]

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        self._client.close()

    # -- the sending thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while (delivery := self._queue.get()) is not None:
            attempt = Attempt(delivery=delivery)
            try:
                response = self._client.post(delivery.url, content=delivery.body, headers=delivery.headers)
                attempt = attempt.model_copy(update={"status": response.status_code})
            except httpx.HTTPError as e:  # the forge records a failed delivery and carries on
                attempt = attempt.model_copy(update={"error": f"{type(e).__name__}: {e}"})
            with self._lock:
                self.attempts.append(attempt)
                self._pending -= 1
                self._lock.notify_all()


# -- filling the examples with the fake's facts ---------------------------------------------------

_ids = itertools.count(1_000_001)


def _user(login: str, base_url: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": zlib.crc32(login.encode()) % 10**7,
        "type": "Bot" if login.endswith("[bot]") else "User",
        "html_url": f"{base_url}/{login}",
        "url": f"{base_url}/users/{login}",
    }


def _github_repo(payload: dict[str, Any], full_name: str, base_url: str, default_branch: str) -> None:
    owner, name = full_name.split("/", 1)
    repo = payload["repository"]
    repo.update(
        name=name,
        full_name=full_name,
        html_url=f"{base_url}/{full_name}",
        url=f"{base_url}/repos/{full_name}",
        clone_url=f"{base_url}/{full_name}.git",
        default_branch=default_branch,
    )
    repo["owner"] = {**repo.get("owner", {}), **_user(owner, base_url)}
    payload.pop("organization", None)  # the fake's repos belong to users; an org the fake lacks would mislead


def github_payload(
    name: str,
    *,
    repo: str,
    base_url: str,
    sender: str,
    default_branch: str = "main",
    number: int | None = None,
    title: str | None = None,
    text: str | None = None,
    head_sha: str | None = None,
    head_ref: str | None = None,
    base_ref: str | None = None,
    before: str | None = None,
    is_pull: bool = False,
    state: str | None = None,
    merged: bool | None = None,
    conclusion: str | None = None,
    check_name: str | None = None,
    path: str | None = None,
    line: int | None = None,
    commits: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The example `name` ("issue_comment.created", "push", …) with the fake's facts in place of Octocat's.

    Only the fields a receiver reads to act are replaced; the rest of the example stays as GitHub wrote
    it, so unread fields keep their real shapes."""
    event = name.split(".", 1)[0]
    payload = example("github", name)
    _github_repo(payload, repo, base_url, default_branch)
    payload["sender"] = {**payload.get("sender", {}), **_user(sender, base_url)}
    payload.pop("installation", None)  # the fake's hooks are a repo's, not a GitHub App's
    pulls = [{"number": number, "head": {"ref": head_ref, "sha": head_sha}, "base": {"ref": base_ref}}]
    if event == "issue_comment":
        issue = payload["issue"]
        issue.update(number=number, title=title or issue["title"], html_url=f"{base_url}/{repo}/issues/{number}")
        issue["user"] = {**issue["user"], **_user(sender, base_url)}
        if is_pull:  # GitHub marks a pull request's conversation by this key on the "issue"
            issue["pull_request"] = {
                "url": f"{base_url}/repos/{repo}/pulls/{number}",
                "html_url": f"{base_url}/{repo}/pull/{number}",
            }
        else:
            issue.pop("pull_request", None)
        comment = payload["comment"]
        comment.update(id=next(_ids), body=text or "", html_url=f"{base_url}/{repo}/issues/{number}#issuecomment")
        comment["user"] = {**comment["user"], **_user(sender, base_url)}
    elif event in ("pull_request", "pull_request_review", "pull_request_review_comment"):
        pull = payload["pull_request"]
        pull.update(
            number=number, html_url=f"{base_url}/{repo}/pull/{number}", url=f"{base_url}/repos/{repo}/pulls/{number}"
        )
        pull["head"].update(ref=head_ref, sha=head_sha, label=f"{repo.split('/')[0]}:{head_ref}")
        pull["base"].update(ref=base_ref or default_branch)
        for side in ("head", "base"):
            pull[side]["repo"] = payload["repository"]
        if title is not None:
            pull["title"] = title
        if event == "pull_request":
            payload["number"] = number
            if text is not None:
                pull["body"] = text
            if state is not None:
                pull["state"] = state
            if merged is not None:
                pull["merged"] = merged
            if name.endswith(".synchronize"):
                payload.update(before=before or ZERO_SHA, after=head_sha)
        elif event == "pull_request_review":
            review = payload["review"]
            review.update(id=next(_ids), body=text, state=state or review["state"], commit_id=head_sha)
            review["user"] = {**review["user"], **_user(sender, base_url)}
        else:
            comment = payload["comment"]
            comment.update(
                id=next(_ids),
                body=text or "",
                path=path or comment["path"],
                line=line,
                commit_id=head_sha,
                original_commit_id=head_sha,
            )
            comment["user"] = {**comment["user"], **_user(sender, base_url)}
    elif event in ("check_run", "check_suite", "workflow_run"):
        run = payload[event]
        run.update(
            head_sha=head_sha,
            conclusion=conclusion,
            status="completed",
            pull_requests=pulls if number is not None else [],
        )
        if event == "check_run":
            run.update(id=next(_ids), name=check_name or run["name"])
            run["check_suite"].update(head_sha=head_sha, head_branch=head_ref, conclusion=conclusion)
        else:
            run.update(head_branch=head_ref)
            if event == "workflow_run" and check_name is not None:
                run["name"] = check_name
    elif event == "push":
        payload.update(
            ref=f"refs/heads/{head_ref}",
            before=before or ZERO_SHA,
            after=head_sha or ZERO_SHA,
            created=before in (None, ZERO_SHA),
            deleted=head_sha in (None, ZERO_SHA),
            forced=False,
            compare=f"{base_url}/{repo}/compare/{(before or ZERO_SHA)[:12]}...{(head_sha or ZERO_SHA)[:12]}",
            commits=commits or [],
            head_commit=(commits or [None])[-1],
        )
        payload["pusher"] = {"name": sender, "email": f"{sender}@users.noreply.localhost"}
    return payload


def gitlab_payload(
    name: str,
    *,
    project: str,
    project_id: int,
    base_url: str,
    username: str,
    default_branch: str = "main",
    iid: int | None = None,
    title: str | None = None,
    text: str | None = None,
    sha: str | None = None,
    source_branch: str | None = None,
    target_branch: str | None = None,
    before: str | None = None,
    status: str | None = None,
    action: str | None = None,
    state: str | None = None,
) -> dict[str, Any]:
    """The GitLab example `name` ("note.issue", "note.merge_request", "merge_request", "pipeline",
    "push") with the fake's project, iids, shas and username."""
    payload = example("gitlab", name)
    project_json = {
        "id": project_id,
        "name": project.rsplit("/", 1)[-1],
        "path_with_namespace": project,
        "web_url": f"{base_url}/{project}",
        "git_http_url": f"{base_url}/{project}.git",
        "http_url": f"{base_url}/{project}.git",
        "default_branch": default_branch,
    }
    payload["project"] = {**payload.get("project", {}), **project_json}
    if "project_id" in payload:
        payload["project_id"] = project_id
    user = {"id": zlib.crc32(username.encode()) % 10**6, "username": username, "name": username}
    if "user" in payload:
        payload["user"] = {**payload["user"], **user}
    attrs = payload.get("object_attributes", {})
    if name.startswith("note."):
        attrs.update(id=next(_ids), note=text or "", project_id=project_id, author_id=user["id"], action="create")
        if name == "note.issue":
            payload["issue"].update(
                iid=iid, title=title or payload["issue"]["title"], project_id=project_id, state=state or "opened"
            )
            attrs.update(noteable_id=payload["issue"]["id"], url=f"{base_url}/{project}/-/issues/{iid}")
        else:
            mr = payload["merge_request"]
            mr.update(
                iid=iid,
                title=title or mr["title"],
                source_branch=source_branch,
                state=state or "opened",
                target_branch=target_branch or default_branch,
                source_project_id=project_id,
                target_project_id=project_id,
            )
            mr["last_commit"] = {**mr["last_commit"], "id": sha}
            attrs.update(noteable_id=mr["id"], url=f"{base_url}/{project}/-/merge_requests/{iid}")
    elif name == "merge_request":
        attrs.update(
            iid=iid,
            title=title or attrs["title"],
            source_branch=source_branch,
            state=state or "opened",
            target_branch=target_branch or default_branch,
            source_project_id=project_id,
            target_project_id=project_id,
            action=action or "open",
            url=f"{base_url}/{project}/-/merge_requests/{iid}",
            description=text or "",
        )
        attrs["last_commit"] = {**attrs["last_commit"], "id": sha}
        attrs["source"] = attrs["target"] = {**attrs["target"], **project_json}
        if before is not None:  # GitLab sends `oldrev` only when new code was pushed
            attrs["oldrev"] = before
    elif name == "pipeline":
        attrs.update(
            id=next(_ids),
            ref=source_branch,
            sha=sha,
            before_sha=before or sha,
            status=status,
            source="merge_request_event" if iid is not None else "push",
        )
        payload["commit"] = {**payload["commit"], "id": sha}
        if iid is not None:
            payload["merge_request"].update(
                iid=iid,
                source_branch=source_branch,
                target_branch=target_branch or default_branch,
                source_project_id=project_id,
                target_project_id=project_id,
            )
        else:
            payload["merge_request"] = None
        for build in payload.get("builds", []):  # the example's failed build stands for ours when failed
            if status == "success" and build["status"] == "failed":
                build.update(status="success", failure_reason=None)
    elif name == "push":
        payload.update(
            ref=f"refs/heads/{source_branch}",
            before=before or ZERO_SHA,
            after=sha or ZERO_SHA,
            checkout_sha=sha,
            user_id=user["id"],
            user_name=username,
            user_username=username,
            commits=[],
            total_commits_count=0,
        )
    return payload
