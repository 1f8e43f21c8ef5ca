"""One change across several repos (issue 20), at the service: `TaskService.submit(..., also=[...])` gates each
repo as it gates the first, refuses unknown and repeated names and more repos than the server allows, and
starts one workflow whose request names the others in the declared order. Real SQLite store, real gate and
audit log, the session's real Temporal dev server (no worker: only the start is looked at)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from honk.access import Policy, Refused, Who
from honk.domain import RepoRef, TaskRequest
from honk.errors import NotFound, UserFacingError
from honk.events import TaskAccepted
from honk.gate import Actor, Gate
from honk.network import Ceiling
from honk.service import TaskService
from honk.settings import Settings
from honk.store import AuditLog, AuditQuery, Store
from honk.workflow.client import connect
from honk.workflow.records import TaskInput

POLICY = """
[users."ada@example.com"]
[users."bo@example.com"]
[repos.api]
requesters = ["ada@example.com", "bo@example.com"]
[repos.web]
requesters = ["ada@example.com", "bo@example.com"]
[repos.docs]
requesters = ["ada@example.com", "bo@example.com"]
[repos.vault]
requesters = ["ada@example.com"]
"""
ADA = Actor(who=Who(identity="ada@example.com"), front_door="api")
BO = Actor(who=Who(identity="bo@example.com"), front_door="api")


@pytest_asyncio.fixture
async def service(tmp_path: Path, temporal) -> AsyncIterator[TaskService]:  # noqa: ANN001 - the session's server
    settings = Settings().changed(
        data_dir=tmp_path / "data", temporal_address=temporal.address, task_queue=f"nobody-{uuid.uuid4().hex[:8]}"
    )
    settings = settings.changed(max_repos_per_task=3)
    (tmp_path / "data").mkdir()
    store = Store(settings.db_url)
    await store.create_schema()
    for name in ("api", "web", "docs", "vault"):
        await store.add_repo(RepoRef(name=name, url=str(tmp_path / f"{name}.git")))
    gate = Gate(Policy.parse(POLICY), store, AuditLog(store))
    yield TaskService(settings, store, await connect(settings), gate, ceiling=Ceiling([]))
    await store.close()


async def started_request(service: TaskService, task_id: str) -> TaskRequest:
    """The request the task's workflow was started with, read back from Temporal's history."""
    handle = service.client.get_workflow_handle(task_id)
    history = await handle.fetch_history()
    first = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    converter = service.client.data_converter.payload_converter
    inp = converter.from_payload(first, TaskInput)
    await handle.terminate("test: no worker runs it")
    return inp.request


async def test_the_other_repos_travel_in_the_declared_order_and_are_recorded(service: TaskService):
    view, created = await service.submit("api", "rename user_id to account_id", ADA, also=["web", " docs "])
    assert created and view.repo == "api"
    req = await started_request(service, view.id)
    assert [r.name for r in req.repos] == ["api", "web", "docs"]
    assert req.workspace_key(req.also[0]) == f"{view.id}+web" and req.workspace_key(req.repo) == view.id
    (accepted,) = [e.event for e in await service.store.events(view.id) if isinstance(e.event, TaskAccepted)]
    assert accepted.also == ["web", "docs"]
    assert "api → web → docs" in accepted.line()
    timeline = await service.store.timeline(view.id)
    assert timeline is not None and timeline.also == ["web", "docs"]


async def test_a_one_repo_request_is_as_before(service: TaskService):
    view, _ = await service.submit("api", "fix the typo", ADA)
    req = await started_request(service, view.id)
    assert req.also == [] and req.repos == [req.repo]
    (accepted,) = [e.event for e in await service.store.events(view.id) if isinstance(e.event, TaskAccepted)]
    assert accepted.line() == "accepted: 'fix the typo' on api for ada@example.com (agent repo default)"


async def test_unknown_repeated_and_too_many_repos_are_refused_with_words_and_nothing_starts(service: TaskService):
    with pytest.raises(NotFound, match=r"Unknown repo 'wbe'\. Known repos: .*web"):
        await service.submit("api", "x", ADA, also=["wbe"])
    with pytest.raises(UserFacingError, match=r"Repo 'WEB' is named twice; name each repo of the change once\."):
        await service.submit("api", "x", ADA, also=["web", "WEB"])
    with pytest.raises(UserFacingError, match=r"Repo 'api' is named twice"):
        await service.submit("api", "x", ADA, also=["api"])
    with pytest.raises(UserFacingError, match=r"at most 3 repos together; this one names 4\. Split the change"):
        await service.submit("api", "x", ADA, also=["web", "docs", "vault"])
    assert await service.store.list_tasks() == []
    refused = await service.gate.audit.find(AuditQuery(outcome="refused"))
    assert any("named twice" in e.detail for e in refused), "refusals at the front door are audited"


async def test_each_other_repo_is_gated_like_the_first_and_the_refusal_names_it(service: TaskService):
    with pytest.raises(Refused, match="vault"):
        await service.submit("api", "rename user_id", BO, also=["web", "vault"])
    assert await service.store.list_tasks() == []
    refused = await service.gate.audit.find(AuditQuery(outcome="refused", actor="bo@example.com"))
    assert [e.repo for e in refused] == ["vault"]
