"""A campaign through the front doors people use, end to end: asked in Slack (signed events to `honk server`, a
loopback fake Slack Web API), run by a `honk worker` process on the real Temporal dev server over the synthetic
fleet (honk.testing.fleet: real bare git remotes) with the scripted agent, watched on the board page, then
acted on with the real `honk` CLI: merge the green ones (the merge policy refuses one, and says why), retry the
failed one with an added instruction.

What it holds the doors to: the files selector runs on the worker's mirrors (a repo without the file is not a
member); the whole campaign is ONE Honk message in the asker's thread, posted once and updated in place as
members move (never a reply per repo, and no member task posts anything); the board shows every member's state
and its branch; a bulk merge goes through the same merge policy as a task merged alone; a retry starts a new
attempt for the failed member only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from honk.domain import CampaignState, CampaignView, TaskState
from honk.testing.fake_slack import SLACK_SECRET, FakeSlack, event_body, mention_event, sign
from honk.testing.fleet import ARCHIVED_MESSAGE, EDIT_AFTER, EDIT_BEFORE, EDITED_FILE, Meant, RepoSpec, make_fleet
from honk.testing.processes import HonkStack, TemporalDevServer, wait_until
from scenarios.campaign_api import campaign

WAIT_S = 150.0
# svc-2 may be merged by ana only: the CLI's merger (bo) is refused there, by the same rule as for a task
# asked alone. Everyone else may do anything (allow_unknown: the people are not listed).
POLICY = """
allow_unknown = true

[repos.svc-2]
mergers = ["ana@example.com"]
"""
# Four repos have a requirements.txt pinning requests; svc-4 is a Python repo without one, so only the files
# selector (not a name glob, not the language) leaves it out.
FLEET = [
    RepoSpec("svc-0", Meant.PASSES, requirements=True),
    RepoSpec("svc-1", Meant.FAILS_CHECKS, requirements=True),
    RepoSpec("svc-2", Meant.PASSES, requirements=True),
    RepoSpec("svc-3", Meant.ARCHIVED, requirements=True),
    RepoSpec("svc-4", Meant.PASSES),
]
SELECTED = ["svc-0", "svc-1", "svc-2", "svc-3"]
ASK = "<@UHONK> in repos with requirements.txt containing requests: bump requests to 2.32"
RETRY_NOTE = "Leave the failing test alone."


@pytest.fixture
def doors_stack(tmp_path: Path, temporal: TemporalDevServer, slack: FakeSlack) -> Iterator[HonkStack]:
    stack = HonkStack(
        tmp_path / "honk",
        temporal.address,
        policy=POLICY,
        max_rounds="2",  # the failing repo's rounds are the story's longest wait; two show it fails
        campaigns_poll_s="2",  # the fallback timer only: members poke the campaign as they move
        # The fake Slack's bot token, signing secret and API address, for the server and the worker alike.
        extra_env={f"HONK_{k.upper()}": v for k, v in slack.settings().items()},
    )
    yield stack
    stack.stop()


def until(stack: HonkStack, cid: str, check: Any, what: str) -> CampaignView:
    """A bounded wait on the stored campaign, as the API serves it."""
    wait_until(lambda: check(campaign(stack, cid)), WAIT_S, f"{what} (logs in {stack.logs})", interval_s=0.25)
    return campaign(stack, cid)


def members_ended(view: CampaignView) -> bool:
    return view.state.terminal and all(m.settled for m in view.members)


def states(view: CampaignView) -> dict[str, str]:
    return {m.repo: (m.task.state.value if m.task else m.status) for m in view.members}


def campaign_messages(slack: FakeSlack) -> tuple[list[dict], list[dict]]:
    """Honk's chat.postMessage calls anywhere (a campaign must make one), and its chat.update calls."""
    posts = [c.args for c in slack.calls_to("chat.postMessage")]
    updates = [c.args for c in slack.calls_to("chat.update")]
    return posts, updates


