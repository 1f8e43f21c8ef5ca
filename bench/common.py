"""Shared pieces of the benchmarks: timing helpers, the machine description and result records."""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"  # gitignored scratch space


_to_remove: list[Path] = []


@contextmanager
def scratch(name: str) -> Iterator[Path]:
    """A fresh scratch directory under bench/.work/, removed by `remove_scratch()` at the end of the run.

    Removal waits until every benchmark has run: deleting ~100,000 files makes file creation slow for
    the next minutes on this machine's filesystem (see the workspace benchmark's note), which would
    leak into the next benchmark's numbers.
    """
    path = WORK_DIR / f"{name}-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    _to_remove.append(path)
    yield path


def remove_scratch() -> None:
    while _to_remove:
        shutil.rmtree(_to_remove.pop(), ignore_errors=True)
    try:
        WORK_DIR.rmdir()  # only when no other run is using it
    except OSError:
        pass


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def percentile(xs: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100): p90 of 20 samples is the 18th smallest."""
    s = sorted(xs)
    k = max(1, -(-len(s) * p // 100))  # ceil(n * p / 100)
    return s[int(k) - 1]


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


@dataclass
class Row:
    measure: str
    honk: str
    baseline: str = "—"
    ratio: str = "—"
    target: str = "—"
    passed: bool | None = None  # None: informational, no target

    @property
    def verdict(self) -> str:
        return "—" if self.passed is None else ("PASS" if self.passed else "MISS")


@dataclass
class Section:
    key: str
    title: str
    setup: list[str] = field(default_factory=list)  # how it was measured, one line each
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # An optional second table: (step, value per column), with the columns' labels.
    breakdown: list[tuple[str, list[float | None]]] = field(default_factory=list)
    breakdown_labels: list[str] = field(default_factory=list)
    # Further tables: (the sentence introducing it, header, rows of already formatted cells).
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)
    seconds: float = 0.0  # how long the benchmark itself took


def machine() -> dict[str, str]:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": str(os.cpu_count() or "?"),
        "cpu": cpu or "unknown",
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB" if mem_kb else "unknown",
        "git": git.removeprefix("git version "),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start
