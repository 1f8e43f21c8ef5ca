"""What operators watch: Prometheus metrics on the server and on each worker, and JSON log lines."""

from __future__ import annotations

import json

import httpx

from honk.domain import TaskState
from honk.ports import free_port
from honk.testing.fake_slack import FakeSlack, event_body
from honk.testing.processes import HonkStack
from repos import DIRECT_FIX, calc_files


def samples(text: str, name: str) -> dict[str, float]:
    """`name{labels} value` lines of a Prometheus text page, by their label part."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            found[key[len(name) :]] = float(value)
    return found


def test_metrics_and_json_logs(tmp_path, temporal, make_remote):
    slack = FakeSlack().start()
    port = free_port()
    stack = HonkStack(
        tmp_path / "honk",
        temporal.address,
        log_format="json",
        metrics_port=str(port),
        slack_bot_token="xoxb-ops-test",
        slack_signing_secret="ops-signing-secret",
        slack_api_url=slack.api_url,
    )
    try:
        stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX)).url)
        task = stack.ask("calc", "make add() add")
        assert stack.wait_for(task.id, TaskState.ready, TaskState.failed).state == TaskState.ready
        unsigned = stack.http.post(
            "/slack/events",
            content=event_body({"type": "url_verification"}),
            headers={"Content-Type": "application/json"},
        )
        assert unsigned.status_code == 401

        page = stack.http.get("/metrics")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
        assert samples(page.text, "honk_tasks")['{state="ready"}'] == 1.0
        assert samples(page.text, "honk_tasks")['{state="merged"}'] == 0.0
        assert samples(page.text, "honk_queue_depth") == {"": 0.0}
        assert "honk_agent_cost_usd_total" in page.text
        assert samples(page.text, "honk_slack_ack_seconds_count") == {"": 1.0}
        assert samples(page.text, "honk_http_request_seconds_count")['{method="POST",route="/api/tasks"}'] == 1.0

        worker = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        steps = samples(worker, "honk_step_seconds_count")
        for step in ("provision", "run_agent", "verify", "deliver"):
            assert steps[f'{{outcome="ok",step="{step}"}}'] >= 1.0, steps

        for role in ("server", "worker"):
            lines = [ln for ln in (stack.logs / f"{role}.log").read_text().splitlines() if ln.strip()]
            assert lines, role
            for line in lines:
                entry = json.loads(line)
                assert {"time", "level", "logger", "message"} <= entry.keys(), line
    finally:
        stack.stop()
        slack.stop()
