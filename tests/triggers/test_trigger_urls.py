"""`honk hook create` gives the repo's admin a URL that starts a preset task from any tool, as its maker, with
what the tool sent as a fenced file; real CLI, real server with the triggers router, real Temporal, a real
worker and the scripted agent. Hostile callers: a forged token, a deleted trigger, a replayed Idempotency-Key,
a 5 MB body, broken JSON, the wrong method — and the token never reaches a log, an event or the database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from honk.domain import TaskState, TaskView
from honk.store import Store
from honk.store.triggers import Triggers
from honk.triggering import TRIGGER_PATH, digest
from honk.workflow.records import TaskInput
from repos import DIRECT_FIX, calc_files
from triggers.served import Served, serving


@pytest.fixture(scope="module")
def honk(tmp_path_factory: pytest.TempPathFactory, temporal) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("triggers"), temporal.address) as served:
        yield served


@pytest.fixture(scope="module")
def fired(honk: Served, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, TaskView]:
    """ada's trigger `calc-alert` made with the CLI, and the task its URL started, run until ready."""
    from honk.testing.gitrepo import RemoteRepo

    remote = RemoteRepo(tmp_path_factory.mktemp("remote") / "calc", calc_files(DIRECT_FIX))
    honk.stack.http.headers["Authorization"] = f"Bearer {honk.ada}"
    honk.stack.add_repo("calc", remote.url)
    made = honk.honk(honk.ada, "hook", "create", "calc-alert", "--repo", "calc", "--prompt", "make add() add")
    assert made.returncode == 0, made.stderr
    url = made.stdout.splitlines()[0]
    assert url.startswith(f"{honk.url}/hooks/trigger/") and "shown once" in made.stderr
    body = json.dumps({"alert": "add() is wrong", "severity": "high"})
    r = httpx.post(url, content=body, headers={"Content-Type": "application/json", "Idempotency-Key": "alert-1"})
    assert r.status_code == 202, r.text
    task = honk.stack.wait_for(r.json()["task_id"], TaskState.ready, TaskState.failed)
    assert task.state == TaskState.ready, task.reason
    assert r.json()["url"] == f"{honk.url}/tasks/{task.id}"
    return url, str(remote.url), task


def test_the_url_starts_the_preset_task_as_its_maker_with_the_body_as_a_file(honk: Served, fired):
    url, _, task = fired
    assert task.requested_by == "ada@example.com" and task.text == "make add() add"
    received = [e.event for e in honk.stack.events(task.id) if e.event.kind == "attachments_received"]
    assert [a.name for a in received[0].kept] == ["trigger-payload.txt"]  # type: ignore[attr-defined]
    # What started it travels with the task (its thread and pull request say it).
    started = asyncio.run(_workflow_input(honk, task.id))
    assert started.request.front_door == "trigger"
    assert started.request.origin is not None and started.request.origin.kind == "trigger"
    assert started.request.origin.detail == "trigger calc-alert (made by ada@example.com)"
    listed = honk.honk(honk.bo, "hook", "list", "--repo", "calc")
    assert listed.returncode == 0 and "calc-alert" in listed.stdout and "1×" in listed.stdout
    assert url.rsplit("/", 1)[1] not in listed.stdout


def test_a_replay_with_the_same_idempotency_key_starts_nothing_new(honk: Served, fired):
    url, _, task = fired
    before = len(honk.stack.http.get("/api/tasks", params={"repo": "calc"}).json())
    again = httpx.post(url, content=b"{}", headers={"Idempotency-Key": "alert-1"})
    assert again.status_code == 200, again.text
    assert again.json()["task_id"] == task.id and again.json()["created"] is False
    assert len(honk.stack.http.get("/api/tasks", params={"repo": "calc"}).json()) == before


def test_forged_oversized_malformed_and_wrong_method_callers(honk: Served, fired):
    url, _, _ = fired
    base = url.rsplit("/", 1)[0]
    forged = httpx.post(f"{base}/{'A' * 43}", content=b"hi")
    assert (forged.status_code, forged.json()) == (404, {"detail": "Not Found"})
    assert httpx.post(f"{base}/{'A' * 5000}", content=b"hi").status_code == 404
    assert httpx.get(url).status_code == 405
    huge = httpx.post(url, content=b"x" * (5 * 1024 * 1024), headers={"Content-Type": "text/plain"})
    assert huge.status_code == 413 and "65,536 bytes" in huge.json()["detail"]
    bad_key = httpx.post(url, content=b"{}", headers={"Idempotency-Key": "has spaces in it"})
    assert bad_key.status_code == 400 and "Idempotency-Key" in bad_key.json()["detail"]
    # Broken JSON is still an alert: accepted, passed on as the text it is.
    broken = httpx.post(url, content=b'{"alert": "db down",', headers={"Content-Type": "application/json"})
    assert broken.status_code == 202, broken.text
    attached = honk.stack.events(broken.json()["task_id"])
    assert any(e.event.kind == "attachments_received" for e in attached)
    honk.stack.http.post(f"/api/tasks/{broken.json()['task_id']}/cancel", json={})  # not needed further


