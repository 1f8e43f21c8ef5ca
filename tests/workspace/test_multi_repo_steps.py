"""A task over several repos (issue 20) gets one workspace per repo, each on the task's branch name and each with
its own `.honk.toml`, and its cleanup leaves none behind, also when provisioning failed half-way. The worker's
real activities (as `honk worker` builds them), run in Temporal's activity test environment; real git remotes,
real bubblewrap for the repos' setup commands."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import ActivityEnvironment

from honk.composition.worker import build_activities
from honk.domain import AgentJob, RepoRef, TaskRequest
from honk.events import AgentStarted, CheckFinished, ChecksStarted, RepoCommitted, WorkspaceReady
from honk.settings import Settings
from honk.store import Store
from honk.testing.gitrepo import RemoteRepo, run_git
from honk.workflow.activities import TaskActivities
from honk.workflow.records import AgentRunInput, ProvisionInput, StepInput

API_TOML = '[[verify]]\nname = "test"\nrun = "true"\n'
WEB_TOML = '[[verify]]\nname = "lint"\nrun = "true"\n[merge]\ntarget = "trunk"\n'


class World:
    def __init__(self, root: Path, settings: Settings, store: Store, acts: TaskActivities) -> None:
        self.root, self.settings, self.store, self.acts = root, settings, store, acts
        self.repos: dict[str, RepoRef] = {}

    def repo(self, name: str, files: dict[str, str], branch: str = "main") -> RepoRef:
        remote = RemoteRepo(self.root / name, files, branch=branch)
        run_git("push", "--quiet", "origin", "HEAD:trunk", cwd=remote.clone)  # WEB_TOML's merge target
        self.repos[name] = RepoRef(name=name, url=remote.url, branch=branch)
        return self.repos[name]

    async def task(self, task_id: str, primary: str, *also: str) -> TaskRequest:
        req = TaskRequest(
            task_id=task_id,
            request_id=f"r-{task_id}",
            repo=self.repos[primary],
            also=[self.repos[n] for n in also],
            text="rename user_id to account_id",
            requested_by="ada@example.com",
            agent="scripted",
        )
        await self.store.create_task(req, f"honk/{task_id}")
        return req

    def workspaces(self) -> list[str]:
        """Every task workspace on this worker (spares aside)."""
        where = self.settings.workspaces_dir
        return sorted(p.name for p in where.iterdir() if not p.name.startswith(".")) if where.exists() else []


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings().changed(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    store = Store(settings.db_url)
    await store.create_schema()
    acts = build_activities(settings, store)
    yield World(tmp_path, settings, store, acts)
    # As the worker does when it stops: no spare worktree is still being made when the test's loop closes
    # (a refill left running has hung this fixture's teardown).
    await acts.steps.workspaces.close()
    await store.close()


async def test_each_repo_gets_its_workspace_on_the_task_branch_with_its_own_config_and_cleanup_takes_all(
    world: World,
):
    world.repo("api", {".honk.toml": API_TOML, "api.py": "user_id = 1\n"})
    world.repo("web", {".honk.toml": WEB_TOML, "web.js": "let user_id = 1;\n"})
    req = await world.task("t-multi1", "api", "web")
    env = ActivityEnvironment()

    prov = await env.run(world.acts.provision, ProvisionInput(request=req))

    assert [c.name for c in prov.config.verify] == ["test"]
    (web,) = prov.also
    assert (web.name, web.branch, [c.name for c in web.config.verify]) == ("web", "honk/t-multi1", ["lint"])
    assert web.config.merge.target == "trunk", "each repo keeps its own .honk.toml"
    assert world.workspaces() == ["t-multi1", "t-multi1+web"]
    web_ws = world.settings.workspaces_dir / "t-multi1+web"
    assert (web_ws / "web.js").read_text() == "let user_id = 1;\n"
    assert run_git("symbolic-ref", "--short", "HEAD", cwd=web_ws) == "honk/t-multi1"
    ready = [e.event for e in await world.store.events(req.task_id) if isinstance(e.event, WorkspaceReady)]
    assert [e.repo for e in ready] == ["web", ""], "each workspace is said, the task's own last"

    await env.run(world.acts.provision, ProvisionInput(request=req))  # a retried step makes nothing twice
    assert world.workspaces() == ["t-multi1", "t-multi1+web"]

    await env.run(world.acts.cleanup, ProvisionInput(request=req))
    assert world.workspaces() == []


async def test_a_one_repo_task_keeps_its_one_workspace_named_by_the_task(world: World):
    world.repo("solo", {".honk.toml": API_TOML, "a.py": "x = 1\n"})
    req = await world.task("t-solo1", "solo")
    prov = await ActivityEnvironment().run(world.acts.provision, ProvisionInput(request=req))
    assert prov.also == [] and world.workspaces() == ["t-solo1"]


async def test_provisioning_that_fails_in_a_later_repo_names_it_and_the_cleanup_leaves_no_orphan(world: World):
    world.repo("api", {".honk.toml": API_TOML, "api.py": "user_id = 1\n"})
    world.repo("web", {".honk.toml": 'setup = "echo no node here >&2; exit 3"\n' + WEB_TOML, "web.js": ""})
    world.repo("docs", {".honk.toml": API_TOML, "index.md": ""})
    req = await world.task("t-multi2", "api", "web", "docs")
    env = ActivityEnvironment()

    with pytest.raises(Exception) as failed:  # noqa: PT011 - the activity's error, as Temporal gets it
        await env.run(world.acts.provision, ProvisionInput(request=req))
    message = str(failed.value)
    assert "Repo web's setup command `echo no node here >&2; exit 3` failed" in message, message
    assert "no node here" in message
    assert world.workspaces() == ["t-multi2", "t-multi2+web"], "docs was never reached"

    await env.run(world.acts.cleanup, ProvisionInput(request=req))  # what the workflow does on any failure
    assert world.workspaces() == []


async def test_an_unknown_branch_in_another_repo_is_said_with_its_name(world: World):
    world.repo("api", {".honk.toml": API_TOML, "api.py": ""})
    world.repos["web"] = RepoRef(name="web", url=world.repos["api"].url, branch="no-such-branch")
    req = await world.task("t-multi3", "api", "web")
    with pytest.raises(Exception, match="Repo 'web' has no branch 'no-such-branch' on its remote"):
        await ActivityEnvironment().run(world.acts.provision, ProvisionInput(request=req))
    await ActivityEnvironment().run(world.acts.cleanup, ProvisionInput(request=req))
    assert world.workspaces() == []


async def test_each_repos_checks_run_in_its_own_workspace_named_by_repo_and_the_task_passes_only_if_all_do(
    world: World,
):
    # web's lint fails when the old name is still there: the change must reach web too.
    lint = '[[verify]]\nname = "lint"\nrun = "! grep -q user_id web.js"\n[merge]\ntarget = "trunk"\n'
    world.repo("api", {".honk.toml": '[[verify]]\nname = "test"\nrun = "! grep -q user_id api.py"\n', "api.py": ""})
    world.repo("web", {".honk.toml": lint, "web.js": "let user_id = 1;\n"})
    req = await world.task("t-multi4", "api", "web")
    env = ActivityEnvironment()
    prov = await env.run(world.acts.provision, ProvisionInput(request=req))

    failed = await env.run(world.acts.verify, StepInput(request=req, config=prov.config, round=1, also=prov.also))
    assert not failed.passed
    assert "## web: lint failed (`! grep -q user_id web.js`)" in failed.feedback
    assert "api: test" not in failed.feedback

    (world.settings.workspaces_dir / "t-multi4+web" / "web.js").write_text("let account_id = 1;\n")
    passed = await env.run(world.acts.verify, StepInput(request=req, config=prov.config, round=2, also=prov.also))
    assert passed.passed, passed.feedback
    events = [e.event for e in await world.store.events(req.task_id)]
    started = [e.names for e in events if isinstance(e, ChecksStarted)]
    assert started == [["api: test", "web: lint"]] * 2
    finished = [(e.name, e.passed) for e in events if isinstance(e, CheckFinished)]
    assert finished == [("api: test", True), ("web: lint", False), ("api: test", True), ("web: lint", True)]
    logs = sorted(p.name for p in (world.settings.logs_dir / req.task_id).iterdir())
    assert "round1-web-lint.log" in logs and "round1-api-test.log" in logs, logs


async def test_a_one_repo_tasks_checks_keep_their_names(world: World):
    world.repo("solo", {".honk.toml": API_TOML, "a.py": ""})
    req = await world.task("t-solo2", "solo")
    env = ActivityEnvironment()
    prov = await env.run(world.acts.provision, ProvisionInput(request=req))
    assert (await env.run(world.acts.verify, StepInput(request=req, config=prov.config, round=1))).passed
    events = [e.event for e in await world.store.events(req.task_id)]
    assert [e.name for e in events if isinstance(e, CheckFinished)] == ["test"]


# The scripted agent's one run renames in both repos (a task over several: the edit names web).
BOTH = """[[step]]
message = "renamed"
edit = [{ path = "api.py", replace = "user_id", with = "account_id" },
        { repo = "web", path = "web.js", replace = "user_id", with = "account_id" }]
