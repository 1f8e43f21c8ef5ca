"""Forge events on another repo's pull request of a task over several (issue 20) reach the task.

A task over api and web, made through TaskService (its workflow started on a task queue no worker polls: it
stays queued and takes signals, so what the door told it is in its history). The fake GitHub sends signed
webhooks for web's pull request to the server `honk server` builds, on a real uvicorn; a worker runs the
delivery workflow and the forge door's real action, which answers on the fake GitHub. Each kind of event is
checked for what it does there: a mention and a review become follow-ups naming web, CI failing there is
told to the task with web named and said on web's pull request, a person closing it is recorded and said.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.worker import Worker

from honk.access.policy import Policy
from honk.access.rules import Who
from honk.composition.worker import front_door_activities
from honk.domain import ForgeRef, RepoRef
from honk.egress.policies import ceilings
from honk.events import FollowUpReceived, RepoPublished, RepoPullRequestClosed
from honk.forge.registry import Forges
from honk.gate import Actor, Gate
from honk.hooks.delivery_workflow import HookDeliveryWorkflow
from honk.ports import free_port
from honk.service import TaskService
from honk.settings import Settings
from honk.store import Store
from honk.store.audit import AuditLog
from honk.store.deliveries import HookDeliveries
from honk.testing.fake_github import FakeGitHub
from honk.testing.gitrepo import RemoteRepo, run_git
from honk.workflow.client import connect
from honk.workflow.records import CiFailure
from uvicorn_server import running_server

SECRET = "whsec-other-repos-0123456789abcdef"
TOKEN = "ghp_other_repos_0123456789"
POLICY = """
[users."ada@example.com"]
github = "ada"
"""


@dataclass
class Honk:
    url: str
    settings: Settings
    client: Client
    store: Store
    service: TaskService  # the test's own, whose tasks start on a queue no worker polls
    github: FakeGitHub

    async def handled(self) -> list[str]:
        """Once every delivery the fake GitHub sent was handled: what the door did with each, in order."""
        await asyncio.to_thread(self.github.webhooks.drain)
        deliveries = HookDeliveries(self.store)
        details = []
        for sent in self.github.webhooks.deliveries():
            async with asyncio.timeout(60):
                while (stored := await deliveries.get("github", sent.delivery_id)) is None or stored.state != "handled":
                    await asyncio.sleep(0.05)  # polling the store: the door's worker writes it
            details.append(stored.detail)
        return details

    async def signals(self, task_id: str) -> list[CiFailure]:
        """The CI failures the task's workflow was told of, from its history."""
        history = await self.client.get_workflow_handle(task_id).fetch_history()
        told = []
        for e in history.events:
            if e.HasField("workflow_execution_signaled_event_attributes"):
                attrs = e.workflow_execution_signaled_event_attributes
                if attrs.signal_name == "ci_failed":
                    [failure] = await self.client.data_converter.decode(attrs.input.payloads, [CiFailure])
                    told.append(failure)
        return told


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(tokens=(TOKEN,)) as fake:
        yield fake


@asynccontextmanager
async def serving(tmp_path: Path, temporal_address: str, github: FakeGitHub) -> AsyncIterator[Honk]:
    (tmp_path / "policy.toml").write_text(POLICY)
    settings = Settings().changed(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=free_port(),
        temporal_address=temporal_address,
        task_queue=f"doors-{uuid.uuid4().hex[:8]}",
        github_webhook_secret=SecretStr(SECRET),
        github_token=SecretStr(TOKEN),
        policy_file=tmp_path / "policy.toml",
    )
    async with running_server(settings):  # the server `honk server` builds, on a real uvicorn
        store = Store(settings.db_url)
        forges = Forges(settings.forges, settings.workspaces)
        try:
            client = await connect(settings)
            idle = settings.changed(task_queue=f"idle-{uuid.uuid4().hex[:8]}")
            policy = Policy.load(tmp_path / "policy.toml")
            ceiling, setup_ceiling = ceilings(idle)
            gate = Gate(policy, store, AuditLog(store))
            service = TaskService(idle, store, client, gate, ceiling=ceiling, setup_ceiling=setup_ceiling)
            honk = Honk(f"http://127.0.0.1:{settings.server.port}", settings, client, store, service, github)
            async with Worker(
                client,
                task_queue=settings.temporal.task_queue,
                workflows=[HookDeliveryWorkflow],
                activities=front_door_activities(settings, store, client, forges),
            ):
                yield honk
        finally:
            await forges.close()
            await store.close()


@pytest.fixture
async def honk(tmp_path: Path, temporal, github: FakeGitHub) -> AsyncIterator[Honk]:
    async with serving(tmp_path, temporal.address, github) as served:
        yield served


async def a_repo(honk: Honk, tmp_path: Path, name: str) -> RemoteRepo:
    remote = RemoteRepo(tmp_path / f"remote-{name}", {"README.md": f"# {name}\n"})
    full = f"acme/{name}"
    honk.github.add_repo(full, remote)
    honk.github.add_hook(full, f"{honk.url}/hooks/github", SECRET)
    honk.github.set_permission(full, "ada", "write")
    forge = ForgeRef(kind="github", project=full, api_url=honk.github.url)
    await honk.store.add_repo(RepoRef(name=name, url=remote.url, branch="main", forge=forge))
    return remote


