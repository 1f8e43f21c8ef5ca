"""Conformance of a `RepoFiles` (honk.protocols): what a campaign's "repos whose files match" selector may
count on. Any implementation runs these: add it to the `repo_files` fixture's params. Real git remotes.

The content test is a POSIX extended regular expression (what `git grep -E` reads), so the regexes here are
ERE: no `\\d`, no lookaround."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from honk.composition.worker import build_activities
from honk.domain import RepoRef
from honk.errors import UserFacingError
from honk.protocols import RepoFiles
from honk.settings import Settings
from honk.store import Store
from honk.testing.gitrepo import RemoteRepo
from honk.workspace.repo_files import MAX_BYTES, MirrorRepoFiles
from honk.workspace.worktrees import WorktreeWorkspaces

FILES = {
    "setup.py": "from setuptools import setup\nsetup(name='x')\n",
    "requirements.txt": "requests==2.31.0\n",
    "requirements-dev.txt": "pytest\n",
    "src/app/main.py": "import requests\n\nrequests.get('https://example.com')\n",
    "src/app/util.py": "def helper():\n    return 1\n",
    "src/app/__init__.py": "",
    "deep/a/b/c/d/e/f.py": "import requests  # deep\n",
    "docs/readme.md": "Run with --version to see it.\n",
    "a*.py": "nothing to see\n",  # a file whose name is a wildcard
    "ab.py": "import requests\n",
    "go.mod": "module example.com/x\n",
}
BINARY = b"\x00\x01binary import requests\x00" * 10
# Over the bound, with a match in its first line: only the size keeps it out.
BIG = "import requests\n" + "x" * (MAX_BYTES + 10) + "\n"
# One long line: what makes nested ERE groups slow in glibc's matcher (tens of seconds for the one below).
SLOW_LINE = "a" * 30_000 + "\n"


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> RemoteRepo:
    repo = RemoteRepo(tmp_path_factory.mktemp("remote"), FILES)
    (repo.clone / "bin").mkdir()
    (repo.clone / "bin" / "blob.bin").write_bytes(BINARY)
    repo.push_change({"big/huge.py": BIG, "slow/line.txt": SLOW_LINE}, "binary, big and slow files")
    return repo


def mirror_repo_files(root: Path) -> MirrorRepoFiles:
    workspaces = WorktreeWorkspaces(root / "mirrors", root / "workspaces", "Honk", "honk@localhost")
    # A short bound so the slow-regex case costs seconds, not the production 20 s.
    return MirrorRepoFiles(workspaces, grep_timeout_s=2)


IMPLEMENTATIONS: dict[str, Callable[[Path], RepoFiles]] = {"mirror": mirror_repo_files}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def files(request: pytest.FixtureRequest, tmp_path: Path) -> RepoFiles:
    return IMPLEMENTATIONS[request.param](tmp_path)


@pytest.fixture
def repo(remote: RemoteRepo) -> RepoRef:
    return RepoRef(name="fleet-x", url=remote.url)


async def test_path_globs_at_any_depth(files: RepoFiles, repo: RepoRef) -> None:
    every_py = await files.matching(repo, "**/*.py", limit=100)
    assert sorted(every_py) == sorted(
        ["setup.py", "src/app/main.py", "src/app/util.py", "src/app/__init__.py", "deep/a/b/c/d/e/f.py"]
        + ["a*.py", "ab.py", "big/huge.py"]
    )
    assert sorted(await files.matching(repo, "*.py", limit=100)) == ["a*.py", "ab.py", "setup.py"]
    assert await files.matching(repo, "deep/**/f.py") == ["deep/a/b/c/d/e/f.py"]
    assert await files.matching(repo, "deep/*/f.py") == []  # `*` stays within one directory
    assert sorted(await files.matching(repo, "requirements*.txt")) == ["requirements-dev.txt", "requirements.txt"]
    assert await files.matching(repo, "go.mod") == ["go.mod"]
    assert await files.matching(repo, "**/Cargo.toml") == []


async def test_content_matches_and_misses(files: RepoFiles, repo: RepoRef) -> None:
    found = await files.matching(repo, "**/*.py", content="^import requests", limit=100)
    assert sorted(found) == ["ab.py", "deep/a/b/c/d/e/f.py", "src/app/main.py"]  # not big/huge.py: too big
    assert await files.matching(repo, "src/**/*.py", content="requests[.]get[(]") == ["src/app/main.py"]
    assert await files.matching(repo, "requirements*.txt", content="^requests==2[.]31") == ["requirements.txt"]
    assert await files.matching(repo, "**/*.py", content="flask") == []
    # A regex that looks like an option is a regex.
    assert await files.matching(repo, "**/*.md", content="--version") == ["docs/readme.md"]


async def test_binary_and_big_files_are_not_read(files: RepoFiles, repo: RepoRef) -> None:
    assert await files.matching(repo, "bin/*") == ["bin/blob.bin"]  # listed by path
    assert await files.matching(repo, "bin/*", content="requests") == []
    assert await files.matching(repo, "big/*") == ["big/huge.py"]
    assert await files.matching(repo, "big/*", content="requests") == []


async def test_a_file_named_like_a_wildcard_is_only_itself(files: RepoFiles, repo: RepoRef) -> None:
    # "a[*].py" names only the file "a*.py"; read as a wildcard, git would also search ab.py (which matches).
    assert await files.matching(repo, "a[*].py") == ["a*.py"]
    assert await files.matching(repo, "a[*].py", content="requests") == []


async def test_the_limit_is_respected(files: RepoFiles, repo: RepoRef) -> None:
    assert len(await files.matching(repo, "**/*.py", limit=2)) == 2
    assert len(await files.matching(repo, "**/*.py", content="requests", limit=2)) == 2
    assert len(await files.matching(repo, "**/*.py", content="requests", limit=1)) == 1
    assert len(await files.matching(repo, "**/*.py")) == 5  # the default


async def test_the_branch_is_read_as_the_remote_has_it_now(files: RepoFiles, repo: RepoRef, tmp_path: Path) -> None:
    moving = RemoteRepo(tmp_path / "moving", {"a.txt": "old\n"})
    ref = RepoRef(name="moving", url=moving.url)
    assert await files.matching(ref, "*.txt", content="new") == []
    moving.push_change({"a.txt": "new\n", "b.txt": "new\n"})
    assert await files.matching(ref, "*.txt", content="new") == ["a.txt", "b.txt"]


async def test_a_bad_regex_is_a_user_facing_error_naming_it(files: RepoFiles, repo: RepoRef) -> None:
    with pytest.raises(UserFacingError, match=r"'\(unclosed'"):
        await files.matching(repo, "**/*.py", content="(unclosed")
    with pytest.raises(UserFacingError, match="regular expression"):
        await files.matching(repo, "**/*.py", content="a{99999}")


async def test_an_unreachable_remote_is_a_user_facing_error_naming_it(files: RepoFiles, tmp_path: Path) -> None:
    gone = RepoRef(name="gone", url=str(tmp_path / "no-such-remote"))
    with pytest.raises(UserFacingError, match="gone"):
        await files.matching(gone, "**/*.py")


@pytest.mark.parametrize(
    "path",
    ["../x", "src/../../etc/passwd", "/etc/passwd", "./setup.py", "src\\app\\main.py", "a\nb", "", "x" * 10_000],
)
async def test_hostile_paths_are_refused(files: RepoFiles, repo: RepoRef, path: str) -> None:
    started = time.perf_counter()
    with pytest.raises(UserFacingError):
        await files.matching(repo, path)
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("regex", ["(a*)\\1b", "a\nb", "", "a" * 10_000])
async def test_hostile_regexes_are_refused(files: RepoFiles, repo: RepoRef, regex: str) -> None:
    with pytest.raises(UserFacingError):
        await files.matching(repo, "**/*", content=regex)


async def test_a_regex_that_is_slow_to_match_is_bounded(files: RepoFiles, repo: RepoRef) -> None:
    """Nested groups over one long line take glibc's matcher tens of seconds: an answer or a refusal
    comes well before that."""
    started = time.perf_counter()
    try:
        found = await asyncio.wait_for(files.matching(repo, "slow/*", content="(.*)(.*)(.*)(.*)(.*)x"), 30)
    except UserFacingError as e:
        assert "too slow" in str(e)
    else:
        assert found == []
    assert time.perf_counter() - started < 10


async def test_the_worker_reads_files_from_its_own_mirrors(repo: RepoRef, tmp_path: Path) -> None:
    """The composition root's instance (what the campaign's steps are given) is one over the worker's mirrors."""
    settings = Settings().changed(data_dir=tmp_path / "data")
    store = Store(settings.db_url)
    try:
        acts = build_activities(settings, store)
        assert acts.steps.repo_files is not None
        assert await acts.steps.repo_files.matching(repo, "go.mod") == ["go.mod"]
        assert (settings.mirrors_dir / f"{repo.name}.git" / "HEAD").exists()
        assert not (settings.workspaces_dir / ".spare").exists()  # looked at, no spare worktrees made
        await acts.steps.workspaces.close()
    finally:
        await store.close()
