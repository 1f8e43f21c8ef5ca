"""Every Block Kit message Honk builds stays within Slack's limits, however long what it carries: a
plan of thirty 2,000-character steps is cut where it is, with the task page named for the whole.
Checked against the fake Slack's refusals (slack_sdk's Block Kit models), which can say no."""

from __future__ import annotations

from datetime import UTC, datetime

from honk.domain import Phase, Plan, TaskState, TaskView
from honk.slack import blocks, limits
from honk.testing.fake_slack import refused_payload
from honk.timeline import Timeline

BASE = "http://honk.example"


def task() -> TaskView:
    now = datetime.now(UTC)
    return TaskView(
        id="t-aaaaaaaaaaaa",
        repo="calc",
        text="make add() add",
        state=TaskState.plan_ready,
        requested_by="ana@example.com",
        agent="claude",
        model=None,
        branch="honk/t-aaaaaaaaaaaa",
        created_at=now,
        updated_at=now,
    )


def test_a_huge_plan_fits_in_one_message_that_links_to_the_whole():
    huge = Plan(
        summary="s" * 10_000,
        steps=[f"step {i} " + "x" * 2_000 for i in range(40)],
        files=[f"src/f{i}.py" for i in range(40)],
        risks=["r" * 2_000] * 40,
        questions=["q" * 2_000] * 40,
    )
    text, body = blocks.plan(task(), Timeline(plan=huge, plan_version=3), BASE)
    assert refused_payload("chat.postMessage", {"text": text, "blocks": body}) is None
    rendered = str(body)
    assert f"{BASE}/tasks/t-aaaaaaaaaaaa|the whole on the task page" in rendered, "the cut says where the rest is"
    actions = [b for b in body if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == ["approve_plan", "revise_plan", "open"]
    assert actions[0]["elements"][0]["value"] == "t-aaaaaaaaaaaa:3", "the button names the plan version it approves"


def test_fit_keeps_the_buttons_when_blocks_must_go():
    many = [{"type": "section", "text": {"type": "mrkdwn", "text": str(i)}} for i in range(80)]
    buttons = {
        "type": "actions",
        "elements": [{"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "A"}}],
    }
    text, fitted = limits.fit("t" * 50_000, [*many, buttons], f"{BASE}/tasks/t-x")
    assert len(fitted) == limits.MAX_BLOCKS and fitted[-1] == buttons
    assert "More on the task page" in str(fitted[-2])
    assert refused_payload("chat.postMessage", {"text": text, "blocks": fitted}) is None


def test_every_message_of_a_task_fits_with_long_texts():
    long = task().model_copy(update={"text": "x" * 20_000, "reason": "y" * 20_000})
    timeline = Timeline(plan=Plan(summary="z" * 8_000), plan_version=1)
    for text, body in (
        blocks.on_it(long, BASE),
        blocks.status(long, BASE, "d" * 5_000),
        blocks.ready(long, timeline, BASE),
        blocks.failed(long),
        blocks.merged(long),
        blocks.cancelled(long),
        blocks.plan(long, timeline, BASE),
    ):
        assert refused_payload("chat.postMessage", {"text": text, "blocks": body}) is None


def test_a_refused_task_offers_allow_host_per_refused_name_within_slacks_limits():
    from honk.events import NetworkBlocked

    long_host = ".".join(["a" * 60] * 4) + ".com"  # 248 characters: a label Slack would refuse uncut
    timeline = Timeline()
    refused: list[tuple[str, Phase]] = [
        ("pypi.org", "check"),
        (long_host, "setup"),
        ("npm", "agent"),
        ("x.example.com", "build"),
    ]
    for host, phase in refused:
        timeline = timeline.fold(
            NetworkBlocked(
                host=host, port=443, method="GET", phase=phase, reason="not_allowed", detail="d", command="c"
            )
        )
    timeline = timeline.fold(
        NetworkBlocked(
            host="10.0.0.1", port=443, method="GET", phase="check", reason="ip_literal", detail="d", command="c"
        )
    )
    failed = task().model_copy(update={"state": TaskState.failed, "reason": "test failed"})
    for text, body in (blocks.failed(failed, timeline), blocks.ready(failed, timeline, BASE)):
        assert refused_payload("chat.postMessage", {"text": text, "blocks": body}) is None
        [allow] = [b for b in body if b.get("block_id") == "allow:t-aaaaaaaaaaaa"]
        values = [e["value"] for e in allow["elements"]]
        assert values == [
            "t-aaaaaaaaaaaa:check:pypi.org",
            f"t-aaaaaaaaaaaa:setup:{long_host}",
            "t-aaaaaaaaaaaa:agent:npm",
        ], "at most three, never an address"
        assert allow["elements"][0]["text"]["text"] == "Allow pypi.org for check"
        assert "Allow host for this repo" in str(body)
    said = str(blocks.failed(failed, timeline)[1])
    assert "the egress proxy refused" in said and "honk network allow calc HOST --phase PHASE" in said
    assert blocks.failed(failed, Timeline())[1] == blocks.failed(failed)[1], "nothing refused: as before"
