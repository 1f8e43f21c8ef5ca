"""Load benchmark: the HTTP front doors (signed Slack events and the task API) under a fixed concurrency.

A real Temporal dev server, a real `honk server` and one `honk worker` (spawned processes, loopback
only) with Slack configured against `FakeSlack`. A closed loop of CONCURRENCY clients (one
httpx.AsyncClient with keep-alive) sends a fixed number of requests, bounded in time as well; the
baseline, `GET /healthz`, gets the same number of requests at the same concurrency in the same run.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import Row, Section, fmt_s, median, percentile, scratch
from bench.orchestration import _calc_fixture
from bench.slack import SECRET, slack_stack
from honk.testing.fake_slack import event_body, message_event, sign

CONCURRENCY = 8
REQUEST_TIMEOUT_S = 30.0  # longer than the store's 10 s SQLite busy timeout: its errors show as answers
SEED = 7
# Shares of the mixed run besides the task creations, which are a fixed count.
MIX = {"slack": 0.4, "list": 0.3, "get": 0.3}
ENDPOINTS = {
    "slack": "POST /slack/events (signed message, thread reply)",
    "list": "GET /api/tasks",
    "get": "GET /api/tasks/{id}",
    "create": "POST /api/tasks",
    "healthz": "GET /healthz",
}


@dataclass
class Req:
    kind: str
    make: Callable[[], tuple[str, str, bytes | None, dict[str, str] | None, dict | None]]


@dataclass
class Result:
    kind: str
    latency: float
    status: int | str

    @property
    def ok(self) -> bool:
        return isinstance(self.status, int) and 200 <= self.status < 300


def _thread_reply(i: int) -> tuple[str, str, bytes, dict[str, str], None]:
    """A reply in a thread that is not a task's: bolt checks the signature and timestamp, dispatches to the
    message listener, which looks the thread up in Honk's store and ignores it (no task, no Slack call)."""
    body = event_body(message_event(f"sounds good ({i})", user="U2", channel="C2", thread_ts="1690000000.000001"))
    return "POST", "/slack/events", body, {"Content-Type": "application/json", **sign(SECRET, body)}, None


def _mix(n: int, creations: int, task_ids: list[str], rng: random.Random) -> list[Req]:
    rest = n - creations
    counts = {k: int(rest * share) for k, share in MIX.items()}
    counts["slack"] += rest - sum(counts.values())
    kinds = [k for k, c in counts.items() for _ in range(c)] + ["create"] * creations
    rng.shuffle(kinds)
    reqs = []
    for i, kind in enumerate(kinds):
        if kind == "slack":
            reqs.append(Req(kind, lambda i=i: _thread_reply(i)))
        elif kind == "list":
            reqs.append(Req(kind, lambda: ("GET", "/api/tasks", None, None, None)))
        elif kind == "get":
            tid = rng.choice(task_ids)
            reqs.append(Req(kind, lambda tid=tid: ("GET", f"/api/tasks/{tid}", None, None, None)))
        else:
            body = {"repo": "calc", "text": "make add() add", "request_id": f"load-{i}"}
            reqs.append(Req(kind, lambda body=body: ("POST", "/api/tasks", None, None, body)))
    return reqs


async def _closed_loop(url: str, reqs: list[Req], deadline: float) -> tuple[list[Result], float]:
    """CONCURRENCY clients, each sending its next request when its last one answered; none starts after
    `deadline` (time.monotonic()). Returns the results and the wall time."""
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    queue = iter(reqs)
    results: list[Result] = []
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=limits) as http:

        async def client() -> None:
            for req in queue:
                if time.monotonic() > deadline:
                    return
                method, path, content, headers, body = req.make()
                t0 = time.perf_counter()
                try:
                    status: int | str = (
                        await http.request(method, path, content=content, headers=headers, json=body)
                    ).status_code
                except httpx.HTTPError as e:
                    status = type(e).__name__
                results.append(Result(req.kind, time.perf_counter() - t0, status))

        t0 = time.perf_counter()
        await asyncio.gather(*[client() for _ in range(CONCURRENCY)])
        return results, time.perf_counter() - t0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stats(rs: list[Result]) -> tuple[float | None, float | None, float | None, int]:
    """p50, p99, max of the successful answers, and the number of errors (non-2xx or no answer)."""
    ok = [r.latency for r in rs if r.ok]
    if not ok:
        return None, None, None, len(rs)
    return median(ok), percentile(ok, 99), max(ok), sum(not r.ok for r in rs)


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}×" if a is not None and b else "—"


