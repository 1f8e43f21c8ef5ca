"""Merge tap → "live in production": a ready task merged through the API, then deployed by the repo's
own script (confined, its token a repo secret, production reached by name through Honk's egress proxy)
and its health URL fetched until it answers — real Temporal, server and worker, the scripted agent, and
`honk.testing.fake_production` standing in for production. Broken into merge, the gap to the deploy,
the deploy command and the health check, from the task's recorded events; against the same deploy
script and one health fetch run bare (no sandbox, no proxy, no workflow)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.common import Row, Section, fmt_s, median, scratch
from honk.domain import TaskState
from honk.testing.fake_production import TOKEN, FakeProduction
from honk.testing.gitrepo import RemoteRepo
from honk.testing.processes import HonkStack, TemporalDevServer, wait_until

PRODUCTION = "prod.example.com"
DEPLOY_SH = """set -euo pipefail
curl --silent --show-error --fail-with-body --max-time 20 -H "Authorization: Bearer $PROD_TOKEN" \\
  --data-binary @app.txt "https://prod.example.com/deploy?commit=$HONK_COMMIT"
"""
HONK_TOML = f"""[[verify]]
name = "test"
run = "python3 -c 'print(1)'"
[agent]
name = "scripted"
scenario = ".honk/scenario.toml"
[network]
deploy = ["{PRODUCTION}"]
[[secrets]]
name = "PROD_TOKEN"
phases = ["deploy"]
env = "PROD_TOKEN"
[deploy]
run = "bash deploy.sh"
health = "https://{PRODUCTION}/health"
health_timeout = 30
url = "https://{PRODUCTION}/"
"""


def _step(n: int) -> str:
    return (
        f'[[step]]\nmessage = "version {n + 1}"\n[[step.edit]]\npath = "app.txt"\n'
        f'replace = "version {n}"\nwith = "version {n + 1}"\n'
    )


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _one(stack: HonkStack, remote: RemoteRepo, n: int) -> dict[str, float]:
    if n:
        remote.push_change({".honk/scenario.toml": _step(n)})
    task = stack.ask("shop", f"say version {n + 1}")
    view = stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=120)
    assert view.state == TaskState.ready, view.reason
    tapped = datetime.now(UTC)
    assert stack.http.post(f"/api/tasks/{task.id}/merge", json={}).status_code == 202
    wait_until(lambda: "deploy_finished" in stack.kinds(task.id), 120, "the deploy to finish", interval_s=0.02)
    at = {e.event.kind: (_utc(e.at), e.event) for e in stack.events(task.id)}
    finished = at["deploy_finished"][1]
    outcome = finished.outcome  # type: ignore[union-attr]
    assert outcome.state == "live", outcome.detail
    health = outcome.health.duration_s if outcome.health else 0.0
    started, ended = at["deploy_started"][0], at["deploy_finished"][0]
    return {
        "merge": (at["merged"][0] - tapped).total_seconds(),
        "merged → deploy started": (started - at["merged"][0]).total_seconds(),
        "deploy command": (ended - started).total_seconds() - health,
        "health check": health,
        "total": (ended - tapped).total_seconds(),
    }


def _bare(root: Path, production: FakeProduction, runs: int) -> list[float]:
    """The deploy script and one health fetch, run straight from a checkout against production's loopback
    port (curl --resolve), with the token in the environment."""
    ca = root / "ca.pem"
    ca.write_bytes(production.ca_pem)
    port = production.port("https")
    resolve = f"{PRODUCTION}:443:127.0.0.1"
    script = DEPLOY_SH.replace("curl ", f"curl --cacert {ca} --resolve {resolve} --connect-to ::127.0.0.1:{port} ")
    (root / "bare").mkdir()
    (root / "bare" / "app.txt").write_text("hello, version bare\n")
    times = []
    for i in range(runs):
        t = time.perf_counter()
        env = {**os.environ, "PROD_TOKEN": TOKEN, "HONK_COMMIT": f"{i:040x}"}
        subprocess.run(["bash", "-c", script], cwd=root / "bare", env=env, check=True, capture_output=True)
        with httpx.Client(verify=str(ca)) as client:
            assert client.get(f"https://127.0.0.1:{port}/health").status_code == 200
        times.append(time.perf_counter() - t)
    return times


def run(quick: bool = False, log=print) -> Section:  # noqa: ANN001 - a print-like callable
    runs = 2 if quick else 5
    sec = Section("production", "Merge tap → live in production")
    started = time.perf_counter()
    parts: dict[str, list[float]] = {}
    with scratch("production") as root, FakeProduction(PRODUCTION) as production:
        spec = root / "egress.json"
        spec.write_text(json.dumps({"mapping": production.mapping(), "ca_pem": production.ca_pem.decode()}))
        temporal = TemporalDevServer(root / "temporal")
        try:
            stack = HonkStack(
                root / "honk",
                temporal.address,
                egress=spec,
                egress_ceiling='["*.example.com"]',
                heartbeat_timeout_s="30",
            )
            try:
                files = {
                    ".honk.toml": HONK_TOML,
                    "app.txt": "hello, version 0\n",
                    "deploy.sh": DEPLOY_SH,
                    ".honk/scenario.toml": _step(0),
                }
                remote = RemoteRepo(root / "remote", files)
                stack.add_repo("shop", remote.url)
                assert stack.honk("secret", "set", "shop", "PROD_TOKEN", input=TOKEN + "\n").returncode == 0
                _one(stack, remote, 0)  # warm-up: the mirror, the worker's first sandbox
                for n in range(1, runs + 1):
                    for name, seconds in _one(stack, remote, n).items():
                        parts.setdefault(name, []).append(seconds)
                log("  tap → live: " + ", ".join(fmt_s(x) for x in parts["total"]))
            finally:
                stack.stop()
        finally:
            temporal.stop()
        bare = _bare(root, production, runs)
    total, b = median(parts["total"]), median(bare)
    sec.setup = [
        "One Temporal dev server, one `honk server`, one `honk worker` (bubblewrap on), all on loopback; a repo "
        "whose `[deploy] run` is `bash deploy.sh` (curl POSTs app.txt to https://prod.example.com/deploy with "
        "a repo secret as its bearer token) and whose health URL is https://prod.example.com/health, reached by "
        "name through the egress proxy; production is honk.testing.fake_production on loopback.",
        f"{runs} tasks after a warm-up, each: ready, then `POST /api/tasks/{{id}}/merge` (the tap), timed until "
        "the task records `deploy_finished` (live); parts from the task's recorded events (health: the check's "
        "own duration).",
        "Baseline: the same script and one health fetch run bare from a checkout (curl --resolve to the "
        "loopback port, no sandbox, no proxy, no workflow).",
    ]
    sec.rows = [Row("tap → live in production (median)", fmt_s(total), fmt_s(b), f"{total / b:.1f}×")]
    sec.rows += [Row(f"… {name}", fmt_s(median(v))) for name, v in parts.items() if name != "total"]
    sec.seconds = time.perf_counter() - started
    return sec