"""
API_ONLY = (
    '[[step]]\nmessage = "renamed in api"\nedit = [{ path = "api.py", replace = "user_id", with = "account_id" }]\n'
)


def _run_input(req: TaskRequest) -> AgentRunInput:
    job = AgentJob(task_id=req.task_id, prompt=req.text, request=req.text, reason="request", round=1, invocation=0)
    return AgentRunInput(request=req, job=job, agent="scripted")


def _attempt(n: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=n)
    return env


async def test_a_retried_run_after_its_worker_went_counts_the_other_repos_commits(world: World):
    world.repo("api", {".honk.toml": API_TOML, "api.py": "user_id = 1\n", ".honk/scenario.toml": BOTH})
    world.repo("web", {".honk.toml": WEB_TOML, "web.js": "let user_id = 1;\n"})
    req = await world.task("t-multi5", "api", "web")
    await ActivityEnvironment().run(world.acts.provision, ProvisionInput(request=req))
    web_ws = world.settings.workspaces_dir / "t-multi5+web"

    # The first attempt commits in both repos, then its worker goes before Temporal hears its result.
    first = await _attempt(1).run(world.acts.run_agent, _run_input(req))
    assert first.commit and set(first.also_commits) == {"web"}

    retried = await _attempt(2).run(world.acts.run_agent, _run_input(req))
    assert retried.commit == first.commit, "the task's own commit is found, the agent not run again"
    assert retried.also_commits == {"web": run_git("rev-parse", "HEAD", cwd=web_ws)}, "web's commit counts too"
    events = [e.event for e in await world.store.events(req.task_id)]
    assert [e.repo for e in events if isinstance(e, RepoCommitted)] == ["web"], "said once"


async def test_a_retried_run_counts_another_repos_commit_made_before_the_worker_went_and_never_said(world: World):
    world.repo("api", {".honk.toml": API_TOML, "api.py": "user_id = 1\n", ".honk/scenario.toml": API_ONLY})
    world.repo("web", {".honk.toml": WEB_TOML, "web.js": "let user_id = 1;\n"})
    req = await world.task("t-multi6", "api", "web")
    await ActivityEnvironment().run(world.acts.provision, ProvisionInput(request=req))
    api_ws, web_ws = (world.settings.workspaces_dir / k for k in ("t-multi6", "t-multi6+web"))
    # The first attempt started, its agent changed web, Honk committed web's change (which comes before the
    # task's own) and the worker went then: no RepoCommitted, api not committed.
    heads = {"api": run_git("rev-parse", "HEAD", cwd=api_ws), "web": run_git("rev-parse", "HEAD", cwd=web_ws)}
    await world.store.append(
        req.task_id,
        AgentStarted(round=1, reason="request", invocation=0, head=heads["api"], also_heads={"web": heads["web"]}),
    )
    (web_ws / "web.js").write_text("let account_id = 1;\n")
    run_git("commit", "-qam", "rename", cwd=web_ws)
    web_commit = run_git("rev-parse", "HEAD", cwd=web_ws)

    retried = await _attempt(2).run(world.acts.run_agent, _run_input(req))  # the agent runs again: api only

    assert retried.commit is not None and retried.changed_files == ["api.py"]
    assert retried.also_commits == {"web": web_commit}, "web changed, though this run left it alone"
    events = [e.event for e in await world.store.events(req.task_id)]
    assert [(e.repo, e.commit, e.changed_files) for e in events if isinstance(e, RepoCommitted)] == [
        ("web", web_commit, ["web.js"])
    ]
