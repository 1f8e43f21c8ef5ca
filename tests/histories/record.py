"""Records workflow histories for the replay test: `python tests/histories/record.py [VERSION]`.

Keep the older files: each one proves that tasks started under that version still replay.

Run it after a deliberate, replay-compatible change to the workflow (or when adding a path worth
covering); never to paper over a replay failure — that failure means running tasks would break.

Beside each history it saves what Honk's store recorded for the task (`<name>.events.json`): the
replay test checks that the workflow's own state and the store's reading of the events agree.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from honk.domain import TaskState  # noqa: E402
from honk.settings import Settings  # noqa: E402
from honk.testing.gitrepo import RemoteRepo  # noqa: E402
from honk.testing.processes import HonkStack, TemporalDevServer, wait_until  # noqa: E402
from honk.workflow.client import connect  # noqa: E402
from repos import DIRECT_FIX, FOLLOW_UP_STEP, calc_files, plan_step, scenario, slow_fix  # noqa: E402

HERE = Path(__file__).parent


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        temporal = TemporalDevServer(root / "temporal")
        stack = HonkStack(root / "honk", temporal.address)
        try:
            remote = RemoteRepo(root / "remote", calc_files(DIRECT_FIX + FOLLOW_UP_STEP))
            stack.add_repo("calc", remote.url)
            task = stack.ask("calc", "make add() add")
            stack.wait_for(task.id, TaskState.ready)
            stack.http.post(f"/api/tasks/{task.id}/followup", json={"text": "add a docstring"})
            wait_until(lambda: stack.kinds(task.id).count("task_ready") == 2, 60, "second ready")
            remote.push_change({"NOTES.md": "moved\n"})
            stack.http.post(f"/api/tasks/{task.id}/merge", json={"by": "bo"})
            stack.wait_for(task.id, TaskState.merged)
            version = f"-{sys.argv[1]}" if len(sys.argv) > 1 else ""
            asyncio.run(_save(temporal.address, stack, task.id, f"follow_up_main_moved_merge{version}"))

            slow = RemoteRepo(root / "slow", calc_files(slow_fix(30)))
            stack.add_repo("slow", slow.url)
            task = stack.ask("slow", "make add() add")
            wait_until(lambda: "agent_started" in stack.kinds(task.id), 60, "the agent at work")
            stack.http.post(f"/api/tasks/{task.id}/cancel", json={"by": "ada"})
            stack.wait_for(task.id, TaskState.cancelled)
            asyncio.run(_save(temporal.address, stack, task.id, f"cancelled_while_working{version}"))

            planned = RemoteRepo(root / "planned", calc_files(scenario(plan_step("a"), plan_step("b"), DIRECT_FIX)))
            stack.add_repo("planned", planned.url)
            task = stack.ask("planned", "make add() add", plan=True)  # type: ignore[arg-type]
            stack.wait_for(task.id, TaskState.plan_ready)
            stack.http.post(f"/api/tasks/{task.id}/plan/revise", json={"text": "also b", "version": 1})
            wait_until(lambda: stack.kinds(task.id).count("plan_proposed") == 2, 60, "plan v2")
            stack.wait_for(task.id, TaskState.plan_ready)
            stack.http.post(f"/api/tasks/{task.id}/plan/approve", json={"version": 2})
            stack.wait_for(task.id, TaskState.ready)
            stack.http.post(f"/api/tasks/{task.id}/merge", json={"by": "bo"})
            stack.wait_for(task.id, TaskState.merged)
            asyncio.run(_save(temporal.address, stack, task.id, f"plan_revised_approved_merged{version}"))
        finally:
            stack.stop()
            temporal.stop()


async def _save(address: str, stack: HonkStack, workflow_id: str, name: str) -> None:
    client = await connect(Settings(temporal_address=address))
    handle = client.get_workflow_handle(workflow_id)
    await handle.result()  # the whole history, up to the workflow's end
    history = await handle.fetch_history()
    (HERE / f"{name}.json").write_text(history.to_json())
    events = [e.model_dump(mode="json") for e in stack.events(workflow_id)]
    (HERE / f"{name}.events.json").write_text(json.dumps(events, indent=1) + "\n")
    print("saved", name)


if __name__ == "__main__":
    main()
