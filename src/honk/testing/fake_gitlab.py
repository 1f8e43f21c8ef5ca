"""A loopback GitLab: the REST v4 endpoints Honk's GitLab forge uses, and a git remote.

Point `GitLabForge` at `fake.url`. Projects are bare remotes (`RemoteRepo`, a fleet's repo) registered
with `add_project` (`archived=True`: read-only, as GitLab keeps an archived project)
("group/name"; reachable by that path or by their numeric id); their bare repos are served over
git's smart HTTP at `<url>/<group>/<name>.git` (the project's `http_url_to_repo`). Merge requests
live in memory; their head is read from the bare repo and merging really merges there.

Knobs: `require_pipeline` with `set_pipeline` ("running", "success", "failed"), `require_approvals`
with `approve`, and `close`. Like GitLab, a refused merge answers 405 (closed or draft), 422
"Branch cannot be merged" or 409 (the sha moved), and the reason is in the merge request's
`detailed_merge_status`. Auth is the `PRIVATE-TOKEN` header; git takes the token as a password.

What CI and deploy systems tell GitLab about a commit is set as they set it, through the API: commit
statuses (`POST /projects/:id/statuses/:sha`, read back from `…/repository/commits/:sha/statuses`),
environments (`POST /projects/:id/environments`, with their `external_url`) and deployments (`POST
/projects/:id/deployments`, `PUT …/deployments/:id` to change their status).

Webhooks as GitLab sends them: `add_hook(path, url, token)`, and from then on Merge Request, Note
(`note`, or `POST …/merge_requests/:iid/notes` and `…/issues/:iid/notes`), Pipeline (`set_pipeline`) and
Push hooks (through the fake's git remote, or `notice_pushes`) are POSTed by `webhooks`.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

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
from honk.testing.webhooks import ZERO_SHA, WebhookSender, gitlab_delivery, gitlab_payload

Pipeline = Literal["none", "running", "success", "failed"]
COMMIT_STATUSES = ("pending", "running", "success", "failed", "canceled", "skipped")
DEPLOYMENT_STATUSES = ("created", "running", "success", "failed", "canceled", "blocked")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class FakeMergeRequest:
    id: int
    iid: int
    title: str
    description: str
    source_branch: str
    target_branch: str
    state: Literal["opened", "closed", "merged"] = "opened"
    merge_commit_sha: str | None = None
    squash_commit_sha: str | None = None
    approvals: int = 0
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)

    @property
    def draft(self) -> bool:
        return self.title.lower().startswith(("draft:", "[draft]", "(draft)"))


@dataclass
class FakeHook:
    """A project webhook: where GitLab POSTs and the secret token it sends in `X-Gitlab-Token`."""

    url: str
    token: str | None
    events: tuple[str, ...] = ("*",)  # X-Gitlab-Event names ("Note Hook", …); "*": all


@dataclass
class FakeProject:
    id: int
    path: str
    remote: BareRemote
    pipeline_required: bool = False
    pipeline: Pipeline = "none"
    approvals_required: int = 0
    merge_requests: dict[int, FakeMergeRequest] = field(default_factory=dict)
    # What CI and deploy systems posted about commits, oldest first (GitLab's JSON shapes).
    statuses: list[dict[str, Any]] = field(default_factory=list)
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Webhooks: the project's hook and the branch heads it last told about; issues and notes by iid.
    hook: FakeHook | None = None
    heads: dict[str, str] = field(default_factory=dict)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    # The conversation (issue 19, part A): a merge request's discussions (diff notes among them), who
    # is a member at which access level, pipelines and their jobs (with their traces).
    discussions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    members: dict[str, int] = field(default_factory=dict)
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    archived: bool = False  # read-only: pushes and every write through the API are refused, as on GitLab

    @property
    def bare(self) -> Path:
        return self.remote.bare


ARCHIVED = "You are not allowed to push code to this project: it is archived."


def _message(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


class FakeGitLab(LoopbackServer):
    def __init__(self, tokens: tuple[str, ...] = (), host: str = "127.0.0.1", port: int | None = None) -> None:
        self.tokens: set[str] = set(tokens)
        self.log = CallLog()
        self.projects: dict[str, FakeProject] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self.git = GitHttp(self.log, lambda user, password: bool(user) and password in self.tokens)
        self.usernames: dict[str, str] = {}  # who a token acts as, in webhooks; otherwise `bot_username`
        self.bot_username = "honk-bot"
        self._sender: WebhookSender | None = None
        base = "/api/v4/projects/{project:path}"
        # The most specific routes first: `{project:path}` would also swallow "…/merge_requests".
        super().__init__(
            Starlette(
                routes=[
                    Route(base + "/merge_requests/{iid:int}/merge", self._merge, methods=["PUT"]),
                    Route(
                        base + "/merge_requests/{iid:int}/discussions/{discussion}/notes",
                        self._discussion_note,
                        methods=["POST"],
                    ),
                    Route(
                        base + "/merge_requests/{iid:int}/discussions/{discussion}",
                        self._resolve_discussion,
                        methods=["PUT"],
                    ),
                    Route(base + "/merge_requests/{iid:int}/discussions", self._discussions, methods=["GET", "POST"]),
                    Route(base + "/issues/{iid:int}", self._issue, methods=["GET"]),
                    Route(base + "/members/all", self._members, methods=["GET"]),
                    Route(base + "/pipelines/{id:int}/jobs", self._pipeline_jobs, methods=["GET"]),
                    Route(base + "/pipelines", self._pipelines, methods=["GET"]),
                    Route(base + "/jobs/{id:int}/trace", self._trace, methods=["GET"]),
                    Route(base + "/merge_requests/{iid:int}/notes", self._notes, methods=["GET", "POST"]),
                    Route(base + "/issues/{iid:int}/notes", self._notes, methods=["GET", "POST"]),
                    Route(base + "/merge_requests/{iid:int}", self._merge_request, methods=["GET", "PUT"]),
                    Route(base + "/merge_requests", self._merge_requests, methods=["GET", "POST"]),
                    Route(base + "/repository/commits/{sha:path}/statuses", self._commit_statuses, methods=["GET"]),
                    Route(base + "/statuses/{sha}", self._post_status, methods=["POST"]),
                    Route(base + "/environments", self._environments, methods=["POST"]),
                    Route(base + "/deployments/{id:int}", self._update_deployment, methods=["PUT"]),
                    Route(base + "/deployments", self._deployments, methods=["GET", "POST"]),
                    Route(base, self._project, methods=["GET"]),
                    Route("/{repo:path}.git/{rest:path}", self._git, methods=["GET", "POST"]),
                ]
            ),
            host,
            port,
        )

    # -- set-up and knobs ------------------------------------------------------------------
    def add_project(self, path: str, remote: BareRemote, archived: bool = False) -> FakeProject:
        """Serves `remote` as project `path`; `archived`: read-only, as an archived GitLab project is (its
        API says `archived: true`, refuses writes with 403, and git refuses pushes)."""
        project = FakeProject(next(self._ids), path, remote, archived=archived)
        self.projects[path] = project
        self.git.repos[path] = remote.bare
        self.git.refuse_pushes(path, ARCHIVED if archived else None)
        return project

    def reset(self) -> None:
        """Forget calls and projects; the server and `tokens` stay."""
        with self._lock:
            self.log.clear()
            self.projects.clear()
            self.git.repos.clear()
            self.git.read_only.clear()

    def require_pipeline(self, path: str, state: Pipeline = "running") -> None:
        """ "Pipelines must succeed": the merge waits for a green pipeline, now in `state`."""
        with self._lock:
            self.projects[path].pipeline_required, self.projects[path].pipeline = True, state

    def set_pipeline(self, path: str, state: Pipeline) -> None:
        """The project's pipeline is now `state`: a Pipeline Hook for each open merge request's head
        (for the default branch when none is open)."""
        with self._lock:
            project = self.projects[path]
            project.pipeline = state
            if state == "none":
                return
            opened = [m for m in project.merge_requests.values() if m.state == "opened"]
            for mr in opened or [None]:
                branch = mr.source_branch if mr else project.remote.branch
                self._emit(
                    project,
                    "Pipeline Hook",
                    "pipeline",
                    self.bot_username,
                    status=state,
                    sha=branch_head(project.bare, branch),
                    source_branch=branch,
                    iid=mr.iid if mr else None,
                    target_branch=mr.target_branch if mr else None,
                )

    def require_approvals(self, path: str, count: int) -> None:
        with self._lock:
            self.projects[path].approvals_required = count

    def approve(self, path: str, iid: int) -> None:
        with self._lock:
            self.projects[path].merge_requests[iid].approvals += 1

    def close(self, path: str, iid: int, by: str = "jsmith") -> None:
        """Closes the merge request as a person on GitLab would."""
        with self._lock:
            mr = self.projects[path].merge_requests[iid]
            mr.state, mr.updated_at = "closed", _now()
            self._mr_event(self.projects[path], mr, "close", by)

    def archive(self, path: str, archived: bool = True) -> None:
        """Archives (or, False, unarchives) the project as its owner would on the forge."""
        with self._lock:
            self.projects[path].archived = archived
            self.git.refuse_pushes(path, ARCHIVED if archived else None)

    # -- webhooks: what the fake sends when its state changes ----------------------------------
    @property
    def webhooks(self) -> WebhookSender:
        """The sender of every delivery (started with the first hook): hold, reorder, redeliver, drain."""
        with self._lock:
            if self._sender is None:
                self._sender = WebhookSender()
            return self._sender

    def stop(self) -> None:
        super().stop()
        if self._sender is not None:
            self._sender.close()

    def add_hook(self, path: str, url: str, token: str | None, events: tuple[str, ...] = ("*",)) -> FakeHook:
        with self._lock:
            project = self.projects[path]
            project.hook = FakeHook(url, token, events)
            project.heads = branch_heads(project.bare)
            self.webhooks  # noqa: B018 - starts the sender now, not inside the first API call
            return project.hook

    def open_issue(self, path: str, title: str, description: str = "", by: str = "jsmith") -> int:
        with self._lock:
            project = self.projects[path]
            iid = len(project.issues) + 1
            project.issues[iid] = {"iid": iid, "title": title, "description": description, "author": by}
            return iid

    def note(self, path: str, kind: str, iid: int, body: str, by: str = "jsmith") -> dict[str, Any]:
        """A person comments on an issue (`kind` "issue") or a merge request ("merge_request"): a Note Hook."""
        with self._lock:
            return self._add_note(self.projects[path], kind, iid, body, by)

    def notice_pushes(self, path: str, by: str = "jsmith") -> list[str]:
        """A Push Hook (and a Merge Request Hook "update" for open merge requests from the branch) for
        each branch that moved since the hook last told; pushes through the fake's git remote are noticed
        by themselves, call this after pushing to the bare repo directly."""
        with self._lock:
            project = self.projects[path]
            now = branch_heads(project.bare)
            moved = sorted(b for b in now.keys() | project.heads.keys() if now.get(b) != project.heads.get(b))
            for branch in moved:
                before, after = project.heads.get(branch, ZERO_SHA), now.get(branch, ZERO_SHA)
                self._emit(project, "Push Hook", "push", by, source_branch=branch, sha=after, before=before)
                for mr in project.merge_requests.values():
                    if mr.source_branch == branch and mr.state == "opened" and after != ZERO_SHA:
                        self._mr_event(project, mr, "update", by, before=before)
            project.heads = now
            return moved

    def _username(self, call: ForgeCall) -> str:
        return self.usernames.get(call.credential or "", self.bot_username)

    def _emit(
        self, project: FakeProject, event: str, name: str, by: str, note_id: int | None = None, **facts: Any
    ) -> None:
        """`note_id`: the fake's own id of the note the payload tells of, so a receiver can find it."""
        hook = project.hook
        if hook is None or not ("*" in hook.events or event in hook.events):
            return
        payload = gitlab_payload(
            name,
            project=project.path,
            project_id=project.id,
            base_url=self.url,
            username=by,
            default_branch=project.remote.branch,
            **facts,
        )
        if note_id is not None:
            payload["object_attributes"]["id"] = note_id
        self.webhooks.submit(gitlab_delivery(hook.url, hook.token, event, payload, instance=self.url))

    def _mr_event(
        self, project: FakeProject, mr: FakeMergeRequest, action: str, by: str, before: str | None = None
    ) -> None:
        self._emit(
            project,
            "Merge Request Hook",
            "merge_request",
            by,
            iid=mr.iid,
            title=mr.title,
            text=mr.description,
            sha=branch_head(project.bare, mr.source_branch),
            source_branch=mr.source_branch,
            target_branch=mr.target_branch,
            state=mr.state,
            action=action,
            before=before,
        )

    def _add_note(self, project: FakeProject, kind: str, iid: int, body: str, by: str) -> dict[str, Any]:
        mr = project.merge_requests.get(iid) if kind == "merge_request" else None
        issue = project.issues.get(iid) if kind == "issue" else None
        if mr is None and issue is None:
            raise KeyError((kind, iid))
        note = {
            "id": next(self._ids),
            "body": body,
            "author": self._user(by),
            "created_at": _now(),
            "updated_at": _now(),
            "system": False,
            "noteable_type": "MergeRequest" if mr else "Issue",
            "noteable_iid": iid,
        }
        project.notes.setdefault((kind, iid), []).append(note)
        if mr is not None:
            self._emit(
                project,
                "Note Hook",
                "note.merge_request",
                by,
                note_id=note["id"],
                iid=iid,
                title=mr.title,
                text=body,
                sha=branch_head(project.bare, mr.source_branch),
                source_branch=mr.source_branch,
                target_branch=mr.target_branch,
                state=mr.state,
            )
        elif issue is not None:
            self._emit(
                project, "Note Hook", "note.issue", by, note_id=note["id"], iid=iid, title=issue["title"], text=body
            )
        return note

    async def _git(self, request: Request) -> Response:
        """Serves git; a push that went through (receive-pack) is then told to the project's hook."""
        response = await self.git.handle(request)
        if request.method == "POST" and request.url.path.endswith("/git-receive-pack") and response.status_code == 200:
            path = request.path_params["repo"]
            _, password, _ = auth_of(request)
            if path in self.projects:
                self.notice_pushes(path, by=self.usernames.get(password or "", self.bot_username))
        return response

    async def _notes(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        kind = "merge_request" if "/merge_requests/" in request.url.path else "issue"
        iid = request.path_params["iid"]
        with self._lock:
            found = project.merge_requests if kind == "merge_request" else project.issues
            if iid not in found:
                return self._answer(call, _message(404, "404 Not found"))
            if request.method == "GET":
                notes = project.notes.get((kind, iid), [])
                if request.query_params.get("sort", "desc") == "desc":  # GitLab's default: newest first
                    notes = notes[::-1]
                return self._answer(call, JSONResponse(page_of(request, notes)))
            options = {**call.query, **(call.body if isinstance(call.body, dict) else {})}
            if not options.get("body"):
                return self._answer(call, _message(400, "400 Bad request - body is missing"))
            note = self._add_note(project, kind, iid, str(options["body"]), self._username(call))
        return self._answer(call, JSONResponse(note, status_code=201))

    def merge_request(self, path: str, iid: int) -> FakeMergeRequest:
        with self._lock:
            return self.projects[path].merge_requests[iid]

    @property
    def calls(self) -> list[ForgeCall]:
        return self.log.snapshot()

    # -- plumbing --------------------------------------------------------------------------
    def _find(self, ref: str) -> FakeProject | None:
        if ref.isdigit():
            return next((p for p in self.projects.values() if p.id == int(ref)), None)
        return self.projects.get(ref)

    async def _begin(self, request: Request) -> tuple[ForgeCall, FakeProject] | Response:
        call = await record(self.log, request)
        if call.auth != "private-token" or call.credential not in self.tokens:
            return self._answer(call, _message(401, "401 Unauthorized"))
        project = self._find(request.path_params["project"])
        if project is None:
            return self._answer(call, _message(404, "404 Project Not Found"))
        if project.archived and request.method != "GET":
            return self._answer(call, _message(403, "403 Forbidden"))
        return call, project

    def _answer(self, call: ForgeCall, response: Response) -> Response:
        call.status = response.status_code
        return response

    # -- REST ------------------------------------------------------------------------------
    async def _project(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        name = project.path.rsplit("/", 1)[-1]
        return self._answer(
            call,
            JSONResponse(
                {
                    "id": project.id,
                    "name": name,
                    "path": name,
                    "path_with_namespace": project.path,
                    "default_branch": project.remote.branch,
                    "web_url": f"{self.url}/{project.path}",
                    "http_url_to_repo": f"{self.url}/{project.path}.git",
                    "ssh_url_to_repo": f"git@127.0.0.1:{project.path}.git",
                    "only_allow_merge_if_pipeline_succeeds": project.pipeline_required,
                    "archived": project.archived,
                }
            ),
        )

    async def _merge_requests(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        with self._lock:
            if request.method == "GET":
                q = request.query_params
                found = [
                    m
                    for m in project.merge_requests.values()
                    if q.get("state", "all") in ("all", m.state)
                    and q.get("source_branch", m.source_branch) == m.source_branch
                ]
                return self._answer(call, JSONResponse([self._json(project, m) for m in found]))
            response = self._create(project, call.body or {})
            if response.status_code == 201:
                newest = max(project.merge_requests.values(), key=lambda m: m.iid)
                self._mr_event(project, newest, "open", self._username(call))
            return self._answer(call, response)

    def _create(self, project: FakeProject, body: dict[str, Any]) -> Response:
        source, target = str(body.get("source_branch", "")), str(body.get("target_branch", ""))
        if branch_head(project.bare, source) is None or branch_head(project.bare, target) is None:
            return _message(400, "400 Bad request - Source branch or target branch does not exist")
        if any(m.source_branch == source and m.state == "opened" for m in project.merge_requests.values()):
            taken = f"Another open merge request already exists for this source branch: !{source}"
            return JSONResponse({"message": [taken]}, status_code=409)
        iid = len(project.merge_requests) + 1
        mr = FakeMergeRequest(
            id=1000 * project.id + iid,
            iid=iid,
            title=str(body.get("title", "")),
            description=str(body.get("description") or ""),
            source_branch=source,
            target_branch=target,
        )
        project.merge_requests[iid] = mr
        return JSONResponse(self._json(project, mr), status_code=201)

    async def _merge_request(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        with self._lock:
            mr = project.merge_requests.get(request.path_params["iid"])
            if mr is None:
                return self._answer(call, _message(404, "404 Not found"))
            if request.method == "PUT":
                body = call.body or {}
                mr.title = str(body.get("title", mr.title))
                mr.description = str(body.get("description", mr.description))
                mr.target_branch = str(body.get("target_branch", mr.target_branch))
                if body.get("state_event") == "close" and mr.state == "opened":
                    mr.state = "closed"
                    self._mr_event(project, mr, "close", self._username(call))
                mr.updated_at = _now()
            return self._answer(call, JSONResponse(self._json(project, mr)))

    async def _merge(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        with self._lock:
            mr = project.merge_requests.get(request.path_params["iid"])
            if mr is None:
                return self._answer(call, _message(404, "404 Not found"))
            # python-gitlab sends the merge's options as query parameters; other clients as a body.
            options = {**call.query, **(call.body or {})}
            response = self._do_merge(project, mr, options)
            if response.status_code == 200:  # GitLab tells of the merge and of the target branch's push
                self._mr_event(project, mr, "merge", self._username(call))
                self.notice_pushes(project.path, by=self._username(call))
            return self._answer(call, response)

    def _do_merge(self, project: FakeProject, mr: FakeMergeRequest, options: dict[str, Any]) -> Response:
        """GitLab's order: not open or draft 405; not mergeable 422; sha moved 409; else merge."""
        if mr.state != "opened" or mr.draft:
            return _message(405, "405 Method Not Allowed")
        if self._status(project, mr) != "mergeable":
            return _message(422, "Branch cannot be merged")
        if options.get("sha") and options["sha"] != branch_head(project.bare, mr.source_branch):
            return _message(
                409, f"SHA does not match HEAD of source branch: {branch_head(project.bare, mr.source_branch)}"
            )
        squash = str(options.get("squash", "")).lower() == "true"
        message = str(
            options.get("merge_commit_message")
            or f"Merge branch '{mr.source_branch}' into '{mr.target_branch}'\n\nSee merge request !{mr.iid}"
        )
        sha = merge_in_bare(project.bare, mr.target_branch, mr.source_branch, message, squash=squash)
        if sha is None:
            return _message(422, "Branch cannot be merged")
        mr.state, mr.updated_at = "merged", _now()
        if squash:
            mr.squash_commit_sha = sha
        else:
            mr.merge_commit_sha = sha
        return JSONResponse(self._json(project, mr))

    # -- what CI and deploy systems say of a commit -----------------------------------------
    async def _post_status(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        options = {**call.query, **(call.body if isinstance(call.body, dict) else {})}
        if options.get("state") not in COMMIT_STATUSES:
            return self._answer(call, _message(400, "400 Bad request - state does not have a valid value"))
        with self._lock:
            sha = commit_of(project.bare, request.path_params["sha"])
            if sha is None:
                return self._answer(call, _message(404, "404 References for commit Not Found"))
            status = {
                "id": next(self._ids),
                "sha": sha,
                "ref": str(options.get("ref") or project.remote.branch),
                "status": options["state"],
                "name": str(options.get("name") or options.get("context") or "default"),
                "target_url": options.get("target_url"),
                "description": options.get("description"),
                "created_at": _now(),
                "started_at": _now(),
                "finished_at": None,
                "allow_failure": False,
                "coverage": None,
                "author": {"id": 2, "username": "ci-bot", "name": "CI"},
            }
            project.statuses.append(status)
        return self._answer(call, JSONResponse(status, status_code=201))

    async def _commit_statuses(self, request: Request) -> Response:
        """Without `all`, the newest status of each name (as GitLab lists them); with it, every one."""
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        q = request.query_params
        with self._lock:
            sha = commit_of(project.bare, request.path_params["sha"])
            if sha is None:
                return self._answer(call, _message(404, "404 Commit Not Found"))
            found = [s for s in project.statuses if s["sha"] == sha and q.get("name", s["name"]) == s["name"]]
            if q.get("all", "false").lower() != "true":
                newest: dict[str, dict[str, Any]] = {}
                for s in found:
                    newest[s["name"]] = s
                found = list(newest.values())
        per_page = min(int(q.get("per_page", "20")), 100)
        return self._answer(call, JSONResponse(found[:per_page]))

    async def _environments(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        options = {**call.query, **(call.body if isinstance(call.body, dict) else {})}
        name = str(options.get("name") or "")
        if not name:
            return self._answer(call, _message(400, "400 Bad request - name is missing"))
        with self._lock:
            if name in project.environments:
                return self._answer(call, JSONResponse({"message": {"name": ["has already been taken"]}}, 400))
            env = self._environment(project, name, options.get("external_url"))
        return self._answer(call, JSONResponse(env, status_code=201))

    def _environment(self, project: FakeProject, name: str, external_url: Any = None) -> dict[str, Any]:
        env = project.environments.get(name)
        if env is None:
            slug = "".join(c if c.isalnum() else "-" for c in name.lower())[:24]
            env = {
                "id": next(self._ids),
                "name": name,
                "slug": slug,
                "external_url": external_url,
                "state": "available",
            }
            project.environments[name] = env
        return env

    async def _deployments(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        with self._lock:
            if request.method == "GET":
                q = request.query_params
                found = [
                    d
                    for d in project.deployments
                    if q.get("environment", d["environment"]["name"]) == d["environment"]["name"]
                    and q.get("status", d["status"]) == d["status"]
                ]
                key = q.get("order_by", "id")
                if key not in ("id", "iid", "created_at", "updated_at", "ref"):
                    return self._answer(call, _message(400, "400 Bad request - order_by does not have a valid value"))
                found.sort(key=lambda d: d[key], reverse=q.get("sort", "asc") == "desc")
                per_page = min(int(q.get("per_page", "20")), 100)
                return self._answer(call, JSONResponse(found[:per_page]))
            options = {**call.query, **(call.body if isinstance(call.body, dict) else {})}
            missing = [k for k in ("environment", "sha", "ref", "tag", "status") if k not in options]
            if missing:
                return self._answer(call, _message(400, f"400 Bad request - {missing[0]} is missing"))
            sha = commit_of(project.bare, str(options["sha"]))
            if sha is None or options["status"] not in ("running", "success", "failed", "canceled"):
                return self._answer(call, _message(400, "400 Bad request - sha or status is invalid"))
            env = self._environment(project, str(options["environment"]))
            deployment = {
                "id": next(self._ids),
                "iid": sum(1 for d in project.deployments if d["environment"]["name"] == env["name"]) + 1,
                "ref": str(options["ref"]),
                "sha": sha,
                "status": options["status"],
                "created_at": _now(),
                "updated_at": _now(),
                "finished_at": None,
                "user": {"id": 3, "username": "deployer", "name": "Deployer"},
                "environment": env,
                "deployable": None,
            }
            project.deployments.append(deployment)
        return self._answer(call, JSONResponse(deployment, status_code=201))

    async def _update_deployment(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        options = {**call.query, **(call.body if isinstance(call.body, dict) else {})}
        with self._lock:
            deployment = next((d for d in project.deployments if d["id"] == request.path_params["id"]), None)
            if deployment is None:
                return self._answer(call, _message(404, "404 Not found"))
            if options.get("status") not in DEPLOYMENT_STATUSES:
                return self._answer(call, _message(400, "400 Bad request - status does not have a valid value"))
            deployment.update(status=options["status"], updated_at=_now())
        return self._answer(call, JSONResponse(deployment))

    # -- shapes ----------------------------------------------------------------------------
    def _status(self, project: FakeProject, mr: FakeMergeRequest) -> str:
        """`detailed_merge_status`, in the order GitLab checks."""
        if mr.state != "opened":
            return "not_open"
        if mr.draft:
            return "draft_status"
        if project.pipeline_required and project.pipeline != "success":
            return "ci_still_running" if project.pipeline == "running" else "ci_must_pass"
        if mr.approvals < project.approvals_required:
            return "not_approved"
        if conflicts(project.bare, mr.target_branch, mr.source_branch):
            return "conflict"
        return "mergeable"

    def _json(self, project: FakeProject, mr: FakeMergeRequest) -> dict[str, Any]:
        status = self._status(project, mr)
        return {
            "id": mr.id,
            "iid": mr.iid,
            "project_id": project.id,
            "title": mr.title,
            "description": mr.description,
            "state": mr.state,
            "draft": mr.draft,
            "work_in_progress": mr.draft,
            "source_branch": mr.source_branch,
            "target_branch": mr.target_branch,
            "source_project_id": project.id,
            "target_project_id": project.id,
            "sha": branch_head(project.bare, mr.source_branch),
            "merge_commit_sha": mr.merge_commit_sha,
            "squash_commit_sha": mr.squash_commit_sha,
            "detailed_merge_status": status,
            "diff_refs": {
                "base_sha": branch_head(project.bare, mr.target_branch),
                "start_sha": branch_head(project.bare, mr.target_branch),
                "head_sha": branch_head(project.bare, mr.source_branch),
            },
            "merge_status": "cannot_be_merged" if status == "conflict" else "can_be_merged",
            "has_conflicts": status == "conflict",
            "web_url": f"{self.url}/{project.path}/-/merge_requests/{mr.iid}",
            "references": {"short": f"!{mr.iid}", "full": f"{project.path}!{mr.iid}"},
            "author": {"id": 1, "username": "honk-bot", "name": "Honk"},
            "created_at": mr.created_at,
            "updated_at": mr.updated_at,
            "merged_at": mr.updated_at if mr.state == "merged" else None,
            "closed_at": mr.updated_at if mr.state == "closed" else None,
        }

    # -- the conversation (issue 19, part A): knobs, what tests assert on, and its endpoints ---------
    def _user(self, username: str) -> dict[str, Any]:
        bot = username == self.bot_username
        return {"id": 7, "username": username, "name": username, "state": "active", "bot": bot}

    def set_permission(self, path: str, username: str, level: int) -> None:
        """`username` is a member at access `level` (10 guest, 20 reporter, 30 developer, 40 maintainer)."""
        with self._lock:
            self.projects[path].members[username] = level

    def system_note(self, path: str, kind: str, iid: int, body: str) -> dict[str, Any]:
        """A note GitLab writes itself ("added 1 commit"): part of the list, not of the conversation."""
        with self._lock:
            project = self.projects[path]
            note = {
                "id": next(self._ids),
                "body": body,
                "author": self._user(self.bot_username),
                "created_at": _now(),
                "updated_at": _now(),
                "system": True,
                "noteable_type": "MergeRequest" if kind == "merge_request" else "Issue",
                "noteable_iid": iid,
            }
            project.notes.setdefault((kind, iid), []).append(note)
            return note

    def review(
        self, path: str, iid: int, comments: tuple[tuple[str, int, str], ...], by: str = "jsmith"
    ) -> list[dict[str, Any]]:
        """A person comments on lines of the merge request's diff (path, line, text): one diff discussion
        each, and a Note Hook each, as GitLab publishes a review. The first notes."""
        with self._lock:
            project = self.projects[path]
            mr = project.merge_requests[iid]
            refs = self._json(project, mr)["diff_refs"]
            return [
                self._new_discussion(project, mr, text, by, {**refs, "new_path": p, "old_path": p, "new_line": n})
                for p, n, text in comments
            ]

    def set_job(
        self,
        path: str,
        sha: str,
        name: str,
        status: str,
        log: str = "",
        run_id: int | None = None,
        allow_failure: bool = False,
    ) -> dict[str, Any]:
        """A pipeline job on `sha` ended `status` ("success", "failed", "canceled", …) with trace `log`:
        the job in pipeline `run_id` (a new pipeline when None), and its commit status of that name."""
        with self._lock:
            project = self.projects[path]
            commit = commit_of(project.bare, sha)
            assert commit is not None, f"no commit {sha} in {path}"
            pipeline = next((p for p in project.pipelines if p["id"] == run_id), None)
            if pipeline is None:
                pipeline = {
                    "id": run_id or next(self._ids),
                    "iid": len(project.pipelines) + 1,
                    "sha": commit,
                    "ref": project.remote.branch,
                    "status": status,
                    "web_url": "",
                    "created_at": _now(),
                }
                pipeline["web_url"] = f"{self.url}/{project.path}/-/pipelines/{pipeline['id']}"
                project.pipelines.append(pipeline)
            elif status == "failed":
                pipeline["status"] = "failed"
            job_id = next(self._ids)
            job = {
                "id": job_id,
                "name": name,
                "stage": "test",
                "status": status,
                "allow_failure": allow_failure,
                "pipeline": {"id": pipeline["id"], "sha": commit, "status": pipeline["status"]},
                "commit": {"id": commit},
                "web_url": f"{self.url}/{project.path}/-/jobs/{job_id}",
                "log": log,
            }
            project.jobs.append(job)
            project.statuses.append(
                {
                    "id": next(self._ids),
                    "sha": commit,
                    "ref": pipeline["ref"],
                    "status": status,
                    "name": name,
                    "target_url": job["web_url"],
                    "description": None,
                    "created_at": _now(),
                    "started_at": _now(),
                    "finished_at": _now(),
                    "allow_failure": allow_failure,
                    "coverage": None,
                    "author": {"id": 2, "username": "ci-bot", "name": "CI"},
                }
            )
            return {k: v for k, v in job.items() if k != "log"}

    def comments(self, path: str, iid: int, kind: str = "merge_request") -> list[str]:
        """The texts of the merge request's (or issue's) notes, oldest first; GitLab's own not among them."""
        with self._lock:
            return [n["body"] for n in self.projects[path].notes.get((kind, iid), []) if not n["system"]]

    def replies(self, path: str, iid: int, note_id: int) -> list[str]:
        """The texts of the notes after `note_id` in its discussion."""
        with self._lock:
            for d in self.projects[path].discussions.get(iid, []):
                if d["notes"][0]["id"] == note_id:
                    return [n["body"] for n in d["notes"][1:]]
            return []

    def resolved(self, path: str, iid: int) -> set[int]:
        """The first notes of the merge request's resolved discussions."""
        with self._lock:
            return {
                d["notes"][0]["id"] for d in self.projects[path].discussions.get(iid, []) if d["notes"][0]["resolved"]
            }

    def discussions_of(self, path: str, iid: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.projects[path].discussions.get(iid, []))

    def _new_discussion(
        self, project: FakeProject, mr: FakeMergeRequest, body: str, by: str, position: dict[str, Any] | None
    ) -> dict[str, Any]:
        note = {
            "id": next(self._ids),
            "type": "DiffNote" if position else "DiscussionNote",
            "body": body,
            "author": self._user(by),
            "created_at": _now(),
            "updated_at": _now(),
            "system": False,
            "noteable_type": "MergeRequest",
            "noteable_iid": mr.iid,
            "resolvable": True,
            "resolved": False,
            "position": {"position_type": "text", **position} if position else None,
        }
        discussion = {"id": secrets_hex(), "individual_note": False, "notes": [note]}
        project.discussions.setdefault(mr.iid, []).append(discussion)
        project.notes.setdefault(("merge_request", mr.iid), []).append(note)
        self._emit(
            project,
            "Note Hook",
            "note.merge_request",
            by,
            note_id=note["id"],
            iid=mr.iid,
            title=mr.title,
            text=body,
            sha=branch_head(project.bare, mr.source_branch),
            source_branch=mr.source_branch,
            target_branch=mr.target_branch,
            state=mr.state,
        )
        return note

    async def _issue(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        with self._lock:
            issue = project.issues.get(request.path_params["iid"])
            if issue is None:
                return self._answer(call, _message(404, "404 Not found"))
            iid = issue["iid"]
            answer = {
                "id": 5000 + iid,
                "iid": iid,
                "project_id": project.id,
                "title": issue["title"],
                "description": issue["description"],
                "state": issue.get("state", "opened"),
                "author": self._user(issue["author"]),
                "web_url": f"{self.url}/{project.path}/-/issues/{iid}",
                "user_notes_count": len(project.notes.get(("issue", iid), [])),
            }
        return self._answer(call, JSONResponse(answer))

    async def _discussions(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        with self._lock:
            mr = project.merge_requests.get(request.path_params["iid"])
            if mr is None:
                return self._answer(call, _message(404, "404 Not found"))
            if request.method == "GET":
                return self._answer(call, JSONResponse(page_of(request, project.discussions.get(mr.iid, []))))
            options = {**call.query, **(call.body if isinstance(call.body, dict) else {})}
            if not options.get("body"):
                return self._answer(call, _message(400, "400 Bad request - body is missing"))
            position = options.get("position")
            if isinstance(position, dict):
                path, line = str(position.get("new_path", "")), position.get("new_line")
                if line not in diff_lines(project.bare, mr.target_branch, mr.source_branch).get(path, set()):
                    return self._answer(
                        call,
                        _message(
                            400, '400 Bad request - Note {:line_code=>["can\'t be blank", "must be a valid line code"]}'
                        ),
                    )
            elif position is not None:
                return self._answer(call, _message(400, "400 Bad request - position is invalid"))
            note = self._new_discussion(project, mr, str(options["body"]), self._username(call), position)
            discussion = next(d for d in project.discussions[mr.iid] if d["notes"][0] is note)
        return self._answer(call, JSONResponse(discussion, status_code=201))

    def _discussion(self, project: FakeProject, iid: int, discussion_id: str) -> dict[str, Any] | None:
        return next((d for d in project.discussions.get(iid, []) if d["id"] == discussion_id), None)

    async def _discussion_note(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        iid = request.path_params["iid"]
        options = {**call.query, **(call.body if isinstance(call.body, dict) else {})}
        with self._lock:
            discussion = self._discussion(project, iid, request.path_params["discussion"])
            if discussion is None:
                return self._answer(call, _message(404, "404 Discussion Not Found"))
            if not options.get("body"):
                return self._answer(call, _message(400, "400 Bad request - body is missing"))
            first = discussion["notes"][0]
            note = {
                **first,
                "id": next(self._ids),
                "type": first["type"],
                "body": str(options["body"]),
                "author": self._user(self._username(call)),
                "created_at": _now(),
                "updated_at": _now(),
            }
            discussion["notes"].append(note)
            project.notes.setdefault(("merge_request", iid), []).append(note)
        return self._answer(call, JSONResponse(note, status_code=201))

    async def _resolve_discussion(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        options = {**call.query, **(call.body if isinstance(call.body, dict) else {})}
        with self._lock:
            discussion = self._discussion(project, request.path_params["iid"], request.path_params["discussion"])
            if discussion is None:
                return self._answer(call, _message(404, "404 Discussion Not Found"))
            if "resolved" not in options:
                return self._answer(call, _message(400, "400 Bad request - resolved is missing"))
            resolved = str(options["resolved"]).lower() == "true"
            for note in discussion["notes"]:
                if note["resolvable"]:
                    note["resolved"] = resolved
        return self._answer(call, JSONResponse(discussion))

    async def _members(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        query = request.query_params.get("query", "").lower()
        with self._lock:
            # GitLab's `query` matches a part of the name or username: the caller picks the exact one.
            found = [
                {**self._user(name), "access_level": level}
                for name, level in project.members.items()
                if query in name.lower()
            ]
        return self._answer(call, JSONResponse(page_of(request, found)))

    async def _pipelines(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        sha = request.query_params.get("sha")
        with self._lock:
            found = [p for p in project.pipelines if sha in (None, p["sha"])]
        found.sort(key=lambda p: p["id"], reverse=request.query_params.get("sort", "desc") == "desc")
        return self._answer(call, JSONResponse(page_of(request, found)))

    async def _pipeline_jobs(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        scopes = request.query_params.getlist("scope[]") or request.query_params.getlist("scope")
        with self._lock:
            if not any(p["id"] == request.path_params["id"] for p in project.pipelines):
                return self._answer(call, _message(404, "404 Not found"))
            found = [
                {k: v for k, v in j.items() if k != "log"}
                for j in project.jobs
                if j["pipeline"]["id"] == request.path_params["id"] and (not scopes or j["status"] in scopes)
            ]
        return self._answer(call, JSONResponse(page_of(request, found)))

    async def _trace(self, request: Request) -> Response:
        begun = await self._begin(request)
        if isinstance(begun, Response):
            return begun
        call, project = begun
        with self._lock:
            log = next((j["log"] for j in project.jobs if j["id"] == request.path_params["id"]), None)
        if log is None:
            return self._answer(call, _message(404, "404 Not found"))
        return self._answer(call, Response(log, media_type="text/plain"))


def secrets_hex() -> str:
    """A discussion's id: GitLab's are 40 hex characters."""
    return secrets.token_hex(20)
