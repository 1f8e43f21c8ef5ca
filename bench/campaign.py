"""Campaign benchmark (issue 20): one campaign over a 200-repo synthetic fleet, on PostgreSQL.

A real Temporal dev server, a private PostgreSQL (honk.testing.postgres: its own cluster on loopback), one
`honk server` and one `honk worker` (spawned processes) on it, the synthetic fleet (honk.testing.fleet: 200
bare git remotes with its documented variety, 40 of which fail their checks) and the scripted agent: the
fleet's repos script their agent, so no model runs — what is measured is Honk around it. Measured: the time
from `POST /api/campaigns` to the last member ready and to the campaign done, the worker's peak RSS, the rows
Postgres wrote per task, and the CPU per task of every process (Temporal, server, worker with its git/check
subprocesses, Postgres), as bench/orchestration.py measures a batch of tasks.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.common import Row, Section, fmt_s, median, percentile, scratch
from bench.orchestration import DEPLOYMENT_SETTINGS, _cpu
from honk.domain import CampaignState, CampaignView, TaskState
from honk.testing.fleet import Meant, make_fleet
from honk.testing.postgres import PostgresServer
from honk.testing.processes import HonkStack, TemporalDevServer

N, N_QUICK = 200, 30
# The campaign's own settings: the defaults (a first wave of 5, 80% of it ready to go on), but as many at a time
# as the worker takes tasks (DEPLOYMENT_SETTINGS' max_concurrent_tasks): a campaign at the default 10 would leave
# half of the one worker idle.
CAMPAIGN = {"text": "raise the timeout", "repos": "all", "wave_size": 5, "go_percent": 80, "concurrency": 20}
POLL_S = 0.5  # how often this benchmark reads the campaign's state (from Postgres, not through the server)
TIMEOUT_S = 1800.0


def _honk_env(url: str) -> dict[str, str]:
    """The deployment's settings and the Postgres database, as the processes' HONK_* environment."""
    return {f"HONK_{k.upper()}": v for k, v in {**DEPLOYMENT_SETTINGS, "database_url": url}.items()}


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _table_stats(url: str) -> dict[str, tuple[int, int, int, int]]:
    """Per table: (rows in it, rows inserted, updated, deleted since the cluster started)."""
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        stats = await conn.fetch("SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables")
        out = {}
        for s in stats:
            rows = await conn.fetchval(f'SELECT count(*) FROM "{s["relname"]}"')
            out[s["relname"]] = (rows, s["n_tup_ins"], s["n_tup_upd"], s["n_tup_del"])
        return out
    finally:
        await conn.close()


async def _wait_done(url: str, campaign_id: str, timeout_s: float) -> None:
    """Waits, bounded, until the stored campaign has ended, reading Postgres directly: polling the server
    would add to the server's CPU being measured."""
    conn = await asyncpg.connect(_dsn(url))
    try:
        deadline = time.monotonic() + timeout_s
        terminal = [s.value for s in CampaignState if s.terminal]
        while time.monotonic() < deadline:
            state = await conn.fetchval("SELECT state FROM campaigns WHERE id = $1", campaign_id)
            if state in terminal:
                return
            await asyncio.sleep(POLL_S)
        raise RuntimeError(f"campaign {campaign_id} not done after {timeout_s:.0f}s")
    finally:
        await conn.close()


def _postmaster(pg: PostgresServer) -> int:
    return int((pg.data / "postmaster.pid").read_text().split()[0])


def _postgres_cpu(pg: PostgresServer) -> float:
    """CPU s of the whole PostgreSQL server: the postmaster, its live processes (backends, checkpointer,
    autovacuum), and those that exited (reaped by the postmaster: its children's times)."""
    root = _postmaster(pg)
    own, reaped = _cpu(root)
    live = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == root:  # its parent is the postmaster
            live += sum(_cpu(int(entry.name)))
    return own + reaped + live


