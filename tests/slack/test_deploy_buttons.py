"""Deploy and Revert in a task's Slack thread, pressed as Slack sends a press (signed, to `honk server`'s
real endpoint, built as `honk server` builds it, with a loopback fake Slack recording what Honk says): Revert
starts a revert task in the same thread and settles the message; a second press says a revert is under way;
someone who may not deploy is told why, alone; Deploy on a task with no held deploy says so, alone. The
tasks are put in the store as the workflow would have left them; their workflows are never run."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
import uvicorn
from pydantic import SecretStr

from honk.composition.server import build_app
from honk.domain import DeployOutcome, RepoRef, SlackThread, TaskRequest
from honk.events import DeployFinished, DeployStarted, Merged, RevertStarted
from honk.ports import free_port
from honk.service import TaskService
from honk.settings import Settings
from honk.store.slack import SlackStore
from honk.testing.fake_slack import FakeSlack, block_action, interaction_body, sign

pytestmark = pytest.mark.asyncio(loop_scope="module")
POLICY = """
[users."ana@example.com"]
slack = "U1"
[users."bo@example.com"]
slack = "U2"
[repos."*"]
requesters = ["*"]
mergers = ["bo@example.com"]
"""
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class Honk:
    def __init__(self, url: str, service: TaskService, slack: FakeSlack, secret: str) -> None:
        self.url, self.service, self.slack, self.secret = url, service, slack, secret

    async def press(self, action: str, task_id: str, user: str, channel: str = "C1", ts: str = "") -> None:
        body = interaction_body(block_action(action, task_id, user=user, channel=channel, message_ts=ts or None))
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(self.secret, body)}
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            res = await http.post("/slack/events", content=body, headers=headers)
        assert res.status_code == 200, res.text

    async def merged_task(self, deploy: str | None = "deploy_failed") -> tuple[str, SlackThread]:
        """A task asked in a Slack thread, merged, its deploy ended as `deploy` (None: not deployed)."""
        task_id = f"t-{uuid.uuid4().hex[:12]}"
        thread = SlackThread(channel="C1", thread_ts=f"{1_700_000_000 + len(task_id)}.{uuid.uuid4().int % 10**6:06d}")
        req = TaskRequest(
            task_id=task_id,
            request_id=task_id,
            repo=RepoRef(name="calc", url="/nowhere"),
            text="make the total green",
            requested_by="ana@example.com",
            slack=thread,
        )
        store = self.service.store
        await store.create_task(req, f"honk/{task_id}")
        await SlackStore(store).link(task_id, thread)
        events = [Merged(commit=COMMIT, target="main", approved_by="bo@example.com")]
        if deploy is not None:
            outcome = DeployOutcome(state=deploy, commit=COMMIT, detail="## health\nHTTP 502")  # type: ignore[arg-type]
            events += [
                DeployStarted(commit=COMMIT, target="main", by="bo@example.com"),
                DeployFinished(outcome=outcome),
            ]
        await store.append(task_id, *events)
        return task_id, thread


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def honk(tmp_path_factory: pytest.TempPathFactory, temporal) -> AsyncIterator[Honk]:
    root = tmp_path_factory.mktemp("honk")
    (root / "policy.toml").write_text(POLICY)
    slack = FakeSlack().start()
    slack.add_user("U1", "ana@example.com", "Ana")
    slack.add_user("U2", "bo@example.com", "Bo")
    settings = Settings().changed(
        data_dir=root / "data",
        host="127.0.0.1",
        port=free_port(),
        temporal_address=temporal.address,
        task_queue=f"nobody-{uuid.uuid4().hex[:8]}",  # the revert task's workflow starts; nothing runs it
        policy_file=root / "policy.toml",
        # As the environment would set them: the two secrets as secrets.
        **{k: SecretStr(v) if k != "slack_api_url" else v for k, v in slack.settings().items()},
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
        yield Honk(f"http://127.0.0.1:{settings.server.port}", service, slack, slack.settings()["slack_signing_secret"])
    finally:
        server.should_exit = True
        await running
        slack.stop()


async def test_revert_starts_a_revert_task_in_the_same_thread(honk: Honk):
    task_id, thread = await honk.merged_task()
    await honk.press("revert", task_id, user="U2", ts="1700000999.000001")

    settled = await honk.slack.wait_for_async(
        "chat.update", where=lambda c: task_id in str(c.args) or "Revert asked by Bo" in str(c.args)
    )
    assert "↩️ Revert asked by Bo: task `t-" in str(settled[-1].args["blocks"])
    said = await honk.slack.wait_for_async(
        "chat.postMessage",
        where=lambda c: c.args.get("thread_ts") == thread.thread_ts and "Reverting" in c.args.get("text", ""),
    )
    timeline = await honk.service.timeline(task_id)
    assert timeline.revert_task is not None and timeline.revert_task in said[-1].args["text"]
    reverting = await honk.service.task(timeline.revert_task)
    assert reverting.requested_by == "bo@example.com" and reverting.text.startswith(
        f"Revert task {task_id} ({COMMIT[:10]})"
    )
    [started] = [e.event for e in await honk.service.events(task_id) if isinstance(e.event, RevertStarted)]
    assert started.by == "bo@example.com"


async def test_a_second_revert_is_told_the_first_one_privately(honk: Honk):
    task_id, _ = await honk.merged_task()
    await honk.press("revert", task_id, user="U2")
    await honk.slack.wait_for_async(
        "chat.postMessage", where=lambda c: "Reverting `" + task_id in c.args.get("text", "")
    )
    await honk.press("revert", task_id, user="U2")
    told = await honk.slack.wait_for_async("chat.postEphemeral", where=lambda c: task_id in c.args.get("text", ""))
    assert told[-1].args["user"] == "U2" and "already being reverted" in told[-1].args["text"]


async def test_someone_who_may_not_deploy_is_refused_alone_and_nothing_starts(honk: Honk):
    task_id, _ = await honk.merged_task()
    for action in ("revert", "deploy"):
        await honk.press(action, task_id, user="U1")
    told = await honk.slack.wait_for_async(
        "chat.postEphemeral", count=2, where=lambda c: c.args.get("user") == "U1" and "calc" in c.args.get("text", "")
    )
    texts = [c.args["text"] for c in told]
    assert any("may not revert deploys of calc" in t for t in texts), texts
    assert any("may not deploy calc" in t for t in texts), texts
    assert (await honk.service.timeline(task_id)).revert_task is None


async def test_deploy_on_a_task_with_no_held_deploy_says_so_alone(honk: Honk):
    task_id, _ = await honk.merged_task(deploy="live")
    await honk.press("deploy", task_id, user="U2")
    told = await honk.slack.wait_for_async("chat.postEphemeral", where=lambda c: task_id in c.args.get("text", ""))
    assert told[-1].args["user"] == "U2" and "has no deploy waiting to start" in told[-1].args["text"]


async def test_a_forged_press_does_nothing(honk: Honk):
    task_id, _ = await honk.merged_task()
    body = interaction_body(block_action("revert", task_id, user="U2"))
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign("not the secret", body)}
    async with httpx.AsyncClient(base_url=honk.url, timeout=30) as http:
        res = await http.post("/slack/events", content=body, headers=headers)
    assert res.status_code == 401
    assert (await honk.service.timeline(task_id)).revert_task is None
