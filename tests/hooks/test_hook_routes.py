"""`POST /hooks/github` and `/hooks/gitlab` on the server `honk server` builds (its middleware and routers
included), on a real uvicorn, with the real Temporal dev server and a worker running HonkHookDelivery and
the forge door's real action in the test: signed deliveries are stored once and handed on; forged, replayed,
oversized, unknown and malformed ones are answered 401 / 200 with nothing new / 413 / 204 / 400."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.worker import Worker

from honk.composition.worker import front_door_activities
from honk.forge.registry import Forges
from honk.hooks.delivery_workflow import HookDeliveryWorkflow
from honk.hooks.events import Comment
from honk.hooks.handling import HookDelivery
from honk.hooks.intake import HookIntake
from honk.hooks.signatures import github_signature
from honk.ports import free_port
from honk.settings import Settings
from honk.store import Store
from honk.store.deliveries import HookDeliveries, StoredDelivery
from honk.testing.webhooks import example
from honk.workflow.client import connect
from uvicorn_server import running_server

SECRET = "whsec-for-tests"
TOKEN = "glpat-webhook-token"
CAP = 64 * 1024


def asked() -> dict:
    """GitHub's example comment (honk.testing.webhook_examples), asking Honk for something."""
    body = example("github", "issue_comment.created")
    body["comment"]["body"] = "@honk please fix this"
    return body


def edited() -> dict:
    body = asked()
    body["action"] = "edited"
    return body


def pushed() -> dict:
    return example("github", "push")


def gitlab_note() -> dict:
    body = example("gitlab", "note.merge_request")
    body["object_attributes"]["note"] = "@honk the test is flaky, make it wait for the server"
    return body


def gitlab_failed_pipeline() -> dict:
    body = example("gitlab", "pipeline")
    body["object_attributes"]["status"] = "failed"  # GitLab's example succeeded; one of its builds failed
    return body


@dataclass
class Served:
    url: str
    settings: Settings
    client: Client
    store: Store
    deliveries: HookDeliveries

    async def stored(self, forge: str, delivery_id: str) -> StoredDelivery | None:
        return await self.deliveries.get(forge, delivery_id)  # type: ignore[arg-type]

    async def workflow(self, forge: str, delivery_id: str) -> str | None:
        """The delivery's workflow's status, None when there is none."""
        try:
            described = await self.client.get_workflow_handle(f"hook-{forge}-{delivery_id}").describe()
        except RPCError:
            return None
        return described.status.name if described.status else None

    async def handed(self, forge: str, delivery_id: str) -> HookDelivery:
        """What the delivery's workflow was started with, and so handed to the door: the event as read."""
        history = await self.client.get_workflow_handle(f"hook-{forge}-{delivery_id}").fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        [delivery] = await self.client.data_converter.decode(started.input.payloads, [HookDelivery])
        return delivery

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[None]:
        """A worker for the deliveries' workflow with what honk.composition.worker registers for it: the forge
        door's real action (its own stories are tests/scenarios/test_pull_request_front_door.py), the
        delivery's record and the schedule firer, over the worker's own connection to the database."""
        forges = Forges(self.settings.forges, self.settings.workspaces)
        try:
            async with Worker(
                self.client,
                task_queue=self.settings.temporal.task_queue,
                workflows=[HookDeliveryWorkflow],
                activities=front_door_activities(self.settings, self.store, self.client, forges),
            ):
                yield
        finally:
            await forges.close()


def settings_for(tmp_path: Path, temporal_address: str, **changes: object) -> Settings:
    return Settings().changed(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=free_port(),
        temporal_address=temporal_address,
        task_queue=f"hooks-{uuid.uuid4().hex[:8]}",
        github_webhook_secret=SecretStr(SECRET),
        gitlab_webhook_token=SecretStr(TOKEN),
        hook_max_bytes=CAP,
        **changes,
    )


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Served]:
    async with running_server(settings):  # the server `honk server` builds, on a real uvicorn
        store = Store(settings.db_url)  # the worker's own connection to the same database
        try:
            client = await connect(settings)
            yield Served(f"http://127.0.0.1:{settings.server.port}", settings, client, store, HookDeliveries(store))
        finally:
            await store.close()