def run(quick: bool = False, log=print) -> Section:  # noqa: ANN001 - a print-like callable
    total, creations, bound_s = (200, 10, 90.0) if quick else (1000, 50, 240.0)
    sec = Section("load", "HTTP front doors under load: signed Slack events and the task API (real stack)")
    started = time.perf_counter()
    files, text = _calc_fixture()
    rng = random.Random(SEED)
    with scratch("load") as root:
        with slack_stack(root, files) as (stack, fake):
            seeded = [stack.ask("calc", text, request_id=f"load-seed-{i}").id for i in range(5)]  # to read back
            warm = [
                Req("healthz", lambda: ("GET", "/healthz", None, None, None)),
                Req("slack", lambda: _thread_reply(-1)),
                Req("list", lambda: ("GET", "/api/tasks", None, None, None)),
                Req("get", lambda: ("GET", f"/api/tasks/{seeded[0]}", None, None, None)),
            ] * 3
            asyncio.run(_closed_loop(stack.url, warm, time.monotonic() + 30))  # connections, code paths
            _, path, body, headers, _ = _thread_reply(-2)
            forged = stack.http.post(path, content=body, headers={**headers, **sign("not-the-secret", body)})
            if forged.status_code != 401:  # the load below would not be exercising the signature check
                raise RuntimeError(f"a wrongly signed event was answered {forged.status_code}, not 401")
            deadline = time.monotonic() + bound_s

            health = [Req("healthz", lambda: ("GET", "/healthz", None, None, None)) for _ in range(total)]
            cpu0 = _cpu_s(stack.server.pid)
            h_res, h_wall = asyncio.run(_closed_loop(stack.url, health, deadline))
            h_cpu = _cpu_s(stack.server.pid) - cpu0
            log(f"  GET /healthz x{len(h_res)} at concurrency {CONCURRENCY}: {len(h_res) / h_wall:.0f} req/s")

            calls_before = len(fake.calls)
            mix = _mix(total, creations, seeded, rng)
            cpu0 = _cpu_s(stack.server.pid)
            m_res, m_wall = asyncio.run(_closed_loop(stack.url, mix, deadline))
            m_cpu = _cpu_s(stack.server.pid) - cpu0
            log(
                f"  mixed x{len(m_res)} at concurrency {CONCURRENCY}: {len(m_res) / m_wall:.0f} req/s, "
                f"errors {sum(not r.ok for r in m_res)}"
            )
            slack_calls = Counter(c.method for c in fake.calls[calls_before:])
            tasks_now = len(stack.http.get("/api/tasks", params={"limit": 500}).json())
            server_log = (stack.logs / "server.log").read_text(errors="replace")

    by_kind: dict[str, list[Result]] = {k: [] for k in ("slack", "list", "get", "create")}
    for r in m_res:
        by_kind[r.kind].append(r)
    h50, h99, hmax, h_err = _stats(h_res)
    planned = Counter(r.kind for r in mix)
    sec.setup = [
        "One Temporal dev server, one `honk server`, one `honk worker` on loopback (settings as `honk up` ships "
        "them), Slack configured with a signing secret and its Web API pointed at `FakeSlack` "
        "(honk.testing.fake_slack); repo: the tests' calc repo with the scripted agent.",
        f"Closed loop: {CONCURRENCY} concurrent clients (one httpx.AsyncClient, keep-alive), each sending its next "
        f"request as soon as its last one answered; {total} requests per run, no request started after "
        f"{bound_s:.0f} s (both runs together), {REQUEST_TIMEOUT_S:.0f} s timeout per request. Latency: send → "
        "complete response; an error is any non-2xx answer or no answer.",
        f"Baseline: {total} `GET /healthz` (no store, no Temporal) under the same load, just before the mixed run.",
        "Mixed run, shuffled with a fixed seed: "
        + ", ".join(f"{ENDPOINTS[k]} {planned[k]}" for k in ("slack", "list", "get", "create"))
        + ". "
        "Slack events are channel-thread replies in a thread that is not a task's, signed as Slack signs them "
        "(fresh timestamp and event_id each; one signed with a wrong secret is answered 401 before the run): "
        "the real signature and timestamp check, bolt's dispatch and the "
        "message listener's thread lookup in the store run, and Honk correctly ignores them, so the load starts "
        "no tasks through Slack. Task reads hit 5 tasks made before the run; "
        f"the {planned['create']} `POST /api/tasks` each start a real task (workflow, worktree, agent, check) "
        "that the worker runs while the load goes on.",
    ]
    rows = []
    for kind in ("slack", "list", "get", "create"):
        rs = by_kind[kind]
        p50, p99, pmax, err = _stats(rs)
        name = ENDPOINTS[kind]
        rows += [
            Row(
                f"{name}, p50 / p99",
                f"{fmt_s(p50)} / {fmt_s(p99)}",
                f"{fmt_s(h50)} / {fmt_s(h99)}",
                f"{_ratio(p50, h50)} / {_ratio(p99, h99)}",
            ),
            Row(f"… errors of {len(rs)}", str(err), str(h_err), "—", "0", err == 0),
        ]
    m_err = sum(not r.ok for r in m_res)
    rows += [
        Row(
            "Mixed run: throughput",
            f"{len(m_res) / m_wall:.0f} req/s",
            f"{len(h_res) / h_wall:.0f} req/s",
            _ratio(len(h_res) / h_wall, len(m_res) / m_wall) + " slower",
        ),
        Row(f"Mixed run: errors of {len(m_res)}", str(m_err), str(h_err), "—", "0", m_err == 0),
        Row(
            f"Requests sent within the {bound_s:.0f} s bound",
            f"{len(m_res)} of {len(mix)}",
            f"{len(h_res)} of {len(health)}",
        ),
        Row(
            "honk server CPU per request",
            f"{m_cpu / max(1, len(m_res)) * 1000:.1f} ms",
            f"{h_cpu / max(1, len(h_res)) * 1000:.1f} ms",
            _ratio(m_cpu / max(1, len(m_res)), h_cpu / max(1, len(h_res))),
        ),
    ]
    sec.rows = rows
    sec.tables.append(
        (
            "By endpoint (mixed run; baseline run last):",
            ["Endpoint", "n", "p50", "p90", "p99", "max", "errors"],
            [[ENDPOINTS[k], str(len(rs)), *_cells(rs)] for k, rs in [*by_kind.items(), ("healthz", h_res)]],
        )
    )
    bad = Counter(str(r.status) for r in m_res + h_res if not r.ok)
    sec.notes.append(
        f"The mixed run took {m_wall:.1f} s, the baseline run {h_wall:.1f} s. "
        + (f"Errors by answer: {dict(bad)}. " if bad else "")
        + "Slack Web API calls the signed events caused: "
        + (", ".join(f"{m} ×{n}" for m, n in slack_calls.most_common()) or "none")
        + f" (none is right: Honk ignores replies in threads that are not a task's). Tasks in the store afterwards: "
        f"{tasks_now} (5 made before the run + {planned['create']} created; the creations' tasks were left "
        "running when the stack stopped)."
    )
    lines = server_log.splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("Traceback") or " ERROR " in line]
    if errors:
        # The exception itself: the first line after the first traceback that is not indented.
        after = next((i for i in errors if lines[i].startswith("Traceback")), errors[0])
        raised = next((line for line in lines[after + 1 :] if line and not line.startswith(" ")), "")
        sec.notes.append(
            f"The server logged {len(errors)} error line(s); first: `{lines[errors[0]][:200]}`"
            + (f", raising `{raised[:300]}`" if raised else "")
        )
    sec.seconds = time.perf_counter() - started
    return sec


def _cells(rs: list[Result]) -> list[str]:
    ok = [r.latency for r in rs if r.ok]
    if not ok:
        return ["—"] * 4 + [str(len(rs))]
    return [
        fmt_s(median(ok)),
        fmt_s(percentile(ok, 90)),
        fmt_s(percentile(ok, 99)),
        fmt_s(max(ok)),
        str(sum(not r.ok for r in rs)),
    ]
