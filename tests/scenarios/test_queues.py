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


ROUTED_DELIVERY = """
[build]
run = "mkdir -p dist && echo 'the app, built on the mac' > dist/app.bin"
artifacts = ["dist/app.bin"]

[deliver]
kind = "command"
queue = "mac"
run = "test -s \\"$HONK_ARTIFACT\\" && echo \\"url=https://apps.example.com/$HONK_TASK\\" >> \\"$HONK_OUTPUT\\""
"""


def test_only_the_build_and_delivery_go_to_the_queue_deliver_names(tmp_path, temporal, make_remote):
    """`[deliver] queue`: an iOS build needs macOS, the agent does not. The agent and the checks run on the
    main queue's worker; the build and the team's upload on the named queue's (a second Linux worker here,
    with a data dir of its own, as a Mac would have)."""
    stack = HonkStack(tmp_path / "honk", temporal.address)
    mac_data = tmp_path / "mac-machine"
    mac = stack.start_worker(HONK_DATA_DIR=str(mac_data), HONK_WORKER_QUEUES='["mac"]', HONK_DATABASE_URL=stack.db_url)
    try:
        stack.add_repo("app", make_remote(calc_files(DIRECT_FIX, ROUTED_DELIVERY)).url)
        task = stack.ask("app", "make add() add")
        view = stack.wait_for(task.id, TaskState.ready, TaskState.failed)
        assert view.state == TaskState.ready, view.reason
        [delivered] = [e.event for e in stack.events(task.id) if e.event.kind == "app_delivered"]
        assert delivered.outcome.url == f"https://apps.example.com/{task.id}"

        main_logs, mac_logs = tmp_path / "honk" / "data" / "logs" / task.id, mac_data / "logs" / task.id
        assert list(main_logs.glob("*-test.log")) and not list(mac_logs.glob("*-test.log"))  # checks: main
        assert (mac_logs / "build.log").is_file() and not (main_logs / "build.log").exists()
        assert (mac_logs / "deliver.log").is_file() and not (main_logs / "deliver.log").exists()
    finally:
        stack.kill_worker(mac)
        stack.stop()
