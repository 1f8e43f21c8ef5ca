"""Records workflow histories for the replay test: `python tests/histories/record.py [VERSION]`.

Keep the older files: each one proves that tasks started under that version still replay.

Run it after a deliberate, replay-compatible change to the workflow (or when adding a path worth
covering); never to paper over a replay failure — that failure means running tasks would break.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from honk.domain import TaskState  # noqa: E402
from honk.settings import Settings  # noqa: E402
from honk.testing.gitrepo import RemoteRepo  # noqa: E402
from honk.testing.processes import HonkStack, TemporalDevServer, wait_until  # noqa: E402
from honk.workflow.client import connect  # noqa: E402
from repos import DIRECT_FIX, FOLLOW_UP_STEP, calc_files  # noqa: E402

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
            name = f"follow_up_main_moved_merge-{sys.argv[1]}" if len(sys.argv) > 1 else "follow_up_main_moved_merge"
            asyncio.run(_save(temporal.address, task.id, name))
        finally:
            stack.stop()
            temporal.stop()


async def _save(address: str, workflow_id: str, name: str) -> None:
    client = await connect(Settings(temporal_address=address))
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    (HERE / f"{name}.json").write_text(history.to_json())
    print("saved", name)


if __name__ == "__main__":
    main()
