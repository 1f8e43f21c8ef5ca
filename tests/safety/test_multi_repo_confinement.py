"""One change across several repos (issue 20): the agent's confinement shows exactly the task's workspaces
writable, and nothing else of Honk's data dir. Under real bubblewrap, through the tools the worker builds
for an agent run (`ToolsForRuns`), with real mirrors and worktrees: the other repo's workspace is the agent's
to change; another task's workspace, a mirror, a repo not in the task and a workspace's `.git` are not, and
each refusal is written down as the sandbox's violations are (a task's steps turn them into audited events)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from honk.domain import RepoRef, VerifyCommand, Workspace
from honk.errors import UserFacingError
from honk.events import CheckFinished
from honk.sandbox import Sandbox, SandboxConfig
from honk.store import Store
from honk.store.transcripts import TranscriptStore
from honk.testing.gitrepo import RemoteRepo
from honk.workflow.steps.tools import OtherWorkspace, RunTools, ToolsForRuns
from honk.workspace.worktrees import WorktreeWorkspaces


@dataclass
class Fleet:
    data: Path
    areas: Path
    api: Workspace  # task t1's workspace of api (its primary)
    web: Workspace  # task t1's workspace of web (its other repo)
    other_task: Workspace  # task t2's workspace of api
    outsider: Workspace  # task t3's workspace of a repo t1 does not name
    tools: ToolsForRuns
    sandbox: Sandbox

    def run(self, writable: bool = True):  # noqa: ANN201 - the tools' context manager
        also = [OtherWorkspace("web", self.web.path, self.web.mirror)]
        return self.tools.run("t1", self.api.path, [self.api.mirror], [], _nothing, writable=writable, also=also)

    def refused(self) -> list[str]:
        return [v.kind for v in Sandbox.violations(self.areas / "t1")]


async def _nothing(*_events: object) -> None:
    return None


@pytest_asyncio.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[Fleet]:
    data = tmp_path / "data"
    data.mkdir()
    workspaces = WorktreeWorkspaces(data / "mirrors", data / "workspaces", "Honk", "honk@example.com")
    repos = {
        name: RepoRef(name=name, url=RemoteRepo(tmp_path / name, {f"{name}.txt": f"{name}\n"}).url)
        for name in ("api", "web", "vault")
    }
    for repo in repos.values():
        await workspaces.fetch(repo, refill=False)
    api = await workspaces.ensure("t1", repos["api"], "main")
    web = await workspaces.ensure("t1", repos["web"], "main", key="t1+web")
    other_task = await workspaces.ensure("t2", repos["api"], "main")
    outsider = await workspaces.ensure("t3", repos["vault"], "main")
    store = Store(f"sqlite+aiosqlite:///{data / 'honk.db'}")
    await store.create_schema()
    sandbox = Sandbox(SandboxConfig(hidden=(data,), pids=64, memory_mb=512))
    tools = ToolsForRuns(sandbox, TranscriptStore(store), data / "agent-homes", data / "logs")
    yield Fleet(data, data / "agent-homes", api, web, other_task, outsider, tools, sandbox)
    await store.close()


async def shell(tools: RunTools, command: str) -> tuple[bool, str]:
    res = await tools.launcher.shell(command, timeout_s=20)
    return res.ok, res.output


async def test_the_other_repos_workspace_is_writable_at_its_own_path_for_the_agent_and_its_programs(fleet: Fleet):
    async with fleet.run() as tools:
        ok, out = await shell(tools, f"cat {fleet.web.path}/web.txt && echo edited > {fleet.web.path}/web.txt")
        assert ok and "web" in out, out
        tools.also["web"].write("src/new.js", "export const accountId = 1;\n")
        assert sorted(tools.also) == ["web"] and tools.also["web"].root == fleet.web.path.resolve()
        ok, out = await shell(tools, f"git -C {fleet.web.path} status --porcelain")  # its mirror is readable
        assert ok and "web.txt" in out, out
    assert (fleet.web.path / "web.txt").read_text() == "edited\n"
    assert (fleet.web.path / "src" / "new.js").exists()
    assert fleet.refused() == []


@pytest.mark.parametrize(
    "where",
    ["another task's workspace", "a mirror", "a repo not in the task", "its mirror", "a .git", "beside the repos"],
)
async def test_nothing_else_of_honks_data_dir_is_writable_and_each_attempt_is_written_down(fleet: Fleet, where: str):
    target = {
        "another task's workspace": fleet.other_task.path / "api.txt",
        "a mirror": fleet.api.mirror / "hooks" / "post-checkout",
        "a repo not in the task": fleet.outsider.path / "vault.txt",
        "its mirror": fleet.web.mirror / "config",
        "a .git": fleet.web.path / ".git",
        "beside the repos": fleet.web.path.parent / "t1+vault" / "planted.txt",
    }[where]
    before = target.read_text() if target.is_file() else None
    async with fleet.run() as tools:
        ok, out = await shell(tools, f"mkdir -p {target.parent} && echo pwned > {target}")
    assert not ok, out
    assert (target.read_text() if target.is_file() else None) == before, "nothing was written there"
    assert not (fleet.web.path.parent / "t1+vault").exists()
    refused = fleet.refused()
    assert refused and set(refused) <= {"write_outside", "hidden_path"}, (refused, out)


async def test_the_views_the_agent_gets_refuse_paths_that_leave_their_workspace(fleet: Fleet):
    async with fleet.run() as tools:
        with pytest.raises(UserFacingError, match="leaves the workspace"):
            tools.also["web"].write("../t2/api.txt", "pwned")
        with pytest.raises(UserFacingError, match="inside .git"):
            tools.also["web"].write(".git/config", "pwned")
    assert (fleet.other_task.path / "api.txt").read_text() == "api\n"


async def test_while_planning_every_repo_of_the_task_is_read_only(fleet: Fleet):
    async with fleet.run(writable=False) as tools:
        ok, out = await shell(tools, f"cat {fleet.web.path}/web.txt && echo x > {fleet.web.path}/web.txt")
        assert not ok and out.startswith("web"), out
        with pytest.raises(UserFacingError, match="read-only while the agent plans"):
            tools.also["web"].write("web.txt", "x")
    assert (fleet.web.path / "web.txt").read_text() == "web\n"


async def test_a_one_repo_run_shows_no_other_workspace(fleet: Fleet):
    async with fleet.tools.run("t1", fleet.api.path, [fleet.api.mirror], [], _nothing) as tools:
        assert dict(tools.also) == {}
        ok, out = await shell(tools, f"cat {fleet.web.path}/web.txt")
    assert not ok and "No such file or directory" in out, out


async def test_the_agents_verify_tool_runs_every_repos_checks_each_in_its_own_workspace_named_by_repo(fleet: Fleet):
    said: list[object] = []

    async def emit(*events: object) -> None:
        said.extend(events)

    api_checks = [VerifyCommand(name="test", run="grep -q api api.txt")]
    # web's lint reads web.txt where it runs: it passes only in web's workspace, once the agent changed it.
    web = OtherWorkspace(
        "web", fleet.web.path, fleet.web.mirror, checks=[VerifyCommand(name="lint", run="grep -q account web.txt")]
    )
    api = RepoRef(name="api", url="unused")
    run = fleet.tools.run("t1", fleet.api.path, [fleet.api.mirror], api_checks, emit, network=(api, None), also=[web])  # type: ignore[arg-type]
    async with run as tools:
        passed, said_first = await tools.checks.run("agent1")
        assert not passed
        assert "## web: lint failed (`grep -q account web.txt`)" in said_first and "api: test" not in said_first
        tools.also["web"].write("web.txt", "account\n")
        passed, said_then = await tools.checks.run("agent2")
        assert passed and said_then == "All checks pass (api: test, web: lint).", said_then
    finished = [(e.name, e.passed) for e in said if isinstance(e, CheckFinished)]
    assert finished == [("api: test", True), ("web: lint", False), ("api: test", True), ("web: lint", True)]
    logs = sorted(p.name for p in (fleet.data / "logs" / "t1").iterdir())
    assert logs == ["agent1-api-test.log", "agent1-web-lint.log", "agent2-api-test.log", "agent2-web-lint.log"]


async def test_a_one_repo_runs_verify_tool_keeps_its_checks_names(fleet: Fleet):
    said: list[object] = []

    async def emit(*events: object) -> None:
        said.extend(events)

    checks = [VerifyCommand(name="test", run="grep -q api api.txt")]
    async with fleet.tools.run("t1", fleet.api.path, [fleet.api.mirror], checks, emit) as tools:  # type: ignore[arg-type]
        assert await tools.checks.run("agent1") == (True, "All checks pass (test).")
    assert [e.name for e in said if isinstance(e, CheckFinished)] == ["test"]
