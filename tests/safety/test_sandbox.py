"""The sandbox itself, under real bubblewrap: what a command inside can and cannot do, and what is written down.

The full-stack stories (agent shell, verifiers, front doors) are in test_attacks.py; these pin the
sandbox's own contract with one command each, so a regression names the exact hole.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from honk.domain import ProcResult
from honk.sandbox import Sandbox, SandboxConfig, SandboxLauncher, SandboxUnavailable, process_limit_enforced
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


def box(world: dict[str, Path], **config: object) -> tuple[Sandbox, SandboxLauncher]:
    sandbox = Sandbox(SandboxConfig(hidden=(world["data"], world["settings"]), pids=64, memory_mb=256, **config))
    network = "model" if config.get("model_socket_dir") else "none"
    return sandbox, sandbox.launcher(world["area"], world["ws"], [], "check", network)


# Both ways a confined process starts: in the worker (checks, builds, setup, the command agent) and
# through the stand-alone launcher a library starts itself (the Claude Agent SDK's cli_path).
@pytest.fixture(params=["in-worker", "stand-alone"])
def via(request: pytest.FixtureRequest) -> str:
    return request.param


async def launched(
    launcher: SandboxLauncher, via: str, command: str, timeout_s: float = 20, pass_env: tuple[str, ...] = ()
) -> ProcResult:
    if via == "in-worker":
        return await launcher.shell(command, timeout_s=timeout_s)
    script = launcher.program(Path("/bin/bash"), pass_env)
    res = await proc.run(
        [str(script), "-c", command],
        cwd=launcher.workspace,
        timeout_s=timeout_s,
        env={**os.environ, "PATH": "/usr/bin:/bin"},
    )
    # As an agent run ends: what its tools saw is reported (the Claude agent does this for its shell
    # commands), then the run's limits are read and its cgroup goes.
    launcher.noticed(res.output, command)
    launcher.close()
    return res


async def run(
    world: dict[str, Path], command: str, timeout_s: float = 20, via: str = "in-worker", pass_env: tuple[str, ...] = ()
) -> tuple[ProcResult, list[str]]:
    sandbox, launcher = box(world)
    res = await launched(launcher, via, command, timeout_s, pass_env)
    return res, [v.kind for v in sandbox.violations(world["area"])]


async def test_the_workspace_is_writable_and_the_tool_chain_runs(world, via):
    res, refused = await run(world, "python3 -c 'print(6*7)' > answer.txt && cat answer.txt", via=via)
    assert res.ok and "42" in res.output, res.output
    assert (world["ws"] / "answer.txt").read_text().strip() == "42"
    assert refused == []


async def test_writing_outside_the_workspace_is_refused_and_recorded(world, via):
    target = Path("/etc/honk-sandbox-pwned.txt")  # the system: visible, but read-only
    res, refused = await run(world, f"echo x > {target}", via=via)
    assert not res.ok and not target.exists()
    assert refused == ["write_outside"]


async def test_writes_to_tmp_stay_in_a_private_tmp(world, tmp_path, via):
    res, _ = await run(world, f"echo x > /tmp/leak.txt && echo x > {tmp_path}/leak.txt && ls /tmp", via=via)
    assert res.ok, res.output
    assert not (tmp_path / "leak.txt").exists() and not Path("/tmp/leak.txt").exists()


async def test_honks_data_dir_settings_and_home_are_invisible(world, via):
    for path in (
        world["data"] / "secret" / "key",
        world["settings"],
        Path.home() / ".ssh" / "id_rsa",
        Path("/etc/shadow"),
    ):
        res, refused = await run(world, f"cat {path}", via=via)
        assert not res.ok and "TOPSECRET" not in res.output and "xoxb" not in res.output
        assert refused == ["hidden_path"], (path, res.output)


async def test_the_environment_is_the_allow_list_only(world, monkeypatch, via):
    monkeypatch.setenv("HONK_SLACK_BOT_TOKEN", "xoxb-secret-in-env")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    monkeypatch.setenv("HONK_RUN_TOKEN", "passed-on-by-name")
    res, _ = await run(world, "env; cat /proc/1/environ", via=via, pass_env=("HONK_RUN_TOKEN",))
    assert res.ok
    assert "xoxb-secret-in-env" not in res.output and "sk-ant-secret" not in res.output
    assert f"HOME={world['area'].resolve()}/sandbox-home" in res.output
    # A program started by a library gets the variables it names, from its caller: never written down.
    assert ("passed-on-by-name" in res.output) == (via == "stand-alone")
    assert b"passed-on-by-name" not in b"".join(p.read_bytes() for p in world["area"].glob("*") if p.is_file())


async def test_no_other_process_of_the_machine_is_visible(world, via):
    res, _ = await run(world, f"ls /proc | grep -c '^[0-9]'; cat /proc/{os.getpid()}/environ", via=via)
    assert int(res.output.split()[0]) < 10, res.output  # the sandbox's own few, not the machine's
    assert "No such file" in res.output


async def test_no_network_not_even_a_loopback_listener_outside(world, via):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        res, refused = await run(
            world, f"python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}))'", via=via
        )
        with pytest.raises(TimeoutError):
            listener.accept()
    assert not res.ok and "Connection refused" in res.output
    assert refused == ["network"]


async def test_the_model_socket_is_the_only_way_out(world, via):
    """With network "model", the key proxy's socket (bound in) answers on the sandbox's own loopback
    through the bridge; a listener on the machine's loopback stays out of reach."""
    sockets = Path(tempfile.mkdtemp(prefix="honk-test-"))

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nfrom-key")
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(answer, str(sockets / "model.sock"))
    outside = socket.socket()
    outside.bind(("127.0.0.1", 0))
    outside.listen()
    try:
        _, launcher = box(world, model_socket_dir=sockets)
        assert launcher.model_url == "http://127.0.0.1:47000"
        code = (
            f"import urllib.request, socket; print(urllib.request.urlopen('{launcher.model_url}/v1').read()); "
            f"socket.create_connection(('127.0.0.1', {outside.getsockname()[1]}))"
        )
        res = await launched(launcher, via, f'python3 -c "{code}"')
        assert "b'from-key'" in res.output and "Connection refused" in res.output, res.output
    finally:
        server.close()
        outside.close()
        shutil.rmtree(sockets)


