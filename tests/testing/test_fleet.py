"""The synthetic fleet is what its docstring says: the variety by index, fast to make, each repo doing what
it is meant to (checks pass or fail when run, the archived remote refuses a push, the conflict conflicts)."""

from __future__ import annotations

import asyncio
import subprocess
import time
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from honk.agents.scripted import Scenario
from honk.testing.fleet import (
    ARCHIVED_MESSAGE,
    EDIT_AFTER,
    EDIT_BEFORE,
    EDITED_FILE,
    Fleet,
    FleetRepo,
    Language,
    Meant,
    RepoSpec,
    fleet_plan,
    make_fleet,
)
from honk.testing.gitrepo import run_git
from honk.verify.config import parse_repo_config
from honk.workspace.git import check_remote_branch


def checkout(repo: FleetRepo, where: Path) -> Path:
    run_git("clone", "--quiet", repo.url, str(where))
    return where


def run_checks(workspace: Path) -> list[int]:
    """Each of the repo's `.honk.toml` checks run as Honk's runner runs them (`bash -c`), unconfined."""
    config = parse_repo_config((workspace / ".honk.toml").read_text())
    assert config.verify, "a fleet repo names its checks"
    return [
        subprocess.run(["bash", "-c", c.run], cwd=workspace, capture_output=True, timeout=60).returncode
        for c in config.verify
    ]


def apply_scripted_edit(workspace: Path) -> None:
    """The scripted agent's one step, applied as it applies it (replace the text once)."""
    scenario = Scenario.model_validate(tomllib.loads((workspace / ".honk/scenario.toml").read_text()))
    (edit,) = scenario.step[0].edit
    assert edit.replace is not None and edit.with_ is not None
    target = workspace / edit.path
    assert edit.replace in target.read_text()
    target.write_text(target.read_text().replace(edit.replace, edit.with_, 1))


def test_the_plan_is_the_documented_variety() -> None:
    five = fleet_plan(5)
    assert [s.meant for s in five] == [Meant.PASSES, Meant.CONFLICTS, Meant.ARCHIVED, Meant.FAILS_CHECKS, Meant.PASSES]
    assert [s.name for s in five] == ["svc-00", "svc-01", "go-02", "svc-03", "svc-04"]
    fifty = fleet_plan(50)
    meant = Counter(s.meant for s in fifty)
    assert meant == {Meant.CONFLICTS: 1, Meant.ARCHIVED: 1, Meant.FAILS_CHECKS: 10, Meant.PASSES: 38}
    assert sum(s.language is Language.GO for s in fifty) == 16
    assert all(s.name.startswith("go-") == (s.language is Language.GO) for s in fifty)
    assert {s.name for s in fifty if s.requirements} == {f"svc-{i:02d}" for i in range(0, 50, 2) if i % 3 != 2}
    assert len({s.name for s in fifty}) == 50


def test_fifty_repos_are_made_fast_and_hold_what_their_records_say(tmp_path: Path) -> None:
    started = time.perf_counter()
    fleet = make_fleet(tmp_path / "fleet", 50)
    took = time.perf_counter() - started
    # Measured at ~0.2 s on 2 cores; the bound only catches a return to one slow git command per file.
    assert took < 5, f"making 50 repos took {took:.1f} s"
    assert len(fleet) == 50 and len({r.head() for r in fleet}) == 50
    for repo in fleet:
        on_main = run_git("--git-dir", str(repo.bare), "ls-tree", "-r", "--name-only", "main").splitlines()
        assert tuple(sorted(on_main)) == repo.files
        assert ("requirements.txt" in repo.files) == (repo.name in {s.name for s in fleet_plan(50) if s.requirements})
        assert any(f.endswith(".py") for f in repo.files) == (repo.language is Language.PYTHON)
        assert ("go.mod" in repo.files) == (repo.language is Language.GO)
        # Only the conflicts repo has something beside main, and not where a mirror's fetch looks.
        refs = run_git("--git-dir", str(repo.bare), "for-each-ref", "--format=%(refname)").splitlines()
        expected = ["refs/heads/main"] + (["refs/fleet/conflict"] if repo.meant is Meant.CONFLICTS else [])
        assert sorted(refs) == sorted(expected)


