"""Production after merge, end to end through the server, Temporal, a real worker and the fake model's
scripted agent: a merged change is deployed by the repo's own script (confined, its token a repo
secret, production reached by name through the egress proxy), health says it is live; a second change
that crashes production fails its health check, the thread and page say so, and Revert — a revert task
fast-tracked through the same checks — puts back what was live. Everything is in the deploy history."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from honk.domain import TaskState
from honk.testing.fake_production import TOKEN, FakeProduction
from honk.testing.processes import HonkStack, TemporalDevServer, wait_until
from repos import calc_files

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
PRODUCTION = "prod.example.com"
DEPLOY_SH = """set -euo pipefail
echo "deploying $HONK_COMMIT to prod.example.com"
curl --silent --show-error --fail-with-body --max-time 20 -H "Authorization: Bearer $PROD_TOKEN" \\
  --data-binary @app.txt "https://prod.example.com/deploy?commit=$HONK_COMMIT"
"""
DEPLOY = f"""
[network]
deploy = ["{PRODUCTION}"]

[[secrets]]
name = "PROD_TOKEN"
phases = ["deploy"]
env = "PROD_TOKEN"

[deploy]
run = "bash deploy.sh"
health = "https://{PRODUCTION}/health"
health_timeout = 6
url = "https://{PRODUCTION}/"
revert = "fast-track"
"""


def app_change(text: str, was: str = "version 1") -> str:
    return f"""[[step]]
message = "Changed the app: {text}"
[[step.edit]]
path = "app.txt"
replace = "{was}"
with = "{text}"
"""


@pytest.fixture
def production_stack(tmp_path: Path, temporal: TemporalDevServer) -> Iterator[tuple[HonkStack, FakeProduction]]:
    with FakeProduction(PRODUCTION) as production:
        spec = tmp_path / "egress.json"
        spec.write_text(json.dumps({"mapping": production.mapping(), "ca_pem": production.ca_pem.decode()}))
        stack = HonkStack(
            tmp_path / "honk", temporal.address, egress=spec, max_rounds="2", egress_ceiling='["*.example.com"]'
        )
        try:
            yield stack, production
        finally:
            stack.stop()


def reach(stack: HonkStack, task_id: str, state: TaskState, timeout_s: float = 90):  # noqa: ANN201
    view = stack.wait_for(task_id, state, TaskState.failed, timeout_s=timeout_s)
    assert view.state == state, view.reason
    return view


def kinds(stack: HonkStack, task_id: str) -> list[str]:
    return [e.event.kind for e in stack.events(task_id)]


def deploy_outcome(stack: HonkStack, task_id: str) -> dict:
    [finished] = [e.event for e in stack.events(task_id) if e.event.kind == "deploy_finished"]
    return finished.outcome.model_dump()


def wait_deploy_finished(stack: HonkStack, task_id: str, timeout_s: float = 90) -> dict:
    wait_until(lambda: "deploy_finished" in kinds(stack, task_id), timeout_s, f"{task_id}'s deploy to finish")
    return deploy_outcome(stack, task_id)


@needs_bwrap
def test_a_merged_change_goes_live_and_a_broken_one_is_reverted_back_to_what_was_live(production_stack, make_remote):
    stack, production = production_stack
    files = calc_files(app_change("version 2"), DEPLOY) | {
        "app.txt": "hello, version 1\n",
        "deploy.sh": DEPLOY_SH,
        "calc.py": "def add(a, b):\n    return a + b\n",  # the checks pass: the changes here are the app's
    }
    remote = make_remote(files)
    stack.add_repo("shop", remote.url)
    assert stack.honk("secret", "set", "shop", "PROD_TOKEN", input=TOKEN + "\n").returncode == 0

    # 1. A change, merged: deployed by the repo's script, live once health passes.
    first = stack.ask("shop", "say version 2")
    reach(stack, first.id, TaskState.ready)
    assert stack.http.post(f"/api/tasks/{first.id}/merge", json={}).status_code == 202
    merged = reach(stack, first.id, TaskState.merged)
    live = wait_deploy_finished(stack, first.id)
    assert live["state"] == "live" and live["commit"] == merged.merged_commit
    assert live["url"] == f"https://{PRODUCTION}/"
    assert production.running is not None and production.running.commit == merged.merged_commit
    assert "version 2" in production.running.app
    order = kinds(stack, first.id)
    assert order.index("merged") < order.index("deploy_started") < order.index("deploy_finished")
    # The token reached production through the sandbox's environment, and no event or log holds it.
    assert all(TOKEN not in e.event.model_dump_json() for e in stack.events(first.id))

    # 2. A change that crashes production: deployed, its health never passes; the task says so.
    remote.push_change({".honk/scenario.toml": app_change("crash on start, version 3", was="version 2")})
    broken = stack.ask("shop", "say version 3")
    reach(stack, broken.id, TaskState.ready)
    assert stack.http.post(f"/api/tasks/{broken.id}/merge", json={}).status_code == 202
    broken_merged = reach(stack, broken.id, TaskState.merged)
    failed = wait_deploy_finished(stack, broken.id)
    assert failed["state"] == "health_failed" and failed["commit"] == broken_merged.merged_commit
    assert "health never passed" in failed["detail"] and "503" in failed["detail"]
    assert production.running is not None and "crash" in production.running.app

    # 3. Revert: a revert task, no agent, the same checks, fast-tracked to merge, deployed: live again.
    asked = stack.http.post(f"/api/tasks/{broken.id}/revert", json={})
    assert asked.status_code == 202, asked.text
    revert_id = asked.json()["id"]
    assert revert_id != broken.id
    reverted = reach(stack, revert_id, TaskState.merged, timeout_s=120)
    back = wait_deploy_finished(stack, revert_id)
    assert back["state"] == "live" and back["commit"] == reverted.merged_commit
    assert production.running is not None and "version 2" in production.running.app
    revert_kinds = kinds(stack, revert_id)
    assert "revert_committed" in revert_kinds and "agent_started" not in revert_kinds
    assert "checks_started" in revert_kinds
    assert "revert_started" in kinds(stack, broken.id)

    # The history: newest first, who, what, how it ended.
    history = stack.http.get("/api/repos/shop/deploys").json()
    assert [(d["commit"], d["state"]) for d in history] == [
        (reverted.merged_commit, "live"),
        (broken_merged.merged_commit, "health_failed"),
        (merged.merged_commit, "live"),
    ]


POLICY = """
[users."ada@example.com"]
[users."bo@example.com"]

