"""`python -m bench --against REV`: this tree's numbers beside an earlier revision's, in one run.

"No worse than before the change" is only a claim when both are measured on the same machine at the
same time: the machine's speed drifts by more than the changes being judged. So the earlier revision
is checked out into a git worktree (scratch), and the two run their own benchmarks as separate
processes, alternating (before, after, after, before, …), each in its own tree with its own code; the
medians of their rounds are compared, measure by measure, as each benchmark prints them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.common import REPO_ROOT, Row, Section, median, scratch

COMPARED = ("workspace", "orchestration")
# A printed result row: "  <measure>   <value> <unit>  …" (bench.__main__.print_section).
ROW = re.compile(r"^  (?P<measure>\S.*?)\s{2,}(?P<value>[\d.,]+) (?P<unit>ms|s)\b")
UNIT_S = {"ms": 0.001, "s": 1.0}


def run(rev: str, quick: bool = False, log=print, rounds: int = 2) -> Section:  # noqa: ANN001 - print-like
    sha = _git("rev-parse", "--verify", f"{rev}^{{commit}}").strip()
    head = _git("rev-parse", "HEAD").strip()
    sec = Section("against", f"Before and after: {rev} vs this tree")
    started = time.perf_counter()
    with scratch("against") as root:
        tree = root / "before"
        _git("worktree", "add", "--detach", "--force", str(tree), sha)
        try:
            before: dict[str, list[float]] = {}
            after: dict[str, list[float]] = {}
            sides = [("before", tree, before), ("after", REPO_ROOT, after)]
            for n in range(rounds):
                for key in COMPARED:
                    # ABBA: a run right after another pays for what that one left behind (the workspace
                    # benchmark deletes 100,000 files as it ends), so each side goes first in turn.
                    for side, where, into in sides if n % 2 == 0 else sides[::-1]:
                        log(f"  round {n + 1}/{rounds}, {key}: {side}")
                        _collect(into, _bench(where, key, quick))
        finally:
            _git("worktree", "remove", "--force", str(tree))
    sec.setup = [
        f"Before: {rev} ({sha[:12]}), checked out into a scratch worktree and run with its own code and its "
        f"own `bench/`; after: this tree (HEAD {head[:12]}{', with uncommitted changes' if _dirty() else ''}).",
        f"Alternating, {rounds} round(s) of {', '.join(COMPARED)} each; each value is the median of the rounds' "
        "own results; ratio = after / before (below 1: faster now).",
    ]
    for measure in [m for m in after if m in before]:
        b, a = median(before[measure]), median(after[measure])
        sec.rows.append(
            Row(
                measure,
                _fmt(a),
                _fmt(b),
                f"{a / b:.2f}×" if b else "—",
                "≤ 1.10× (noise)",
                a <= b * 1.10,
            )
        )
    for row in sec.rows:
        if row.passed is False:  # the rounds themselves, to tell a change from the machine's noise
            sec.notes.append(
                f"{row.measure}: before {', '.join(map(_fmt, before[row.measure]))}; "
                f"after {', '.join(map(_fmt, after[row.measure]))} (in round order)."
            )
    sec.seconds = time.perf_counter() - started
    return sec


def _bench(tree: Path, key: str, quick: bool) -> str:
    env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{tree}"}
    argv = [sys.executable, "-m", "bench", "--only", key, "--no-write", *(["--quick"] if quick else [])]
    done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv[1:])}` in {tree} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def _collect(into: dict[str, list[float]], printed: str) -> None:
    for line in printed.splitlines():
        if (m := ROW.match(line)) is not None:
            value = float(m["value"].replace(",", "")) * UNIT_S[m["unit"]]
            into.setdefault(m["measure"].strip(), []).append(value)


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout


def _dirty() -> bool:
    return bool(_git("status", "--porcelain", "--untracked-files=no").strip())