@pytest.fixture(scope="module")
def five(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return make_fleet(tmp_path_factory.mktemp("fleet"), 5)


def test_each_language_s_checks_pass_or_fail_as_meant_before_and_after_the_agent_s_edit(tmp_path: Path) -> None:
    specs = [
        RepoSpec("py-ok"),
        RepoSpec("py-bad", Meant.FAILS_CHECKS),
        RepoSpec("go-ok", language=Language.GO),
        RepoSpec("go-bad", Meant.FAILS_CHECKS, Language.GO),
    ]
    fleet = make_fleet(tmp_path / "fleet", specs=specs)
    for repo in fleet:
        ws = checkout(repo, tmp_path / repo.name)
        before = run_checks(ws)
        apply_scripted_edit(ws)
        assert EDIT_AFTER in (ws / EDITED_FILE).read_text()
        after = run_checks(ws)
        if repo.fails_checks:
            assert before and after and all(code != 0 for code in before + after), repo.name
        else:
            assert before == after == [0], repo.name


def test_the_archived_remote_refuses_a_push_and_another_takes_it(five: Fleet, tmp_path: Path) -> None:
    (archived,) = five.meant(Meant.ARCHIVED)
    assert archived.archived and not five["svc-00"].archived
    for repo in (archived, five["svc-00"]):
        ws = checkout(repo, tmp_path / repo.name)
        apply_scripted_edit(ws)
        run_git("commit", "--quiet", "-am", "raise the timeout", cwd=ws)
        push = subprocess.run(["git", "push", "origin", "HEAD:main"], cwd=ws, capture_output=True, text=True)
        if repo.archived:
            assert push.returncode != 0 and ARCHIVED_MESSAGE in push.stderr
            assert repo.head() != run_git("rev-parse", "HEAD", cwd=ws)
        else:
            assert push.returncode == 0, push.stderr
            assert repo.head() == run_git("rev-parse", "HEAD", cwd=ws)


def test_the_conflicting_change_lands_on_main_and_the_agent_s_edit_then_conflicts(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path / "fleet", 3)
    (repo,) = fleet.meant(Meant.CONFLICTS)
    with pytest.raises(ValueError):
        fleet["svc-00"].land_conflict()
    ws = checkout(repo, tmp_path / "task")  # the task's workspace, made from main before it moved
    apply_scripted_edit(ws)
    run_git("commit", "--quiet", "-am", "raise the timeout", cwd=ws)
    before = repo.head()
    landed = repo.land_conflict()
    assert landed != before and repo.head() == landed
    assert EDIT_BEFORE not in repo.show(EDITED_FILE)
    run_git("fetch", "--quiet", "origin", cwd=ws)
    merge = subprocess.run(["git", "merge", "--no-edit", "origin/main"], cwd=ws, capture_output=True, text=True)
    assert merge.returncode != 0
    assert run_git("diff", "--name-only", "--diff-filter=U", cwd=ws).splitlines() == [EDITED_FILE]


def test_register_adds_every_repo_and_each_passes_honk_s_add_repo_check(five: Fleet) -> None:
    added: list[tuple[str, str, str]] = []

    class Recorder:
        def add_repo(self, name: str, url: str, branch: str = "main") -> None:
            added.append((name, url, branch))

    five.register(Recorder())
    assert added == [(r.name, r.url, "main") for r in five]

    async def check_all() -> None:
        # What TaskService.add_repo asks of every repo before storing it: reachable, with the branch.
        for _, url, branch in added:
            await check_remote_branch(url, branch)

    asyncio.run(check_all())


def test_a_plan_with_duplicate_names_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_fleet(tmp_path, specs=[RepoSpec("a"), RepoSpec("a")])
