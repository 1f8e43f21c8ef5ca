"""Front doors watch a task live: server-sent events arrive as steps happen, no polling of the task."""

from __future__ import annotations

import json

from repos import DIRECT_FIX, RIGHT_FIX, WRONG_FIX, calc_files


def test_event_stream_delivers_steps_live_until_ready(stack, make_remote):
    remote = make_remote(calc_files(WRONG_FIX + RIGHT_FIX))
    stack.add_repo("calc", remote.url)
    task = stack.ask("calc", "make add() add")
    kinds, ids = [], []
    with stack.http.stream("GET", f"/api/tasks/{task.id}/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data:"):
                ev = json.loads(line[5:])
                kinds.append(ev["event"]["kind"])
                ids.append(ev["id"])
                if ev["event"]["kind"] == "task_ready":
                    break
    assert kinds[0] == "task_accepted" and kinds[-1] == "task_ready"
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert kinds.count("check_finished") == 2 and "checks_failed" in kinds

    resumed = stack.http.get(
        f"/api/tasks/{task.id}/events", params={"follow": "false"}, headers={"Last-Event-ID": str(ids[-2])}
    )
    assert '"task_ready"' in resumed.text and '"task_accepted"' not in resumed.text


def test_cli_events_and_json_reads(stack, make_remote):
    remote = make_remote(calc_files(DIRECT_FIX))
    stack.add_repo("calc", remote.url)
    task_id = stack.honk("ask", "calc", "make add() add", "--wait").stdout.splitlines()[0]
    lines = stack.honk("events", task_id, "--json").stdout.splitlines()
    assert json.loads(lines[0])["event"]["kind"] == "task_accepted"
    assert json.loads(stack.honk("list", "--json").stdout)[0]["id"] == task_id
    assert json.loads(stack.honk("repo", "list", "--json").stdout)[0]["name"] == "calc"
    missing = stack.honk("status", "t-nothere")
    assert missing.returncode == 1 and "No task" in missing.stderr


def test_openapi_document_is_served(stack):
    doc = stack.http.get("/openapi.json").json()
    for path in (
        "/api/tasks",
        "/api/tasks/{task_id}",
        "/api/tasks/{task_id}/merge",
        "/api/tasks/{task_id}/followup",
        "/api/tasks/{task_id}/cancel",
        "/api/tasks/{task_id}/events",
        "/api/repos",
        "/healthz",
    ):
        assert path in doc["paths"], path