def test_a_campaign_asked_in_slack_one_message_the_board_and_the_cli(
    doors_stack: HonkStack, slack: FakeSlack, tmp_path: Path
):
    stack = doors_stack
    fleet = make_fleet(tmp_path / "fleet", specs=FLEET)
    fleet.register(stack)

    mention = mention_event(ASK, user="U1")
    thread = mention["event"]["ts"]
    body = event_body(mention)
    r = stack.http.post(
        "/slack/events", content=body, headers={"Content-Type": "application/json", **sign(SLACK_SECRET, body)}
    )
    assert r.status_code == 200, r.text
    wait_until(lambda: len(stack.http.get("/api/campaigns").json()) == 1, 30, "the campaign to be stored")
    listed = stack.http.get("/api/campaigns").json()
    cid = listed[0]["id"]
    assert listed[0]["front_door"] == "slack" and listed[0]["text"] == "bump requests to 2.32"

    first = until(stack, cid, members_ended, "every member's first attempt to end")

    # The files selector ran on the worker's mirrors: the four repos whose requirements.txt names requests.
    assert [m.repo for m in first.members] == SELECTED
    assert first.selector.path == "requirements.txt" and first.requested_by == "ana@example.com"
    assert states(first) == {"svc-0": "ready", "svc-1": "failed", "svc-2": "ready", "svc-3": "ready"}
    assert [m.checks_passed for m in first.members] == [True, False, True, True]
    # All four were the first wave (5 by default); 3 of 4 reached ready, under the 80% a wave needs, but with
    # nothing left to hold back the campaign is done, not halted.
    assert first.state == CampaignState.done and first.reason == "3 of 4 reached ready", first.reason
    tasks = {m.repo: m.task for m in first.members if m.task}
    assert all(t.text == "bump requests to 2.32" and t.requested_by == "ana@example.com" for t in tasks.values())

    # ONE message in the thread for the whole campaign, updated in place as its members moved.
    final = slack.wait_for(
        "chat.update", where=lambda c: "3 ready, 1 failed, 0 running, 0 waiting" in c.args.get("text", ""), timeout=30
    )
    posts, updates = campaign_messages(slack)
    assert len(posts) == 1 and posts[0]["thread_ts"] == thread, [p.get("text") for p in posts]
    message_ts = slack.messages["C1"][0]["ts"]
    assert {u["ts"] for u in updates} == {message_ts}, "every update is of that one message"
    # It moved with the members: besides the front door's own update, the campaign updated it as the repos were
    # chosen and as the tasks moved (the counts it showed went through running to ready/failed).
    shown = [u.get("text", "") for u in updates]
    assert len(updates) >= 3 and any("running" in t and " 0 running" not in t for t in shown), shown
    assert len(slack.messages["C1"]) == 1 and final[-1].args["ts"] == message_ts
    assert f"/campaigns/{cid}" in str(slack.messages["C1"][0]["blocks"])

    # The board: each member's state, checks and branch (plain git remotes: no pull request to link).
    board = stack.http.get(f"/campaigns/{cid}")
    assert board.status_code == 200
    rows = {row.split('data-key="')[1].split('"')[0] for row in board.text.splitlines() if 'data-key="' in row}
    assert rows == {"ready", "failed"}
    for repo, task in tasks.items():
        assert f'<a href="/tasks/{task.id}">{repo}</a>' in board.text
        assert f'<code class="small">{task.branch}</code>' in board.text, repo
    assert "svc-4" not in board.text
    assert board.text.count('<span class="pass">passed</span>') == 3
    assert board.text.count('<span class="fail">failed</span>') == 1
    failed_only = stack.http.get(f"/campaigns/{cid}", params={"state": "failed"}).text
    assert failed_only.count('data-key="') == 1 and ">svc-1</a>" in failed_only

    # Merge all green with the real CLI, as bo: svc-0 merges; the policy refuses svc-2 and says why; svc-3's
    # merge is asked, and its remote (archived) refuses the push; svc-1 is not green.
    merged = stack.honk("--user", "bo@example.com", "campaign", "merge", cid)
    assert merged.returncode == 1, merged.stdout + merged.stderr  # a partial bulk action is not a success
    said = {line.split()[0]: line for line in merged.stdout.splitlines() if line.strip()}
    assert said["svc-0"].split()[1] == "merged:" and said["svc-3"].split()[1] == "merged:", merged.stdout
    assert "not merged: Refused by policy rule repos.svc-2.mergers" in said["svc-2"], merged.stdout
    assert "bo@example.com may not merge in svc-2" in said["svc-2"]
    assert "not merged: it is failed" in said["svc-1"]
    assert merged.stderr.strip() == "honk: 2 of 4 not merged."

    svc0, svc3 = tasks["svc-0"], tasks["svc-3"]
    stack.wait_for(svc0.id, TaskState.merged, timeout_s=60)
    assert EDIT_AFTER in fleet["svc-0"].show(EDITED_FILE), "the change landed on svc-0's main"
    assert EDIT_BEFORE in fleet["svc-2"].show(EDITED_FILE), "the refused merge changed nothing"

    # The archived remote refuses the push: that task fails, saying what the remote said.
    gone = stack.wait_for(svc3.id, TaskState.failed, TaskState.merged, timeout_s=60)
    assert gone.state == TaskState.failed, stack.kinds(svc3.id)
    assert ARCHIVED_MESSAGE in (gone.reason or ""), gone.reason
    assert EDIT_BEFORE in fleet["svc-3"].show(EDITED_FILE)

    # Retry the failed with the real CLI: a new attempt for each failed member (svc-1, whose checks failed, and
    # svc-3, whose merge did), its request with the added note; the merged and the ready ones are left alone.
    updated_before = len(slack.calls_to("chat.update"))
    retried = stack.honk("--user", "ana@example.com", "campaign", "retry", cid, "--add", RETRY_NOTE)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert [line.split()[:4] for line in retried.stdout.splitlines()] == [
        ["svc-1", "retrying:", "attempt", "2"],
        ["svc-3", "retrying:", "attempt", "2"],
    ], retried.stdout

    def second_attempts_settled(v: CampaignView) -> bool:
        again = [m for m in v.members if m.repo in ("svc-1", "svc-3")]
        return v.state.terminal and all(m.attempt == 2 and m.task is not None and m.settled for m in again)

    again = until(stack, cid, second_attempts_settled, "the second attempts to settle")
    by_repo = {m.repo: m for m in again.members}
    assert [by_repo[r].attempt for r in SELECTED] == [1, 2, 1, 2]
    for repo, state in (("svc-1", TaskState.failed), ("svc-3", TaskState.ready)):
        second = by_repo[repo].task
        assert second is not None and second.id != tasks[repo].id
        assert second.text == f"bump requests to 2.32\n\n{RETRY_NOTE}"
        assert second.state == state, (repo, second.reason)  # svc-1's check fails whatever the agent does
    for repo, state in (("svc-0", TaskState.merged), ("svc-2", TaskState.ready)):
        t = by_repo[repo].task
        assert t is not None and t.id == tasks[repo].id and t.state == state, f"{repo} was left alone"
    all_tasks = stack.http.get("/api/tasks", params={"limit": 50}).json()
    assert len(all_tasks) == 6, "four first attempts and two retries: nothing else started"

    # Still one message: the retry's run updated it again (to the end it came to), nothing new was posted.
    slack.wait_for("chat.update", updated_before + 1, timeout=30)
    posts, updates = campaign_messages(slack)
    assert len(posts) == 1 and {u["ts"] for u in updates} == {message_ts}
    assert len(slack.messages["C1"]) == 1