[repos."*"]
requesters = ["ada@example.com", "bo@example.com"]
mergers = ["ada@example.com", "bo@example.com"]
deployers = ["ada@example.com"]
"""
QUICK_DEPLOY = """
[deploy]
run = "echo deployed $HONK_COMMIT"
"""


def test_a_merge_by_someone_who_may_not_deploy_holds_the_deploy_until_a_deployer_presses_deploy(
    tmp_path: Path, temporal: TemporalDevServer, make_remote
):
    stack = HonkStack(tmp_path / "honk", temporal.address, anonymous="false", policy=POLICY)
    try:
        _, ada = stack.add_user("ada@example.com", "admin")
        _, bo = stack.add_user("bo@example.com", "merger")
        stack.http.headers["Authorization"] = f"Bearer {ada}"
        files = calc_files(app_change("version 2"), QUICK_DEPLOY) | {"app.txt": "hello, version 1\n"}
        files["calc.py"] = "def add(a, b):\n    return a + b\n"
        stack.add_repo("shop", make_remote(files).url)
        stack.http.headers["Authorization"] = f"Bearer {bo}"  # bo asks and merges
        task = stack.ask("shop", "say version 2")
        reach(stack, task.id, TaskState.ready)
        assert stack.http.post(f"/api/tasks/{task.id}/merge", json={}).status_code == 202
        reach(stack, task.id, TaskState.merged)
        wait_until(lambda: "deploy_held" in kinds(stack, task.id), 60, "the deploy to be held")
        [held] = [e.event for e in stack.events(task.id) if e.event.kind == "deploy_held"]
        assert "bo@example.com may not deploy shop" in held.reason and "ada@example.com" in held.reason
        assert "deploy_started" not in kinds(stack, task.id)

        refused = stack.http.post(f"/api/tasks/{task.id}/deploy", json={})
        assert refused.status_code == 403 and "may not deploy" in refused.text
        as_ada = stack.http.post(f"/api/tasks/{task.id}/deploy", json={}, headers={"Authorization": f"Bearer {ada}"})
        assert as_ada.status_code == 202, as_ada.text
        live = wait_deploy_finished(stack, task.id)
        assert live["state"] == "live"
        [started] = [e.event for e in stack.events(task.id) if e.event.kind == "deploy_started"]
        assert started.by == "ada@example.com"

        out = stack.honk("--token", ada, "audit", "--json", check=True).stdout
        audit = [json.loads(line) for line in out.splitlines()]
        deploys = [(a["actor"], a["outcome"]) for a in audit if a["action"] == "deploy"]
        assert ("bo@example.com", "refused") in deploys and ("ada@example.com", "ok") in deploys
        history = stack.http.get("/api/repos/shop/deploys").json()
        assert [(d["by"], d["state"]) for d in history] == [("ada@example.com", "live")]
    finally:
        stack.stop()
