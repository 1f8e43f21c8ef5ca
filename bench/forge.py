"""The pull request as a front door (issue 19): webhook ack latency at 100 deliveries/s, no delivery lost
while the worker is down, and CI failure → fix commit pushed.

1. Ack: a real Temporal dev server and a real `honk server` process with HONK_GITHUB_WEBHOOK_SECRET set;
   signed GitHub `issue_comment` deliveries (a fresh delivery id each) sent open loop at 100/s by a load
   client in its own process (bench/forge_load.py); against `GET /healthz` of the same server under the
   same pattern. Deliveries are handled by a Temporal worker in this process registering the delivery
   workflow, its record step and a stand-in for the front door's `forge_act`.
2. Worker down: the same burst with no worker polling the task queue; then the worker starts and every
   delivery answered 202 must reach "handled" in the hook_deliveries table; how long that took.
3. CI failure → fix: a HonkStack (server and worker processes) with the loopback fake GitHub sending its
   signed webhooks, the scripted agent; `fail_job` on the PR's head until the PR has a new head; the agent's
   own share from the task's events. Against a follow-up through the API on the same task.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

from sqlalchemy import func, select
from temporalio import activity
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from bench.common import REPO_ROOT, Row, Section, fmt_s, median, percentile, scratch
from honk.composition.up import wait_for_http
from honk.domain import TaskState
from honk.hooks.delivery_workflow import ACT, HookDeliveryWorkflow
from honk.hooks.handling import DeliverySteps, HookDelivery
from honk.ports import free_port
from honk.store import Store
from honk.store.deliveries import HookDeliveries
from honk.store.models import HookDeliveryRow
from honk.testing.fake_github import FakeGitHub
from honk.testing.gitrepo import RemoteRepo
from honk.testing.processes import HonkStack, TemporalDevServer, wait_until

SECRET = "whsec-bench-0123456789abcdef"
TOKEN = "ghp_bench_front_door_0123456789"
RATE = 100.0  # deliveries per second, open loop
TARGET_ACK_P99_S = 0.050
DRAIN_TIMEOUT_S = 300.0
POLL_S = 0.02
WARMUP = 20  # deliveries sent one at a time before each burst
CI_LOG = "Run pytest\nFAILED tests/test_totals.py::test_invoice_total - AssertionError: 5 != -1\n1 failed in 0.3s"
JOB = "test (3.11)"
POLICY = '[users."ada@example.com"]\ngithub = "ada"\n'


# -- 1 and 2: the hook route under load -------------------------------------------------------------


@activity.defn(name=ACT)
async def forge_act(delivery: HookDelivery) -> str:
    """Stands in for honk.forgedoor's action (measured in part 3): the delivery's record says what came."""
    event = delivery.event
    return f"acted on a {event.kind} on {event.repo}#{getattr(event, 'number', '')} by @{event.actor}"


@dataclass
class Burst:
    results: list[list]  # [latency from the scheduled send, sender lateness, status, delivery id]
    warmup: list[list]
    server_cpu_s: float
    temporal_cpu_s: float
    wall_s: float

    @property
    def ok(self) -> list[float]:
        return [r[0] for r in self.results if r[2] in (200, 202)]

    @property
    def from_send(self) -> list[float]:
        return [r[0] - r[1] for r in self.results if r[2] in (200, 202)]

    @property
    def serial(self) -> list[float]:
        """The warm-up's latencies: one request at a time, each sent when the last was answered."""
        return [r[0] for r in self.warmup if r[2] in (200, 202)]

    @property
    def rate(self) -> float:
        """Answers per second over the burst: its requests over the time from the first slot to the last answer."""
        end = max(i / RATE + r[0] for i, r in enumerate(self.results))
        return len(self.results) / end

    def by_second(self) -> list[float]:
        """The p50 latency of the requests scheduled in each second of the burst."""
        secs: dict[int, list[float]] = {}
        for i, r in enumerate(self.results):
            if r[2] in (200, 202):
                secs.setdefault(int(i / RATE), []).append(r[0])
        return [median(secs[k]) if k in secs else float("nan") for k in range(int(len(self.results) / RATE))]

    @property
    def bad(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            if r[2] not in (200, 202):
                out[str(r[2])] = out.get(str(r[2]), 0) + 1
        return out

    def refused(self) -> list[str]:
        """The delivery ids answered anything but 200/202 (a 503: stored, not handed on)."""
        return [r[3] for r in self.warmup + self.results if r[2] not in (200, 202)]

    def accepted(self) -> list[str]:
        """The delivery ids answered 202, warm-up included."""
        return [r[3] for r in self.warmup + self.results if r[2] == 202]


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class HookServer:
    """`honk server` alone (no worker), its own data dir and task queue, GitHub webhooks enabled."""

    def __init__(self, root: Path, temporal_address: str) -> None:
        self.root, self.port = root, free_port()
        self.task_queue = f"bench-hooks-{uuid.uuid4().hex[:8]}"
        root.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "HONK_DATA_DIR": str(root / "data"),
            "HONK_TEMPORAL_ADDRESS": temporal_address,
            "HONK_TASK_QUEUE": self.task_queue,
            "HONK_PORT": str(self.port),
            "HONK_HOST": "127.0.0.1",
            "HONK_ANONYMOUS": "true",
            "HONK_GITHUB_WEBHOOK_SECRET": SECRET,
        }
        self.log = root / "server.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "honk", "server"],
            env=env,
            stdout=open(self.log, "ab"),  # noqa: SIM115 - handed to the child
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_http(f"{self.url}/healthz", self.proc, "honk server", self.log)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.root / 'data' / 'honk.db'}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


