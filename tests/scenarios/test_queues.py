"""Workers that serve a repo's own task queue: its whole task runs on those machines (here: a second
worker process with its own data dir, as another machine would have), while other repos' tasks stay
on the main queue."""

from __future__ import annotations

import subprocess
import sys

from honk.domain import TaskState
from honk.testing.processes import HonkStack
from repos import DIRECT_FIX, calc_files


def test_a_repo_that_names_a_queue_is_worked_on_by_that_queues_workers(tmp_path, temporal, make_remote):
    stack = HonkStack(tmp_path / "honk", temporal.address)
    mac_data = tmp_path / "mac-machine"
    log = open(tmp_path / "mac-worker.log", "ab")  # noqa: SIM115 - handed to the child
    mac = subprocess.Popen(
        [sys.executable, "-m", "honk", "worker", "--queue", "mac"],
        env={
            **stack.env,
            "HONK_DATA_DIR": str(mac_data),
            "HONK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/honk/data/honk.db",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        mac_repo = make_remote(
            calc_files(DIRECT_FIX) | {".honk.toml": 'queue = "mac"\n' + calc_files("")[".honk.toml"]}
        )
        plain_repo = make_remote(calc_files(DIRECT_FIX))
        stack.add_repo("app", mac_repo.url)
        stack.add_repo("lib", plain_repo.url)
        on_mac = stack.ask("app", "make add() add")
        on_main = stack.ask("lib", "make add() add")
        assert stack.wait_for(on_mac.id, TaskState.ready, TaskState.failed).state == TaskState.ready
        assert stack.wait_for(on_main.id, TaskState.ready, TaskState.failed).state == TaskState.ready

        main_data = tmp_path / "honk" / "data"
        assert (mac_data / "logs" / on_mac.id).is_dir()  # its checks ran on the mac worker…
        assert not (main_data / "logs" / on_mac.id).exists()
        assert (main_data / "logs" / on_main.id).is_dir() and not (mac_data / "logs" / on_main.id).exists()

        assert stack.http.post(f"/api/tasks/{on_mac.id}/merge", json={}).status_code == 202
        assert stack.wait_for(on_mac.id, TaskState.merged, TaskState.failed).state == TaskState.merged
        assert f"Honk-Task: {on_mac.id}" in mac_repo.log("main")
    finally:
        mac.kill()
        mac.wait(timeout=10)
        log.close()
        stack.stop()
