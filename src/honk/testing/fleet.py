"""A synthetic fleet: N small real git remotes with a deliberate, documented variety, for campaign stories.

Every repo is a bare "remote" under one directory, made by one `git init --bare` and one `git fast-import`
(no working copy, no per-file git commands: 50 repos take well under a second), and plays the scripted
agent: its `.honk/scenario.toml` has one step that edits `settings.toml` (`timeout_s = 10` becomes
`timeout_s = 30`, "raise the timeout"), and its `.honk.toml` picks the scripted agent and checks that run in
tens of milliseconds.

What repo `i` of `fleet_plan(n)` is meant to do (`Meant`), fixed by its index so a story can count on it:

- i == 1: CONFLICTS. Its checks pass and it reaches ready; its remote also holds a commit (not on any branch:
  `refs/fleet/conflict`, which a mirror never fetches) that changes the very line the agent edits.
  `land_conflict()` moves main to it, as a colleague landing a change while the task ran: merging the task
  then conflicts. A story calls it once the task has its branch (its workspace was made from main).
- i == 2: ARCHIVED. Its checks pass; its remote refuses every push (a pre-receive hook that says
  "archived" and exits 1), so a merge cannot land, and `FleetRepo.archived` is True for a fake forge to say
  so as well (`Fleet.register_on_forge` archives it on the fake GitHub or GitLab). Fetching still works, as
  from an archived GitHub repo.
- i % 5 == 3 (3, 8, 13, …): FAILS_CHECKS. Its check command fails whatever the agent does (a deliberately
  failing test for Python, a failing shell check for Go), so its task ends failed after its rounds.
- every other repo: PASSES. Its checks pass before and after the agent's edit.

So a fleet of 5 has 4 of 5 repos that reach ready (0, 1, 2, 4): exactly the default 80% a first wave needs;
a fleet of 50 has 10 that fail their checks.

Languages, independent of what the repo is meant to do: i % 3 == 2 is a Go repo (`go.mod`, `main.go`,
`main_test.go`; its check only reads files, no Go toolchain needed), the rest are Python (`app/calc.py`,
`tests/test_calc.py`); Python repos with an even index also have a `requirements.txt` pinning
`requests==2.31.0` (what "bump requests" campaigns look for). Names: `svc-NN` for Python, `go-NN` for Go.

A story can also write its own plan (`RepoSpec`s, e.g. a first wave that all fail) and pass it to
`make_fleet`.
"""

from __future__ import annotations

import enum
import os
import subprocess
from collections.abc import Awaitable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from honk.domain import ForgeRef

if TYPE_CHECKING:  # loaded only by a story that serves the fleet on a fake forge
    from honk.testing.fake_github import FakeGitHub
    from honk.testing.fake_gitlab import FakeGitLab

CONFLICT_REF = "refs/fleet/conflict"
EDITED_FILE = "settings.toml"  # what the scripted agent's one step edits in every fleet repo
EDIT_BEFORE, EDIT_AFTER, EDIT_ON_MAIN = "timeout_s = 10", "timeout_s = 30", "timeout_s = 20"
ARCHIVED_MESSAGE = "archived: this repository is archived and read-only"
_STAMP = "1767225600 +0000"  # a fixed time: a fleet's commits are the same on every run


class Meant(enum.Enum):
    """What a fleet repo's task is meant to end as."""

    PASSES = "passes"  # checks pass; ready, and merges
    FAILS_CHECKS = "fails_checks"  # its check fails whatever the agent does
    CONFLICTS = "conflicts"  # ready, but main moves under it (`land_conflict`) and the merge conflicts
    ARCHIVED = "archived"  # ready, but its remote refuses pushes


class Language(enum.Enum):
    PYTHON = "python"
    GO = "go"


@dataclass(frozen=True)
class RepoSpec:
    """What to make: a repo's name, what it is meant to do, its language and whether it has a requirements.txt."""

    name: str
    meant: Meant = Meant.PASSES
    language: Language = Language.PYTHON
    requirements: bool = False


@dataclass(frozen=True)
class FleetRepo:
    """One made repo: its remote (a local path, which is also its URL for Honk) and what it is for."""

    name: str
    bare: Path
    meant: Meant
    language: Language
    files: tuple[str, ...]  # every path on main, sorted
    branch: str = "main"

    @property
    def url(self) -> str:
        return str(self.bare)

    @property
    def archived(self) -> bool:
        return self.meant is Meant.ARCHIVED

    @property
    def fails_checks(self) -> bool:
        return self.meant is Meant.FAILS_CHECKS

    def head(self, ref: str | None = None) -> str:
        return _git(self.bare, "rev-parse", ref or self.branch)

    def show(self, path: str, ref: str | None = None) -> str:
        return _git(self.bare, "show", f"{ref or self.branch}:{path}")

    def land_conflict(self) -> str:
        """Moves main to the prepared change of the line the agent edits (only a CONFLICTS repo has one);
        returns main's new head. Written into the bare repo directly: no hook, as if pushed long ago."""
        if self.meant is not Meant.CONFLICTS:
            raise ValueError(f"{self.name} is meant to {self.meant.value}; only a conflicts repo has a conflict")
        sha = _git(self.bare, "rev-parse", CONFLICT_REF)
        _git(self.bare, "update-ref", f"refs/heads/{self.branch}", sha)
        return sha