async def _load(server: HookServer, kind: str, n: int, warmup: int, temporal_pid: int) -> Burst:
    """One open-loop burst from the load client's own process."""
    cpu0, tcpu0, t0 = _cpu_s(server.proc.pid), _cpu_s(temporal_pid), time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.forge_load",
        server.url,
        kind,
        "--secret",
        SECRET,
        "--rate",
        str(RATE),
        "--n",
        str(n),
        "--warmup",
        str(warmup),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=n / RATE + 120)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"the load client failed ({proc.returncode}): {err.decode()[-2000:]}")
    got = json.loads(out)
    server_cpu, temporal_cpu = _cpu_s(server.proc.pid) - cpu0, _cpu_s(temporal_pid) - tcpu0
    return Burst(got["results"], got["warmup"], server_cpu, temporal_cpu, time.perf_counter() - t0)


async def _states(deliveries: HookDeliveries, store: Store, ids: list[str]) -> dict[str, int]:
    """How many of the GitHub deliveries `ids` are in each state."""
    del deliveries  # the counts are one query; HookDeliveries reads one row at a time
    counts: dict[str, int] = {}
    async with store._session() as s:  # noqa: SLF001 - a read-only count for the benchmark
        for i in range(0, len(ids), 500):
            q = (
                select(HookDeliveryRow.state, func.count())
                .where(HookDeliveryRow.forge == "github", HookDeliveryRow.id.in_(ids[i : i + 500]))
                .group_by(HookDeliveryRow.state)
            )
            for state, count in (await s.execute(q)).all():
                counts[state] = counts.get(state, 0) + count
    return counts


async def _drained(deliveries: HookDeliveries, store: Store, ids: list[str], timeout_s: float) -> float:
    """Seconds until every one of `ids` is "handled" (polled every POLL_S, bounded)."""
    t0 = time.perf_counter()
    async with asyncio.timeout(timeout_s):
        while (await _states(deliveries, store, ids)).get("handled", 0) < len(ids):
            await asyncio.sleep(POLL_S)
    return time.perf_counter() - t0


