"""*Allow host for this repo* in a task's Slack thread: signed requests to the real endpoint, a loopback
fake Slack Web API, real Temporal, workers, bubblewrap and the egress proxy (which refuses before any
name is resolved, so nothing leaves the machine). Forged and stale presses are refused by signature; a
person the access policy does not name as the repo's admin is told, alone, who may, and the refusal is
audited; a press naming a host the task was not refused allows nothing; an admin's press is said once
in the thread, and nothing is re-run."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from honk.domain import TaskState
from honk.testing.fake_slack import (
    SLACK_SECRET,
    FakeSlack,
    block_action,
    event_body,
    interaction_body,
    mention_event,
    sign,
)
from honk.testing.processes import HonkStack, TemporalDevServer
from repos import DIRECT_FIX, index_reading_calc

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")

POLICY = """
[users."ana@example.com"]
slack = "U1"
[users."bo@example.com"]
slack = "U2"

[repos."*"]
requesters = ["*"]
mergers = ["*"]
admins = ["ana@example.com"]
"""
ANA = {"X-Honk-User": "ana@example.com"}  # who the API's anonymous caller speaks for, to read the listing


@pytest.fixture
def guarded_slack(tmp_path: Path, temporal: TemporalDevServer, slack: FakeSlack) -> Iterator[HonkStack]:
    stack = HonkStack(
        tmp_path / "honk",
        temporal.address,
        **slack.settings(),
        policy=POLICY,
    )
    yield stack
    stack.stop()


def press(stack: HonkStack, payload: dict, secret: str = SLACK_SECRET, timestamp: int | None = None):
    body = interaction_body(payload)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(secret, body, timestamp)}
    return stack.http.post("/slack/events", content=body, headers=headers)


def allowed(stack: HonkStack) -> list[tuple[str, list[str], str]]:
    listed = stack.http.get("/api/repos/calc/network", headers=ANA)
    assert listed.status_code == 200, listed.text
    return [(a["host"], a["phases"], a["created_by"]) for a in listed.json()["allowed"]]


def test_allow_host_in_the_thread_for_the_repos_admin_only_nothing_re_run(guarded_slack, slack, make_remote):
    stack = guarded_slack
    stack.http.post("/api/repos", json={"name": "calc", "url": make_remote(index_reading_calc(DIRECT_FIX)).url})
    mention = mention_event("<@UHONK> make add() add repo=calc", user="U1")
    raw = event_body(mention)
    stack.http.post(
        "/slack/events", content=raw, headers={"Content-Type": "application/json", **sign(SLACK_SECRET, raw)}
    )
    thread = mention["event"]["ts"]
    slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == thread)
    [task] = stack.http.get("/api/tasks").json()
    assert stack.wait_for(task["id"], TaskState.ready, TaskState.failed, timeout_s=120).state == TaskState.ready

    ready = slack.wait_for("chat.postMessage", where=lambda c: "Ready for review" in c.args.get("text", ""))[0].args
    [buttons] = [b for b in ready["blocks"] if b.get("block_id") == f"allow:{task['id']}"]
    [button] = buttons["elements"]
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        "allow_host",
        f"{task['id']}:check:pypi.org",
        "Allow pypi.org for check",
    )
    assert "Allow host for this repo" in str(ready["blocks"])
    kinds = stack.kinds(task["id"])

    # Forged, and replayed long after: refused by signature, nothing stored or said.
    forged = press(stack, block_action("allow_host", button["value"], user="U1"), secret="not-the-secret")
    stale = press(stack, block_action("allow_host", button["value"], user="U1"), timestamp=int(time.time()) - 3600)
    assert (forged.status_code, stale.status_code) == (401, 401)

    # Bo is not the repo's admin: told alone who may; audited; nothing stored.
    assert press(stack, block_action("allow_host", button["value"], user="U2")).status_code == 200
    refusal = slack.wait_for("chat.postEphemeral")[0].args
    assert refusal["user"] == "U2" and refusal["text"] == (
        'Refused by policy rule repos."*".admins: bo@example.com may not allow hosts for calc; '
        "ask one of: ana@example.com."
    )
    # A press naming a host the task was not refused (a payload someone made): nothing allowed.
    press(stack, block_action("allow_host", f"{task['id']}:check:evil.example.com", user="U1"))
    press(stack, block_action("allow_host", f"{task['id']}:agent:pypi.org", user="U1"))
    slack.wait_for("chat.postEphemeral", count=3)
    not_refused = [c.args["text"] for c in slack.calls_to("chat.postEphemeral")[1:]]
    assert all("did not refuse" in t and "a task's button allows only what it was refused" in t for t in not_refused)
    assert allowed(stack) == []

    # Ana is: said once in the thread; the next sandbox of check may reach it; nothing re-ran.
    press(stack, block_action("allow_host", button["value"], user="U1"))
    said = slack.wait_for("chat.postMessage", where=lambda c: c.args.get("text", "").startswith("Allowed pypi.org"))[
        0
    ].args
    assert said["thread_ts"] == thread and said["text"] == (
        "Allowed pypi.org for check in calc (by Ana). Nothing was re-run: ask again or follow up to use it."
    )
    assert allowed(stack) == [("pypi.org", ["check"], "ana@example.com")]
    press(stack, block_action("allow_host", button["value"], user="U1"))  # pressed again
    again = slack.wait_for("chat.postEphemeral", count=4)[3].args
    assert again["user"] == "U1" and again["text"].startswith("pypi.org was already allowed for check in calc")
    assert stack.kinds(task["id"]) == kinds and stack.task(task["id"]).state == TaskState.ready, "nothing re-ran"

    audit = stack.http.get("/api/audit", params={"action": "network_allow"}, headers=ANA).json()
    assert sorted((a["actor"], a["outcome"], a["rule"], a["front_door"], a["task_id"]) for a in audit) == sorted(
        [
            ("bo@example.com", "refused", 'repos."*".admins', "slack", task["id"]),
            ("ana@example.com", "refused", None, "slack", task["id"]),
            ("ana@example.com", "refused", None, "slack", task["id"]),
            ("ana@example.com", "ok", None, "slack", task["id"]),
            ("ana@example.com", "ok", None, "slack", task["id"]),
        ]
    )