@pytest.mark.skipif(
    not process_limit_enforced(),
    reason="no pids cgroup here: no process limit to test (and a fork bomb would take the machine)",
)
async def test_a_fork_bomb_hits_the_process_limit(world, via):
    res, refused = await run(world, "python3 -c 'import os\nwhile True: os.fork()'", timeout_s=30, via=via)
    assert "process_limit" in refused, (refused, res.output[-500:])


async def test_memory_beyond_the_limit_is_refused(world, via):
    res, refused = await run(world, "python3 -c 'x = bytearray(1024**3); print(len(x))'", via=via)
    assert not res.ok
    assert "memory_limit" in refused or "MemoryError" in res.output


async def test_a_command_that_never_ends_is_stopped_with_everything_it_started(world):
    res, refused = await run(world, "sleep 600 & sleep 600", timeout_s=2)
    assert res.timed_out and refused == ["time_limit"]
    out = subprocess.run(["pgrep", "-f", "sleep 600"], capture_output=True, text=True)
    assert out.stdout.strip() == ""


def _running(command: str) -> list[int]:
    """The processes whose arguments are `command`'s words (not those that only mention it)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
        except OSError:
            continue
        if argv and Path(argv[0]).name == command.split()[0] and argv[1:] == command.split()[1:]:
            found.append(int(pid))
    return found


def test_a_confined_program_dies_with_a_worker_killed_outright(tmp_path):
    """Confined programs start without a fork of the worker (a shell joins their cgroup, bubblewrap's
    --die-with-parent takes the worker's place): a worker killed with SIGKILL still takes them along."""
    token = f"{os.getpid() % 1000}.{tmp_path.stat().st_ino % 100000}"  # this test's own sleep
    (tmp_path / "ws").mkdir()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import asyncio, sys\n"
            "from pathlib import Path\n"
            "from honk.sandbox import Sandbox, SandboxConfig\n"
            "box = Sandbox(SandboxConfig()).launcher(Path(sys.argv[1]) / 'area', Path(sys.argv[1]) / 'ws', [], 'check')\n"
            "asyncio.run(box.shell('sleep 3' + sys.argv[2] + ' & sleep 3' + sys.argv[2], timeout_s=300))\n",
            str(tmp_path),
            token,
        ],
        start_new_session=True,
    )
    try:
        until = time.monotonic() + 30
        while len(_running(f"sleep 3{token}")) < 2 and time.monotonic() < until:
            assert worker.poll() is None, "the stand-in worker ended before its program started"
            time.sleep(0.05)
        assert len(_running(f"sleep 3{token}")) == 2
        worker.kill()
        worker.wait(10)
        until = time.monotonic() + 10
        while _running(f"sleep 3{token}") and time.monotonic() < until:
            time.sleep(0.05)
        assert _running(f"sleep 3{token}") == [], "a confined program outlived its worker"
    finally:
        if worker.poll() is None:
            worker.kill()
        for pid in _running(f"sleep 3{token}"):
            os.kill(pid, 9)


