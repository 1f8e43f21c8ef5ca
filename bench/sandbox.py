"""The sandbox's cost: the sample repo's tests as a verifier, inside bubblewrap vs outside, same run.

Both sides go through `SandboxLauncher.shell`, as the worker's checks do, with the same allow-listed
environment; the only difference is the cgroup and bubblewrap around the command. Runs alternate (outside,
inside, outside, …) so that machine noise lands on both sides alike.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

from bench.common import Row, Section, fmt_s, median, scratch
from honk.sample import sample_repo_dir
from honk.sandbox import Sandbox, SandboxConfig, SandboxLauncher

TARGET = 1.2
TEST = "python3 -m unittest discover -s tests -v"


async def _timed(box: SandboxLauncher, command: str) -> float:
    t = time.perf_counter()
    res = await box.shell(command, timeout_s=120)
    assert res.ok, res.output[-2000:]
    return time.perf_counter() - t


async def _measure(ws: Path, area: Path, runs: int) -> dict[str, list[float]]:
    sandbox = Sandbox(SandboxConfig())
    if (problem := sandbox.problem()) is not None:
        raise RuntimeError(f"bubblewrap cannot run here: {problem}")
    inside = sandbox.launcher(area, ws, [], "check")
    outside = Sandbox(SandboxConfig(mode="off")).launcher(area, ws, [], "check")
    times: dict[str, list[float]] = {"out": [], "in": [], "true_out": [], "true_in": []}
    for box in (outside, inside):  # warm-up: page cache, bytecode of the stdlib
        await _timed(box, TEST)
    for _ in range(runs):
        times["out"].append(await _timed(outside, TEST))
        times["in"].append(await _timed(inside, TEST))
        times["true_out"].append(await _timed(outside, "true"))
        times["true_in"].append(await _timed(inside, "true"))
    return times


def run(quick: bool = False, log=print) -> Section:  # noqa: ANN001 - a print-like callable
    runs = 5 if quick else 15
    sec = Section("sandbox", "The sandbox's cost: a verifier inside bubblewrap vs outside")
    started = time.perf_counter()
    with scratch("sandbox") as root:
        ws = root / "ws"
        shutil.copytree(sample_repo_dir(), ws)
        subprocess.run(["git", "init", "-q", str(ws)], check=True)
        times = asyncio.run(_measure(ws, root / "area", runs))
    out, inside = median(times["out"]), median(times["in"])
    t_out, t_in = median(times["true_out"]), median(times["true_in"])
    ratio = inside / out
    log(f"  tests outside {fmt_s(out)}, inside {fmt_s(inside)} ({ratio:.2f}×); `true` {fmt_s(t_out)} → {fmt_s(t_in)}")
    sec.setup = [
        f"Verifier: the sample repo's test check (`{TEST}`, 1 lint-free module, its unit tests), run in a "
        f"workspace copy through `SandboxLauncher.shell` (what the worker's checks use), median of {runs} alternating runs after one "
        "untimed warm-up each.",
        "Baseline: the same command with Honk's allow-listed environment, no sandbox (what HONK_SANDBOX=off runs).",
        "Honk: the same command in the sandbox: a fresh cgroup (pids + memory), bubblewrap "
        "with all namespaces unshared, the read-only system view, private /tmp, covered secrets.",
        "Individual runs — outside: "
        + ", ".join(fmt_s(x) for x in times["out"])
        + "; inside: "
        + ", ".join(fmt_s(x) for x in times["in"])
        + ".",
    ]
    sec.rows = [
        Row(
            "Verifier inside the sandbox vs outside",
            fmt_s(inside),
            fmt_s(out),
            f"{ratio:.2f}×",
            f"< {TARGET}×",
            ratio < TARGET,
        ),
        Row("Fixed cost per sandboxed command (`true`)", fmt_s(t_in), fmt_s(t_out), f"+{fmt_s(t_in - t_out)}"),
    ]
    sec.notes = [
        "The fixed cost is the cgroup's creation and removal and bubblewrap setting up its namespaces and "
        "mounts; a verifier that runs longer pays it once, so the ratio falls as the checks grow. An "
        "agent's own CLI (Claude Code) starts through the stand-alone launcher once per run (a Python "
        "interpreter with -I -S, and the model bridge inside): see the agent benchmark.",
    ]
    sec.seconds = time.perf_counter() - started
    return sec
