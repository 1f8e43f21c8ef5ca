"""What the loopback fake GitHub and GitLab share: recorded calls, a git remote served over HTTP,
what the bare repo says (branches, commits, a diff's lines), a listing's pages, and the merges a
forge does inside its bare repo.

The git remote is real: `git http-backend` (git's own smart-HTTP CGI) serves the bare repo of a
`RemoteRepo`, behind HTTP Basic auth, so a push presents credentials exactly as it would to
github.com or a GitLab server. Merges are real too: `git merge-tree` and `commit-tree` in the bare
repo, then `update-ref`, so the target branch really moves (or a conflict is really found).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from honk.testing.gitrepo import AUTHOR_ENV

AuthKind = Literal["none", "token", "bearer", "jwt", "basic", "private-token", "invalid"]


class ForgeCall(BaseModel):
    """One request as a fake forge received it. `credential` is what the auth header carried
    (a token, or a Basic password), kept so tests can check which credential was used."""

    method: str
    path: str
    query: dict[str, str]
    body: Any  # the decoded JSON body, or None
    auth: AuthKind
    credential: str | None
    username: str | None = None
    status: int = 0
    at: float


class CallLog:
    def __init__(self) -> None:
        self.calls: list[ForgeCall] = []
        self._lock = threading.Lock()

    def add(self, call: ForgeCall) -> ForgeCall:
        with self._lock:
            self.calls.append(call)
        return call

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def to(self, method: str, path_suffix: str = "") -> list[ForgeCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method and c.path.endswith(path_suffix)]

    def snapshot(self) -> list[ForgeCall]:
        with self._lock:
            return list(self.calls)


async def record(log: CallLog, request: Request) -> ForgeCall:
    """Reads the request's body and auth; the caller sets `status` on the returned call."""
    raw = await request.body()
    body: Any = None
    if raw and "json" in request.headers.get("content-type", ""):
        body = json.loads(raw)
    auth, credential, username = auth_of(request)
    return log.add(
        ForgeCall(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            body=body,
            auth=auth,
            credential=credential,
            username=username,
            at=time.time(),
        )
    )


def auth_of(request: Request) -> tuple[AuthKind, str | None, str | None]:
    if (private := request.headers.get("private-token")) is not None:
        return "private-token", private, None
    header = request.headers.get("authorization")
    if not header:
        return "none", None, None
    scheme, _, value = header.partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "token":
        return "token", value, None
    if scheme == "bearer":
        # A JWT has three dot-separated parts; anything else sent as Bearer is a plain token.
        return ("jwt" if value.count(".") == 2 else "bearer"), value, None
    if scheme == "basic":
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return "invalid", None, None
        return "basic", password, user
    return "invalid", None, None


# -- the bare repo as the forge sees it ---------------------------------------------------------


def _git(bare: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", f"--git-dir={bare}", *args],
        env={**os.environ, **AUTHOR_ENV},
        capture_output=True,
        text=True,
        check=check,
    )