def _vm(pid: int, field: str) -> int:
    """A /proc/<pid>/status memory figure in kB (VmHWM: the peak resident set; VmRSS: now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _mib(kb: int) -> str:
    return f"{kb / 1024:.0f} MiB"


def run(quick: bool = False, log: Callable[[str], None] = print) -> Section:
    n = N_QUICK if quick else N
    sec = Section("campaign", f"A {n}-repo campaign (synthetic fleet, scripted agent, PostgreSQL)")
    started = time.perf_counter()
    with scratch("campaign") as root:
        pg = PostgresServer()
        temporal = TemporalDevServer(root / "temporal")
        try:
            url = pg.new_database()
            t = time.perf_counter()
            fleet = make_fleet(root / "fleet", n)
            meant_to_fail = {r.name for r in fleet.meant(Meant.FAILS_CHECKS)}
            # The repos are registered by a first server, stopped before the measure: its backends' statistics
            # are flushed when they exit, so the counts taken next hold all of the registration and none of it
            # lands in the campaign's.
            registrar = HonkStack(root / "honk", temporal.address, extra_env=_honk_env(url))
            try:
                fleet.register(registrar)
            finally:
                registrar.stop()
            log(f"  {n} repos made and registered in {fmt_s(time.perf_counter() - t)}")
            before = asyncio.run(_table_stats(url))
            stack = HonkStack(root / "honk", temporal.address, extra_env=_honk_env(url))
            try:
                procs = {
                    "Temporal dev server": temporal.proc,
                    "honk server": stack.server,
                    "honk worker": stack.workers[0],
                }
                cpu0 = {name: _cpu(p.pid) for name, p in procs.items()}
                pg0 = _postgres_cpu(pg)
                load_before = os.getloadavg()
                asked_at = datetime.now(UTC)
                t0 = time.perf_counter()
                r = stack.http.post("/api/campaigns", json=CAMPAIGN)
                assert r.status_code == 201, r.text
                cid = r.json()["id"]
                asyncio.run(_wait_done(url, cid, TIMEOUT_S))
                waited = time.perf_counter() - t0
                load_after = os.getloadavg()
                cpu1 = {name: _cpu(p.pid) for name, p in procs.items()}
                worker_peak, worker_now = _vm(stack.workers[0].pid, "VmHWM"), _vm(stack.workers[0].pid, "VmRSS")
                server_peak = _vm(stack.server.pid, "VmHWM")
                view = CampaignView.model_validate(stack.http.get(f"/api/campaigns/{cid}").json())
                log(f"  campaign {view.state.value} after {fmt_s(waited)}: {view.reason}")
            finally:
                stack.stop()
            # Every connection of the server and worker closed: their backends flushed their statistics and
            # exited, so the counts and the postmaster's reaped CPU are complete.
            pg1 = _postgres_cpu(pg)
            after = asyncio.run(_table_stats(url))
        finally:
            temporal.stop()
            pg.stop()

    tasks = [m.task for m in view.members if m.task is not None]
    ready = [t for t in tasks if t.state == TaskState.ready]
    failed = {t.repo for t in tasks if t.state == TaskState.failed}
    if view.state != CampaignState.done or failed != meant_to_fail or len(ready) != n - len(meant_to_fail):
        raise RuntimeError(
            f"the campaign did not end as the fleet says: {view.state.value} ({view.reason}); failed {sorted(failed)}"
        )

    def since(at: datetime) -> float:
        return ((at if at.tzinfo else at.replace(tzinfo=UTC)) - asked_at).total_seconds()

    to_ready = max(since(t.updated_at) for t in ready)
    to_done = since(view.updated_at)
    latency = [since(t.updated_at) - since(t.created_at) for t in ready]

    cpu = {k: (cpu1[k][0] - cpu0[k][0], cpu1[k][1] - cpu0[k][1]) for k in cpu0}
    pg_cpu = pg1 - pg0
    total_cpu = sum(a + b for a, b in cpu.values()) + pg_cpu
    cores = os.cpu_count() or 1

    written = {
        name: (
            after[name][0] - before.get(name, (0, 0, 0, 0))[0],
            *(after[name][i] - before.get(name, (0, 0, 0, 0))[i] for i in (1, 2, 3)),
        )
        for name in after
    }
    changed = {k: v for k, v in written.items() if any(v)}
    ins = sum(v[1] for v in changed.values())
    upd = sum(v[2] for v in changed.values())
    dele = sum(v[3] for v in changed.values())
    kept = sum(v[0] for v in changed.values())
    nt = len(tasks)

    sec.setup = [
        f"One Temporal dev server, one private PostgreSQL ({pg.bindir.parent.name}; fsync off, as the tests run it), "
        "one `honk server` and one `honk worker` on it, all on loopback; settings as `honk up` ships them: "
        + ", ".join(f"HONK_{k.upper()}={v}" for k, v in DEPLOYMENT_SETTINGS.items())
        + " (the campaign poll's fallback timer at its default, 30 s: members poke the campaign as they move).",
        f"Fleet: `make_fleet(root, {n})` (honk.testing.fleet): {n} bare git remotes, {len(meant_to_fail)} of them "
        "failing their checks by design (so their tasks fail after 3 rounds), the rest passing; the scripted agent's "
        "one edit per repo; checks of tens of ms (a unittest, or a grep for the Go repos). Made and registered untimed.",
        f"Campaign: `POST /api/campaigns` {CAMPAIGN} — the default first wave (5, 80% to go on), {CAMPAIGN['concurrency']} "
        "at a time. Times from the request to each task's and the campaign's stored `updated_at` (read once at the "
        "end; the benchmark waits by reading the campaign's state from Postgres every "
        f"{POLL_S * 1000:.0f} ms, not through the server).",
        "Rows: `pg_stat_user_tables` (inserted, updated, deleted) and `count(*)` per table, before the campaign and "
        "after the server and worker stopped (their backends flush their statistics on exit), over the tasks run.",
    ]
    sec.rows = [
        Row(f"Request → all {len(ready)} passing members ready", fmt_s(to_ready)),
        Row(f"Request → campaign done (the {len(failed)} failing ones after their rounds)", fmt_s(to_done)),
        Row("Members settled per minute", f"{nt / to_done * 60:.0f}"),
        Row(
            "Per-task latency (created → ready), p50 / p90",
            f"{fmt_s(median(latency))} / {fmt_s(percentile(latency, 90))}",
        ),
        Row("Peak worker RSS (VmHWM)", _mib(worker_peak)),
        Row("… its RSS at the end / the server's peak", f"{_mib(worker_now)} / {_mib(server_peak)}"),
        Row("Postgres rows inserted per task", f"{ins / nt:.1f}"),
        Row("Postgres rows updated per task", f"{upd / nt:.1f}"),
        Row("Postgres rows kept per task (count(*) after − before)", f"{kept / nt:.1f}"),
        Row("CPU per task, all processes", f"{total_cpu / nt * 1000:.0f} ms"),
    ]
    sec.tables.append(
        (
            f"Rows written during the campaign, per table ({nt} tasks; deleted: {dele}):",
            ["Table", "Inserted", "Updated", "Kept", "Inserted per task", "Updated per task"],
            [
                [name, str(v[1]), str(v[2]), str(v[0]), f"{v[1] / nt:.2f}", f"{v[2] / nt:.2f}"]
                for name, v in sorted(changed.items(), key=lambda kv: -(kv[1][1] + kv[1][2]))
            ],
        )
    )
    by_process = [
        *(
            [name, f"{own:.1f} s", f"{kids:.1f} s", f"{(own + kids) / nt * 1000:.0f} ms"]
            for name, (own, kids) in cpu.items()
        ),
        ["PostgreSQL (all its processes)", f"{pg_cpu:.1f} s", "—", f"{pg_cpu / nt * 1000:.0f} ms"],
        ["All", f"{total_cpu:.1f} s", "", f"{total_cpu / nt * 1000:.0f} ms"],
    ]
    sec.tables.append(
        (
            "CPU during the campaign by process (own; its reaped subprocesses: git, the checks, the scripted agent):",
            ["Process", "Own", "Subprocesses", "Per task"],
            by_process,
        )
    )
    sec.notes.append(
        f"{total_cpu:.1f} CPU-s over the {fmt_s(to_done)} to done is {total_cpu / (to_done * cores):.0%} of {cores} "
        f"cores: at that cost the campaign cannot finish in less than {fmt_s(total_cpu / cores)} on this machine, "
        "whatever the concurrency."
    )
    sec.notes.append(
        "Load average (1/5/15 min) when the campaign was asked: "
        + " / ".join(f"{x:.2f}" for x in load_before)
        + "; when it was done: "
        + " / ".join(f"{x:.2f}" for x in load_after)
        + f" (this run's own processes count in it: {total_cpu / to_done:.1f} cores on average)."
    )
    sec.seconds = time.perf_counter() - started
    return sec
