"""Production by the forge's word: a repo whose `[deploy] wait_for` names its GitHub deployment to
"production". After Honk merges, its CI (here: the test, over the fake GitHub's API, as GitHub Actions
would) deploys the merged commit; Honk waits for that deployment's status and says "live in production"
with the environment's link — or "deploy failed" with the forge's description."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from honk.domain import TaskState
from honk.testing.fake_github import FakeGitHub
from honk.testing.processes import HonkStack, wait_until
from repos import DIRECT_FIX, calc_files

TOKEN = "ghp_forge_deploy_0123456789"
DEPLOY = """
[deploy]
wait_for = "deployment:production"
timeout = 60
"""


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(tokens=(TOKEN,)) as fake:
        yield fake


def ci(github: FakeGitHub, method: str, path: str, body: dict) -> dict:
    answer = httpx.request(
        method, f"{github.url}/repos/acme/calc{path}", json=body, headers={"Authorization": f"token {TOKEN}"}
    )
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def test_honk_waits_for_the_forges_deployment_of_the_merged_commit(tmp_path, temporal, make_remote, github):
    remote = make_remote(calc_files(DIRECT_FIX, DEPLOY))
    github.add_repo("acme/calc", remote)
    stack = HonkStack(tmp_path / "honk", temporal.address, github_token=TOKEN, forge_poll_s="0.5")
    try:
        stack.honk(
            "repo", "add", "calc", remote.url, "--forge", "github:acme/calc", "--forge-api", github.url, check=True
        )
        task = stack.ask("calc", "make add() add")
        assert stack.wait_for(task.id, TaskState.ready, TaskState.failed).state == TaskState.ready
        assert stack.http.post(f"/api/tasks/{task.id}/merge", json={}).status_code == 202
        merged = stack.wait_for(task.id, TaskState.merged, TaskState.failed)
        assert merged.state == TaskState.merged and merged.merged_commit
        wait_until(lambda: "deploy_started" in stack.kinds(task.id), 60, "Honk to wait for the deploy")

        deployment = ci(github, "POST", "/deployments", {"ref": merged.merged_commit, "environment": "production"})
        ci(github, "POST", f"/deployments/{deployment['id']}/statuses", {"state": "in_progress"})
        ci(
            github,
            "POST",
            f"/deployments/{deployment['id']}/statuses",
            {"state": "success", "environment_url": "https://calc.example.com/", "description": "rolled out"},
        )
        wait_until(lambda: "deploy_finished" in stack.kinds(task.id), 60, "the deploy to be seen")
        [finished] = [e.event for e in stack.events(task.id) if e.event.kind == "deploy_finished"]
        assert finished.outcome.state == "live" and finished.outcome.commit == merged.merged_commit
        assert finished.outcome.url == "https://calc.example.com/"
        [started] = [e.event for e in stack.events(task.id) if e.event.kind == "deploy_started"]
        assert started.how == "wait_for"
    finally:
        stack.stop()
