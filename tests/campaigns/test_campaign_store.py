"""The campaign store on SQLite and PostgreSQL: a campaign is made once per request id, its members keep
the campaign's order and waves, each member's board line joins its latest task (state, checks, pull
request), the progress the workflow decides on is read in one query, and a retry gives failed members a
new attempt that keeps what the failed one spent."""

from __future__ import annotations

import pytest

from honk.domain import (
    CampaignRequest,
    CampaignSettings,
    CampaignState,
    RepoRef,
    RepoSelector,
    SlackThread,
    TaskRequest,
    TaskState,
)
from honk.events import (
    AgentFinished,
    CheckFinished,
    PullRequestUpdated,
    TaskAccepted,
    TaskFailed,
    TaskReady,
    WorkspacePreparing,
)
from honk.store import Store
from honk.store.campaigns import CampaignStore


def _request(request_id: str = "r-1", **settings: object) -> CampaignRequest:
    return CampaignRequest(
        campaign_id=f"c-{request_id}",
        request_id=request_id,
        text="bump requests",
        selector=RepoSelector(glob="svc-*"),
        settings=CampaignSettings(**settings),  # type: ignore[arg-type]
        requested_by="ana@x",
        front_door="cli",
        slack=SlackThread(channel="C1", thread_ts="1.2"),
    )


async def _task(store: Store, task_id: str, repo: str, *events: object) -> None:
    req = TaskRequest(
        task_id=task_id, request_id=f"r-{task_id}", repo=RepoRef(name=repo, url="/x"), text="t", requested_by="ana@x"
    )
    await store.create_task(req, f"honk/{task_id}")
    await store.append(task_id, TaskAccepted(repo=repo, text="t", requested_by="ana@x", agent="scripted"), *events)  # type: ignore[arg-type]


async def test_a_campaign_is_made_once_per_request_id(store: Store):
    campaigns = CampaignStore(store)
    view, created = await campaigns.create(_request(wave_size=2))
    again, created_again = await campaigns.create(_request(wave_size=9))
    assert (created, created_again) == (True, False)
    assert again.id == view.id and again.settings.wave_size == 2, "the first request stands"
    assert view.state == CampaignState.selecting and view.members == []
    asked = await campaigns.request(view.id)
    assert asked is not None and asked.slack == SlackThread(channel="C1", thread_ts="1.2")
    assert asked.selector.glob == "svc-*"
    assert [c.id for c in await campaigns.listed()] == [view.id]
    await campaigns.delete(view.id)
    assert await campaigns.get(view.id) is None


async def test_members_keep_order_and_waves_and_join_their_tasks(store: Store):
    campaigns = CampaignStore(store)
    view, _ = await campaigns.create(_request(wave_size=2))
    assert await campaigns.add_members(view.id, ["b", "a", "c"], wave_size=2) == 3
    assert await campaigns.add_members(view.id, ["a", "d"], wave_size=2) == 1, "a retried add adds only the new"
    await _task(
        store,
        "t-a",
        "a",
        WorkspacePreparing(),
        CheckFinished(name="test", passed=True, duration_s=1, distilled=""),
        TaskReady(commit="c", summary="s", diffstat=""),
        PullRequestUpdated(number=7, url="https://forge/pr/7", draft=True, opened=True),
    )
    await campaigns.set_member(view.id, "a", status="started", task_id="t-a", cost_cap_usd=2.5)
    await campaigns.set_member(view.id, "c", status="refused", reason="ana@x may not request in c")

    got = await campaigns.get(view.id)
    assert got is not None
    assert [(m.repo, m.wave, m.status) for m in got.members] == [
        ("b", 1, "waiting"),
        ("a", 1, "started"),
        ("c", 2, "refused"),
        ("d", 2, "waiting"),
    ]
    a = got.members[1]
    assert a.task is not None and a.task.state == TaskState.ready
    assert (a.checks_passed, a.pull_request_url, a.cost_cap_usd) == (True, "https://forge/pr/7", 2.5)
    assert got.members[2].reason == "ana@x may not request in c"
    assert got.counts() == {"waiting": 2, "ready": 1, "refused": 1}

    with pytest.raises(LookupError):
        await campaigns.set_member(view.id, "nope", status="skipped")


async def test_progress_is_one_reading_with_checks_only_when_asked(store: Store):
    campaigns = CampaignStore(store)
    view, _ = await campaigns.create(_request())
    await campaigns.add_members(view.id, ["a", "b"], wave_size=5)
    await _task(
        store,
        "t-a",
        "a",
        CheckFinished(name="lint", passed=True, duration_s=1, distilled=""),
        AgentFinished(round=1, summary="s", changed_files=[], commit="c", cost_usd=0.75),
        TaskReady(commit="c", summary="s", diffstat=""),
    )
    await campaigns.set_member(view.id, "a", status="started", task_id="t-a", cost_cap_usd=1.0)

    plain = await campaigns.progress(view.id)
    assert [(p.repo, p.status, p.task_state, p.cost_usd, p.checks_passed) for p in plain] == [
        ("a", "started", TaskState.ready, 0.75, None),
        ("b", "waiting", None, None, None),
    ]
    checked = await campaigns.progress(view.id, with_checks=True)
    assert checked[0].checks_passed is True
    assert (await campaigns.member(view.id, "b")) == plain[1]


async def test_a_retry_gives_failed_members_a_new_attempt_and_revives_held_back_ones(store: Store):
    campaigns = CampaignStore(store)
    view, _ = await campaigns.create(_request(wave_size=2))
    await campaigns.add_members(view.id, ["a", "b", "c"], wave_size=2)
    await _task(
        store,
        "t-a",
        "a",
        AgentFinished(round=1, summary="s", changed_files=[], commit=None, cost_usd=0.5),
        TaskFailed(reason="x"),
    )
    await _task(store, "t-b", "b", TaskReady(commit="c", summary="s", diffstat=""))
    await campaigns.set_member(view.id, "a", status="started", task_id="t-a", cost_cap_usd=1.0)
    await campaigns.set_member(view.id, "b", status="started", task_id="t-b", cost_cap_usd=1.0)
    assert await campaigns.skip_waiting(view.id, ["c", "a"], "held back: 1 of 2 reached ready") == 1

    reopened = await campaigns.reopen(view.id, ["a", "b"], "pin the version", held_back="held back:")

    assert reopened == ["a"], "only a member whose task ended unready is tried again"
    a, b, c = await campaigns.progress(view.id)
    assert (a.status, a.attempt, a.task_id, a.instruction, a.earlier_cost_usd, a.cost_cap_usd) == (
        "waiting",
        2,
        None,
        "pin the version",
        0.5,
        None,
    )
    assert (b.status, b.attempt) == ("started", 1)
    assert (c.status, c.reason) == ("waiting", "")


async def test_state_reason_and_slack_message(store: Store):
    campaigns = CampaignStore(store)
    view, _ = await campaigns.create(_request())
    await campaigns.set_state(view.id, CampaignState.halted, "1 of 5 reached ready; 80% needed")
    await campaigns.set_slack_ts(view.id, "9.9")
    got = await campaigns.get(view.id)
    assert got is not None and (got.state, got.reason) == (CampaignState.halted, "1 of 5 reached ready; 80% needed")
    assert await campaigns.slack_ts(view.id) == "9.9"
    with pytest.raises(LookupError):
        await campaigns.set_state("c-none", CampaignState.done)