def branch_head(bare: Path, branch: str) -> str | None:
    out = _git(bare, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", check=False)
    return out.stdout.strip() or None


def branch_heads(bare: Path) -> dict[str, str]:
    """Every branch of the bare repo and its commit."""
    out = _git(bare, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads")
    return dict(line.split(" ", 1) for line in out.stdout.splitlines() if line)


def commit_of(bare: Path, ref: str) -> str | None:
    """The commit a sha or branch names in the bare repo, or None (never an option: refs are checked)."""
    if not ref or ref.startswith("-"):
        return None
    return _git(bare, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).stdout.strip() or None


def diff_lines(bare: Path, base: str, head: str) -> dict[str, set[int]]:
    """The new-side lines a pull request's diff shows (changed lines and their context), by path:
    where a review may place a line comment."""
    out = _git(bare, "diff", "--no-color", "-U3", f"refs/heads/{base}...refs/heads/{head}", check=False)
    lines: dict[str, set[int]] = {}
    path = ""
    for row in out.stdout.splitlines():
        if row.startswith("+++ "):
            path = row[4:].removeprefix("b/")
        elif row.startswith("@@") and path:
            new = row.split("+", 1)[1].split(" ", 1)[0]
            start, _, count = new.partition(",")
            lines.setdefault(path, set()).update(range(int(start), int(start) + int(count or 1)))
    return lines


def conflicts(bare: Path, base: str, head: str) -> bool:
    """True when merging `head` into `base` conflicts (git merge-tree exits 1)."""
    base_sha, head_sha = branch_head(bare, base), branch_head(bare, head)
    if base_sha is None or head_sha is None:
        return True
    return _git(bare, "merge-tree", "--write-tree", base_sha, head_sha, check=False).returncode != 0


def merge_in_bare(bare: Path, base: str, head: str, message: str, squash: bool = False) -> str | None:
    """Merges branch `head` into branch `base` as a forge does; the new commit, or None on a conflict."""
    base_sha, head_sha = branch_head(bare, base), branch_head(bare, head)
    if base_sha is None or head_sha is None:
        return None
    tree = _git(bare, "merge-tree", "--write-tree", base_sha, head_sha, check=False)
    if tree.returncode != 0:
        return None
    parents = ["-p", base_sha] + ([] if squash else ["-p", head_sha])
    commit = _git(bare, "commit-tree", tree.stdout.split()[0], *parents, "-m", message).stdout.strip()
    _git(bare, "update-ref", f"refs/heads/{base}", commit, base_sha)
    return commit


# -- listings -------------------------------------------------------------------------------------


def page_of(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One page of a listing, as `per_page` (at most 100) and `page` (from 1) ask."""
    q = request.query_params
    per_page = min(max(int(q.get("per_page", "30") or 30), 1), 100)
    page = max(int(q.get("page", "1") or 1), 1)
    return items[(page - 1) * per_page : page * per_page]


# -- git's smart HTTP protocol ------------------------------------------------------------------


class GitHttp:
    """Serves bare repos at `/<name>.git/...` through `git http-backend`, behind Basic auth.

    `repos` maps the name in the URL ("owner/name") to a bare repo; `allow(username, password)`
    decides who may read and push; `read_only` maps a repo's name to the words a push to it is refused
    with (an archived repo: fetched as ever, never pushed to). Every request is recorded in `log` (its
    password as `credential`).
    """

    def __init__(self, log: CallLog, allow: Callable[[str | None, str | None], bool]) -> None:
        self.log, self.allow = log, allow
        self.repos: dict[str, Path] = {}
        self.read_only: dict[str, str] = {}

    def refuse_pushes(self, name: str, words: str | None) -> None:
        """Pushes to `name` are refused with `words` (an archived repo); None: accepted again."""
        if words is None:
            self.read_only.pop(name, None)
        else:
            self.read_only[name] = words

    async def handle(self, request: Request) -> Response:
        call = await record(self.log, request)
        bare = self.repos.get(request.path_params["repo"])
        if bare is None:
            call.status = 404
            return Response("Repository not found\n", status_code=404)
        if call.auth != "basic" or not self.allow(call.username, call.credential):
            # Git sends no credentials until asked: a 401 with a challenge makes it ask its helper.
            call.status = 401
            return Response(
                "Authentication required\n", status_code=401, headers={"WWW-Authenticate": 'Basic realm="fake forge"'}
            )
        refused = self.read_only.get(request.path_params["repo"])
        pushing = request.url.path.endswith("/git-receive-pack") or request.url.query == "service=git-receive-pack"
        if refused is not None and pushing:
            call.status = 403  # as the forges answer a push to an archived repo over HTTPS
            return Response(f"{refused}\n", status_code=403, media_type="text/plain")
        status, headers, body = await self._backend(request, bare, call.username or "git")
        call.status = status
        return Response(body, status_code=status, headers=headers)

    async def _backend(self, request: Request, bare: Path, user: str) -> tuple[int, dict[str, str], bytes]:
        data = await request.body()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(bare.parent),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{bare.name}/{request.path_params['rest']}",
            "REQUEST_METHOD": request.method,
            "QUERY_STRING": request.url.query,
            "CONTENT_TYPE": request.headers.get("content-type", ""),
            "CONTENT_LENGTH": str(len(data)),
            "REMOTE_USER": user,  # http-backend enables receive-pack (push) only for an authenticated user
            "REMOTE_ADDR": "127.0.0.1",
        }
        if encoding := request.headers.get("content-encoding"):
            env["HTTP_CONTENT_ENCODING"] = encoding
        if protocol := request.headers.get("git-protocol"):
            env["GIT_PROTOCOL"] = protocol
        proc = await asyncio.create_subprocess_exec(
            "git",
            "http-backend",
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate(data)
        return _cgi_response(out)


def _cgi_response(out: bytes) -> tuple[int, dict[str, str], bytes]:
    split = out.find(b"\r\n\r\n")
    head, body = (out[:split], out[split + 4 :]) if split >= 0 else out.split(b"\n\n", 1)
    status, headers = 200, {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name:
            headers[name.strip()] = value.strip()
    return status, headers, body
