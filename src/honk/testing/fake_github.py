"""A loopback GitHub: the REST and GraphQL endpoints Honk's GitHub forge uses, and a git remote.

Point `GitHubForge` at `fake.url` as its API URL. Repos are bare remotes (`RemoteRepo`, a fleet's
repo) registered with `add_repo` (`archived=True`: read-only, as GitHub keeps an archived repo); their bare repos are served over git's smart HTTP at `<url>/<owner>/<name>.git`
(what the repo's `clone_url` says), so pushes are real and need a token. Pull requests live in
memory; their head is read from the bare repo, so pushing moves it as on GitHub, and merging
really merges in the bare repo. Branch protection is a set of knobs: `require_checks`,
`set_check`, `require_approvals`, `approve`; `close` closes a pull request as a person would.

What CI and deploy systems tell GitHub about a commit is set as they set it, through the API: commit
statuses (`POST /repos/{o}/{r}/statuses/{sha}`), check runs (`POST …/check-runs`, `PATCH
…/check-runs/{id}`), deployments and their statuses (`POST …/deployments`, `POST
…/deployments/{id}/statuses`); Honk reads them back from the combined status, the commit's check runs
and the deployments list, as on GitHub.

Auth as GitHub does it: `Authorization: token <t>` (or Bearer) with a token from `tokens` or one
the fake minted for a GitHub App installation; apps (`add_app`) sign RS256 JWTs that the fake
verifies with the app's public key before minting an installation token.

Webhooks as GitHub sends them: `add_hook(repo, url, secret)`, and from then on the fake's own state changes
are POSTed, signed, by `webhooks` (a `honk.testing.webhooks.WebhookSender`: hold, reorder, redeliver,
drain): pull requests opened/closed, comments (`comment`, or `POST …/issues/{n}/comments`), reviews
(`review`, or `POST …/pulls/{n}/reviews`), completed check runs and then their check suite, and pushes
(through the fake's git remote, or `notice_pushes` after pushing to the bare repo directly).
"""

from __future__ import annotations

import itertools
import secrets
import subprocess
import threading
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from honk.demo.loopback import LoopbackServer
from honk.testing.forge_http import (
    CallLog,
    ForgeCall,
    GitHttp,
    auth_of,
    branch_head,
    branch_heads,
    commit_of,
    conflicts,
    diff_lines,
    merge_in_bare,
    page_of,
    record,
)
from honk.testing.gitrepo import BareRemote
from honk.testing.webhooks import ZERO_SHA, WebhookSender, github_delivery, github_payload

CheckState = Literal["pending", "success", "failure"]
ARCHIVED = "This repository was archived so it is read-only."
STATUS_STATES = ("error", "failure", "pending", "success")
DEPLOYMENT_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
CHECK_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out")


@dataclass
class FakePull:
    number: int
    node_id: str
    title: str
    body: str
    head: str
    base: str
    draft: bool
    state: Literal["open", "closed"] = "open"
    merged: bool = False
    merge_commit_sha: str | None = None
    approvals: int = 0
    created_at: str = field(default_factory=lambda: _now())
    updated_at: str = field(default_factory=lambda: _now())


@dataclass
class FakeHook:
    """A repository webhook: where GitHub POSTs, the secret it signs with, the events it sends ("*": all)."""

    url: str
    secret: str | None
    events: tuple[str, ...] = ("*",)
    id: int = 1


@dataclass
class FakeIssue:
    number: int
    title: str
    body: str
    user: str
    state: Literal["open", "closed"] = "open"


@dataclass
class FakeRepo:
    owner: str
    name: str
    remote: BareRemote
    required_checks: dict[str, CheckState] = field(default_factory=dict)
    required_approvals: int = 0
    pulls: dict[int, FakePull] = field(default_factory=dict)
    # What CI and deploy systems posted about commits, oldest first (GitHub's JSON shapes).
    statuses: list[dict[str, Any]] = field(default_factory=list)
    check_runs: list[dict[str, Any]] = field(default_factory=list)
    # Webhooks: the hook registered for the repo, and the branch heads it last told about (pushes are
    # noticed by comparing them with the bare repo's).
    hook: FakeHook | None = None
    heads: dict[str, str] = field(default_factory=dict)
    # Issues (numbered with the pull requests, as on GitHub) and the comments on either, by number.
    issues: dict[int, FakeIssue] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    deployment_statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # The conversation (issue 19, part A): review line comments by pull request (replies among them,
    # with `in_reply_to_id`), the first comments of resolved threads, who may do what, Actions jobs.
    review_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    resolved: set[int] = field(default_factory=set)
    permissions: dict[str, str] = field(default_factory=dict)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    archived: bool = False  # read-only: pushes and every write through the API are refused, as on GitHub

    @property
    def bare(self) -> Path:
        return self.remote.bare


@dataclass
class FakeApp:
    app_id: int
    public_key_pem: bytes
    installation_id: int


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"message": message, "documentation_url": "https://docs.github.com/rest", **extra}, status_code=status
    )


def _apply_check_run(run: dict[str, Any], body: dict[str, Any]) -> str | None:
    """Applies a create or update of a check run as GitHub does; the problem GitHub would answer, if any."""
    status, conclusion = body.get("status", run["status"]), body.get("conclusion", run["conclusion"])
    if conclusion is not None:  # GitHub completes a run given a conclusion
        status = "completed"
    if status not in CHECK_STATUSES or (conclusion is not None and conclusion not in CONCLUSIONS):
        return "Invalid request. status or conclusion is not a known value."
    if status == "completed" and conclusion is None:
        return "Invalid request. conclusion is required when status is completed."
    run.update(status=status, conclusion=conclusion, details_url=body.get("details_url", run["details_url"]))
    if status == "completed":
        run["completed_at"] = _now()
    output = body.get("output")
    if isinstance(output, dict):
        run["output"].update({k: output.get(k) for k in ("title", "summary", "text") if k in output})
    return None