@dataclass(frozen=True)
class Fleet:
    root: Path
    repos: tuple[FleetRepo, ...]

    def __iter__(self) -> Iterator[FleetRepo]:
        return iter(self.repos)

    def __len__(self) -> int:
        return len(self.repos)

    def __getitem__(self, name: str) -> FleetRepo:
        return next(r for r in self.repos if r.name == name)

    def meant(self, meant: Meant) -> list[FleetRepo]:
        return [r for r in self.repos if r.meant is meant]

    def with_language(self, language: Language) -> list[FleetRepo]:
        return [r for r in self.repos if r.language is language]

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.repos]

    def register(self, honk: SyncRepoAdder) -> None:
        """Adds every repo to a running Honk, as `honk repo add` would: a `HonkStack` (its API's
        POST /api/repos), or anything with a synchronous `add_repo(name, url, branch)`."""
        for repo in self.repos:
            honk.add_repo(repo.name, repo.url, repo.branch)

    def register_on_forge(self, honk: ForgeRepoAdder, forge: FakeGitHub | FakeGitLab, owner: str = "fleet") -> None:
        """Serves every repo on a fake forge as `owner/<name>` and adds it to a running Honk as a repo on that
        forge (`HonkStack.add_repo(..., forge=...)`; Honk fetches from the bare remote, pushes and opens pull
        requests through the forge). The ARCHIVED repo is archived there too, as a team's archived repo is:
        the forge's API says so (a campaign skips it) as well as refusing its pushes."""
        from honk.testing.fake_github import FakeGitHub

        for repo in self.repos:
            project = f"{owner}/{repo.name}"
            if isinstance(forge, FakeGitHub):
                forge.add_repo(project, repo, archived=repo.archived)
                ref = ForgeRef(kind="github", project=project, api_url=forge.url)
            else:
                forge.add_project(project, repo, archived=repo.archived)
                ref = ForgeRef(kind="gitlab", project=project, api_url=forge.url)
            honk.add_repo(repo.name, repo.url, repo.branch, forge=ref)

    async def register_async(self, honk: AsyncRepoAdder) -> None:
        """Adds every repo to an in-process Honk: `TaskService.add_repo` (which checks each remote's branch
        as the front doors do)."""
        for repo in self.repos:
            await honk.add_repo(repo.name, repo.url, repo.branch)


class SyncRepoAdder(Protocol):
    def add_repo(self, name: str, url: str, branch: str = "main") -> object: ...


class ForgeRepoAdder(Protocol):
    def add_repo(self, name: str, url: str, branch: str = "main", forge: ForgeRef | None = None) -> object: ...


class AsyncRepoAdder(Protocol):
    def add_repo(self, name: str, url: str, branch: str = "main") -> Awaitable[object]: ...


def meant_for(i: int) -> Meant:
    """What repo `i` of a planned fleet is meant to do (see the module's docstring)."""
    if i == 1:
        return Meant.CONFLICTS
    if i == 2:
        return Meant.ARCHIVED
    if i % 5 == 3:
        return Meant.FAILS_CHECKS
    return Meant.PASSES


def fleet_plan(n: int) -> list[RepoSpec]:
    """The documented variety for a fleet of `n` repos."""
    width = max(2, len(str(n - 1)))
    specs = []
    for i in range(n):
        language = Language.GO if i % 3 == 2 else Language.PYTHON
        prefix = "go" if language is Language.GO else "svc"
        specs.append(
            RepoSpec(
                name=f"{prefix}-{i:0{width}d}",
                meant=meant_for(i),
                language=language,
                requirements=language is Language.PYTHON and i % 2 == 0,
            )
        )
    return specs


def make_fleet(root: Path, n: int | None = None, specs: Sequence[RepoSpec] | None = None) -> Fleet:
    """Makes the repos of `specs` (default: `fleet_plan(n)`) as bare remotes under `root/<name>.git`."""
    if specs is None:
        if n is None:
            raise ValueError("make_fleet needs n or specs")
        specs = fleet_plan(n)
    if len({s.name for s in specs}) != len(specs):
        raise ValueError("fleet repo names must be unique")
    root.mkdir(parents=True, exist_ok=True)
    # Each repo is two short git processes; a few at a time overlap their start-up costs.
    with ThreadPoolExecutor(max_workers=4) as pool:
        return Fleet(root, tuple(pool.map(lambda spec: _make(root, spec), specs)))


