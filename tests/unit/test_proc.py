"""A command that overruns, or whose step is cancelled, takes its whole process group with it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from honk.workspace import proc


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); its state letter in /proc says it is gone.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


async def _wait_gone(pid: int) -> bool:
    for _ in range(500):  # up to 10 s: a loaded machine (CI on 2 cores) can take seconds to deliver the kill
        if not _alive(pid):
            return True
        await asyncio.sleep(0.02)
    return False


async def test_timeout_kills_children_too(tmp_path: Path):
    script = f"sleep 300 & echo $! > {tmp_path}/child; wait"
    res = await proc.run(["bash", "-c", script], cwd=tmp_path, timeout_s=1)
    assert res.timed_out and res.exit_code is None and not res.ok
    assert await _wait_gone(int((tmp_path / "child").read_text()))


async def test_cancellation_kills_the_group(tmp_path: Path):
    script = f"sleep 300 & echo $! > {tmp_path}/child; wait"
    task = asyncio.create_task(proc.run(["bash", "-c", script], cwd=tmp_path, timeout_s=60))
    for _ in range(200):
        if (tmp_path / "child").exists() and (tmp_path / "child").read_text().strip():
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _wait_gone(int((tmp_path / "child").read_text()))


async def test_output_goes_to_the_log_and_a_tail_is_kept(tmp_path: Path):
    log = tmp_path / "out.log"
    res = await proc.run(
        ["bash", "-c", "seq 1 200000; echo done >&2; exit 3"], cwd=tmp_path, timeout_s=30, log_path=log
    )
    assert res.exit_code == 3 and not res.ok
    assert res.output.rstrip().endswith("done") and len(res.output) <= proc.TAIL_BYTES
    assert log.read_text().startswith("1\n2\n")


def test_child_environment_holds_no_secrets(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HONK_DATABASE_URL", "postgresql://u:secret@db/honk")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret")
    env = proc.child_env()
    assert "PATH" in env
    assert not any("secret" in v for v in env.values())