def open_pull(github: FakeGitHub, remote: RemoteRepo, full: str, branch: str) -> tuple[int, str]:
    """Honk's pull request of `branch` (pushed with one commit), opened through the API as Honk opens it."""
    run_git("checkout", "--quiet", "-B", branch, cwd=remote.clone)
    (remote.clone / "CHANGED.md").write_text("renamed\n")
    run_git("add", "CHANGED.md", cwd=remote.clone)
    run_git("commit", "--quiet", "-m", "Rename", cwd=remote.clone)
    run_git("push", "--quiet", "origin", f"HEAD:{branch}", cwd=remote.clone)
    run_git("checkout", "--quiet", remote.branch, cwd=remote.clone)
    answer = httpx.post(
        f"{github.url}/repos/{full}/pulls",
        json={"title": "Rename", "head": branch, "base": "main", "body": ""},
        headers={"Authorization": f"token {TOKEN}"},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["number"], remote.head(branch)


async def events_of(honk: Honk, task_id: str, kind: type) -> list:
    return [e.event for e in await honk.store.events(task_id) if isinstance(e.event, kind)]


async def test_web_pull_request_events_of_a_task_over_api_and_web_reach_the_task(honk: Honk, tmp_path: Path):
    github = honk.github
    await a_repo(honk, tmp_path, "api")
    web = await a_repo(honk, tmp_path, "web")
    ada = honk.service.forge_actor("github", "ada")
    assert ada is not None
    task, _ = await honk.service.submit("api", "rename user_id to account_id", ada, also=["web"])
    number, head = open_pull(github, web, "acme/web", task.branch)
    # Delivery recorded web's pull request (as honk.workflow.steps.deliver does): the lookup by its number.
    url = f"{github.url}/acme/web/pull/{number}"
    await honk.store.append(
        task.id, RepoPublished(repo="web", changed=True, branch=task.branch, number=number, url=url)
    )
    assert await honk.handled() == ["nothing: a pull_request event Honk does not act on"], "Honk's own opening"

    # A mention there: a follow-up to the task that names web's pull request.
    github.comment("acme/web", number, "@honk also rename it in the API docs", by="ada")
    assert (await honk.handled())[-1] == f"follow-up to {task.id} on web"
    [asked] = await events_of(honk, task.id, FollowUpReceived)
    assert asked.text == f"On web's pull request #{number}: also rename it in the API docs"
    assert any(
        f"a follow-up to {honk.settings.base_url}/tasks/{task.id}" in c for c in github.comments("acme/web", number)
    )

    # A review with line comments there: one follow-up naming web; its comments are not answered as the
    # task's own pull request's are (the delivery would reply on the wrong pull request).
    github.review("acme/web", number, "two things", "changes_requested", (("CHANGED.md", 1, "say why"),), by="ada")
    assert (await honk.handled())[-1] == f"follow-up to {task.id} with 1 review comments on web"
    reviewed = (await events_of(honk, task.id, FollowUpReceived))[-1]
    assert reviewed.text.startswith(f"Review by @ada on web's pull request #{number} (changes requested):")
    assert "- CHANGED.md:1: say why" in reviewed.text and reviewed.answers == []

    # CI failing on web's head: the task is told with web named (its workflow says it does not autofix
    # there), and web's pull request is told why Honk does not try.
    github.fail_job("acme/web", head, "test", "FAILED test_rename")
    details = await honk.handled()
    assert f"told {task.id}" in details, details
    told = await honk.signals(task.id)
    assert told and {(f.repo, f.commit) for f in told} == {("web", head)}
    assert any("Honk's autofix works on api's pull request" in c for c in github.comments("acme/web", number))

    # Closed by a person: recorded on the task and said on the pull request.
    github.close("acme/web", number, by="ada")
    assert (await honk.handled())[-1] == f"recorded on {task.id}: web#{number} closed"
    [closed] = await events_of(honk, task.id, RepoPullRequestClosed)
    assert (closed.repo, closed.number, closed.merged, closed.by) == ("web", number, False, "ada")
    assert any(c.startswith("Closed without merging: recorded on") for c in github.comments("acme/web", number))


async def test_a_branch_of_the_tasks_name_in_another_repo_is_the_tasks_and_only_there(honk: Honk, tmp_path: Path):
    """Before web's pull request is recorded (its webhook may come first), the branch finds the task: in web,
    one of its repos, not in a repo the task does not span."""
    await a_repo(honk, tmp_path, "api")
    web = await a_repo(honk, tmp_path, "web")
    docs = await a_repo(honk, tmp_path, "docs")
    ada = Actor(who=Who(identity="ada@example.com"), front_door="cli")
    task, _ = await honk.service.submit("api", "rename user_id to account_id", ada, also=["web"])
    number, _ = open_pull(honk.github, web, "acme/web", task.branch)
    other, _ = open_pull(honk.github, docs, "acme/docs", task.branch)
    await honk.handled()
    found = await honk.service.forge_task("github", "acme/web", number, task.branch)
    assert found is not None and found.id == task.id
    assert await honk.service.forge_task("github", "acme/docs", other, task.branch) is None
