"""Workers on different machines (here: separate data dirs, so separate mirrors and workspaces)
continue each other's tasks: the task branch travels through the remote (refs/honk/tasks/<id>)."""

from __future__ import annotations

import subprocess
import sys

from honk.domain import TaskState
from honk.testing.processes import HonkStack, wait_until
from repos import calc_files, slow_fix


def test_a_task_begun_on_one_machine_is_finished_and_merged_on_another(tmp_path, temporal, make_remote):
    stack = HonkStack(tmp_path / "honk", temporal.address)
    other = None
    try:
        remote = make_remote(calc_files(slow_fix(3)))
        stack.add_repo("calc", remote.url)
        task = stack.ask("calc", "make add() add")
        wait_until(lambda: "agent_finished" in stack.kinds(task.id), 60, "the first machine's agent run")
        stack.kill_worker(stack.workers[0])  # machine one is gone, with its mirror and workspace
        assert (
            f"refs/honk/tasks/{task.id}"
            in subprocess.run(["git", "ls-remote", remote.url], capture_output=True, text=True, check=True).stdout
        )

        log = open(tmp_path / "machine-two.log", "ab")  # noqa: SIM115 - handed to the child
        other = subprocess.Popen(
            [sys.executable, "-m", "honk", "worker"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={
                **stack.env,
                "HONK_DATA_DIR": str(tmp_path / "machine-two"),
                "HONK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/honk/data/honk.db",
            },
            start_new_session=True,
        )
        done = stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=120)
        assert done.state == TaskState.ready, done.reason  # machine two saw machine one's commit
        assert (tmp_path / "machine-two" / "workspaces" / task.id).is_dir()

        assert stack.http.post(f"/api/tasks/{task.id}/merge", json={}).status_code == 202
        assert stack.wait_for(task.id, TaskState.merged, TaskState.failed).state == TaskState.merged
        assert "return a + b" in remote.show("calc.py", "main")
        wait_until(
            lambda: (
                f"refs/honk/tasks/{task.id}"
                not in subprocess.run(["git", "ls-remote", remote.url], capture_output=True, text=True).stdout
            ),
            30,
            "the task ref to be removed from the remote once the task ended",
        )
    finally:
        if other is not None:
            other.kill()
            other.wait(timeout=10)
        stack.stop()
