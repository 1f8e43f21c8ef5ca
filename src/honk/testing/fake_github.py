"""A loopback GitHub: the REST and GraphQL endpoints Honk's GitHub forge uses, and a git remote.

Point `GitHubForge` at `fake.url` as its API URL. Repos are `RemoteRepo`s registered with
`add_repo`; their bare repos are served over git's smart HTTP at `<url>/<owner>/<name>.git`
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
"""

from __future__ import annotations

import itertools
import secrets
import subprocess
import threading
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
from honk.testing.forge_http import CallLog, ForgeCall, GitHttp, branch_head, conflicts, merge_in_bare, record
from honk.testing.gitrepo import RemoteRepo

CheckState = Literal["pending", "success", "failure"]
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
class FakeRepo:
    owner: str
    name: str
    remote: RemoteRepo
    required_checks: dict[str, CheckState] = field(default_factory=dict)
    required_approvals: int = 0
    pulls: dict[int, FakePull] = field(default_factory=dict)
    # What CI and deploy systems posted about commits, oldest first (GitHub's JSON shapes).
    statuses: list[dict[str, Any]] = field(default_factory=list)
    check_runs: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    deployment_statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def bare(self) -> Path:
        return self.remote.bare


@dataclass
class FakeApp:
    app_id: int
    public_key_pem: bytes
    installation_id: int


def commit_of(bare: Path, ref: str) -> str | None:
    """The commit a sha or branch names in the bare repo, or None (never an option: refs are checked)."""
    if not ref or ref.startswith("-"):
        return None
    out = subprocess.run(
        ["git", f"--git-dir={bare}", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or None


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
        repo = "/repos/{owner}/{name}"
        super().__init__(
            Starlette(
                routes=[
                    Route("/app/installations/{installation:int}/access_tokens", self._access_token, methods=["POST"]),
                    Route(repo, self._repo, methods=["GET"]),
                    Route(repo + "/pulls", self._pulls, methods=["GET", "POST"]),
                    Route(repo + "/pulls/{number:int}", self._pull, methods=["GET", "PATCH"]),
                    Route(repo + "/pulls/{number:int}/merge", self._merge, methods=["PUT"]),
                    Route(repo + "/statuses/{sha}", self._post_status, methods=["POST"]),
                    Route(repo + "/commits/{ref}/status", self._combined_status, methods=["GET"]),
                    Route(repo + "/commits/{ref}/check-runs", self._check_runs_of, methods=["GET"]),
                    Route(repo + "/check-runs", self._create_check_run, methods=["POST"]),
                    Route(repo + "/check-runs/{id:int}", self._update_check_run, methods=["PATCH"]),
                    Route(repo + "/deployments", self._deployments, methods=["GET", "POST"]),
                    Route(repo + "/deployments/{id:int}/statuses", self._deployment_statuses, methods=["GET", "POST"]),
                    Route("/graphql", self._graphql, methods=["POST"]),
                    Route("/{repo:path}.git/{rest:path}", self.git.handle, methods=["GET", "POST"]),
                ]
            ),
            host,
            port,
        )

    # -- set-up and knobs ------------------------------------------------------------------
    def add_repo(self, full_name: str, remote: RemoteRepo) -> FakeRepo:
        owner, name = full_name.split("/")
        repo = FakeRepo(owner, name, remote)
        self.repos[full_name] = repo
        self.git.repos[full_name] = remote.bare
        return repo

    def reset(self) -> None:
        """Forget calls, repos, apps and minted tokens; the server and `tokens` stay."""
        with self._lock:
            self.log.clear()
            self.repos.clear()
            self.git.repos.clear()
            self.apps.clear()
            self.minted.clear()

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

    def close(self, full_name: str, number: int) -> None:
        """Closes the pull request as a person on GitHub would."""
        with self._lock:
            pull = self.repos[full_name].pulls[number]
            pull.state, pull.updated_at = "closed", _now()

    def pull(self, full_name: str, number: int) -> FakePull:
        with self._lock:
            return self.repos[full_name].pulls[number]

    @property
    def calls(self) -> list[ForgeCall]:
        return self.log.snapshot()

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
            return self._answer(call, self._create(repo, call.body or {}))

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
        number = len(repo.pulls) + 1  # numbered per repo, as on GitHub (issues aside)
        pull = FakePull(
            number=number,
            node_id=f"PR_kw{number:08d}",
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
                body = call.body or {}
                pull.title = str(body.get("title", pull.title))
                pull.body = str(body.get("body", pull.body))
                pull.base = str(body.get("base", pull.base))
                if body.get("state") in ("open", "closed") and not pull.merged:
                    pull.state = body["state"]
                pull.updated_at = _now()
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
            return self._answer(call, self._do_merge(repo, pull, call.body or {}))

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
            problem = _apply_check_run(run, body)
            if problem:
                return self._answer(call, _error(422, problem))
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
            "type": "User",
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