# -- what is in a repo ---------------------------------------------------------------------------------
SCENARIO = f'''[[step]]
message = "Raised the timeout."
[[step.edit]]
path = "{EDITED_FILE}"
replace = "{EDIT_BEFORE}"
with = "{EDIT_AFTER}"
'''

PY_CALC = "def add(a, b):\n    return a + b\n"
PY_TEST = """import unittest

from app.calc import add


class AddTests(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), {expected})


if __name__ == "__main__":
    unittest.main()
"""
GO_MAIN = 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hello")\n}\n'
GO_TEST = 'package main\n\nimport "testing"\n\nfunc TestNothing(t *testing.T) {}\n'
# The Go check reads files only, so it needs no Go toolchain; the failing one says why it fails.
GO_CHECK = "grep -q '^module ' go.mod"
GO_FAILING_CHECK = "echo 'vet: this fleet repo fails its checks by design' >&2; exit 1"


def honk_toml(check: str) -> str:
    return f'[[verify]]\nname = "test"\nrun = "{_toml_escape(check)}"\ntimeout = 60\n[agent]\nname = "scripted"\n'


def files_of(spec: RepoSpec) -> dict[str, str]:
    fails = spec.meant is Meant.FAILS_CHECKS
    files = {
        "README.md": f"# {spec.name}\n\nA synthetic fleet repo ({spec.meant.value}).\n",
        EDITED_FILE: f'[service]\nname = "{spec.name}"\n{EDIT_BEFORE}\n',
        ".honk/scenario.toml": SCENARIO,
    }
    if spec.language is Language.PYTHON:
        # A failing test, not a broken command: the check runs and fails as a real one does.
        files[".honk.toml"] = honk_toml("python3 -m unittest -q")
        files["app/__init__.py"] = ""
        files["app/calc.py"] = PY_CALC
        files["tests/__init__.py"] = ""
        files["tests/test_calc.py"] = PY_TEST.format(expected=6 if fails else 5)
        if spec.requirements:
            files["requirements.txt"] = "requests==2.31.0\nurllib3==2.2.1\n"
    else:
        files[".honk.toml"] = honk_toml(GO_FAILING_CHECK if fails else GO_CHECK)
        files["go.mod"] = f"module example.com/{spec.name}\n\ngo 1.22\n"
        files["main.go"] = GO_MAIN
        files["main_test.go"] = GO_TEST
    return files


PRE_RECEIVE_ARCHIVED = f"#!/bin/sh\necho '{ARCHIVED_MESSAGE}' >&2\nexit 1\n"


def _make(root: Path, spec: RepoSpec) -> FleetRepo:
    bare = root / f"{spec.name}.git"
    files = files_of(spec)
    # --template= : no sample hooks copied per repo (most of an init's time and disk).
    subprocess.run(
        ["git", "init", "--quiet", "--bare", "--template=", "-b", "main", str(bare)],
        check=True,
        capture_output=True,
        env=_env(),
    )
    stream = _commit("refs/heads/main", "initial", files, mark=1)
    if spec.meant is Meant.CONFLICTS:
        changed = files[EDITED_FILE].replace(EDIT_BEFORE, EDIT_ON_MAIN)
        stream += _commit(CONFLICT_REF, "Set the timeout to 20", {EDITED_FILE: changed}, parent=":1")
    subprocess.run(
        ["git", f"--git-dir={bare}", "fast-import", "--quiet", "--done"],
        input=stream + b"done\n",
        check=True,
        capture_output=True,
        env=_env(),
    )
    if spec.meant is Meant.ARCHIVED:
        hooks = bare / "hooks"
        hooks.mkdir(exist_ok=True)
        hook = hooks / "pre-receive"
        hook.write_text(PRE_RECEIVE_ARCHIVED)
        hook.chmod(0o755)
    return FleetRepo(spec.name, bare, spec.meant, spec.language, tuple(sorted(files)))


def _commit(ref: str, message: str, files: dict[str, str], parent: str | None = None, mark: int = 0) -> bytes:
    out = [f"commit {ref}\n".encode()]
    if mark:
        out.append(f"mark :{mark}\n".encode())
    out.append(f"author Fleet <fleet@localhost> {_STAMP}\ncommitter Fleet <fleet@localhost> {_STAMP}\n".encode())
    out.append(_data(message.encode()))
    if parent is not None:
        out.append(f"from {parent}\n".encode())
    for path, text in sorted(files.items()):
        out.append(f"M 100644 inline {path}\n".encode())
        out.append(_data(text.encode()))
    out.append(b"\n")
    return b"".join(out)


def _data(raw: bytes) -> bytes:
    return b"data %d\n" % len(raw) + raw + b"\n"


def _toml_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _env() -> dict[str, str]:
    # Nothing of the user's git config (hooks paths, init templates) changes what a fleet is.
    return {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def _git(bare: Path, *args: str) -> str:
    out = subprocess.run(["git", f"--git-dir={bare}", *args], check=True, capture_output=True, text=True, env=_env())
    return out.stdout.strip()
