"""A loopback GitHub: the REST and GraphQL endpoints Honk's GitHub forge uses, and a git remote.

Point `GitHubForge` at `fake.url` as its API URL. Repos are `RemoteRepo`s registered with
`add_repo`; their bare repos are served over git's smart HTTP at `<url>/<owner>/<name>.git`
(what the repo's `clone_url` says), so pushes are real and need a token. Pull requests live in
memory; their head is read from the bare repo, so pushing moves it as on GitHub, and merging
really merges in the bare repo. Branch protection is a set of knobs: `require_checks`,
`set_check`, `require_approvals`, `approve`; `close` closes a pull request as a person would.

Auth as GitHub does it: `Authorization: token <t>` (or Bearer) with a token from `tokens` or one
the fake minted for a GitHub App installation; apps (`add_app`) sign RS256 JWTs that the fake
verifies with the app's public key before minting an installation token.
"""

from __future__ import annotations

import secrets
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


class FakeGitHub(LoopbackServer):
    def __init__(self, tokens: tuple[str, ...] = (), host: str = "127.0.0.1", port: int | None = None) -> None:
        self.tokens: set[str] = set(tokens)
        self.log = CallLog()
        self.repos: dict[str, FakeRepo] = {}
        self.apps: dict[int, FakeApp] = {}
        self.minted: dict[str, int] = {}  # installation token -> installation id
        self._lock = threading.RLock()
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