@pytest.fixture
async def honk(tmp_path: Path, temporal) -> AsyncIterator[Served]:
    async with serving(settings_for(tmp_path, temporal.address)) as served:
        yield served


def signed(event: str, body: bytes, delivery_id: str | None = None, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": github_signature(secret, body),
        "User-Agent": "GitHub-Hookshot/044aadd",
        "Content-Type": "application/json",
    }


async def post(honk: Served, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(honk.url + path, content=body, headers=headers)


async def reaches(honk: Served, forge: str, delivery_id: str, state: str) -> StoredDelivery:
    async with asyncio.timeout(30):
        while (stored := await honk.stored(forge, delivery_id)) is None or stored.state != state:
            await asyncio.sleep(0.05)
    return stored


async def handled(honk: Served, forge: str, delivery_id: str) -> StoredDelivery:
    return await reaches(honk, forge, delivery_id, "handled")


async def test_a_signed_delivery_is_stored_and_handed_on_once(honk: Served):
    body = json.dumps(asked()).encode()
    headers = signed("issue_comment", body)
    delivery_id = headers["X-GitHub-Delivery"]
    first = await post(honk, "/hooks/github", body, headers)
    assert first.status_code == 202, first.text
    # No worker yet: the delivery waits in Temporal, stored and started, and nothing was done inline.
    stored = await reaches(honk, "github", delivery_id, "started")  # recorded just after the answer
    assert stored.event == "issue_comment"
    assert json.loads(stored.payload) == asked()
    assert await honk.workflow("github", delivery_id) == "RUNNING"
    again = await post(honk, "/hooks/github", body, headers)
    assert again.status_code == 200 and "nothing new" in again.json()["detail"]
    async with honk.worker():
        done = await handled(honk, "github", delivery_id)
        result = await honk.client.get_workflow_handle(f"hook-github-{delivery_id}").result()
    sent = asked()
    repo, number, author = sent["repository"]["full_name"], sent["issue"]["number"], sent["comment"]["user"]["login"]
    # The real door, handed the mention: the example's repo is none of Honk's, so it does nothing and says why.
    assert done.detail == f"nothing: Honk does not work on {repo}"
    event = (await honk.handed("github", delivery_id)).event
    assert isinstance(event, Comment) and event.mentioned and not event.by_bot
    assert (event.repo, event.number, event.actor) == (repo, number, author)
    assert result == done.detail
    assert await honk.workflow("github", delivery_id) == WorkflowExecutionStatus.COMPLETED.name
    # Redelivered after it was handled (GitHub's "Redeliver" button): still nothing new.
    late = await post(honk, "/hooks/github", body, headers)
    assert late.status_code == 200
    history = await honk.client.get_workflow_handle(f"hook-github-{delivery_id}").fetch_history()
    assert sum(e.HasField("workflow_execution_started_event_attributes") for e in history.events) == 1
    # The door's action is the one activity on the task queue; the record is a local activity (a marker).
    scheduled = [e.activity_task_scheduled_event_attributes.activity_type.name for e in history.events]
    assert [name for name in scheduled if name] == ["forge_act"]
    markers = [e.marker_recorded_event_attributes.marker_name for e in history.events]
    assert markers.count("core_local_activity") == 1


async def test_a_burst_is_answered_and_every_start_recorded(honk: Served):
    """The starts after a burst's answers are recorded together; none is lost between the writes."""
    bodies = [json.dumps(pushed() | {"after": f"{i + 1:040x}"}).encode() for i in range(40)]
    heads = [signed("push", body) for body in bodies]
    answers = await asyncio.gather(*(post(honk, "/hooks/github", b, h) for b, h in zip(bodies, heads, strict=True)))
    assert [a.status_code for a in answers] == [202] * 40
    for h in heads:
        await reaches(honk, "github", h["X-GitHub-Delivery"], "started")
        assert await honk.workflow("github", h["X-GitHub-Delivery"]) == "RUNNING"


async def test_racing_redeliveries_start_one_workflow(honk: Served):
    body = json.dumps(pushed()).encode()
    headers = signed("push", body)
    answers = await asyncio.gather(*(post(honk, "/hooks/github", body, headers) for _ in range(6)))
    assert sorted(a.status_code for a in answers).count(202) == 1, [a.status_code for a in answers]
    assert {a.status_code for a in answers} <= {200, 202}


async def test_forged_or_missing_signatures_are_refused_and_nothing_is_stored(honk: Served):
    body = json.dumps(asked()).encode()
    forged = signed("issue_comment", body, secret="guessed")
    missing = {k: v for k, v in signed("issue_comment", body).items() if k != "X-Hub-Signature-256"}
    tampered = signed("issue_comment", body)
    for headers, sent in ((forged, body), (missing, body), (tampered, body.replace(b"please", b"rm -rf"))):
        answer = await post(honk, "/hooks/github", sent, headers)
        assert answer.status_code == 401, answer.text
        assert SECRET not in answer.text
        assert await honk.stored("github", headers["X-GitHub-Delivery"]) is None
        assert await honk.workflow("github", headers["X-GitHub-Delivery"]) is None
    wrong_token = {"X-Gitlab-Event": "Note Hook", "X-Gitlab-Token": "nope", "X-Gitlab-Event-UUID": "u-1"}
    assert (await post(honk, "/hooks/gitlab", b"{}", wrong_token)).status_code == 401
    assert await honk.stored("gitlab", "u-1") is None


async def test_oversized_unknown_and_malformed_deliveries(honk: Served):
    huge = b'{"a": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    declared = await post(honk, "/hooks/github", huge, signed("push", huge))
    assert declared.status_code == 413 and f"{CAP:,} bytes" in declared.json()["detail"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the cap holds while reading
        for start in range(0, len(huge), 65536):
            yield huge[start : start + 65536]

    async with httpx.AsyncClient(timeout=10) as http:
        streamed = await http.post(honk.url + "/hooks/github", content=chunks(), headers=signed("push", huge))
    assert streamed.status_code == 413

    ping = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    assert (await post(honk, "/hooks/github", ping, signed("ping", ping))).status_code == 204
    changed = json.dumps(edited()).encode()
    assert (await post(honk, "/hooks/github", changed, signed("issue_comment", changed, "d-edit"))).status_code == 204
    assert await honk.stored("github", "d-edit") is None, "a delivery that asks nothing is not kept"

    broken = b'{"action": "created", '
    answer = await post(honk, "/hooks/github", broken, signed("issue_comment", broken))
    assert (
        answer.status_code == 400 and answer.json()["detail"] == "Refused: the body is not JSON at line 1, column 23."
    )
    form = b"payload=%7B%7D"
    answer = await post(honk, "/hooks/github", form, signed("issue_comment", form))
    assert answer.status_code == 400 and "application/json" in answer.json()["detail"]
    deep = b"[" * 50_000  # deeper than Python's parser goes, within the cap
    assert (await post(honk, "/hooks/github", deep, signed("push", deep))).status_code == 400
    no_id = {k: v for k, v in signed("push", b"{}").items() if k != "X-GitHub-Delivery"}
    assert (await post(honk, "/hooks/github", b"{}", no_id)).status_code == 400
    bad_id = signed("push", b"{}", delivery_id="../../etc")
    assert (await post(honk, "/hooks/github", b"{}", bad_id)).status_code == 400


async def test_gitlab_deliveries_with_and_without_an_event_uuid(honk: Served):
    body = json.dumps(gitlab_note()).encode()
    headers = {
        "X-Gitlab-Event": "Note Hook",
        "X-Gitlab-Token": TOKEN,
        "X-Gitlab-Event-UUID": str(uuid.uuid4()),
        "X-Gitlab-Instance": "https://gitlab.example.com",
        "Content-Type": "application/json",
    }
    assert (await post(honk, "/hooks/gitlab", body, headers)).status_code == 202
    assert (await post(honk, "/hooks/gitlab", body, headers)).status_code == 200
    old_gitlab = {k: v for k, v in headers.items() if k != "X-Gitlab-Event-UUID"}
    pipeline = json.dumps(gitlab_failed_pipeline()).encode()
    old_gitlab["X-Gitlab-Event"] = "Pipeline Hook"
    assert (await post(honk, "/hooks/gitlab", pipeline, old_gitlab)).status_code == 202
    assert (await post(honk, "/hooks/gitlab", pipeline, old_gitlab)).status_code == 200, "same body, same delivery"
    async with honk.worker():
        note = await handled(honk, "gitlab", headers["X-Gitlab-Event-UUID"])
    sent = gitlab_note()
    repo, iid, author = sent["project"]["path_with_namespace"], sent["merge_request"]["iid"], sent["user"]["username"]
    assert note.detail == f"nothing: Honk does not work on {repo}"
    event = (await honk.handed("gitlab", headers["X-Gitlab-Event-UUID"])).event
    assert isinstance(event, Comment) and event.mentioned and not event.by_bot
    assert (event.repo, event.number, event.actor) == (repo, iid, author)
    confidential = {**headers, "X-Gitlab-Event": "Confidential Note Hook", "X-Gitlab-Event-UUID": "c-1"}
    assert (await post(honk, "/hooks/gitlab", body, confidential)).status_code == 204


async def test_a_forge_without_its_secret_takes_nothing(tmp_path: Path, temporal):
    settings = settings_for(tmp_path, temporal.address).changed(github_webhook_secret=None)
    async with serving(settings) as honk:
        body = json.dumps(pushed()).encode()
        answer = await post(honk, "/hooks/github", body, signed("push", body))
        assert answer.status_code == 404 and "HONK_GITHUB_WEBHOOK_SECRET" in answer.json()["detail"]


async def test_temporal_unreachable_keeps_the_delivery_for_a_redelivery(tmp_path: Path, temporal):
    settings = settings_for(tmp_path, f"127.0.0.1:{free_port()}")  # nothing listens there
    down_id = f"d-down-{uuid.uuid4()}"
    settings.data_dir.mkdir(parents=True)
    store = Store(settings.db_url)
    await store.create_schema()
    try:
        lazy = await Client.connect(settings.temporal.address, data_converter=pydantic_data_converter, lazy=True)
        intake = HookIntake(HookDeliveries(store), lazy, settings)
        body = json.dumps(pushed()).encode()
        answer = await intake.take("github", httpx.Headers(signed("push", body, down_id)), body)
        assert answer.status == 202, "stored is durable: the answer does not wait for Temporal"
        await intake.settled()  # the start after the answer failed
        stored = await HookDeliveries(store).get("github", down_id)
        assert stored is not None and stored.state == "received", "kept, for the redelivery to hand on"
        # Temporal is back: GitHub's Redeliver hands it on (the delivery was taken before: 200).
        back = await connect(settings.changed(temporal_address=temporal.address))
        intake = HookIntake(HookDeliveries(store), back, settings)
        again = await intake.take("github", httpx.Headers(signed("push", body, down_id)), body)
        assert again.status == 200
        await intake.settled()
        stored = await HookDeliveries(store).get("github", down_id)
        assert stored is not None and stored.state == "started"
        assert (await back.get_workflow_handle(f"hook-github-{down_id}").describe()).status is not None
    finally:
        await store.close()


async def test_resume_hands_on_what_nobody_redelivered(tmp_path: Path, temporal):
    settings = settings_for(tmp_path, f"127.0.0.1:{free_port()}")
    settings.data_dir.mkdir(parents=True)
    store = Store(settings.db_url)
    await store.create_schema()
    try:
        down = await Client.connect(settings.temporal.address, data_converter=pydantic_data_converter, lazy=True)
        ids = [f"d-left-{uuid.uuid4()}" for _ in range(2)]
        for delivery_id in ids:
            body = json.dumps(pushed()).encode()
            intake = HookIntake(HookDeliveries(store), down, settings)
            answer = await intake.take("github", httpx.Headers(signed("push", body, delivery_id)), body)
            assert answer.status == 202
            await intake.settled()  # its start failed: Temporal is away
        assert await HookIntake(HookDeliveries(store), down, settings).resume(older_than=timedelta(0)) == 0
        back = HookIntake(
            HookDeliveries(store), await connect(settings.changed(temporal_address=temporal.address)), settings
        )
        assert await back.resume(older_than=timedelta(minutes=5)) == 0, "too recent: a redelivery may still come"
        assert await back.resume(older_than=timedelta(0)) == 2
        await back.settled()
        for delivery_id in ids:
            stored = await HookDeliveries(store).get("github", delivery_id)
            assert stored is not None and stored.state == "started"
        assert await back.resume(older_than=timedelta(0)) == 0
    finally:
        await store.close()
