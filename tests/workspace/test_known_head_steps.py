"""Steps the workflow hands what it knows (the head provisioning or the checks left, the merge base verify
found) on real git: they skip the git runs that would only say it again, and still reset a retried run."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from temporalio.testing import ActivityEnvironment

from honk.composition.worker import build_activities
from honk.domain import AgentJob, RepoRef, TaskRequest
from honk.events import TaskReady
from honk.settings import Settings
from honk.store import Store
from honk.testing.gitrepo import RemoteRepo, run_git
from honk.workflow.activities import TaskActivities
from honk.workflow.records import AgentRunInput, ProvisionInput, ReviewInput, StepInput
from repos import DIRECT_FIX, calc_files


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Settings, Store, TaskActivities, RepoRef]]:
    settings = Settings().changed(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    store = Store(settings.db_url)
    await store.create_schema()
    remote = RemoteRepo(tmp_path / "calc", calc_files(DIRECT_FIX))
    acts = build_activities(settings, store)
    yield settings, store, acts, RepoRef(name="calc", url=remote.url)
    await acts.steps.workspaces.close()  # as the worker does when it stops: no refill outlives the test
    await store.close()


async def _task(store: Store, repo: RepoRef, task_id: str) -> TaskRequest:
    req = TaskRequest(
        task_id=task_id, request_id=f"r-{task_id}", repo=repo, text="fix add()", requested_by="ada@example.com"
    )
    await store.create_task(req, f"honk/{task_id}")
    return req


def _attempt(n: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=n)
    return env


async def test_known_head_and_base_carry_through_the_steps_and_a_retried_run_still_starts_clean(world):
    settings, store, acts, repo = world
    env = ActivityEnvironment()
    await env.run(acts.provision, ProvisionInput(request=await _task(store, repo, "t-warm")))
    await asyncio.gather(*acts.steps.workspaces._refills)  # type: ignore[attr-defined]  # a spare is ready

    req = await _task(store, repo, "t-known")
    prov = await env.run(acts.provision, ProvisionInput(request=req))
    path = settings.workspaces_dir / "t-known"
    assert prov.head == prov.base_commit == run_git("rev-parse", "HEAD", cwd=path), "a branch new on a spare"

    # A first attempt wrote a file and its worker went: the retry is handed the worktree as "clean" (the
    # workflow saw only provisioning), yet resets it, so the stray file is not committed.
    (path / "stray.txt").write_text("left by an attempt whose worker went\n")
    job = AgentJob(task_id=req.task_id, prompt=req.text, request=req.text, reason="request", round=1, invocation=0)
    run = await _attempt(2).run(
        acts.run_agent, AgentRunInput(request=req, job=job, agent="scripted", head=prov.head, clean=True)
    )
    assert run.commit and run.changed_files == ["calc.py"]
    assert not (path / "stray.txt").exists()

    checked = await env.run(acts.verify, StepInput(request=req, config=prov.config, round=1, head=run.commit))
    assert checked.passed and checked.head_commit == run.commit and checked.base_commit == prov.base_commit
    known = {"head": checked.head_commit, "base": checked.base_commit}
    review = await env.run(acts.review, ReviewInput(request=req, config=prov.config, **known))
    assert review.ok, review.feedback
    await env.run(acts.deliver, StepInput(request=req, config=prov.config, summary="fixed", **known))

    ready = [e.event for e in await store.events(req.task_id) if isinstance(e.event, TaskReady)]
    assert [r.commit for r in ready] == [run.commit]
    assert "calc.py" in ready[0].diffstat and "+" in ready[0].diff and "stray" not in ready[0].diff