def test_only_the_repos_admins_make_or_delete_triggers_and_a_deleted_one_is_gone(honk: Served, fired):
    trigger = {"name": "short-lived", "repo": "calc", "prompt": "tidy up"}
    with honk.api(honk.bo) as bo, honk.api(honk.ada) as ada:
        refused = bo.post("/api/triggers", json=trigger)
        assert refused.status_code == 403
        assert refused.json()["detail"].endswith("bo@example.com is a requester; making a trigger needs an admin.")
        made = ada.post("/api/triggers", json=trigger)
        assert made.status_code == 201, made.text
        assert ada.post("/api/triggers", json=trigger).status_code == 409  # one name, one trigger
        assert bo.request("DELETE", "/api/triggers/short-lived", json={}).status_code == 403
    url = made.json()["url"]
    deleted = honk.honk(honk.ada, "hook", "delete", "short-lived")
    assert deleted.returncode == 0, deleted.stderr
    gone = httpx.post(url, content=b"{}")
    assert (gone.status_code, gone.json()) == (404, {"detail": "Not Found"})
    with honk.api(honk.ada) as ada:
        assert ada.request("DELETE", "/api/triggers/short-lived", json={}).status_code == 404
        logged = ada.get("/api/audit", params={"repo": "calc"}).json()
    # Made, refused and deleted, each in the audit log with who; never the URL.
    said = [(e["actor"], e["action"], e["outcome"]) for e in logged if e["action"].startswith("trigger_")]
    assert said.count(("ada@example.com", "trigger_create", "ok")) >= 1
    assert ("ada@example.com", "trigger_create", "refused") in said, "the second of one name"
    assert ("bo@example.com", "trigger_create", "refused") in said
    assert ("bo@example.com", "trigger_delete", "refused") in said
    assert ("ada@example.com", "trigger_delete", "ok") in said
    assert not any(url.rsplit("/", 1)[1] in json.dumps(e) for e in logged)


def test_a_trigger_whose_maker_has_no_account_any_more_starts_nothing(honk: Served):
    """Its maker's account was removed (here: a trigger kept from before, made by someone never given one)."""
    token = "a-token-nobody-else-holds-0123456789abcdef0"

    async def keep() -> None:
        store = Store(honk.stack.db_url)
        try:
            await Triggers(store).add("orphan", "calc", "tidy up", None, digest(token), "gone@example.com")
        finally:
            await store.close()

    asyncio.run(keep())
    with honk.api(honk.ada) as ada:
        before = [t["id"] for t in ada.get("/api/tasks").json()]
    refused = httpx.post(f"{honk.url}{TRIGGER_PATH}{token}", content=b"{}")
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"] == (
        "gone@example.com, who made trigger orphan, has no account here any more; a repo admin makes it again."
    )
    with honk.api(honk.ada) as ada:
        assert [t["id"] for t in ada.get("/api/tasks").json()] == before, "nothing started"


def test_no_token_reaches_a_log_an_event_or_the_database(honk: Served, fired):
    url, _, task = fired
    token = url.rsplit("/", 1)[1]
    httpx.post(f"{url.rsplit('/', 1)[0]}/{token[:-1]}x", content=b"a near miss")  # logged, if anything is
    logs = [honk.log, *sorted((honk.stack.root / "logs").glob("*.log"))]
    assert honk.log.stat().st_size > 0, "the triggers server logged nothing at all: the check would be empty"
    for path in logs:
        assert token not in path.read_text(errors="replace"), path
    for path in (honk.stack.root / "data").glob("honk.db*"):
        assert token.encode() not in path.read_bytes(), path
    assert all(token not in e.model_dump_json() for e in honk.stack.events(task.id))


async def _workflow_input(honk: Served, task_id: str) -> TaskInput:
    client = await Client.connect(honk.stack.env["HONK_TEMPORAL_ADDRESS"], data_converter=pydantic_data_converter)
    history = await client.get_workflow_handle(task_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [decoded] = await client.data_converter.decode(started.input.payloads, [TaskInput])
    return decoded