@dataclass
class HookResults:
    health: Burst
    live: Burst  # worker running
    down: Burst  # worker down during the burst
    live_handled_s: float  # after the live burst, until all its deliveries were handled
    before_drain: dict[str, int]  # the down burst's deliveries by state, just before the worker started
    drain_s: float
    after_drain: dict[str, int]
    details_ok: int  # handled deliveries whose detail is the stand-in's answer
    refused_states: dict[str, int]  # the down burst's non-2xx deliveries by state, after the drain
    server_errors: list[str]


async def _hooks(root: Path, temporal: TemporalDevServer, n: int, log) -> HookResults:  # noqa: ANN001
    server = HookServer(root / "honk", temporal.address)
    pid = temporal.proc.pid
    store = Store(server.db_url)
    try:
        deliveries = HookDeliveries(store)
        client = await Client.connect(temporal.address, data_converter=pydantic_data_converter)

        def worker() -> Worker:  # as honk.composition.worker registers the delivery workflow
            return Worker(
                client,
                task_queue=server.task_queue,
                workflows=[HookDeliveryWorkflow],
                activities=[*DeliverySteps(deliveries).all(), forge_act],
                max_concurrent_activities=40,
                graceful_shutdown_timeout=timedelta(seconds=5),
            )

        health = await _load(server, "healthz", n, WARMUP, pid)
        log(
            f"  GET /healthz x{n} at {RATE:.0f}/s: p50 {fmt_s(median(health.ok))}, p99 {fmt_s(percentile(health.ok, 99))}"
        )
        async with worker():
            live = await _load(server, "hooks", n, WARMUP, pid)
            log(
                f"  deliveries x{n} at {RATE:.0f}/s, worker up: p50 {fmt_s(median(live.ok))}, "
                f"p99 {fmt_s(percentile(live.ok, 99))}, not 2xx {live.bad or 0}"
            )
            live_handled = await _drained(deliveries, store, live.accepted(), DRAIN_TIMEOUT_S)
        down = await _load(server, "hooks", n, WARMUP, pid)  # nothing polls the task queue now
        log(
            f"  deliveries x{n} at {RATE:.0f}/s, worker down: p50 {fmt_s(median(down.ok))}, "
            f"p99 {fmt_s(percentile(down.ok, 99))}, not 2xx {down.bad or 0}"
        )
        ids = down.accepted()
        # "started" is recorded just after each answer: wait (bounded) until the last records are in.
        await asyncio.wait_for(_settle(deliveries, store, ids), 30)
        before = await _states(deliveries, store, ids)
        async with worker():
            drain = await _drained(deliveries, store, ids, DRAIN_TIMEOUT_S)
        after = await _states(deliveries, store, ids)
        details = 0
        for delivery_id in ids:
            stored = await deliveries.get("github", delivery_id)
            details += bool(stored and stored.detail.startswith("acted on a comment on acme/player#"))
        refused = await _states(deliveries, store, down.refused())
        log(f"  worker back: {after.get('handled', 0)} of {len(ids)} handled in {fmt_s(drain)}")
    finally:
        await store.close()
        server.stop()
    text = server.log.read_text(errors="replace")
    errors = [line for line in text.splitlines() if "Traceback" in line or "ERROR" in line]
    return HookResults(health, live, down, live_handled, before, drain, after, details, refused, errors)


async def _settle(deliveries: HookDeliveries, store: Store, ids: list[str]) -> None:
    while (await _states(deliveries, store, ids)).get("received", 0):
        await asyncio.sleep(POLL_S)


# -- 3: CI failure → fix commit ---------------------------------------------------------------------


