"""`honk deploys REPO`, `honk deploy TASK` and `honk revert TASK` through the API client against `honk
server` as it is built (honk.composition.server) on a real uvicorn: the history as a table (newest first,
a log's escape sequences made harmless) and as JSON lines; a revert task made once, the second refused with
the API's words; a deploy with nothing held refused; an unknown repo said plainly. The merged tasks are
put in the store as the workflow leaves them; their workflows never run."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import uvicorn
from click.testing import CliRunner, Result

from honk.cli.main import cli
from honk.composition.server import build_app
from honk.domain import DeployRecord, RepoRef, TaskRequest
from honk.events import Merged
from honk.ports import free_port
from honk.service import TaskService
from honk.settings import Settings

pytestmark = pytest.mark.asyncio(loop_scope="module")
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class Honk:
    def __init__(self, url: str, service: TaskService) -> None:
        self.url, self.service = url, service

    async def honk(self, *args: str) -> Result:
        """The `honk` command, run in a thread: its HTTP client blocks, and the server is on this loop."""
        runner = CliRunner()
        return await asyncio.to_thread(runner.invoke, cli, ["--url", self.url, *args], catch_exceptions=True)

    async def merged_task(self) -> str:
        task_id = f"t-{uuid.uuid4().hex[:12]}"
        req = TaskRequest(
            task_id=task_id,
            request_id=task_id,
            repo=RepoRef(name="calc", url="/nowhere"),
            text="make the total green",
            requested_by="ana@example.com",
        )
        await self.service.store.create_task(req, f"honk/{task_id}")
        await self.service.store.append(task_id, Merged(commit=COMMIT, target="main", approved_by="bo@example.com"))
        return task_id


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def honk(tmp_path_factory: pytest.TempPathFactory, temporal) -> AsyncIterator[Honk]:
    settings = Settings().changed(
        data_dir=tmp_path_factory.mktemp("honk") / "data",
        host="127.0.0.1",
        port=free_port(),
        temporal_address=temporal.address,
        task_queue=f"nobody-{uuid.uuid4().hex[:8]}",  # a revert task's workflow starts; nothing runs it
        anonymous=True,
    )
    app = build_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.server.port, log_level="warning"))
    running = asyncio.ensure_future(server.serve())
    async with asyncio.timeout(60):
        while not server.started:
            assert not running.done(), "the server did not start"
            await asyncio.sleep(0.02)
    service: TaskService = app.honk.state.service
    await service.store.add_repo(RepoRef(name="calc", url="/nowhere"))
    try:
        yield Honk(f"http://127.0.0.1:{settings.server.port}", service)
    finally:
        server.should_exit = True
        await running


async def test_deploys_is_a_table_newest_first_and_json_lines(honk: Honk):
    assert (await honk.honk("deploys", "calc")).output.strip() == "no deploys of calc yet"
    history = honk.service.deploy_history
    first = await history.started("calc", "t-aaaaaaaaaaa1", "a" * 40, "bo@example.com")
    await history.moved(first, "live", link="https://calc.example.com")
    second = await history.started("calc", "t-aaaaaaaaaaa2", "b" * 40, "cy@example.com")
    await history.moved(second, "health_failed", detail="\x1b]0;pwned\x07HTTP 502 from /health\nmore")

    shown = await honk.honk("deploys", "calc")
    assert shown.exit_code == 0, shown.output
    header, newest, oldest = shown.output.splitlines()
    assert header.split()[:4] == ["WHEN", "(UTC)", "COMMIT", "WHO"]
    assert newest.split()[2:7] == ["bbbbbbbbbb", "cy@example.com", "health", "failed", "t-aaaaaaaaaaa2"]
    assert "\x1b" not in newest and "\x07" not in newest and newest.endswith("?]0;pwned?HTTP 502 from /health")
    assert oldest.split()[2:6] == ["aaaaaaaaaa", "bo@example.com", "live", "t-aaaaaaaaaaa1"]
    assert oldest.endswith("https://calc.example.com")

    lines = (await honk.honk("deploys", "calc", "--json", "--limit", "1")).output.splitlines()
    assert [DeployRecord.model_validate_json(line).commit for line in lines] == ["b" * 40]
    assert json.loads(lines[0])["state"] == "health_failed"


async def test_deploys_of_an_unknown_repo_or_a_bad_limit_say_so(honk: Honk):
    unknown = await honk.honk("deploys", "nope")
    assert unknown.exit_code != 0 and "Unknown repo 'nope'" in str(unknown.exception)
    bad = await honk.honk("deploys", "calc", "--limit", "0")
    assert bad.exit_code == 2 and "--limit" in bad.output


async def test_revert_makes_one_revert_task_and_deploy_needs_a_held_deploy(honk: Honk):
    task_id = await honk.merged_task()
    made = await honk.honk("revert", task_id)
    assert made.exit_code == 0, (made.output, made.exception)
    assert made.output.startswith(f"reverting {task_id}: task t-")
    reverting = made.output.split("task ", 1)[1].split(" ", 1)[0]
    assert (await honk.service.timeline(task_id)).revert_task == reverting
    again = await honk.honk("revert", task_id)
    assert again.exit_code != 0 and "already being reverted" in str(again.exception)
    held = await honk.honk("deploy", task_id)
    assert held.exit_code != 0 and "has no deploy waiting to start" in str(held.exception)
    odd = await honk.honk("revert", "../../api/repos")  # quoted whole: it names no other route
    assert odd.exit_code != 0 and str(odd.exception) == "Not Found"
    assert (await honk.service.tasks(limit=10))[0].id == reverting  # nothing else was made