async def test_a_session_directory_the_sdk_lays_out_is_writable_and_nothing_else_is(world):
    """The Claude Agent SDK lays a session to resume out in a fresh temp dir (CLAUDE_CONFIG_DIR):
    bound in writable; a variable naming any other directory binds nothing."""
    _, launcher = box(world)
    fresh = Path(tempfile.mkdtemp(prefix="claude-resume-"))
    script = launcher.program(Path("/bin/bash"), ["CLAUDE_CONFIG_DIR"])
    try:
        for target, writable in ((fresh, True), (world["data"] / "secret", False)):
            env = {"PATH": "/usr/bin:/bin", "CLAUDE_CONFIG_DIR": str(target)}
            res = await proc.run(
                [str(script), "-c", 'echo hi > "$CLAUDE_CONFIG_DIR/x" && echo wrote'],
                cwd=world["ws"],
                timeout_s=20,
                env=env,
            )
            assert ("wrote" in res.output) == writable, res.output
            assert (target / "x").exists() == writable
    finally:
        launcher.close()
        shutil.rmtree(fresh)


async def test_without_bubblewrap_honk_refuses_unless_told_otherwise(world, monkeypatch):
    sandbox = Sandbox(SandboxConfig(bwrap="/nonexistent/bwrap"))
    with pytest.raises(SandboxUnavailable, match="HONK_SANDBOX=off"):
        sandbox.launcher(world["area"], world["ws"], [], "check")
    off = Sandbox(SandboxConfig(mode="off", bwrap="/nonexistent/bwrap"))
    launcher = off.launcher(world["area"], world["ws"], [], "check")
    assert launcher.spec is None and "WITHOUT a sandbox" in (off.warning() or "")
    res = await launcher.shell("echo unsandboxed", timeout_s=10)
    assert res.ok and "unsandboxed" in res.output
    monkeypatch.setenv("HONK_SLACK_BOT_TOKEN", "xoxb-secret-in-env")
    res = await launched(launcher, "stand-alone", "env")  # even unsandboxed: the named variables only
    assert res.ok and "xoxb-secret-in-env" not in res.output


async def test_violations_are_read_once(world):
    sandbox, launcher = box(world)
    await launcher.shell("touch /usr/x", timeout_s=10)
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


def test_a_machine_without_a_network_namespace_is_named_and_refused(world, tmp_path):
    """Where bubblewrap cannot make one of the namespaces (a container that forbids it), Honk refuses
    to run anything confined — agents included — and says which namespace is missing."""
    fake = tmp_path / "bwrap"
    fake.write_text(
        '#!/bin/sh\nfor a in "$@"; do case "$a" in --unshare-all|--unshare-net)\n'
        '  echo "bwrap: Creating new namespace failed: Operation not permitted" >&2; exit 1;; esac; done\n'
        'exec bwrap "$@"\n'
    )
    fake.chmod(0o755)
    sandbox = Sandbox(SandboxConfig(bwrap=str(fake)))
    assert "cannot make a new network namespace" in (sandbox.problem() or "")
    with pytest.raises(SandboxUnavailable, match="network namespace.*HONK_SANDBOX=off"):
        sandbox.launcher(world["area"], world["ws"], [], "agent", "model")