def _repos() -> ModuleType:
    """tests/repos.py (the calc repo and its scripted steps), loaded by path: tests/ is not a package."""
    path = REPO_ROOT / "tests" / "repos.py"
    spec = importlib.util.spec_from_file_location("honk_tests_repos", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _step(n: int) -> str:
    """The scripted agent's n-th fix after the first: one line of README.md, one commit."""
    return (
        f'[[step]]\nmessage = "Made the CI job pass: {n}."\n[[step.edit]]\npath = "README.md"\n'
        f'replace = "fixes: {n - 1}"\nwith = "fixes: {n}"\n'
    )


@dataclass
class Round:
    total: float  # the cause (fail_job / the follow-up POST) → the PR's head moved
    agent: float  # AgentStarted → AgentFinished of the round it caused
    reason: str
    steps: list[tuple[str, float]]  # the task's events the round recorded: (kind, seconds after the cause)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _head(github: FakeGitHub, full: str, number: int) -> str:
    return github.repos[full].remote.head(github.pull(full, number).head)


def _round(stack: HonkStack, github: FakeGitHub, full: str, number: int, task_id: str, cause: str) -> Round:
    before_head = _head(github, full, number)
    seen = len([e for e in stack.events(task_id) if e.event.kind == "agent_finished"])
    t0, wall0 = time.perf_counter(), time.time()
    if cause == "ci":
        github.fail_job(full, before_head, JOB, CI_LOG)
    else:
        r = stack.http.post(
            f"/api/tasks/{task_id}/followup", json={"text": "Count one more fix in README.md.", "by": "ada@example.com"}
        )
        assert r.status_code in (200, 202), r.text
    wait_until(lambda: _head(github, full, number) != before_head, 120, f"the {cause} fix to be pushed", POLL_S)
    total = time.perf_counter() - t0
    wait_until(lambda: stack.task(task_id).state == TaskState.ready, 120, "the task to be ready again", POLL_S)
    events = stack.events(task_id)
    started = [e for e in events if e.event.kind == "agent_started"]
    finished = [e for e in events if e.event.kind == "agent_finished"]
    assert len(finished) == seen + 1, f"expected one more agent run, got {len(finished) - seen}"
    begin, end = started[-1], finished[-1]
    reason = str(getattr(begin.event, "reason", ""))
    assert reason == ("ci_failure" if cause == "ci" else "follow_up"), reason
    steps = [(e.event.kind, _utc(e.at).timestamp() - wall0) for e in events if _utc(e.at).timestamp() >= wall0]
    return Round(total, (end.at - begin.at).total_seconds(), reason, steps)


def _said(github: FakeGitHub, full: str, number: int, needle: str) -> str:
    found: list[str] = []

    def posted() -> bool:
        found[:] = [c for c in github.comments(full, number) if needle in c]
        return bool(found)

    wait_until(posted, 60, f"Honk to say {needle!r} on {full}#{number}")
    return found[0]


@contextmanager
def _forge_stack(root: Path, temporal_address: str) -> Iterator[tuple[HonkStack, FakeGitHub]]:
    with FakeGitHub(tokens=(TOKEN,)) as github:
        stack = HonkStack(
            root / "honk",
            temporal_address,
            policy=POLICY,
            github_token=TOKEN,
            github_webhook_secret=SECRET,
            forge_poll_s="0.5",
            max_concurrent_tasks="20",
            heartbeat_timeout_s="30",
            max_rounds="3",
        )
        try:
            yield stack, github
        finally:
            stack.stop()


def _ci(root: Path, temporal_address: str, runs: int, log) -> tuple[list[Round], list[Round]]:  # noqa: ANN001
    repos = _repos()
    rounds = 2 * (runs + 1)  # a warm-up of each kind, then `runs` of each, interleaved
    steps = repos.scenario(repos.DIRECT_FIX, *(_step(n) for n in range(1, rounds + 1)))
    files = repos.calc_files(steps, "[autofix]\nattempts = 20\n")
    files["README.md"] = "# calc\nfixes: 0\n"
    ci: list[Round] = []
    follow: list[Round] = []
    with _forge_stack(root, temporal_address) as (stack, github):
        remote = RemoteRepo(root / "remote", files)
        full = "acme/calc"
        github.add_repo(full, remote)
        github.add_hook(full, f"{stack.url}/hooks/github", SECRET)
        github.set_permission(full, "ada", "write")
        stack.honk(
            "repo", "add", "calc", remote.url, "--forge", f"github:{full}", "--forge-api", github.url, check=True
        )
        issue = github.open_issue(full, "add() is wrong")
        github.comment(full, issue, "@honk fix it", by="ada")
        match = re.search(r"/tasks/([\w-]+)", _said(github, full, issue, "On it"))
        assert match
        task_id = match.group(1)
        view = stack.wait_for(task_id, TaskState.ready, TaskState.failed, timeout_s=120)
        assert view.state == TaskState.ready, view.reason
        [pull] = github.repos[full].pulls.values()
        for i in range(runs + 1):
            c = _round(stack, github, full, pull.number, task_id, "ci")
            f = _round(stack, github, full, pull.number, task_id, "follow-up")
            if i:  # the first of each is the warm-up
                ci.append(c)
                follow.append(f)
            log(
                f"  round {i}{' (warm-up)' if not i else ''}: CI fix {fmt_s(c.total)} (agent {fmt_s(c.agent)}), "
                f"follow-up {fmt_s(f.total)} (agent {fmt_s(f.agent)})"
            )
        failed = [e.event for e in stack.events(task_id) if e.event.kind == "forge_checks_failed"]
        attempts = [getattr(f, "attempt", None) for f in failed]
        assert all(a for a in attempts), f"a CI failure was skipped: {attempts}"
    return ci, follow


# -- the section ------------------------------------------------------------------------------------


def run(quick: bool = False, log=print) -> Section:  # noqa: ANN001 - a print-like callable
    seconds, runs = (3, 2) if quick else (10, 5)
    n = int(RATE * seconds)
    sec = Section("forge", "The pull request as a front door: webhook ack, worker down, CI failure → fix")
    started = time.perf_counter()
    with scratch("forge") as root:
        temporal = TemporalDevServer(root / "temporal")
        try:
            hooks = asyncio.run(_hooks(root / "hooks", temporal, n, log))
            ci, follow = _ci(root / "ci", temporal.address, runs, log)
        finally:
            temporal.stop()
    sec.seconds = time.perf_counter() - started
    _write(sec, hooks, ci, follow, n, runs, quick)
    return sec


# A round's steps: the event ending each (the first of its kinds after the cause), and what it stands for.
STEPS = [
    (("forge_checks_failed", "follow_up_received"), "cause → on the task (CI: webhooks in, job log fetched)"),
    (("agent_started",), "→ agent started"),
    (("agent_finished",), "agent (AgentStarted → AgentFinished)"),
    (("check_finished",), "→ checks re-run (the repo's unittest)"),
    (("change_reviewed",), "→ change reviewed"),
]


def _breakdown(r: Round) -> list[float]:
    """The gaps between the round's steps, the last one ending when the PR's head moved."""
    ends = []
    for kinds, _ in STEPS:
        at = [t for kind, t in r.steps if kind in kinds]
        ends.append(at[-1] if kinds == ("check_finished",) and at else (at[0] if at else float("nan")))
    ends.append(r.total)
    return [b - a for a, b in zip([0.0, *ends], ends, strict=False)]


def _write(sec: Section, h: HookResults, ci: list[Round], follow: list[Round], n: int, runs: int, quick: bool) -> None:
    del quick
    h50, h95, h99 = median(h.health.ok), percentile(h.health.ok, 95), percentile(h.health.ok, 99)
    rows = []
    for label, burst in (("worker up", h.live), ("worker down", h.down)):
        ok = burst.ok
        e50, e95, e99 = median(ok), percentile(ok, 95), percentile(ok, 99)
        bad = sum(burst.bad.values())
        rows += [
            Row(f"Signed delivery → 202, {label}, p50", fmt_s(e50), fmt_s(h50), f"{e50 / h50:.1f}×"),
            Row("… p95", fmt_s(e95), fmt_s(h95), f"{e95 / h95:.1f}×"),
            Row(
                "… p99",
                fmt_s(e99),
                fmt_s(h99),
                f"{e99 / h99:.1f}×",
                f"< {fmt_s(TARGET_ACK_P99_S)}",
                bad == 0 and e99 < TARGET_ACK_P99_S,
            ),
            Row(
                "… p99 from the actual send (sender lateness left out)",
                fmt_s(percentile(burst.from_send, 99)),
                fmt_s(percentile(h.health.from_send, 99)),
            ),
            Row(
                f"… answers other than 202 of {n}",
                str(bad) + (f" ({burst.bad})" if bad else ""),
                str(sum(h.health.bad.values())),
            ),
            Row(
                f"… answers per second over the burst (sent at {RATE:.0f}/s)",
                f"{burst.rate:.0f}/s",
                f"{h.health.rate:.0f}/s",
            ),
            Row(
                "… honk server CPU during the burst",
                f"{burst.server_cpu_s:.2f} s ({burst.server_cpu_s / n * 1000:.1f} ms/delivery)",
                f"{h.health.server_cpu_s:.2f} s",
            ),
            Row(
                "… Temporal dev server CPU during the burst",
                f"{burst.temporal_cpu_s:.2f} s ({burst.temporal_cpu_s / n * 1000:.1f} ms/delivery)",
                f"{h.health.temporal_cpu_s:.2f} s",
            ),
        ]
    serial, h_serial = median(h.live.serial), median(h.health.serial)
    rows.append(
        Row(
            f"For reference: one delivery at a time ({WARMUP} before the worker-up burst), p50",
            fmt_s(serial),
            fmt_s(h_serial),
            f"{serial / h_serial:.1f}×",
        )
    )
    accepted = len(h.down.accepted())
    handled = h.after_drain.get("handled", 0)
    rows += [
        Row(
            "Worker down during the burst: deliveries handled once it is back",
            f"{handled} of {accepted}",
            target="all",
            passed=handled == accepted == h.details_ok,
        ),
        Row("… drain: worker start → the last one handled", fmt_s(h.drain_s)),
        Row("… with the worker up: last answer → the last one handled", fmt_s(h.live_handled_s)),
    ]
    ci_t, fu_t = [r.total for r in ci], [r.total for r in follow]
    c50, f50 = median(ci_t), median(fu_t)
    outside = [(r.total - r.agent) / r.total for r in ci]
    f_outside = [(r.total - r.agent) / r.total for r in follow]
    rows += [
        Row("CI failure → fix commit on the PR, p50", fmt_s(c50), fmt_s(f50), f"{c50 / f50:.1f}×"),
        Row("… max", fmt_s(max(ci_t)), fmt_s(max(fu_t))),
        Row(
            "… the agent's own time (AgentStarted → AgentFinished), p50",
            fmt_s(median([r.agent for r in ci])),
            fmt_s(median([r.agent for r in follow])),
        ),
        Row("… share outside the agent, p50", f"{median(outside):.0%}", f"{median(f_outside):.0%}"),
    ]
    sec.rows = rows
    seconds = zip(h.health.by_second(), h.live.by_second(), h.down.by_second(), strict=False)
    sec.tables.append(
        (
            "Ack latency p50 by second of the burst (a queue building up shows as a rising column):",
            ["Second", "`/healthz`", "delivery, worker up", "delivery, worker down"],
            [[str(i + 1), *(fmt_s(x) for x in xs)] for i, xs in enumerate(seconds)],
        )
    )
    ci_parts, fu_parts = [_breakdown(r) for r in ci], [_breakdown(r) for r in follow]
    names = [name for _, name in STEPS] + ["→ fix pushed (the PR's head moved)"]
    sec.tables.append(
        (
            "Where a fix's time goes (the task's recorded events; p50 of each gap):",
            ["Step", "CI failure", "follow-up"],
            [
                [name, fmt_s(median([p[i] for p in ci_parts])), fmt_s(median([p[i] for p in fu_parts]))]
                for i, name in enumerate(names)
            ],
        )
    )
    sec.setup = [
        "One Temporal dev server (`temporal server start-dev`, SQLite) and one `honk server` process (no "
        "`honk worker`) with HONK_GITHUB_WEBHOOK_SECRET set, on loopback. Its deliveries are handled by a "
        "Temporal worker in the benchmark's process registering `HookDeliveryWorkflow`, `DeliverySteps` "
        "and a stand-in for the front door's `forge_act` (returns a line; what the front door does is "
        "measured in the CI rows).",
        f"Ack: {n} signed GitHub `issue_comment` deliveries (the vendored octokit example filled in by "
        "honk.testing.webhooks, `@honk` mentioned, a fresh `X-GitHub-Delivery` each, so each is stored and "
        f"starts a workflow) at a steady {RATE:.0f}/s, open loop, from a load client in its own process "
        "(bench/forge_load.py: httpx.AsyncClient with keep-alive, payloads built before the clock starts), "
        "latency counted from each request's scheduled time; before each burst, "
        f"{WARMUP} sent one at a time (closed loop; reported for reference). Baseline: "
        f"{n} `GET /healthz` of the same server, same pattern, just before.",
        "Worker down: the same burst again after the worker stopped (nothing polls the task queue); then a "
        "worker starts and the hook_deliveries table is polled every 20 ms until every delivery answered 202 "
        "(warm-up included) is `handled` with the stand-in's answer.",
        f"CI failure → fix: a HonkStack (`honk server` + `honk worker`, settings as `honk up` ships them) with "
        "the loopback FakeGitHub sending its signed webhooks, the scripted agent on the tests' calc repo with "
        "`[autofix] attempts = 20`; `@honk fix it` by ada on an issue opens the PR, then "
        f"`fail_job(repo, head, {JOB!r}, log)` (signed check_run + check_suite failures) and the time until "
        "the PR's head moves (polled every 20 ms). Baseline: `POST /api/tasks/{id}/followup` on the same "
        f"task until the head moves. {runs} of each, interleaved, after one untimed warm-up of each. The "
        "agent's own time: its AgentStarted → AgentFinished events.",
    ]
    lag = max(r[1] for b in (h.health, h.live, h.down) for r in b.results)
    sec.notes.append(
        f"Bursts took {h.health.wall_s:.1f} s (healthz), {h.live.wall_s:.1f} s (worker up), "
        f"{h.down.wall_s:.1f} s (worker down) including the client's start; the latest send was "
        f"{fmt_s(lag)} after its slot. Just before the worker came back the worker-down deliveries were "
        + ", ".join(f"{k} {v}" for k, v in sorted(h.before_drain.items()))
        + "."
    )
    if h.down.refused():
        why = (
            " A 503 means the delivery is stored but its workflow start did not answer within 5 s "
            "(honk.hooks.intake START_TIMEOUT); it runs only when the forge redelivers it (GitHub does not "
            "redeliver failed deliveries by itself) or `HookIntake.resume` hands it on, which nothing in the "
            "server calls yet."
            if "503" in h.down.bad
            else " A ReadError is a connection closed without an answer."
        )
        sec.notes.append(
            f"{len(h.down.refused())} worker-down deliveries were not answered 202 ({h.down.bad}); after the drain "
            "they were "
            + (", ".join(f"{k} {v}" for k, v in sorted(h.refused_states.items())) or "not stored")
            + "."
            + why
        )
    per = [(b.server_cpu_s + b.temporal_cpu_s) / n for b in (h.live, h.down)]
    cpus = os.cpu_count() or 1
    sec.notes.append(
        f"CPU per delivery, `honk server` + Temporal dev server: {fmt_s(per[0])} with the worker up (the worker in "
        f"this process not counted), {fmt_s(per[1])} with it down; on {cpus} CPUs with nothing else running that "
        f"caps the intake near {cpus / per[0]:.0f}/s and {cpus / per[1]:.0f}/s, against the {RATE:.0f}/s sent; past such a cap "
        "answers queue and the latency grows through the burst (the by-second table)."
    )
    if h.server_errors:
        sec.notes.append(f"The server logged {len(h.server_errors)} error line(s); first: `{h.server_errors[0][:200]}`")
