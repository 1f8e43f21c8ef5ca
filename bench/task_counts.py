"""Counts per task that do not depend on the machine's load: git commands, subprocesses, Temporal
history events and activities, store transactions, for sequential tasks of the orchestration
benchmark's sample (the calc repo, scripted agent) on a real stack.

    PYTHONPATH=src:tests .venv/bin/python -m bench.task_counts [N]

A `git` first on PATH logs every git run (its own children too: git runs git); a sitecustomize on
the processes' PYTHONPATH logs each subprocess they start and each committed store transaction.
Each task is counted from its submission until the processes have been quiet for a second after
it is ready (so the background refill of spare worktrees it causes counts as its own).
"""

from __future__ import annotations

import asyncio
import collections
import os
import sys
import time
from pathlib import Path

from temporalio.client import Client

from bench.common import scratch
from bench.orchestration import DEPLOYMENT_SETTINGS, _calc_fixture, _wait_ready
from honk.testing.gitrepo import RemoteRepo
from honk.testing.processes import HonkStack, TemporalDevServer

HOOK = Path(__file__).parent / "counthook"


def _git_wrapper(bin_dir: Path, log: Path) -> None:
    real = next(p / "git" for p in map(Path, os.environ["PATH"].split(":")) if (p / "git").exists() and p != bin_dir)
    bin_dir.mkdir(parents=True, exist_ok=True)
    if os.environ.get("GIT_CPU"):  # each run's own CPU, from getrusage (bash's `times` counts in 10 ms ticks)
        (bin_dir / "git").write_text(
            "#!/usr/bin/python3 -IS\nimport os, resource, subprocess, sys\n"
            f"rc = subprocess.call([{str(real)!r}, *sys.argv[1:]])\n"
            "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            f"with open({str(log)!r}, 'a') as f:\n"
            "    f.write('%.2f\\t%s\\t%s\\x1e' % ((r.ru_utime + r.ru_stime) * 1000, os.getcwd(), ' '.join(sys.argv[1:])))\n"
            "sys.exit(rc)\n"
        )
    else:
        (bin_dir / "git").write_text(f'#!/bin/sh\nprintf "%s\\t%s\\036" "$PWD" "$*" >> {log}\nexec {real} "$@"\n')
    (bin_dir / "git").chmod(0o755)


def _settle(paths: list[Path], quiet_s: float = 1.0) -> None:
    last = None
    while True:
        now = tuple(p.stat().st_size if p.exists() else 0 for p in paths)
        if now == last:
            return
        last = now
        time.sleep(quiet_s)


async def _history(address: str, task_id: str) -> collections.Counter[str]:
    client = await Client.connect(address)
    hist = await client.get_workflow_handle(task_id).fetch_history()
    kinds: collections.Counter[str] = collections.Counter()
    for e in hist.events:
        kinds[str(e.event_type).rsplit("EVENT_TYPE_", 1)[-1]] += 1
        if e.HasField("activity_task_scheduled_event_attributes"):
            kinds["activity:" + e.activity_task_scheduled_event_attributes.activity_type.name] += 1
        if e.HasField("marker_recorded_event_attributes"):
            kinds["marker:" + e.marker_recorded_event_attributes.marker_name] += 1
    kinds["_total"] = len(hist.events)
    kinds["_bytes"] = sum(e.ByteSize() for e in hist.events)
    import os as _os

    if _os.environ.get("HIST_DUMP"):
        for e in hist.events:
            print("   ", e.event_id, str(e.event_type).rsplit("EVENT_TYPE_", 1)[-1], e.ByteSize())
    return kinds


def main(n: int = 3, verbose: bool = True) -> None:
    files, text = _calc_fixture()
    with scratch("task_counts") as root:
        git_log, count_log = root / "git.log", root / "count.log"
        _git_wrapper(root / "bin", git_log)
        env = {
            "PATH": f"{root / 'bin'}:{os.environ['PATH']}",
            "PYTHONPATH": f"{HOOK}:{os.environ.get('PYTHONPATH', '')}",
            "HONK_COUNT_LOG": str(count_log),
            **({"HONK_COUNT_SQL": "1"} if os.environ.get("HONK_COUNT_SQL") else {}),
        }
        temporal = TemporalDevServer(root / "temporal")
        try:
            settings = {f"HONK_{k.upper()}": v for k, v in DEPLOYMENT_SETTINGS.items()}
            stack = HonkStack(root / "honk", temporal.address, extra_env={**env, **settings})
            try:
                remote = RemoteRepo(root / "remote", files)
                stack.add_repo("calc", remote.url)
                warm = stack.ask("calc", text)
                _wait_ready(stack, warm.id)
                _settle([git_log, count_log])
                for i in range(n):
                    for p in (git_log, count_log):
                        p.write_text("")
                    task = stack.ask("calc", text)
                    _wait_ready(stack, task.id)
                    _settle([git_log, count_log])
                    gits = [
                        r.split("\t", 1)[1].replace("\n", " ") for r in git_log.read_text().split("\x1e") if r.strip()
                    ]
                    if os.environ.get("GIT_CPU"):  # records are "times <tab> directory <tab> arguments"
                        records = [r.split("\t") for r in git_log.read_text().split("\x1e") if r.strip()]
                        gits = [f"{float(r[0]):5.2f} ms  {r[2][:150]}" for r in records]
                        print(f"  git CPU in all: {sum(float(g.split()[0]) for g in gits):.1f} ms")
                    rows = [line.split("\t") for line in count_log.read_text().splitlines() if line.count("\t") >= 2]
                    spawns = [r[2] for r in rows if r[1] == "spawn"]
                    commits = collections.Counter(r[0] for r in rows if r[1] == "commit")
                    hist = asyncio.run(_history(temporal.address, task.id))
                    acts = {k: v for k, v in hist.items() if k.startswith(("activity:", "marker:"))}
                    print(
                        f"task {i + 1}: git {len(gits)}, subprocesses {len(spawns)}, history events "
                        f"{hist['_total']} (activities {sum(v for k, v in acts.items() if k.startswith('activity:'))}, "
                        f"markers {sum(v for k, v in acts.items() if k.startswith('marker:'))}), "
                        f"store transactions {sum(commits.values())} (by process {dict(commits)})"
                    )
                    if verbose and i == n - 1:
                        print("  activities:", acts)
                        print("  events:", {k: v for k, v in hist.items() if ":" not in k})
                        print("  git:", *[f"    {g}" for g in gits], sep="\n")
                        print("  spawns:", *[f"    {s[:160]}" for s in spawns], sep="\n")
                        if os.environ.get("HONK_COUNT_SQL"):
                            print(
                                "  sql:", *[f"    {r[0]} {r[2]}" for r in rows if r[1] in ("sql", "commit")], sep="\n"
                            )
            finally:
                stack.stop()
        finally:
            temporal.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
