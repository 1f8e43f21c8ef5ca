"""`honk up` on the embedded default: the sample's whole route, Ctrl-C, and a restart that loses nothing."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from honk.composition.up import free_port, port_free
from honk.testing.gitrepo import run_git
from honk.testing.processes import wait_until
from repos import calc_files, slow_fix


def _up(data: Path, port: int, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "honk", "up", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, **env},
    )


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _honk(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "honk", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HONK_URL": f"http://127.0.0.1:{port}"},
    )


def _ctrl_c(proc: subprocess.Popen[str]) -> str:
    os.kill(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    return out


def test_up_runs_the_sample_route_and_survives_a_restart(tmp_path):
    data, port = tmp_path / "data", free_port()
    up = _up(data, port)
    try:
        wait_until(lambda: _healthy(port) or up.poll() is not None, 60, "honk up")
        asked = _honk(port, "ask", "sample", "fix the crash when a playlist is empty", "--wait")
        assert asked.returncode == 0, asked.stderr
        task_id = asked.stdout.splitlines()[0]
        # The sample's live preview, opened as a phone opens the link posted in Slack: at the task's own origin.
        link = _honk(port, "preview", "link", task_id)
        assert link.returncode == 0 and f"http://{task_id}.localhost:{port}/__honk/enter?t=" in link.stdout, link
        host = {"host": f"{task_id}.localhost:{port}"}
        enter = link.stdout.split(f":{port}", 1)[1].split()[0]
        entered = httpx.get(f"http://127.0.0.1:{port}{enter}", headers=host)
        assert entered.status_code == 303, entered.text
        cookie = {"cookie": entered.headers["set-cookie"].split(";", 1)[0]}
        preview = httpx.get(f"http://127.0.0.1:{port}/", headers=host | cookie)
        assert preview.status_code == 200 and "Playlists" in preview.text
        # The sample's app on the phone: an install page with its QR code, behind the link the thread posts.
        events = httpx.get(f"http://127.0.0.1:{port}/api/tasks/{task_id}/events", params={"follow": "false"}).text
        [install] = re.findall(r'"url":\s*"(http://127\.0\.0\.1:\d+/install/[^"]+)"', events)
        page = httpx.get(install)
        assert page.status_code == 200 and "Honk Playlist" in page.text and "<svg" in page.text
    finally:
        out = _ctrl_c(up)
    assert up.returncode == 0 and "Honk stopped" in out
    assert port_free("127.0.0.1", port), "the web server stopped with honk up"
    branches = run_git("--git-dir", str(data / "sample-remote.git"), "for-each-ref", "--format=%(refname)")
    assert branches == "refs/heads/main", "task branches stay in Honk's mirror; nothing was pushed yet"

    again = _up(data, port)
    try:
        wait_until(lambda: _healthy(port) or again.poll() is not None, 60, "honk up, second run")
        status = _honk(port, "status", task_id)
        assert "[ready]" in status.stdout, status.stdout + status.stderr
        merged = _honk(port, "merge", task_id)  # the workflow waited through the restart
        assert merged.returncode == 0, merged.stdout + merged.stderr
    finally:
        _ctrl_c(again)
    log = run_git("--git-dir", str(data / "sample-remote.git"), "log", "-1", "--format=%B", "main")
    assert f"Honk-Task: {task_id}" in log


def test_up_refuses_a_busy_port_and_a_missing_binary_in_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = _up(tmp_path / "a", port)
        _, err = res.communicate(timeout=60)
    assert res.returncode == 1
    assert err.strip().count("\n") == 0 and f"Port {port}" in err and "--port" in err

    res = _up(tmp_path / "b", free_port(), HONK_TEMPORAL_BIN=str(tmp_path / "nowhere" / "temporal"))
    _, err = res.communicate(timeout=60)
    assert res.returncode == 1
    assert err.strip().count("\n") == 0 and "Temporal dev server binary is missing" in err


def _child(parent: int, role: str) -> int | None:
    """The pid of `honk up`'s child running `honk <role>`, from /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and role.encode() in cmdline and b"honk" in cmdline:
            return int(stat.parent.name)
    return None


def test_up_starts_a_killed_worker_again_and_the_task_still_gets_ready(tmp_path, make_remote):
    data, port = tmp_path / "data", free_port()
    up = _up(data, port, HONK_HEARTBEAT_TIMEOUT_S="3")
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        wait_until(lambda: _healthy(port) or up.poll() is not None, 60, "honk up")
        remote = make_remote(calc_files(slow_fix(4)))
        assert _honk(port, "repo", "add", "calc", remote.url).returncode == 0
        asked = _honk(port, "ask", "calc", "make add() add")
        assert asked.returncode == 0, asked.stderr
        task_id = asked.stdout.splitlines()[0]

        def kinds() -> str:
            return api.get(f"/api/tasks/{task_id}/events", params={"follow": "false"}).text

        wait_until(lambda: "agent_started" in kinds(), 60, "the agent at work")
        worker = _child(up.pid, "worker")
        assert worker is not None
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: _child(up.pid, "worker") not in (None, worker), 30, "honk up to start the worker again")
        wait_until(lambda: api.get(f"/api/tasks/{task_id}").json()["state"] in ("ready", "failed"), 120, "the task")
        assert api.get(f"/api/tasks/{task_id}").json()["state"] == "ready"
    finally:
        api.close()
        out = _ctrl_c(up)
    assert "The worker stopped (exit -9); starting it again" in out and "The worker is running again" in out
    assert "The worker stopped" in (data / "logs" / "up.log").read_text()
