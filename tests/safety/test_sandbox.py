"""The sandbox itself, under real bubblewrap: what a command inside can and cannot do, and what is written down.

The full-stack stories (agent shell, verifiers, front doors) are in test_attacks.py; these pin the
sandbox's own contract with one command each, so a regression names the exact hole.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from honk.sandbox import Confined, Sandbox, SandboxConfig, SandboxUnavailable, process_limit_enforced
from honk.workspace import proc


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    data = tmp_path / "data"
    (data / "secret").mkdir(parents=True)
    (data / "secret" / "key").write_text("TOPSECRET")
    ws = tmp_path / "data" / "workspaces" / "t1"
    ws.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    settings = tmp_path / "honk.toml"
    settings.write_text('slack_bot_token = "xoxb-in-settings"\n')
    return {"data": data, "ws": ws, "area": tmp_path / "data" / "agent-homes" / "t1", "settings": settings}


def box(world: dict[str, Path]) -> tuple[Sandbox, Confined]:
    sandbox = Sandbox(SandboxConfig(hidden=(world["data"], world["settings"]), pids=64, memory_mb=256))
    return sandbox, sandbox.confine(world["area"], world["ws"], [], "check")


async def run(world: dict[str, Path], command: str, timeout_s: float = 20) -> tuple[proc.ProcResult, list[str]]:
    sandbox, confined = box(world)
    res = await proc.run(confined.argv(command), cwd=world["ws"], timeout_s=timeout_s, env=confined.env)
    return res, [v.kind for v in sandbox.violations(world["area"])]


async def test_the_workspace_is_writable_and_the_tool_chain_runs(world):
    res, refused = await run(world, "python3 -c 'print(6*7)' > answer.txt && cat answer.txt")
    assert res.ok and "42" in res.output, res.output
    assert (world["ws"] / "answer.txt").read_text().strip() == "42"
    assert refused == []


async def test_writing_outside_the_workspace_is_refused_and_recorded(world, tmp_path):
    target = Path("/etc/honk-sandbox-pwned.txt")  # the system: visible, but read-only
    res, refused = await run(world, f"echo x > {target}")
    assert not res.ok and not target.exists()
    assert refused == ["write_outside"]


async def test_writes_to_tmp_stay_in_a_private_tmp(world, tmp_path):
    res, _ = await run(world, f"echo x > /tmp/leak.txt && echo x > {tmp_path}/leak.txt && ls /tmp")
    assert res.ok, res.output
    assert not (tmp_path / "leak.txt").exists() and not Path("/tmp/leak.txt").exists()


async def test_honks_data_dir_settings_and_home_are_invisible(world):
    for path in (
        world["data"] / "secret" / "key",
        world["settings"],
        Path.home() / ".ssh" / "id_rsa",
        Path("/etc/shadow"),
    ):
        res, refused = await run(world, f"cat {path}")
        assert not res.ok and "TOPSECRET" not in res.output and "xoxb" not in res.output
        assert refused == ["hidden_path"], (path, res.output)


async def test_the_environment_is_the_allow_list_only(world, monkeypatch):
    monkeypatch.setenv("HONK_SLACK_BOT_TOKEN", "xoxb-secret-in-env")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    res, _ = await run(world, "env")
    assert res.ok
    assert "xoxb-secret-in-env" not in res.output and "sk-ant-secret" not in res.output
    assert f"HOME={world['area'].resolve()}/sandbox-home" in res.output


async def test_no_network_not_even_a_loopback_listener_outside(world):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        res, refused = await run(
            world, f"python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}))'"
        )
        with pytest.raises(TimeoutError):
            listener.accept()
    assert not res.ok and "Connection refused" in res.output
    assert refused == ["network"]


@pytest.mark.skipif(
    not process_limit_enforced(),
    reason="no pids cgroup here: no process limit to test (and a fork bomb would take the machine)",
)
async def test_a_fork_bomb_hits_the_process_limit(world):
    res, refused = await run(world, "python3 -c 'import os\nwhile True: os.fork()'", timeout_s=30)
    assert "process_limit" in refused, (refused, res.output[-500:])


async def test_memory_beyond_the_limit_is_refused(world):
    res, refused = await run(world, "python3 -c 'x = bytearray(1024**3); print(len(x))'")
    assert not res.ok
    assert "memory_limit" in refused or "MemoryError" in res.output


async def test_a_command_that_never_ends_is_stopped_with_everything_it_started(world):
    res, refused = await run(world, "sleep 600 & sleep 600", timeout_s=2)
    assert res.timed_out and refused == ["time_limit"]
    out = subprocess.run(["pgrep", "-f", "sleep 600"], capture_output=True, text=True)
    assert out.stdout.strip() == ""


async def test_without_bubblewrap_honk_refuses_unless_told_otherwise(world):
    sandbox = Sandbox(SandboxConfig(bwrap="/nonexistent/bwrap"))
    with pytest.raises(SandboxUnavailable, match="HONK_SANDBOX=off"):
        sandbox.confine(world["area"], world["ws"], [], "check")
    off = Sandbox(SandboxConfig(mode="off", bwrap="/nonexistent/bwrap"))
    confined = off.confine(world["area"], world["ws"], [], "check")
    assert confined.spec is None and "WITHOUT a sandbox" in (off.warning() or "")
    res = await proc.run(confined.argv("echo unsandboxed"), cwd=world["ws"], timeout_s=10, env=confined.env)
    assert res.ok and "unsandboxed" in res.output


async def test_violations_are_read_once(world):
    sandbox, confined = box(world)
    await proc.run(confined.argv("touch /usr/x"), cwd=world["ws"], timeout_s=10, env=confined.env)
    assert [v.kind for v in sandbox.violations(world["area"])] == ["write_outside"]
    assert sandbox.violations(world["area"]) == []


async def test_cgroups_of_killed_launchers_are_swept(world):
    base = Path("/sys/fs/cgroup/pids")
    if not base.is_dir() or not os.access(base, os.W_OK):
        pytest.skip("no writable cgroup v1 pids controller on this machine")
    own = next(
        line.split(":", 2)[2]
        for line in Path("/proc/self/cgroup").read_text().splitlines()
        if "pids" in line.split(":")[1].split(",")
    )
    stale = base / own.lstrip("/") / "honk-999999999-dead"  # no such pid: its launcher is gone
    stale.mkdir()
    res, _ = await run(world, "true")
    assert res.ok and not stale.exists()
    assert [p for p in (base / own.lstrip("/")).glob("honk-*") if not (p / "cgroup.procs").read_text().strip()] == []


def test_a_worker_without_bubblewrap_refuses_repo_code_and_off_warns_on_every_task(tmp_path, temporal, make_remote):
    from honk.domain import TaskState
    from honk.testing.processes import HonkStack
    from repos import DIRECT_FIX, calc_files

    url = make_remote(calc_files(DIRECT_FIX)).url
    missing = HonkStack(tmp_path / "missing", temporal.address, sandbox_bwrap="/nonexistent/bwrap")
    try:
        missing.add_repo("calc", url)
        done = missing.wait_for(missing.ask("calc", "make add() add").id, TaskState.failed, TaskState.ready)
        assert done.state == TaskState.failed
        assert "will not run repo code without its sandbox" in done.reason and "HONK_SANDBOX=off" in done.reason
    finally:
        missing.stop()
    off = HonkStack(tmp_path / "off", temporal.address, sandbox="off")
    try:
        off.add_repo("calc", url)
        task = off.ask("calc", "make add() add")
        assert off.wait_for(task.id, TaskState.ready, TaskState.failed).state == TaskState.ready
        events = [e.event for e in off.events(task.id)]
        assert any(e.kind == "safety_warning" and "WITHOUT a sandbox" in e.text for e in events)
        ready = next(e for e in events if e.kind == "task_ready")
        assert any("WITHOUT a sandbox" in w for w in ready.warnings), ready.warnings
    finally:
        off.stop()