class FakeGitHub(LoopbackServer):
    def __init__(self, tokens: tuple[str, ...] = (), host: str = "127.0.0.1", port: int | None = None) -> None:
        self.tokens: set[str] = set(tokens)
        self.log = CallLog()
        self.repos: dict[str, FakeRepo] = {}
        self.apps: dict[int, FakeApp] = {}
        self.minted: dict[str, int] = {}  # installation token -> installation id
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self.git = GitHttp(self.log, lambda user, password: password in self.tokens or password in self.minted)
        # Who a token acts as, for the `sender` of the webhooks its calls cause; an installation token
        # (and any token not named here) acts as the app's bot.
        self.logins: dict[str, str] = {}
        self.bot_login = "honk[bot]"
        self._sender: WebhookSender | None = None
        repo = "/repos/{owner}/{name}"
        super().__init__(
            Starlette(
                routes=[
                    Route("/app/installations/{installation:int}/access_tokens", self._access_token, methods=["POST"]),
                    Route(repo, self._repo, methods=["GET"]),
                    Route(repo + "/pulls", self._pulls, methods=["GET", "POST"]),
                    Route(repo + "/pulls/{number:int}", self._pull, methods=["GET", "PATCH"]),
                    Route(repo + "/pulls/{number:int}/merge", self._merge, methods=["PUT"]),
                    Route(repo + "/pulls/{number:int}/reviews", self._reviews, methods=["GET", "POST"]),
                    Route(repo + "/issues/{number:int}/comments", self._comments, methods=["GET", "POST"]),
                    Route(repo + "/statuses/{sha}", self._post_status, methods=["POST"]),
                    Route(repo + "/commits/{ref:path}/status", self._combined_status, methods=["GET"]),
                    Route(repo + "/commits/{ref:path}/check-runs", self._check_runs_of, methods=["GET"]),
                    Route(repo + "/check-runs", self._create_check_run, methods=["POST"]),
                    Route(repo + "/check-runs/{id:int}", self._update_check_run, methods=["PATCH"]),
                    Route(repo + "/deployments", self._deployments, methods=["GET", "POST"]),
                    Route(repo + "/deployments/{id:int}/statuses", self._deployment_statuses, methods=["GET", "POST"]),
                    Route(repo + "/issues/{number:int}", self._issue, methods=["GET"]),
                    Route(repo + "/pulls/comments/{id:int}", self._review_comment, methods=["GET"]),
                    Route(repo + "/pulls/{number:int}/comments", self._pull_comments, methods=["GET"]),
                    Route(repo + "/pulls/{number:int}/comments/{id:int}/replies", self._reply, methods=["POST"]),
                    Route(
                        repo + "/pulls/{number:int}/reviews/{id:int}/comments",
                        self._review_comments_of,
                        methods=["GET"],
                    ),
                    Route(repo + "/collaborators/{login}/permission", self._permission, methods=["GET"]),
                    Route(repo + "/actions/runs/{id:int}/jobs", self._run_jobs, methods=["GET"]),
                    Route(repo + "/actions/jobs/{id:int}/logs", self._job_logs, methods=["GET"]),
                    Route("/_blobs/logs/{id:int}", self._log_blob, methods=["GET"]),
                    Route("/graphql", self._graphql, methods=["POST"]),
                    Route("/{repo:path}.git/{rest:path}", self._git, methods=["GET", "POST"]),
                ]
            ),
            host,
            port,
        )

    # -- set-up and knobs ------------------------------------------------------------------
    def add_repo(self, full_name: str, remote: BareRemote, archived: bool = False) -> FakeRepo:
        """Serves `remote` as `full_name`; `archived`: read-only, as an archived GitHub repo is (its API
        says `archived: true`, refuses writes with 403, and git refuses pushes)."""
        owner, name = full_name.split("/")
        repo = FakeRepo(owner, name, remote, archived=archived)
        self.repos[full_name] = repo
        self.git.repos[full_name] = remote.bare
        self.git.refuse_pushes(full_name, ARCHIVED if archived else None)
        return repo

    def reset(self) -> None:
        """Forget calls, repos, apps and minted tokens; the server and `tokens` stay."""
        with self._lock:
            self.log.clear()
            self.repos.clear()
            self.git.repos.clear()
            self.git.read_only.clear()
            self.apps.clear()
            self.minted.clear()

    def stop(self) -> None:
        super().stop()
        if self._sender is not None:
            self._sender.close()

    def add_app(self, app_id: int, public_key_pem: bytes, installation_id: int) -> None:
        self.apps[app_id] = FakeApp(app_id, public_key_pem, installation_id)

    def require_checks(self, full_name: str, *names: str) -> None:
        """Branch protection: these checks must succeed; they start pending."""
        with self._lock:
            self.repos[full_name].required_checks = {n: "pending" for n in names}

    def set_check(self, full_name: str, name: str, state: CheckState) -> None:
        with self._lock:
            self.repos[full_name].required_checks[name] = state

    def require_approvals(self, full_name: str, count: int) -> None:
        with self._lock:
            self.repos[full_name].required_approvals = count

    def approve(self, full_name: str, number: int) -> None:
        with self._lock:
            self.repos[full_name].pulls[number].approvals += 1

    def close(self, full_name: str, number: int, by: str = "octocat") -> None:
        """Closes the pull request as a person on GitHub would."""
        with self._lock:
            repo = self.repos[full_name]
            pull = repo.pulls[number]
            pull.state, pull.updated_at = "closed", _now()
            self._pull_event(repo, pull, "closed", by)

    def archive(self, full_name: str, archived: bool = True) -> None:
        """Archives (or, False, unarchives) the repo as its owner would on the forge."""
        with self._lock:
            self.repos[full_name].archived = archived
            self.git.refuse_pushes(full_name, ARCHIVED if archived else None)

    def pull(self, full_name: str, number: int) -> FakePull:
        with self._lock:
            return self.repos[full_name].pulls[number]

    @property
    def calls(self) -> list[ForgeCall]:
        return self.log.snapshot()

    # -- webhooks: what the fake sends when its state changes ----------------------------------
    @property
    def webhooks(self) -> WebhookSender:
        """The sender of every delivery (started with the first hook): hold, reorder, redeliver, drain."""
        with self._lock:
            if self._sender is None:
                self._sender = WebhookSender()
            return self._sender

    def add_hook(self, full_name: str, url: str, secret: str | None, events: tuple[str, ...] = ("*",)) -> FakeHook:
        """Registers the repo's webhook; from now on its state changes are POSTed to `url`, signed."""
        with self._lock:
            repo = self.repos[full_name]
            repo.hook = FakeHook(url, secret, events, id=zlib.crc32(full_name.encode()))  # the repo's, however many
            repo.heads = branch_heads(repo.bare)
            self.webhooks  # noqa: B018 - starts the sender now, not inside the first API call
            return repo.hook

    def open_issue(self, full_name: str, title: str, body: str = "", by: str = "octocat") -> int:
        """Opens an issue as a person would (no webhook: Honk listens to comments, not to issues)."""
        with self._lock:
            repo = self.repos[full_name]
            number = len(repo.pulls) + len(repo.issues) + 1
            repo.issues[number] = FakeIssue(number, title, body, by)
            return number

    def comment(self, full_name: str, number: int, body: str, by: str = "octocat") -> dict[str, Any]:
        """A person comments on an issue or a pull request's conversation: an `issue_comment` delivery."""
        with self._lock:
            return self._add_comment(self.repos[full_name], number, body, by)

    def review(
        self,
        full_name: str,
        number: int,
        body: str = "",
        state: str = "commented",
        comments: tuple[tuple[str, int, str], ...] = (),
        by: str = "octocat",
    ) -> dict[str, Any]:
        """A person submits a review (`state`: commented, approved, changes_requested) with line comments
        (path, line, text): a `pull_request_review_comment` delivery for each, then `pull_request_review`."""
        with self._lock:
            return self._add_review(
                self.repos[full_name], self.repos[full_name].pulls[number], body, state, comments, by
            )

    def notice_pushes(self, full_name: str, by: str = "octocat") -> list[str]:
        """Sends `push` (and `pull_request.synchronize` for open pull requests on the branch) for every
        branch whose head moved since the hook last told; the branches. Pushes through the fake's git
        remote are noticed by themselves; call this after pushing to the bare repo directly."""
        with self._lock:
            repo = self.repos[full_name]
            now = branch_heads(repo.bare)
            moved = sorted(b for b in now.keys() | repo.heads.keys() if now.get(b) != repo.heads.get(b))
            for branch in moved:
                before, after = repo.heads.get(branch, ZERO_SHA), now.get(branch, ZERO_SHA)
                self._emit(
                    repo,
                    "push",
                    "push",
                    by,
                    head_ref=branch,
                    head_sha=after,
                    before=before,
                    commits=self._commits(repo, before, after),
                )
                for pull in repo.pulls.values():
                    if pull.head == branch and pull.state == "open" and after != ZERO_SHA:
                        self._pull_event(repo, pull, "synchronize", by, before=before)
            repo.heads = now
            return moved

    def _login(self, call: ForgeCall) -> str:
        return self.logins.get(call.credential or "", self.bot_login)

    def _emit(
        self, repo: FakeRepo, event: str, name: str, by: str, ids: dict[str, int] | None = None, **facts: Any
    ) -> None:
        """`ids`: the fake's own ids of what the payload carries ({"comment": 7}), so that a receiver
        can ask the API about what it was told of."""
        hook = repo.hook
        if hook is None or not ("*" in hook.events or event in hook.events):
            return
        payload = github_payload(
            name,
            repo=f"{repo.owner}/{repo.name}",
            base_url=self.url,
            sender=by,
            default_branch=repo.remote.branch,
            **facts,
        )
        for key, value in (ids or {}).items():
            payload[key]["id"] = value
        self.webhooks.submit(github_delivery(hook.url, hook.secret, event, payload, hook_id=hook.id))

    def _pull_event(self, repo: FakeRepo, pull: FakePull, action: str, by: str, before: str | None = None) -> None:
        self._emit(
            repo,
            "pull_request",
            f"pull_request.{action}",
            by,
            number=pull.number,
            title=pull.title,
            text=pull.body,
            head_ref=pull.head,
            head_sha=branch_head(repo.bare, pull.head),
            base_ref=pull.base,
            state=pull.state,
            merged=pull.merged,
            before=before,
        )

    def _add_comment(self, repo: FakeRepo, number: int, body: str, by: str) -> dict[str, Any]:
        pull, issue = repo.pulls.get(number), repo.issues.get(number)
        if pull is None and issue is None:
            raise KeyError(number)
        comment = {
            "id": next(self._ids),
            "body": body,
            "user": self._user_json(by),
            "created_at": _now(),
            "updated_at": _now(),
            "html_url": f"{self.url}/{repo.owner}/{repo.name}/issues/{number}",
            "author_association": "NONE",
        }
        repo.comments.setdefault(number, []).append(comment)
        title = pull.title if pull is not None else issue.title if issue is not None else ""
        head = dict(head_ref=pull.head, head_sha=branch_head(repo.bare, pull.head)) if pull is not None else {}
        self._emit(
            repo,
            "issue_comment",
            "issue_comment.created",
            by,
            number=number,
            title=title,
            text=body,
            is_pull=pull is not None,
            ids={"comment": comment["id"]},
            **head,
        )
        return comment

    def _add_review(
        self,
        repo: FakeRepo,
        pull: FakePull,
        body: str,
        state: str,
        comments: tuple[tuple[str, int, str], ...],
        by: str,
        commit: str | None = None,
    ) -> dict[str, Any]:
        """`commit`: the one the review is of, as GitHub takes it from the request (default: the head)."""
        head_sha = commit or branch_head(repo.bare, pull.head)
        facts: dict[str, Any] = dict(
            number=pull.number, title=pull.title, head_ref=pull.head, head_sha=head_sha, base_ref=pull.base
        )
        review_id = next(self._ids)
        stored = [self._line_comment(repo, pull, review_id, path, line, text, by) for path, line, text in comments]
        for c in stored:
            self._emit(
                repo,
                "pull_request_review_comment",
                "pull_request_review_comment.created",
                by,
                ids={"comment": c["id"]},
                text=c["body"],
                path=c["path"],
                line=c["line"],
                **facts,
            )
        if state == "approved":
            pull.approvals += 1
        review = {
            "id": review_id,
            "html_url": f"{self.url}/{repo.owner}/{repo.name}/pull/{pull.number}#pullrequestreview-{review_id}",
            "body": body,
            "state": state.upper(),
            "commit_id": head_sha,
            "user": self._user_json(by),
            "submitted_at": _now(),
            "comments": stored,
        }
        repo.reviews.setdefault(pull.number, []).append(review)
        self._emit(
            repo,
            "pull_request_review",
            "pull_request_review.submitted",
            by,
            ids={"review": review_id},
            text=body or None,
            state=state,
            **facts,
        )
        return review

    def _check_completed(self, repo: FakeRepo, run: dict[str, Any], by: str) -> None:
        """A run completed: `check_run`; and `check_suite` once every run on its commit has completed."""
        sha = run["head_sha"]
        pulls = [p for p in repo.pulls.values() if p.state == "open" and branch_head(repo.bare, p.head) == sha]
        pull = pulls[0] if pulls else None
        facts: dict[str, Any] = dict(
            head_sha=sha,
            number=pull.number if pull else None,
            head_ref=pull.head if pull else None,
            base_ref=pull.base if pull else None,
        )
        self._emit(
            repo, "check_run", "check_run.completed", by, conclusion=run["conclusion"], check_name=run["name"], **facts
        )
        runs = [r for r in repo.check_runs if r["head_sha"] == sha]
        if runs and all(r["status"] == "completed" for r in runs):
            bad = {"failure", "timed_out", "cancelled", "action_required", "stale"}
            conclusion = next((r["conclusion"] for r in runs if r["conclusion"] in bad), "success")
            self._emit(repo, "check_suite", "check_suite.completed", by, conclusion=conclusion, **facts)

    def _commits(self, repo: FakeRepo, before: str, after: str) -> list[dict[str, Any]]:
        """The pushed commits as GitHub lists them (oldest first, at most 20)."""
        if after == ZERO_SHA:
            return []
        span = after if before == ZERO_SHA else f"{before}..{after}"
        out = subprocess.run(
            [
                "git",
                f"--git-dir={repo.bare}",
                "log",
                "-20",
                "--reverse",
                "--format=%H%x1f%an%x1f%ae%x1f%aI%x1f%B%x1e",
                span,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        commits = []
        for entry in filter(str.strip, out.stdout.split("\x1e")):
            sha, name, email, at, message = entry.strip("\n").split("\x1f", 4)
            commits.append(
                {
                    "id": sha,
                    "tree_id": "",
                    "distinct": True,
                    "message": message.strip(),
                    "timestamp": at,
                    "url": f"{self.url}/{repo.owner}/{repo.name}/commit/{sha}",
                    "author": {"name": name, "email": email},
                    "committer": {"name": name, "email": email},
                    "added": [],
                    "removed": [],
                    "modified": [],
                }
            )
        return commits

    async def _git(self, request: Request) -> Response:
        """Serves git; a push that went through (receive-pack) is then told to the repo's hook."""
        response = await self.git.handle(request)
        if request.method == "POST" and request.url.path.endswith("/git-receive-pack") and response.status_code == 200:
            full_name = request.path_params["repo"]
            _, password, _ = auth_of(request)  # the pusher is whoever the token (the Basic password) acts as
            if full_name in self.repos:
                self.notice_pushes(full_name, by=self.logins.get(password or "", self.bot_login))
        return response

    async def _comments(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        number = request.path_params["number"]
        with self._lock:
            if number not in repo.pulls and number not in repo.issues:
                return self._answer(call, _error(404, "Not Found"))
            if request.method == "GET":
                return self._answer(call, JSONResponse(page_of(request, repo.comments.get(number, []))))
            body = call.body if isinstance(call.body, dict) else {}
            if not isinstance(body.get("body"), str) or not body["body"]:
                return self._answer(
                    call, _error(422, "Validation Failed", errors=[{"field": "body", "code": "missing_field"}])
                )
            comment = self._add_comment(repo, number, body["body"], self._login(call))
        return self._answer(call, JSONResponse(comment, status_code=201))

    async def _reviews(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        with self._lock:
            pull = repo.pulls.get(request.path_params["number"])
            if pull is None:
                return self._answer(call, _error(404, "Not Found"))
            if request.method == "GET":
                return self._answer(call, JSONResponse(repo.reviews.get(pull.number, [])))
            body = call.body if isinstance(call.body, dict) else {}
            states = {"COMMENT": "commented", "APPROVE": "approved", "REQUEST_CHANGES": "changes_requested"}
            state = states.get(str(body.get("event", "COMMENT")))
            raw = body.get("comments") or []
            if state is None or not isinstance(raw, list):
                return self._answer(call, _error(422, "Unprocessable Entity", errors=["event is not valid"]))
            comments = tuple(
                (str(c.get("path", "")), int(c.get("line") or 0), str(c.get("body", "")))
                for c in raw
                if isinstance(c, dict)
            )
            diff = diff_lines(repo.bare, pull.base, pull.head)
            if any(line not in diff.get(path, ()) for path, line, _ in comments):
                return self._answer(
                    call,
                    _error(
                        422,
                        "Unprocessable Entity",
                        errors=["Pull request review thread line must be part of the diff"],
                    ),
                )
            commit = body.get("commit_id")
            review = self._add_review(
                repo,
                pull,
                str(body.get("body") or ""),
                state,
                comments,
                self._login(call),
                commit if isinstance(commit, str) and commit_of(repo.bare, commit) else None,
            )
        return self._answer(call, JSONResponse(review))

    # -- auth ------------------------------------------------------------------------------
    def _authorized(self, call: ForgeCall) -> bool:
        return call.auth in ("token", "bearer") and (call.credential in self.tokens or call.credential in self.minted)

    async def _access_token(self, request: Request) -> Response:
        call = await record(self.log, request)
        installation = request.path_params["installation"]
        app = next((a for a in self.apps.values() if a.installation_id == installation), None)
        if call.auth != "jwt" or app is None:
            return self._answer(call, _error(401, "A JSON web token could not be decoded"))
        try:
            claims = jwt.decode(
                call.credential or "",
                app.public_key_pem,
                algorithms=["RS256"],
                options={"require": ["iss", "iat", "exp"]},
            )
        except jwt.PyJWTError as e:
            return self._answer(call, _error(401, f"A JSON web token could not be decoded ({e})"))
        if str(claims["iss"]) != str(app.app_id):
            return self._answer(call, _error(401, "'Issuer' claim ('iss') must be an Integer"))
        token = "ghs_" + secrets.token_hex(18)
        self.minted[token] = installation
        expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return self._answer(
            call,
            JSONResponse(
                {
                    "token": token,
                    "expires_at": expires,
                    "permissions": {"contents": "write", "pull_requests": "write"},
                    "repository_selection": "all",
                },
                status_code=201,
            ),
        )

    def _answer(self, call: ForgeCall, response: Response) -> Response:
        call.status = response.status_code
        return response

    async def _begin(self, request: Request) -> tuple[ForgeCall, FakeRepo] | Response:
        """Records the call, checks its token and finds its repo; or the error GitHub would answer."""
        call = await record(self.log, request)
        if not self._authorized(call):
            return self._answer(call, _error(401, "Bad credentials"))
        repo = self.repos.get(f"{request.path_params['owner']}/{request.path_params['name']}")
        if repo is None:
            return self._answer(call, _error(404, "Not Found"))
        if repo.archived and request.method != "GET":
            return self._answer(call, _error(403, "Repository was archived so is read-only."))
        return call, repo

    # -- REST ------------------------------------------------------------------------------
    async def _repo(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        return self._answer(call, JSONResponse(self._repo_json(repo)))

    async def _pulls(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        with self._lock:
            if request.method == "GET":
                state, head = request.query_params.get("state", "open"), request.query_params.get("head")
                found = [
                    p
                    for p in repo.pulls.values()
                    if state in ("all", p.state) and (head is None or head == f"{repo.owner}:{p.head}")
                ]
                return self._answer(call, JSONResponse([self._pull_json(repo, p) for p in found]))
            response = self._create(repo, call.body or {})
            if response.status_code == 201:
                self._pull_event(repo, repo.pulls[max(repo.pulls)], "opened", self._login(call))
            return self._answer(call, response)

    def _create(self, repo: FakeRepo, body: dict[str, Any]) -> Response:
        head, base = str(body.get("head", "")), str(body.get("base", ""))
        if branch_head(repo.bare, head) is None or branch_head(repo.bare, base) is None:
            return _error(
                422, "Validation Failed", errors=[{"resource": "PullRequest", "field": "head", "code": "invalid"}]
            )
        if any(p.head == head and p.state == "open" for p in repo.pulls.values()):
            return _error(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {repo.owner}:{head}.",
                    }
                ],
            )
        number = len(repo.pulls) + len(repo.issues) + 1  # issues and pull requests share numbers, as on GitHub
        pull = FakePull(
            number=number,
            # Unique across repos, as GitHub's global node ids are (two repos each have a pull request #1).
            node_id=f"PR_kw{repo.owner}_{repo.name}_{number:08d}",
            title=str(body.get("title", "")),
            body=str(body.get("body") or ""),
            head=head,
            base=base,
            draft=bool(body.get("draft")),
        )
        repo.pulls[number] = pull
        return JSONResponse(self._pull_json(repo, pull), status_code=201)

    async def _pull(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        with self._lock:
            pull = repo.pulls.get(request.path_params["number"])
            if pull is None:
                return self._answer(call, _error(404, "Not Found"))
            if request.method == "PATCH":
                was = pull.state
                body = call.body or {}
                pull.title = str(body.get("title", pull.title))
                pull.body = str(body.get("body", pull.body))
                pull.base = str(body.get("base", pull.base))
                if body.get("state") in ("open", "closed") and not pull.merged:
                    pull.state = body["state"]
                pull.updated_at = _now()
                if was == "open" and pull.state == "closed":
                    self._pull_event(repo, pull, "closed", self._login(call))
            return self._answer(call, JSONResponse(self._pull_json(repo, pull)))

    async def _merge(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        with self._lock:
            pull = repo.pulls.get(request.path_params["number"])
            if pull is None:
                return self._answer(call, _error(404, "Not Found"))
            response = self._do_merge(repo, pull, call.body or {})
            if response.status_code == 200:  # GitHub tells of the closed pull request and of the base's push
                self._pull_event(repo, pull, "closed", self._login(call))
                self.notice_pushes(f"{repo.owner}/{repo.name}", by=self._login(call))
            return self._answer(call, response)

    def _do_merge(self, repo: FakeRepo, pull: FakePull, body: dict[str, Any]) -> Response:
        """Refuses in the order and with the messages GitHub uses, else merges in the bare repo."""
        if pull.state != "open":
            return _error(405, "Pull Request is not mergeable")
        if pull.draft:
            return _error(405, "Pull Request is still a draft")
        if body.get("sha") and body["sha"] != branch_head(repo.bare, pull.head):
            return _error(409, "Head branch was modified. Review and try the merge again.")
        for name, state in repo.required_checks.items():
            if state != "success":
                verb = "is expected" if state == "pending" else "is failing"
                return _error(405, f'Required status check "{name}" {verb}.')
        if pull.approvals < repo.required_approvals:
            return _error(
                405, f"At least {repo.required_approvals} approving review is required by reviewers with write access."
            )
        method = body.get("merge_method", "merge")
        if method == "rebase":
            return _error(405, "Rebase merges are not allowed on this repository.")
        title = body.get("commit_title") or f"Merge pull request #{pull.number} from {repo.owner}/{pull.head}"
        message = title + (f"\n\n{body['commit_message']}" if body.get("commit_message") else "")
        sha = merge_in_bare(repo.bare, pull.base, pull.head, message, squash=method == "squash")
        if sha is None:
            return _error(405, "Pull Request is not mergeable")
        pull.state, pull.merged, pull.merge_commit_sha, pull.updated_at = "closed", True, sha, _now()
        return JSONResponse({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})

    # -- what CI and deploy systems say of a commit -----------------------------------------
    async def _post_status(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        body = call.body if isinstance(call.body, dict) else {}
        state = body.get("state")
        if state not in STATUS_STATES:
            return self._answer(call, _error(422, "Validation Failed", errors=[{"field": "state", "code": "invalid"}]))
        with self._lock:
            sha = commit_of(repo.bare, request.path_params["sha"])
            if sha is None:
                return self._answer(call, _error(422, f"No commit found for SHA: {request.path_params['sha']}"))
            status = {
                "id": next(self._ids),
                "node_id": f"SC_{len(repo.statuses)}",
                "sha": sha,
                "state": state,
                "context": str(body.get("context") or "default"),
                "description": body.get("description"),
                "target_url": body.get("target_url"),
                "avatar_url": None,
                "creator": self._user_json("ci[bot]"),
                "created_at": _now(),
                "updated_at": _now(),
            }
            repo.statuses.append(status)
        return self._answer(call, JSONResponse(status, status_code=201))

    async def _combined_status(self, request: Request) -> Response:
        """The newest status of each context, newest first; the combined state as GitHub works it out."""
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        with self._lock:
            sha = commit_of(repo.bare, request.path_params["ref"])
            if sha is None:
                return self._answer(call, _error(422, f"No commit found for SHA: {request.path_params['ref']}"))
            latest: dict[str, dict[str, Any]] = {}
            for status in reversed(repo.statuses):
                if status["sha"] == sha:
                    latest.setdefault(status["context"], status)
        states = {s["state"] for s in latest.values()}
        combined = "failure" if states & {"failure", "error"} else "success" if states == {"success"} else "pending"
        full = f"{repo.owner}/{repo.name}"
        return self._answer(
            call,
            JSONResponse(
                {
                    "state": combined,
                    "statuses": list(latest.values()),
                    "sha": sha,
                    "total_count": len(latest),
                    "repository": self._repo_json(repo),
                    "commit_url": f"{self.url}/repos/{full}/commits/{sha}",
                    "url": f"{self.url}/repos/{full}/commits/{sha}/status",
                }
            ),
        )

    async def _create_check_run(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        body = call.body if isinstance(call.body, dict) else {}
        with self._lock:
            sha = commit_of(repo.bare, str(body.get("head_sha", "")))
            if not body.get("name") or sha is None:
                return self._answer(call, _error(422, "Invalid request.", errors=["head_sha and name are required"]))
            run: dict[str, Any] = {
                "id": next(self._ids),
                "head_sha": sha,
                "name": str(body["name"]),
                "status": "queued",
                "conclusion": None,
                "details_url": None,
                "html_url": f"{self.url}/{repo.owner}/{repo.name}/runs/0",
                "output": {"title": None, "summary": None, "text": None, "annotations_count": 0},
                "started_at": _now(),
                "completed_at": None,
                "app": {"id": 1, "slug": "ci", "name": "CI"},
            }
            run["html_url"] = f"{self.url}/{repo.owner}/{repo.name}/runs/{run['id']}"
            problem = _apply_check_run(run, body)
            if problem:
                return self._answer(call, _error(422, problem))
            repo.check_runs.append(run)
            if run["status"] == "completed":
                self._check_completed(repo, run, self._login(call))
        return self._answer(call, JSONResponse(run, status_code=201))

    async def _update_check_run(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        body = call.body if isinstance(call.body, dict) else {}
        with self._lock:
            run = next((r for r in repo.check_runs if r["id"] == request.path_params["id"]), None)
            if run is None:
                return self._answer(call, _error(404, "Not Found"))
            was = run["status"]
            problem = _apply_check_run(run, body)
            if problem:
                return self._answer(call, _error(422, problem))
            if was != "completed" and run["status"] == "completed":
                self._check_completed(repo, run, self._login(call))
        return self._answer(call, JSONResponse(run))

    async def _check_runs_of(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        with self._lock:
            sha = commit_of(repo.bare, request.path_params["ref"])
            if sha is None:
                return self._answer(call, _error(422, f"No commit found for SHA: {request.path_params['ref']}"))
            name = request.query_params.get("check_name")
            runs = [r for r in reversed(repo.check_runs) if r["head_sha"] == sha and name in (None, r["name"])]
            if request.query_params.get("filter", "latest") == "latest":
                newest: dict[str, dict[str, Any]] = {}
                for r in runs:
                    newest.setdefault(r["name"], r)
                runs = list(newest.values())
        return self._answer(call, JSONResponse({"total_count": len(runs), "check_runs": runs}))

    async def _deployments(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        with self._lock:
            if request.method == "GET":
                q = request.query_params
                found = [
                    d
                    for d in reversed(repo.deployments)
                    if all(q.get(k) in (None, d[k]) for k in ("sha", "ref", "environment", "task"))
                ]
                per_page = min(int(q.get("per_page", "30")), 100)
                return self._answer(call, JSONResponse(found[:per_page]))
            body = call.body if isinstance(call.body, dict) else {}
            ref = str(body.get("ref", ""))
            sha = commit_of(repo.bare, ref)
            if sha is None:
                return self._answer(call, _error(422, f"No ref found for: {ref}"))
            deployment = {
                "id": next(self._ids),
                "node_id": f"DE_{len(repo.deployments)}",
                "sha": sha,
                "ref": ref,
                "task": str(body.get("task") or "deploy"),
                "environment": str(body.get("environment") or "production"),
                "original_environment": str(body.get("environment") or "production"),
                "description": body.get("description"),
                "payload": body.get("payload") or {},
                "creator": self._user_json("deployer[bot]"),
                "created_at": _now(),
                "updated_at": _now(),
                "production_environment": bool(body.get("production_environment", True)),
                "transient_environment": bool(body.get("transient_environment", False)),
            }
            full = f"{repo.owner}/{repo.name}"
            deployment["url"] = f"{self.url}/repos/{full}/deployments/{deployment['id']}"
            deployment["statuses_url"] = f"{deployment['url']}/statuses"
            deployment["repository_url"] = f"{self.url}/repos/{full}"
            repo.deployments.append(deployment)
            repo.deployment_statuses[deployment["id"]] = []
        return self._answer(call, JSONResponse(deployment, status_code=201))

    async def _deployment_statuses(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        with self._lock:
            listed = repo.deployment_statuses.get(request.path_params["id"])
            if listed is None:
                return self._answer(call, _error(404, "Not Found"))
            if request.method == "GET":
                per_page = min(int(request.query_params.get("per_page", "30")), 100)
                return self._answer(call, JSONResponse(list(reversed(listed))[:per_page]))
            body = call.body if isinstance(call.body, dict) else {}
            if body.get("state") not in DEPLOYMENT_STATES:
                return self._answer(
                    call, _error(422, "Validation Failed", errors=[{"field": "state", "code": "invalid"}])
                )
            status = {
                "id": next(self._ids),
                "node_id": f"DES_{len(listed)}",
                "state": body["state"],
                "description": body.get("description") or "",
                "environment": body.get("environment") or "",
                "environment_url": body.get("environment_url") or "",
                "log_url": body.get("log_url") or "",
                "target_url": body.get("target_url") or body.get("log_url") or "",
                "creator": self._user_json("deployer[bot]"),
                "created_at": _now(),
                "updated_at": _now(),
                "deployment_url": f"{self.url}/repos/{repo.owner}/{repo.name}/deployments/{request.path_params['id']}",
            }
            listed.append(status)
        return self._answer(call, JSONResponse(status, status_code=201))

    # -- GraphQL ---------------------------------------------------------------------------
    async def _graphql(self, request: Request) -> Response:
        call = await record(self.log, request)
        if not self._authorized(call):
            return self._answer(call, _error(401, "Bad credentials"))
        body = call.body or {}
        query, variables = str(body.get("query", "")), body.get("variables") or {}
        if "reviewThreads" in query or "resolveReviewThread" in query:
            return self._answer(call, JSONResponse(self._threads_graphql(query, variables)))
        if "markPullRequestReadyForReview" not in query:
            return self._answer(
                call, JSONResponse({"errors": [{"message": "The fake serves only markPullRequestReadyForReview"}]})
            )
        with self._lock:
            found = [p for r in self.repos.values() for p in r.pulls.values() if p.node_id == variables.get("id")]
            if not found:
                return self._answer(
                    call,
                    JSONResponse(
                        {
                            "data": {"markPullRequestReadyForReview": None},
                            "errors": [
                                {
                                    "type": "NOT_FOUND",
                                    "path": ["markPullRequestReadyForReview"],
                                    "message": f"Could not resolve to a node with the global id of '{variables.get('id')}'",
                                }
                            ],
                        }
                    ),
                )
            found[0].draft = False
        return self._answer(
            call,
            JSONResponse(
                {
                    "data": {
                        "markPullRequestReadyForReview": {"pullRequest": {"isDraft": False, "number": found[0].number}}
                    }
                }
            ),
        )

    # -- shapes ----------------------------------------------------------------------------
    def _user_json(self, login: str) -> dict[str, Any]:
        return {
            "login": login,
            "id": 1,
            "node_id": "U_1",
            "type": "Bot" if login.endswith("[bot]") else "User",
            "site_admin": False,
            "url": f"{self.url}/users/{login}",
            "html_url": f"{self.url}/{login}",
        }

    def _repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        full = f"{repo.owner}/{repo.name}"
        return {
            "id": abs(hash(full)) % 10**8,
            "node_id": f"R_{repo.name}",
            "name": repo.name,
            "full_name": full,
            "owner": self._user_json(repo.owner),
            "private": True,
            "fork": False,
            "html_url": f"{self.url}/{full}",
            "url": f"{self.url}/repos/{full}",
            "clone_url": f"{self.url}/{full}.git",
            "git_url": f"git://127.0.0.1/{full}.git",
            "ssh_url": f"git@127.0.0.1:{full}.git",
            "default_branch": repo.remote.branch,
            "archived": repo.archived,
        }

    def _pull_json(self, repo: FakeRepo, pull: FakePull) -> dict[str, Any]:
        full = f"{repo.owner}/{repo.name}"
        head_sha = branch_head(repo.bare, pull.head)
        mergeable = None if pull.state != "open" else not conflicts(repo.bare, pull.base, pull.head)
        return {
            "url": f"{self.url}/repos/{full}/pulls/{pull.number}",
            "id": 1000 + pull.number,
            "node_id": pull.node_id,
            "html_url": f"{self.url}/{full}/pull/{pull.number}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "body": pull.body,
            "user": self._user_json("honk[bot]"),
            "draft": pull.draft,
            "labels": [],
            "milestone": None,
            "created_at": pull.created_at,
            "updated_at": pull.updated_at,
            "closed_at": pull.updated_at if pull.state == "closed" else None,
            "merged_at": pull.updated_at if pull.merged else None,
            "merge_commit_sha": pull.merge_commit_sha,
            "head": {
                "label": f"{repo.owner}:{pull.head}",
                "ref": pull.head,
                "sha": head_sha,
                "user": self._user_json(repo.owner),
                "repo": self._repo_json(repo),
            },
            "base": {
                "label": f"{repo.owner}:{pull.base}",
                "ref": pull.base,
                "sha": branch_head(repo.bare, pull.base),
                "user": self._user_json(repo.owner),
                "repo": self._repo_json(repo),
            },
            "merged": pull.merged,
            "mergeable": mergeable,
            "author_association": "NONE",
            "auto_merge": None,
        }

    # -- the conversation (issue 19, part A): knobs, what tests assert on, and its endpoints ---------
    def set_permission(self, full_name: str, login: str, level: str) -> None:
        """`login`'s permission on the repo: "admin", "maintain", "write", "triage", "read" or "none"."""
        with self._lock:
            self.repos[full_name].permissions[login] = level

    def set_job(
        self,
        full_name: str,
        sha: str,
        name: str,
        conclusion: str,
        log: str = "",
        run_id: int | None = None,
        actions: bool = True,
    ) -> dict[str, Any]:
        """A CI job on `sha` ended with `conclusion`: its check run (whose completion sends `check_run`
        and `check_suite` as usual) and, for GitHub Actions (`actions`), the job of workflow run `run_id`
        (a new run when None) whose log is `log`. Another CI's check run keeps `log` as its output text."""
        with self._lock:
            repo = self.repos[full_name]
            commit = commit_of(repo.bare, sha)
            assert commit is not None, f"no commit {sha} in {full_name}"
            run: dict[str, Any] = {
                "id": next(self._ids),
                "head_sha": commit,
                "name": name,
                "status": "completed",
                "conclusion": conclusion,
                "details_url": None,
                "html_url": "",
                "output": {"title": None, "summary": None, "text": None if actions else log, "annotations_count": 0},
                "started_at": _now(),
                "completed_at": _now(),
                "app": {"id": 1, "slug": "github-actions" if actions else "ci", "name": "CI"},
                "check_suite": {"id": run_id or 0},
            }
            run["html_url"] = f"{self.url}/{repo.owner}/{repo.name}/runs/{run['id']}"
            if actions:
                run_id = run_id or next(self._ids)
                run["check_suite"] = {"id": run_id + 500_000}  # a suite is not the workflow run
                run["details_url"] = f"{self.url}/{repo.owner}/{repo.name}/actions/runs/{run_id}/job/{run['id']}"
                repo.jobs.append(
                    {
                        "id": run["id"],  # on GitHub, an Actions job's id is its check run's
                        "run_id": run_id,
                        "name": name,
                        "head_sha": commit,
                        "status": "completed",
                        "conclusion": conclusion,
                        "html_url": run["details_url"],
                        "log": log,
                    }
                )
            repo.check_runs.append(run)
            self._check_completed(repo, run, "github-actions[bot]")
            return run

    def fail_job(
        self, full_name: str, sha: str, name: str, log: str, run_id: int | None = None, actions: bool = True
    ) -> dict[str, Any]:
        return self.set_job(full_name, sha, name, "failure", log, run_id, actions)

    def comments(self, full_name: str, number: int) -> list[str]:
        """The texts of the issue's or pull request's conversation, oldest first."""
        with self._lock:
            return [c["body"] for c in self.repos[full_name].comments.get(number, [])]

    def line_comments(self, full_name: str, number: int) -> list[dict[str, Any]]:
        """Every review line comment of the pull request (replies too), oldest first."""
        with self._lock:
            return list(self.repos[full_name].review_comments.get(number, []))

    def replies(self, full_name: str, number: int, comment_id: int) -> list[str]:
        """The texts of the replies in the thread that comment `comment_id` opened."""
        with self._lock:
            return [
                c["body"]
                for c in self.repos[full_name].review_comments.get(number, [])
                if c["in_reply_to_id"] == comment_id
            ]

    def resolved(self, full_name: str) -> set[int]:
        """The first comments of the threads marked resolved."""
        with self._lock:
            return set(self.repos[full_name].resolved)

    def reviews(self, full_name: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.repos[full_name].reviews.get(number, []))

    def _line_comment(
        self,
        repo: FakeRepo,
        pull: FakePull,
        review_id: int | None,
        path: str,
        line: int | None,
        body: str,
        by: str,
        in_reply_to: int | None = None,
    ) -> dict[str, Any]:
        comment_id = next(self._ids)
        comment = {
            "id": comment_id,
            "node_id": f"PRRC_{comment_id}",
            "pull_request_review_id": review_id,
            "in_reply_to_id": in_reply_to,
            "path": path,
            "line": line,
            "original_line": line,
            "side": "RIGHT",
            "commit_id": branch_head(repo.bare, pull.head),
            "body": body,
            "user": self._user_json(by),
            "created_at": _now(),
            "updated_at": _now(),
            "html_url": f"{self.url}/{repo.owner}/{repo.name}/pull/{pull.number}#discussion_r{comment_id}",
        }
        repo.review_comments.setdefault(pull.number, []).append(comment)
        return comment

    async def _issue(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        number = request.path_params["number"]
        full = f"{repo.owner}/{repo.name}"
        with self._lock:
            pull, issue = repo.pulls.get(number), repo.issues.get(number)
            if pull is None and issue is None:
                return self._answer(call, _error(404, "Not Found"))
            answer: dict[str, Any] = {
                "number": number,
                "id": 2000 + number,
                "node_id": f"I_{number}",
                "title": pull.title if pull else issue.title if issue else "",
                "body": pull.body if pull else issue.body if issue else "",
                "user": self._user_json(self.bot_login if pull else issue.user if issue else ""),
                "state": pull.state if pull else issue.state if issue else "open",
                "comments": len(repo.comments.get(number, [])),
                "html_url": f"{self.url}/{full}/{'pull' if pull else 'issues'}/{number}",
                "url": f"{self.url}/repos/{full}/issues/{number}",
                "labels": [],
                "locked": False,
            }
            if pull is not None:
                answer["pull_request"] = {
                    "url": f"{self.url}/repos/{full}/pulls/{number}",
                    "html_url": answer["html_url"],
                    "merged_at": pull.updated_at if pull.merged else None,
                }
        return self._answer(call, JSONResponse(answer))

    async def _pull_comments(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        with self._lock:
            if request.path_params["number"] not in repo.pulls:
                return self._answer(call, _error(404, "Not Found"))
            found = repo.review_comments.get(request.path_params["number"], [])
            return self._answer(call, JSONResponse(page_of(request, found)))

    async def _review_comments_of(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        number, review_id = request.path_params["number"], request.path_params["id"]
        with self._lock:
            if not any(r["id"] == review_id for r in repo.reviews.get(number, [])):
                return self._answer(call, _error(404, "Not Found"))
            found = [c for c in repo.review_comments.get(number, []) if c["pull_request_review_id"] == review_id]
            return self._answer(call, JSONResponse(page_of(request, found)))

    async def _review_comment(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        with self._lock:
            found = [c for cs in repo.review_comments.values() for c in cs if c["id"] == request.path_params["id"]]
        return self._answer(call, JSONResponse(found[0]) if found else _error(404, "Not Found"))

    async def _reply(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        number, comment_id = request.path_params["number"], request.path_params["id"]
        body = call.body if isinstance(call.body, dict) else {}
        with self._lock:
            pull = repo.pulls.get(number)
            root = next((c for c in repo.review_comments.get(number, []) if c["id"] == comment_id), None)
            if pull is None or root is None:
                return self._answer(call, _error(404, "Not Found"))
            if root["in_reply_to_id"] is not None:
                return self._answer(
                    call, _error(422, "Validation Failed", errors=["replies to replies are not supported"])
                )
            if not isinstance(body.get("body"), str) or not body["body"]:
                return self._answer(call, _error(422, "Validation Failed", errors=[{"field": "body"}]))
            by = self._login(call)
            reply = self._line_comment(repo, pull, None, root["path"], root["line"], body["body"], by, comment_id)
        return self._answer(call, JSONResponse(reply, status_code=201))

    def _threads_graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """`pullRequest.reviewThreads` and `resolveReviewThread`: a thread per first comment (`PRRT_<id>`)."""
        with self._lock:
            if "resolveReviewThread" in query:
                thread = str(variables.get("id", ""))
                root = int(thread.removeprefix("PRRT_")) if thread.removeprefix("PRRT_").isdigit() else -1
                repo = next(
                    (
                        r
                        for r in self.repos.values()
                        for cs in r.review_comments.values()
                        for c in cs
                        if c["id"] == root
                    ),
                    None,
                )
                if repo is None:
                    return {
                        "data": {"resolveReviewThread": None},
                        "errors": [
                            {
                                "type": "NOT_FOUND",
                                "message": f"Could not resolve to a node with the global id of '{thread}'",
                            }
                        ],
                    }
                repo.resolved.add(root)
                return {"data": {"resolveReviewThread": {"thread": {"id": thread, "isResolved": True}}}}
            repo = self.repos.get(f"{variables.get('owner')}/{variables.get('name')}")
            number = variables.get("number")
            if repo is None or number not in repo.pulls:
                return {"data": {"repository": None}, "errors": [{"type": "NOT_FOUND", "message": "Could not resolve"}]}
            roots = [c for c in repo.review_comments.get(number, []) if c["in_reply_to_id"] is None]
            nodes = [
                {
                    "id": f"PRRT_{c['id']}",
                    "isResolved": c["id"] in repo.resolved,
                    "comments": {"nodes": [{"databaseId": c["id"]}]},
                }
                for c in roots
            ]
            page = {"nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": None}}
            return {"data": {"repository": {"pullRequest": {"reviewThreads": page}}}}

    async def _permission(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        login = request.path_params["login"]
        with self._lock:
            level = "admin" if login == repo.owner else repo.permissions.get(login)
        if level is None:  # GitHub: not a collaborator, or no such user
            return self._answer(call, _error(404, "Not Found"))
        # GitHub's `permission` keeps the old four words; `role_name` says the finer role.
        legacy = {"maintain": "write", "triage": "read"}.get(level, level)
        return self._answer(
            call, JSONResponse({"permission": legacy, "role_name": level, "user": self._user_json(login)})
        )

    async def _run_jobs(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        with self._lock:
            jobs = [
                {k: v for k, v in j.items() if k != "log"}
                for j in repo.jobs
                if j["run_id"] == request.path_params["id"]
            ]
        if not jobs:
            return self._answer(call, _error(404, "Not Found"))
        return self._answer(call, JSONResponse({"total_count": len(jobs), "jobs": jobs}))

    async def _job_logs(self, request: Request) -> Response:
        """As GitHub: a redirect to a short-lived URL of the log's text (here on the fake, unsigned)."""
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, repo = begun
        with self._lock:
            found = any(j["id"] == request.path_params["id"] for j in repo.jobs)
        if not found:
            return self._answer(call, _error(404, "Not Found"))
        location = f"{self.url}/_blobs/logs/{request.path_params['id']}?sv=2021&sig=fake"
        return self._answer(call, Response(status_code=302, headers={"location": location}))

    async def _log_blob(self, request: Request) -> Response:
        with self._lock:
            log = next(
                (j["log"] for r in self.repos.values() for j in r.jobs if j["id"] == request.path_params["id"]), None
            )
        if log is None:
            return Response("BlobNotFound", status_code=404)
        return Response(log, media_type="text/plain")
