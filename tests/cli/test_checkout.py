"""`honk checkout TASK` with real git: a ready task's branch (as published on the repo's remote) fetched into
the clone you are in, switched to, with the agent's summary in .git/ and nothing in the work tree; outside a
clone the commands are printed, and they work as printed."""

from __future__ import annotations

import html
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import honk as honk_package
from honk.domain import TaskState, TaskView
from honk.testing.gitrepo import RemoteRepo
from honk.workspace.local_clone import same_repo_key
from repos import DIRECT_FIX, calc_files
from triggers.served import Served, serving


@pytest.fixture(scope="module")
def ready(tmp_path_factory: pytest.TempPathFactory, temporal) -> Iterator[tuple[Served, RemoteRepo, TaskView]]:
    with serving(tmp_path_factory.mktemp("checkout"), temporal.address) as honk:
        remote = RemoteRepo(tmp_path_factory.mktemp("remote") / "calc", calc_files(DIRECT_FIX))
        honk.stack.http.headers["Authorization"] = f"Bearer {honk.ada}"
        honk.stack.add_repo("calc", str(remote.bare))
        task = honk.stack.ask("calc", "make add() add")
        done = honk.stack.wait_for(task.id, TaskState.ready, TaskState.failed)
        assert done.state == TaskState.ready, done.reason
        yield honk, remote, done


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def checkout(honk: Served, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Run from another directory: the honk under test, wherever the test's own PYTHONPATH found it.
    source = str(Path(honk_package.__file__).resolve().parents[1])
    env = {**honk.stack.env, "HONK_URL": honk.url, "HONK_TOKEN": honk.ada, "PYTHONPATH": source}
    return subprocess.run(
        [sys.executable, "-m", "honk", "checkout", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        input="",
    )


def test_the_tasks_branch_comes_into_this_clone_with_the_agents_summary(ready, tmp_path: Path):
    honk, remote, task = ready
    clone = tmp_path / "laptop"
    git(tmp_path, "clone", "--quiet", str(remote.bare), str(clone))
    done = checkout(honk, clone, task.id)
    assert done.returncode == 0, done.stderr
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD") == task.branch
    commit = git(clone, "rev-parse", "HEAD")
    assert honk.stack.task(task.id).state == TaskState.ready
    assert "return a + b" in (clone / "calc.py").read_text()
    notes = clone / ".git" / f"honk-{task.id}.md"
    summary = notes.read_text()
    assert "make add() add" in summary and "## What the agent did" in summary and commit[:10] in summary
    assert git(clone, "status", "--porcelain") == "", "the summary is not in the work tree"
    assert f"git push origin HEAD:refs/heads/{task.branch}" in done.stdout and str(notes) in done.stdout

    again = checkout(honk, clone, task.id)
    assert again.returncode == 1 and f"A branch {task.branch} is already here" in again.stderr

    # Outside a clone: the commands, which work as printed in a fresh clone.
    printed = checkout(honk, tmp_path, task.id)
    assert printed.returncode == 0, printed.stderr
    commands = [line.strip() for line in printed.stdout.splitlines() if line.strip().startswith("git ")]
    assert len(commands) == 2 and "refs/honk/tasks/" in commands[0]
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(remote.bare), str(other))
    for command in commands:
        subprocess.run(shlex.split(command), cwd=other, check=True, capture_output=True)
    assert git(other, "rev-parse", "HEAD") == commit

    # The task page shows the same commands.
    page = honk.stack.http.get(f"/tasks/{task.id}")
    assert page.status_code == 200, page.text
    assert "Continue on your laptop" in page.text and f"honk checkout {task.id}" in page.text
    assert all(html.escape(command) in page.text for command in commands), commands


def test_clones_of_one_repo_are_known_by_any_of_their_urls():
    same = {
        same_repo_key("https://github.com/acme/calc.git"),
        same_repo_key("git@github.com:acme/calc.git"),
        same_repo_key("ssh://git@GitHub.com/acme/calc"),
        same_repo_key("https://github.com/acme/calc/"),
    }
    assert same == {"github.com/acme/calc"}
    assert same_repo_key("https://github.com/acme/calc-fork.git") != "github.com/acme/calc"
