"""A preview waking: the bundled sample's dev server started by a worker's PreviewHost (confined, its
install already cached) until the first byte of its page comes back through its socket — against the
same server started bare on a loopback port; and what an idle-stopped preview still holds."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.common import Row, Section, fmt_s, median, scratch
from honk.domain import PreviewEndpoint, PreviewSpec, Workspace
from honk.ports import free_port
from honk.preview.endpoint import open_preview_stream
from honk.preview.host import PreviewHost
from honk.sample import sample_repo_dir
from honk.sandbox import Sandbox, SandboxConfig

# An install step that ran once already (its inputs unchanged): a wake does not run it again.
SPEC = PreviewSpec(start="python3 serve.py", install="true", install_inputs=["build.py"], ready="/")


async def _first_byte(endpoint: PreviewEndpoint) -> None:
    reader, writer = await open_preview_stream(endpoint, "t-bench")
    writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    await writer.drain()
    assert (await reader.read(1)) == b"H"
    writer.close()


def _rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _pids_of(root: Path) -> list[int]:
    """Processes whose working directory is inside `root` (the preview's workspace)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if os.readlink(proc / "cwd").startswith(str(root)):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


async def _wakes(root: Path, runs: int) -> tuple[list[float], int, int, int]:
    ws = root / "ws"
    shutil.copytree(sample_repo_dir(), ws)
    host = PreviewHost(Sandbox(SandboxConfig(hidden=(root / "data",))), root / "areas", root / "logs", None, "bench")
    workspace = Workspace(path=ws, branch="", mirror=ws)
    first = await host.start("t-bench", workspace, SPEC)  # runs the install once
    assert first.ok, first.detail
    running_rss = _rss_kb(_pids_of(ws))
    await host.stop("t-bench", "idle")
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = await host.start("t-bench", workspace, SPEC)
        assert out.ok and not out.install_ran and out.endpoint is not None, out
        await _first_byte(out.endpoint)
        times.append(time.perf_counter() - t)
        await host.stop("t-bench", "idle")
    left = _pids_of(ws)
    await host.close()
    return times, running_rss, len(left), _rss_kb(left)


def _bare(root: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        port = free_port()
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "serve.py"],
            cwd=root / "ws",
            env={**os.environ, "PORT": str(port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    assert s.recv(1) == b"H"
                    break
            except ConnectionRefusedError:
                time.sleep(0.005)
        times.append(time.perf_counter() - t)
        proc.terminate()
        proc.wait()
    return times


def run(quick: bool = False, log=print) -> Section:  # noqa: ANN001 - a print-like callable
    runs = 3 if quick else 9
    sec = Section("wake", "A preview waking from idle, and what an idle one holds")
    started = time.perf_counter()
    with scratch("wake") as root:
        wakes, running_kb, left, left_kb = asyncio.run(_wakes(root, runs))
        bare = _bare(root, runs)
    w, b = median(wakes), median(bare)
    log(
        f"  wake to first byte {fmt_s(w)} (bare server {fmt_s(b)}); running {running_kb // 1024} MB, after stop {left} processes"
    )
    sec.rows = [
        Row("Wake to first byte: the sample's dev server, install cached", fmt_s(w), fmt_s(b), f"{w / b:.2f}×"),
        Row("Memory of the running preview (RSS of its processes)", f"{running_kb / 1024:.1f} MB"),
        Row(
            "Held by an idle-stopped preview: processes, memory",
            f"{left}, {left_kb / 1024:.1f} MB",
            target="0, 0 MB",
            passed=left == 0 and left_kb == 0,
        ),
    ]
    sec.setup = [
        "Wake: `PreviewHost.start` of the bundled sample (`python3 serve.py`, an install step whose inputs did not "
        "change, so it is skipped) in bubblewrap, polled ready through its socket, then the first byte of `/` "
        f"through the socket; median of {runs}. Baseline: the same server started bare on a loopback port until "
        "its first byte. The server's own start dominates both.",
        "Idle: after `stop` (what the reaper does when `idle_stop` passes) nothing of the preview runs: only its "
        "workspace is left on disk.",
    ]
    sec.seconds = time.perf_counter() - started
    return sec
