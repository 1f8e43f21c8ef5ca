"""Whole tasks on a forge: Honk (never the agent) pushes the branch and keeps one draft pull request per
task up to date; Merge goes through the forge's API and its required checks; a pull request closed
on the forge ends the task. Real `honk server`/`honk worker`, Temporal, git over smart HTTP against
the loopback fake GitHub/GitLab."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from honk.domain import TaskState
from honk.testing.fake_github import FakeGitHub
from honk.testing.fake_gitlab import FakeGitLab
from honk.testing.processes import HonkStack, wait_until
from repos import DIRECT_FIX, FOLLOW_UP_STEP, calc_files

TOKEN = "ghp_forge_task_0123456789"
GL_TOKEN = "glpat-forge-task-0123456789"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(tokens=(TOKEN,)) as fake:
        yield fake


def merge(stack: HonkStack, task_id: str) -> None:
    r = stack.http.post(f"/api/tasks/{task_id}/merge", json={})
    assert r.status_code == 202, r.text


def test_a_github_task_keeps_one_pull_request_and_merges_through_the_api(tmp_path, temporal, make_remote, github):
    remote = make_remote(calc_files(DIRECT_FIX + FOLLOW_UP_STEP))
    github.add_repo("acme/calc", remote)
    github.require_checks("acme/calc", "ci")
    stack = HonkStack(tmp_path / "honk", temporal.address, github_token=TOKEN)
    try:
        added = stack.honk(
            "repo", "add", "calc", remote.url, "--forge", "github:acme/calc", "--forge-api", github.url, check=True
        )
        assert "github:acme/calc" in added.stdout
        task = stack.ask("calc", "make add() add")
        assert stack.wait_for(task.id, TaskState.ready, TaskState.failed).state == TaskState.ready
        pull = github.pull("acme/calc", 1)
        assert pull.draft and pull.head == f"honk/{task.id}" and pull.base == "main"
        assert "make add() add" in pull.body and "test" in pull.body and f"/tasks/{task.id}" in pull.body
        assert remote.head(f"honk/{task.id}")  # pushed by Honk, not the agent

        # A follow-up updates the same pull request.
        assert stack.http.post(f"/api/tasks/{task.id}/followup", json={"text": "add a docstring"}).status_code == 202
        wait_until(lambda: stack.kinds(task.id).count("task_ready") == 2, 60, "the follow-up's round")
        assert len(github.repos["acme/calc"].pulls) == 1
        assert "Added a docstring" in github.pull("acme/calc", 1).body
        assert '"""Adds two numbers."""' in remote.show("calc.py", f"honk/{task.id}")

        # Required checks pending: the forge refuses, Honk says why, the task stays ready.
        before = remote.head("main")
        merge(stack, task.id)
        wait_until(lambda: "merge_held" in stack.kinds(task.id), 60, "the refusal")
        held = [e.event for e in stack.events(task.id) if e.event.kind == "merge_held"][-1]
        assert "GitHub refused the merge" in held.reason and "check" in held.reason, held.reason
        assert stack.wait_for(task.id, TaskState.ready).state == TaskState.ready and remote.head("main") == before

        github.set_check("acme/calc", "ci", "success")
        merge(stack, task.id)
        done = stack.wait_for(task.id, TaskState.merged, TaskState.failed)
        assert done.state == TaskState.merged
        assert github.pull("acme/calc", 1).merged and not github.pull("acme/calc", 1).draft
        assert "return a + b" in remote.show("calc.py", "main")
        assert f"Honk-Task: {task.id}" in remote.log("main")
        merges = [c for c in github.calls if c.method == "PUT" and c.path.endswith("/pulls/1/merge")]
        assert len(merges) == 2  # refused once, merged once
        assert all(TOKEN not in c.path for c in github.calls)
    finally:
        stack.stop()


def test_a_pull_request_closed_on_github_ends_the_task(tmp_path, temporal, make_remote, github):
    remote = make_remote(calc_files(DIRECT_FIX))
    github.add_repo("acme/calc", remote)
    stack = HonkStack(tmp_path / "honk", temporal.address, github_token=TOKEN, forge_poll_s="0.5")
    try:
        r = stack.http.post(
            "/api/repos",
            json={
                "name": "calc",
                "url": remote.url,
                "forge": {"kind": "github", "project": "acme/calc", "api_url": github.url},
            },
        )
        assert r.status_code == 201, r.text
        task = stack.ask("calc", "make add() add")
        assert stack.wait_for(task.id, TaskState.ready, TaskState.failed).state == TaskState.ready
        github.close("acme/calc", 1)
        ended = stack.wait_for(task.id, TaskState.cancelled, timeout_s=60)
        cancelled = [e.event for e in stack.events(task.id) if e.event.kind == "task_cancelled"][0]
        assert ended.state == TaskState.cancelled and cancelled.by == "closed on github (pull request #1)"
    finally:
        stack.stop()


def test_a_gitlab_task_opens_a_draft_merge_request_and_merges_it(tmp_path, temporal, make_remote):
    remote = make_remote(calc_files(DIRECT_FIX))
    with FakeGitLab(tokens=(GL_TOKEN,)) as gitlab:
        gitlab.add_project("acme/calc", remote)
        stack = HonkStack(tmp_path / "honk", temporal.address, gitlab_token=GL_TOKEN)
        try:
            stack.honk(
                "repo", "add", "calc", remote.url, "--forge", "gitlab:acme/calc", "--forge-api", gitlab.url, check=True
            )
            task = stack.ask("calc", "make add() add")
            assert stack.wait_for(task.id, TaskState.ready, TaskState.failed).state == TaskState.ready
            mr = gitlab.merge_request("acme/calc", 1)
            assert mr.draft and "make add() add" in mr.description
            merge(stack, task.id)
            assert stack.wait_for(task.id, TaskState.merged, TaskState.failed).state == TaskState.merged
            assert "return a + b" in remote.show("calc.py", "main")
        finally:
            stack.stop()


def test_a_worker_without_forge_credentials_says_which_setting_is_missing(tmp_path, temporal, make_remote, github):
    remote = make_remote(calc_files(DIRECT_FIX))
    github.add_repo("acme/calc", remote)
    stack = HonkStack(tmp_path / "honk", temporal.address)
    try:
        stack.honk(
            "repo", "add", "calc", remote.url, "--forge", "github:acme/calc", "--forge-api", github.url, check=True
        )
        task = stack.ask("calc", "make add() add")
        failed = stack.wait_for(task.id, TaskState.failed, TaskState.ready)
        assert failed.state == TaskState.failed and "HONK_GITHUB_TOKEN" in failed.reason, failed.reason
        assert github.calls == []  # refused before anything reached GitHub
    finally:
        stack.stop()
